"""The `cases` row a projection writes for a case closed with steps unfinished."""

from __future__ import annotations

from domain import commands as cmd
from domain.vocabulary import CaseStatus, ClosureReason
from store.projections import case_row
from tests.unit.domain_strategies import HOUR, identified


def test_a_case_closed_with_steps_unfinished_is_not_listed_as_open_or_overdue() -> None:
    case = identified()
    case.do(cmd.RequestClosure, reason=ClosureReason.LOST_CONTACT)
    case.later(HOUR).do(cmd.DecideClosure, approved=True)
    assert case.state.status is CaseStatus.CLOSED
    assert case.state.open_steps()  # the unfinished steps remain in the state's history
    row = case_row(case.state)
    assert (row["overdue"], row["open_steps"], row["next_due_at"]) == (False, 0, None)
