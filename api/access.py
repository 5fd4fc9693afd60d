"""Who may see which case: the one place the access rules live.

Caseworkers see the cases assigned to them; supervisors every case of their institution;
institutions, analysts and admins no case at all (an institution sees the referrals sent
to it, and of the person only what its registry entry shares). An invisible case answers 404 exactly
like a missing one, so its existence is never revealed.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from starlette.concurrency import run_in_threadpool

from amparo.users import Role, User
from api.deps import OnCase, Services
from api.problems import ProblemError
from store.read_models import CaseSummary
from store.referrals import ReferralSummary


def can_see(user: User, case: CaseSummary) -> bool:
    return reads_person(user, case.assigned_to, case.institution)


def reads_person(user: User, assigned_to: str | None, institution: str | None) -> bool:
    """Whether `user` may see a case assigned to `assigned_to` in `institution`, and read
    its personal data (the person, a visa's number): its caseworker and its supervisors."""
    if user.role is Role.CASEWORKER:
        return assigned_to == user.username
    if user.role is Role.SUPERVISOR:
        return institution is not None and institution == user.institution
    return False


def list_scope(user: User) -> dict[str, Any]:
    """The filters that limit a case list to what `user` may see."""
    if user.role is Role.CASEWORKER:
        return {"assigned_to": user.username}
    if user.role is Role.SUPERVISOR:
        return {"institution": user.institution}
    raise ProblemError(403, "forbidden", f"a {user.role} may not list cases")


def can_see_referral(user: User, referral: ReferralSummary) -> bool:
    """Its institution's users; the caseworker and supervisors of its case."""
    if user.role is Role.INSTITUTION:
        return user.institution is not None and referral.institution == user.institution
    return reads_person(user, referral.assigned_to, referral.case_institution)


def list_referral_scope(user: User) -> dict[str, Any]:
    """The filters that limit a referral list to what `user` may see."""
    if user.role is Role.INSTITUTION:
        return {"institution": user.institution}
    if user.role is Role.CASEWORKER:
        return {"assigned_to": user.username}
    if user.role is Role.SUPERVISOR:
        return {"case_institution": user.institution}
    raise ProblemError(403, "forbidden", f"a {user.role} may not list referrals")


async def visible_case(services: Services, user: User, case_id: UUID) -> CaseSummary:
    """The case if `user` may see it; otherwise 404, the same answer as a missing case."""
    case = await run_in_threadpool(services.reads.get, case_id)
    if case is None or not can_see(user, case):
        raise ProblemError(404, "case_not_found", "no such case")
    return case


def check_visible(on: OnCase) -> None:
    """`visible_case` for a route that needs only the check (a command): 404, as for a
    missing case, unless the user may see the case of its path, from the owner read with
    the user (`api.deps.allow_on_case`)."""
    if on.owner is None or not reads_person(on.user, *on.owner):
        raise ProblemError(404, "case_not_found", "no such case")
