"""Timestamps: aware UTC in Python, the same text SQLAlchemy writes in SQLite, zones kept in PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.dialects import postgresql, sqlite

from felix_hub.backend.models import UTCDateTime

MOMENTS = [
    datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
    datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),  # no microseconds: still written, so text sorts right
    datetime(999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(2026, 6, 1, 12, 0, tzinfo=timezone(timedelta(hours=3))),
]


@pytest.mark.parametrize("moment", MOMENTS)
def test_sqlite_text_is_sqlalchemys_own_format(moment: datetime) -> None:
    ours = UTCDateTime().bind_processor(sqlite.dialect())
    theirs = sqlite.DATETIME().bind_processor(sqlite.dialect())
    assert ours is not None and theirs is not None
    assert ours(moment) == theirs(moment.astimezone(UTC).replace(tzinfo=None))
    assert ours(None) is None


def test_naive_datetimes_are_refused_on_both_databases() -> None:
    to_sqlite = UTCDateTime().bind_processor(sqlite.dialect())
    assert to_sqlite is not None
    with pytest.raises(ValueError, match="naive"):
        to_sqlite(datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="naive"):
        UTCDateTime().process_bind_param(datetime(2026, 1, 1), postgresql.dialect())
