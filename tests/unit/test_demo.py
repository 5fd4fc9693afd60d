"""The demo half-year: the seed report's people, spread along every step of the path."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from amparo.demo import build_plans
from domain import CaseState, decide, evolve_all
from domain.vocabulary import CaseStatus, Step

NOW = datetime(2026, 12, 4, 12, tzinfo=UTC)


def final_states() -> list[CaseState]:
    states = []
    for plan in build_plans(NOW):
        state = CaseState()
        for command in [plan.opening, *plan.commands]:
            state = evolve_all(state, decide(state, command))
        states.append(state)
    return states


def test_demo_is_the_seed_half_year() -> None:
    # The seed's 25 victims and 63 smuggled persons, each identified in January–June 2017
    # (Santo Domingo's days, UTC-4), and a few cases opened days ago, not yet identified.
    start, end = datetime(2017, 1, 1, 4, tzinfo=UTC), datetime(2017, 7, 1, 4, tzinfo=UTC)
    identified: Counter[str] = Counter()
    recent = []
    for plan in build_plans(NOW):
        if plan.opening.effective_at > NOW - timedelta(days=30):
            recent.append(plan)
            continue
        assert start <= plan.opening.effective_at < end
        (done,) = [c for c in plan.commands if getattr(c, "outcome", None)]
        assert start <= done.effective_at < end
        identified[done.outcome] += 1
    assert identified == {"confirmed_victim": 25, "smuggled_person": 63}
    assert recent and not any(getattr(c, "outcome", None) for p in recent for c in p.commands)


def test_demo_spreads_across_every_step_and_status() -> None:
    states = final_states()
    open_steps = {s.step for state in states for s in state.open_steps()}
    assert open_steps == set(Step)
    statuses = Counter(state.status for state in states)
    assert statuses[CaseStatus.CLOSED] > 0
    assert statuses[CaseStatus.OPEN] > 0
    assert statuses[CaseStatus.CLOSURE_REQUESTED] > 0
    late = [s for state in states for s in state.open_steps() if s.due_at < NOW]
    assert late, "some demo steps are past their due date (they become overdue)"
    recent = [s for state in states for s in state.open_steps() if s.due_at > NOW]
    assert recent, "and some are not"


def test_demo_is_deterministic_and_never_in_the_future() -> None:
    first, second = build_plans(NOW), build_plans(NOW + timedelta(hours=1))
    assert [p.opening.case_id for p in first] == [p.opening.case_id for p in second]
    for plan in first:
        for command in [plan.opening, *plan.commands]:
            assert command.effective_at <= NOW
