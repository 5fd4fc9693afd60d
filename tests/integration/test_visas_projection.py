"""The visa projection and its reads, on SQLite and PostgreSQL."""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from sqlalchemy import Engine, select

from domain.visas import VisaStatus
from domain.vocabulary import VisaState
from store.event_store import EventStore
from store.schema import visas
from store.visas import InvalidCursor, VisaProjector, VisaReads, VisaSummary
from tests.support.cases import CaseHistory, interleaved
from tests.support.visas import last_reminder, visa_cases


@pytest.fixture
def store(engine: Engine) -> EventStore:
    return EventStore(engine, also=[VisaProjector()])


def visa_rows(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        query = select(visas).order_by(visas.c.visa_id)
        return [dict(row) for row in conn.execute(query).mappings()]


def expected_row(case_id: UUID, visa: VisaStatus) -> dict[str, Any]:
    """The row the domain's own fold of the case says this visa has."""
    return {
        "visa_id": visa.visa_id,
        "case_id": case_id,
        "kind": visa.kind.value,
        "state": visa.state.value,
        "issued_on": visa.issued_on,
        "expires_on": visa.expires_on,
        "renewals": visa.renewals,
        "last_reminder_days": last_reminder(visa.reminders_sent),
        "expired_at": visa.expired_at,
        "registered_at": visa.registered_at,
        "updated_at": visa.updated_at,
    }


def all_visas(found: list[CaseHistory]) -> list[tuple[CaseHistory, VisaStatus]]:
    return [(h, v) for h in found for v in h.state.visas.values()]


def store_all(store: EventStore, found: list[CaseHistory], seed: int) -> None:
    for batch in interleaved(found, random.Random(seed)):  # one transaction per command
        store.append(batch)


class TestVisaProjection:
    def test_inline_rows_are_the_domain_fold_and_rebuild_gives_the_same(
        self, store: EventStore, engine: Engine
    ) -> None:
        found = visa_cases(seed=31, count=40)
        store_all(store, found, 31)
        inline = visa_rows(engine)
        expected = sorted(
            (expected_row(h.case_id, v) for h, v in all_visas(found)),
            key=lambda r: r["visa_id"],
        )
        assert inline == expected
        states = {r["state"] for r in inline}
        assert states == {"active", "expired", "cancelled"}, "choose another seed"
        assert any(r["renewals"] for r in inline) and any(r["last_reminder_days"] for r in inline)
        visa_events = sum(1 for h in found for e in h.events if e.type.startswith("Visa"))
        assert VisaProjector().rebuild(engine, batch_size=7) == visa_events
        assert visa_rows(engine) == inline

    def test_the_number_and_reasons_are_never_stored_in_the_projection(
        self, store: EventStore, engine: Engine
    ) -> None:
        assert "number" not in visas.c and "cancelled_reason" not in visas.c
        found = visa_cases(seed=32, count=5)
        store_all(store, found, 32)
        numbers = {v.number for _, v in all_visas(found)}
        assert not any(n in str(row) for row in visa_rows(engine) for n in numbers)

    def test_rebuild_of_an_empty_store(self, engine: Engine) -> None:
        assert VisaProjector().rebuild(engine) == 0
        assert visa_rows(engine) == []


def _expected(found: list[CaseHistory], today: date, **filters: Any) -> list[tuple[date, UUID]]:
    within = filters.get("expiring_within_days")
    keep = []
    for h, v in all_visas(found):
        if within is not None and (
            v.state is not VisaState.ACTIVE or v.expires_on > today + timedelta(days=within)
        ):
            continue
        checks = {
            "case_id": h.case_id,
            "state": v.state,
            "assigned_to": h.state.assigned_to,
            "institution": h.state.institution,
        }
        if all(filters[k] == value for k, value in checks.items() if k in filters):
            keep.append((v.expires_on, v.visa_id))
    return sorted(keep)


def _keys(items: tuple[VisaSummary, ...]) -> list[tuple[date, UUID]]:
    return [(i.expires_on, i.visa_id) for i in items]


class TestVisaReads:
    def test_list_filters_and_order(self, store: EventStore, engine: Engine) -> None:
        found = visa_cases(seed=33, count=40)
        store_all(store, found, 33)
        reads = VisaReads(engine)
        some = found[3]
        active = sorted(v.expires_on for _, v in all_visas(found) if v.state is VisaState.ACTIVE)
        today = active[len(active) // 2] - timedelta(days=10)  # some active ones expire soon
        cases_with_institution = [h for h in found if h.state.institution]
        filters: list[dict[str, Any]] = [
            {},
            {"expiring_within_days": 30},
            {"expiring_within_days": 0},
            {"expiring_within_days": 365},
            {"case_id": some.case_id},
            {"state": VisaState.EXPIRED},
            {"state": VisaState.CANCELLED},
            {"assigned_to": some.state.assigned_to, "expiring_within_days": 90},
            {"institution": cases_with_institution[0].state.institution},
            {"case_id": uuid4()},
        ]
        for given in filters:
            page = reads.list(today, limit=500, **given)
            expected = _expected(found, today, **given)
            assert _keys(page.items) == expected, given
            assert page.next_cursor is None
        assert _expected(found, today, expiring_within_days=30), "choose another seed"

    def test_pages_neither_repeat_nor_miss_a_visa(self, store: EventStore, engine: Engine) -> None:
        found = visa_cases(seed=34, count=30)
        store_all(store, found, 34)
        reads = VisaReads(engine)
        today = date(2024, 6, 1)
        seen: list[VisaSummary] = []
        cursor: str | None = None
        while True:
            page = reads.list(today, limit=7, cursor=cursor)
            seen += page.items
            cursor = page.next_cursor
            if cursor is None:
                break
        assert _keys(tuple(seen)) == _expected(found, today)
        with pytest.raises(InvalidCursor):
            reads.list(today, cursor="nonsense")

    def test_get_and_numbers_from_the_case_state(self, store: EventStore, engine: Engine) -> None:
        found = visa_cases(seed=35, count=8)
        store_all(store, found, 35)
        reads = VisaReads(engine)
        pairs = all_visas(found)
        for h, v in pairs:
            got = reads.get(v.visa_id)
            assert got is not None
            assert got.model_dump(exclude={"assigned_to", "institution"}) == expected_row(
                h.case_id, v
            ) | {"kind": v.kind, "state": v.state}
            assert (got.assigned_to, got.institution) == (h.state.assigned_to, h.state.institution)
        assert reads.get(uuid4()) is None
        held = reads.personal([(h.case_id, v.visa_id) for h, v in pairs])
        assert held == {v.visa_id: v for _, v in pairs}  # the renewed number too
        assert reads.personal([]) == {}
