"""The referral projection and its reads, on SQLite and PostgreSQL."""

from __future__ import annotations

import random
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import Engine, select

from domain.referrals import ReferralStatus
from domain.vocabulary import ReferralState
from store.event_store import EventStore
from store.referrals import InvalidCursor, ReferralProjector, ReferralReads
from store.schema import referrals
from tests.support.cases import CaseHistory, interleaved
from tests.support.referrals import referral_cases


@pytest.fixture
def store(engine: Engine) -> EventStore:
    return EventStore(engine, also=[ReferralProjector()])


def rows(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        query = select(referrals).order_by(referrals.c.referral_id)
        return [dict(row) for row in conn.execute(query).mappings()]


def expected_row(case_id: UUID, r: ReferralStatus) -> dict[str, Any]:
    """The row the domain's own fold of the case says this referral has."""
    return {
        "referral_id": r.referral_id,
        "case_id": case_id,
        "step": r.step.value,
        "institution": r.institution,
        "state": r.state.value,
        "channel": r.channel.value if r.channel else None,
        "overridden": r.consent_override is not None,
        "referred_at": r.referred_at,
        "delivered_at": r.delivered_at,
        "answered_at": r.answered_at,
        "decision": r.decision.value if r.decision else None,
        "reference": r.reference,
        "redirected_to": r.redirected_to,
        "updated_at": r.updated_at,
    }


def all_referrals(found: list[CaseHistory]) -> list[tuple[CaseHistory, ReferralStatus]]:
    return [(h, r) for h in found for r in h.state.referrals.values()]


def store_all(store: EventStore, found: list[CaseHistory], seed: int) -> None:
    for batch in interleaved(found, random.Random(seed)):
        store.append(batch)


def test_inline_rows_are_the_domain_fold_and_rebuild_gives_the_same(
    store: EventStore, engine: Engine
) -> None:
    found = referral_cases(seed=41, count=40)
    store_all(store, found, 41)
    inline = rows(engine)
    expected = sorted(
        (expected_row(h.case_id, r) for h, r in all_referrals(found)),
        key=lambda r: r["referral_id"],
    )
    assert inline == expected
    assert {r["state"] for r in inline} == {s.value for s in ReferralState}, "another seed"
    count = sum(1 for h in found for e in h.events if e.type in ReferralProjector.event_types)
    assert ReferralProjector().rebuild(engine, batch_size=7) == count
    assert rows(engine) == inline


def test_an_institution_lists_its_own_referrals_oldest_first_page_by_page(
    store: EventStore, engine: Engine
) -> None:
    found = referral_cases(seed=42, count=30)
    store_all(store, found, 42)
    reads = ReferralReads(engine)
    for institution in ("hogar-oblatas", "salud-publica"):
        want = sorted(
            (r.referred_at, r.referral_id)
            for _, r in all_referrals(found)
            if r.institution == institution
        )
        got: list[tuple[Any, UUID]] = []
        cursor = None
        while True:
            page = reads.list(institution=institution, limit=4, cursor=cursor)
            assert all(item.institution == institution for item in page.items)
            got += [(item.referred_at, item.referral_id) for item in page.items]
            cursor = page.next_cursor
            if cursor is None:
                break
        assert got == want and want
    accepted = reads.list(institution="hogar-oblatas", state=ReferralState.ACCEPTED, limit=500)
    assert all(item.state is ReferralState.ACCEPTED for item in accepted.items)
    with pytest.raises(InvalidCursor):
        reads.list(cursor="nonsense")


def test_summary_carries_the_step_due_date_and_the_case_scope(
    store: EventStore, engine: Engine
) -> None:
    found = referral_cases(seed=43, count=10)
    store_all(store, found, 43)
    reads = ReferralReads(engine)
    history, referral = all_referrals(found)[0]
    summary = reads.get(referral.referral_id)
    assert summary is not None
    step = history.state.steps[referral.step]
    assert (summary.due_at, summary.overdue) == (step.due_at, step.overdue)
    assert (summary.assigned_to, summary.case_institution) == (
        history.state.assigned_to,
        history.state.institution,
    )
    states = reads.case_states([history.case_id])
    assert states[history.case_id] == history.state


def test_a_referral_sent_over_a_row_already_there_overwrites_it_whole(
    store: EventStore, engine: Engine
) -> None:
    """A sent referral's row is written without being read first: one left over (a rebuild
    raced the append, say) ends up as the fold says, as if it had been read and updated."""
    found = referral_cases(seed=43, count=10)
    expected = sorted(
        (expected_row(h.case_id, r) for h, r in all_referrals(found)),
        key=lambda r: r["referral_id"],
    )
    stale = [{**row, "state": "revoked", "institution": "stale", "reference": "x"}
             for row in expected]  # fmt: skip
    with engine.begin() as conn:
        conn.execute(referrals.insert(), stale)
    store_all(store, found, 43)
    assert rows(engine) == expected
