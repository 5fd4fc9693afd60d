"""Dependencies of the endpoints, as `Annotated` aliases (`CurrentUser`, `ServicesDep`, …)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

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


async def _current_user(
    services: ServicesDep, token: Annotated[str | None, Depends(_bearer)]
) -> User:
    if not token:
        raise ProblemError(401, "not_authenticated", "sign in and send a bearer token")
    user = await run_in_threadpool(services.users.resolve, token)
    if user is None:
        raise ProblemError(401, "invalid_token", "the token is unknown, expired or revoked")
    return user


CurrentUser = Annotated[User, Depends(_current_user)]


def allow(*roles: Role) -> object:
    """A dependency admitting only `roles`: any other role gets 403, before any input is read."""

    async def check(user: CurrentUser) -> User:
        if user.role not in roles:
            raise ProblemError(403, "forbidden", f"a {user.role} may not do this")
        return user

    return Depends(check)


Caseworker = Annotated[User, allow(Role.CASEWORKER)]
Supervisor = Annotated[User, allow(Role.SUPERVISOR)]
CaseReader = Annotated[User, allow(Role.CASEWORKER, Role.SUPERVISOR)]
