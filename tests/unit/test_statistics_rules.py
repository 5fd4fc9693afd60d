"""The report's rules on their own: local days, small cells, percentiles."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.statistics import (
    InvalidPeriod,
    Period,
    investigation_open_in,
    median_and_p90,
    public_cells,
    suppressed,
)

HALF = Period(date(2017, 1, 1), date(2017, 6, 30), "America/Santo_Domingo")


def test_a_period_is_whole_local_days() -> None:
    assert HALF.start == datetime(2017, 1, 1, 4, tzinfo=UTC)  # UTC-4
    assert HALF.end == datetime(2017, 7, 1, 4, tzinfo=UTC)
    assert HALF.holds(datetime(2017, 7, 1, 3, 59, 59, tzinfo=UTC))  # 23:59:59 on June 30th
    assert not HALF.holds(datetime(2017, 7, 1, 4, tzinfo=UTC))
    assert not HALF.holds(datetime(2017, 1, 1, 3, 59, 59, tzinfo=UTC))
    summer = Period(date(2021, 3, 14), date(2021, 3, 14), "America/Los_Angeles")
    assert summer.end - summer.start == timedelta(hours=23)  # the day clocks spring forward


def test_a_backwards_or_endless_period_is_refused() -> None:
    with pytest.raises(InvalidPeriod):
        Period(date(2017, 6, 30), date(2017, 1, 1), "UTC")
    with pytest.raises(InvalidPeriod):
        Period(date(2000, 1, 1), date(2017, 1, 1), "UTC")


def test_an_investigation_counts_while_open_at_any_moment_of_the_period() -> None:
    before, inside = HALF.start - timedelta(days=1), HALF.start + timedelta(days=1)
    assert investigation_open_in(HALF, before, None)
    assert investigation_open_in(HALF, before, HALF.start)  # accused at the first instant
    assert not investigation_open_in(HALF, before, HALF.start - timedelta(seconds=1))
    assert investigation_open_in(HALF, inside, inside)
    assert not investigation_open_in(HALF, HALF.end, None)  # opened the day after


def test_small_cells() -> None:
    assert [suppressed(n) for n in range(7)] == [0, "<5", "<5", "<5", "<5", 5, 6]


@given(st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), st.integers(1, 30), min_size=1))
def test_no_small_cell_can_be_worked_out_from_the_total(counts: dict[str, int]) -> None:
    shown = public_cells(counts, adds_up=True)
    hidden = [c for c, v in shown.items() if isinstance(v, str)]
    assert all(shown[c] == "<5" for c in counts if counts[c] < 5)
    assert all(shown[c] in (counts[c], "*") for c in counts if counts[c] >= 5)
    # Knowing the total and every shown number never pins down a hidden one alone.
    assert len(hidden) != 1 or len(counts) == 1


def test_medians_and_nearest_rank_p90() -> None:
    assert median_and_p90([]) == (None, None)
    assert median_and_p90([3.0]) == (3.0, 3.0)
    assert median_and_p90([1.0, 2.0, 3.0, 10.0]) == (2.5, 10.0)
    assert median_and_p90([float(d) for d in range(1, 11)]) == (5.5, 9.0)
