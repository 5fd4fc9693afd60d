"""Dependencies of the endpoints, as `Annotated` aliases (`CurrentUser`, `ServicesDep`, …)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from uuid import UUID

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from starlette.concurrency import run_in_threadpool
from temporalio.client import Client

from amparo.cases import CaseCommands
from amparo.keyring import Keyring
from amparo.settings import Settings
from amparo.users import Role, User, UserDirectory
from api.problems import ProblemError
from domain import DomainError
from domain.institutions import Institution, Registry
from domain.vocabulary import Step
from store.access_log import AccessLog
from store.event_store import EventStore
from store.notifications import Inbox
from store.read_models import CaseReads


@dataclass(frozen=True)
class Services:
    """What the API works with, built once by the composition root (`api.app`)."""

    settings: Settings
    temporal: Client
    commands: CaseCommands
    reads: CaseReads
    users: UserDirectory
    inbox: Inbox
    registry: Registry
    access_log: AccessLog
    keyring: Keyring | None = None  # the master keys, for the codec endpoint
    store: EventStore | None = None  # the event store, for erasing a case whose workflow ended

    def referral_target(self, institution: str, step: Step) -> Institution:
        """The registry's institution a referral of `step` may go to; else 422 saying why."""
        try:
            return self.registry.target(institution, step)
        except DomainError as error:
            raise ProblemError(422, error.code, error.detail) from None


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(_services)]

_bearer = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def _no_token() -> ProblemError:
    return ProblemError(401, "not_authenticated", "sign in and send a bearer token")


def _signed_in(user: User | None) -> User:
    if user is None:
        raise ProblemError(401, "invalid_token", "the token is unknown, expired or revoked")
    return user


def _admitted(user: User, roles: tuple[Role, ...]) -> User:
    if user.role not in roles:
        raise ProblemError(403, "forbidden", f"a {user.role} may not do this")
    return user


async def _current_user(
    services: ServicesDep, token: Annotated[str | None, Depends(_bearer)]
) -> User:
    if not token:
        raise _no_token()
    return _signed_in(await run_in_threadpool(services.users.resolve, token))


CurrentUser = Annotated[User, Depends(_current_user)]


def allow(*roles: Role) -> object:
    """A dependency admitting only `roles`: any other role gets 403, before any input is read."""

    async def check(user: CurrentUser) -> User:
        return _admitted(user, roles)

    return Depends(check)


Caseworker = Annotated[User, allow(Role.CASEWORKER)]
Supervisor = Annotated[User, allow(Role.SUPERVISOR)]
CaseReader = Annotated[User, allow(Role.CASEWORKER, Role.SUPERVISOR)]

Owner = tuple[str | None, str | None]  # a case's (assigned_to, institution)


@dataclass(frozen=True)
class OnCase:
    """A user admitted to a route on the case of its path, and whom that case belongs to
    (None: no such case), read in the same trip to the threadpool as the token's user.
    The route decides with `api.access.check_visible`, after its own checks, as before."""

    user: User
    owner: Owner | None


def allow_on_case(*roles: Role) -> object:
    """`allow(*roles)` for a route on `/cases/{case_id}…`: the token's user and the case's
    owner in one trip to the threadpool (each trip costs more than its two indexed reads
    when the process is busy). The owner is read only for an admitted user; the errors
    and their order are `allow`'s, and an id that is not a UUID is left to the route."""

    async def check(
        request: Request, services: ServicesDep, token: Annotated[str | None, Depends(_bearer)]
    ) -> OnCase:
        if not token:
            raise _no_token()
        case_id = _uuid_or_none(request.path_params.get("case_id"))
        user, owner = await run_in_threadpool(_user_and_owner, services, token, case_id, roles)
        return OnCase(_admitted(_signed_in(user), roles), owner)

    return Depends(check)


def _user_and_owner(
    services: Services, token: str, case_id: UUID | None, roles: tuple[Role, ...]
) -> tuple[User | None, Owner | None]:
    user = services.users.resolve(token)
    if user is None or user.role not in roles or case_id is None:
        return user, None
    return user, services.reads.owner(case_id)


def _uuid_or_none(value: object) -> UUID | None:
    try:
        return UUID(str(value))
    except ValueError:
        return None


CaseworkerOnCase = Annotated[OnCase, allow_on_case(Role.CASEWORKER)]
SupervisorOnCase = Annotated[OnCase, allow_on_case(Role.SUPERVISOR)]
CaseReaderOnCase = Annotated[OnCase, allow_on_case(Role.CASEWORKER, Role.SUPERVISOR)]
