"""The driver's own bind processors give exactly what SQLAlchemy's would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.dialects import postgresql, sqlite

from store.driver import _bind
from store.types import UTCDateTime

_SQLITE = sqlite.dialect()
_ZONES = st.sampled_from([UTC, timezone(timedelta(hours=-3)), ZoneInfo("Europe/Madrid")])


def _sqlalchemy(value: datetime | None) -> object:
    processor = UTCDateTime().dialect_impl(_SQLITE).bind_processor(_SQLITE)
    assert processor is not None
    return processor(value)


@given(st.datetimes(min_value=datetime(1, 1, 2), timezones=_ZONES))
def test_sqlite_datetimes_bind_as_sqlalchemy_binds_them(moment: datetime) -> None:
    assert _bind(UTCDateTime(), _SQLITE)(moment) == _sqlalchemy(moment)  # type: ignore[misc]


def test_none_and_naive_datetimes_as_sqlalchemy() -> None:
    fast = _bind(UTCDateTime(), _SQLITE)
    assert fast is not None
    assert fast(None) is None
    with pytest.raises(ValueError, match="naive datetime"):
        fast(datetime(2024, 1, 1))
    with pytest.raises(ValueError, match="naive datetime"):
        _sqlalchemy(datetime(2024, 1, 1))


def test_other_dialects_keep_sqlalchemys_processor() -> None:
    dialect = postgresql.dialect()
    moment = datetime(2024, 3, 31, 1, 30, tzinfo=ZoneInfo("Europe/Madrid"))
    processor = _bind(UTCDateTime(), dialect)
    assert processor is not None
    assert processor(moment) == moment.astimezone(UTC)
