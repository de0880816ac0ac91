"""A process that cannot renew its account leases lets go of the accounts before the leases lapse.

Otherwise another process would take an account over while this one still has it connected,
and Telegram answers two connections of one session with AUTH_KEY_DUPLICATED. The database
is made unreachable for writes the way an outage looks from inside: every write waits.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, text

from tests.support.felix import Felix, connect_by_phone

LEASE = 4


@contextmanager
def writes_blocked(database_url: str) -> Iterator[None]:
    """Hold what every writer of the service must get: SQLite's writer lock, or PostgreSQL's
    leases table (the lease renewal waits on it)."""
    if database_url.startswith("sqlite"):
        fd = os.open(database_url.removeprefix("sqlite:///") + ".writer-lock", os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        return
    engine = create_engine(database_url)
    with engine.connect() as connection:
        connection.execute(text("LOCK TABLE leases IN ACCESS EXCLUSIVE MODE"))
        yield
        connection.rollback()
    engine.dispose()


@pytest.mark.felix_env(ACCOUNT_LEASE_SECONDS=str(LEASE))
def test_accounts_are_disconnected_when_leases_cannot_be_renewed(felix: Felix, database_url: str) -> None:
    ivy = felix.world.person("+1 555 0009", "Ivy")
    connect_by_phone(felix, ivy)
    assert felix.bot_api.wait_for(lambda: felix.world.connected() == 1)

    with writes_blocked(database_url):
        # The watchdog acts within the lease, whatever the stuck supervision round is doing.
        assert felix.bot_api.wait_for(lambda: felix.world.connected() == 0, timeout=LEASE + 2)
    # The database is back: the same process takes its account up again.
    assert felix.bot_api.wait_for(lambda: felix.world.connected() == 1, timeout=3 * LEASE)
