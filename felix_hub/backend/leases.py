"""Named leases in the database: one holder at a time across processes and machines.

A holder renews its lease well before it expires; when a process dies its lease simply
lapses and any other process may take it over.
"""

from __future__ import annotations

import os
import secrets
import socket
from datetime import timedelta

from sqlalchemy import delete, select, update

from felix_hub.backend.database import scalar, upsert, write
from felix_hub.backend.models import Lease, utcnow


def process_owner() -> str:
    """An owner id unique to this process, readable in the database when debugging."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(3)}"


def acquire(name: str, owner: str, ttl: timedelta) -> bool:
    """Take the lease if it is free, lapsed or already ours; True when we hold it now."""
    now = utcnow()
    with write() as connection:
        statement = upsert(connection.dialect.name, Lease.__table__).values(
            name=name, owner=owner, expires_at=now + ttl, acquired_at=now
        )
        statement = statement.on_conflict_do_update(
            index_elements=[Lease.name],
            set_={"owner": owner, "expires_at": now + ttl, "acquired_at": now},
            where=(Lease.__table__.c.owner == owner) | (Lease.__table__.c.expires_at < now),
        ).returning(Lease.owner)
        return connection.execute(statement).first() is not None


def renew(names: list[str], owner: str, ttl: timedelta) -> set[str]:
    """Extend the leases `owner` still holds; returns the names still held (all extended now).

    A lease of ours that lapsed while nobody took it over (this process was paused, or a round
    came late) is still ours, as `acquire` would say, so it is extended too; one taken over by
    another process is not ours and is not reported. The extension and the answer are one
    statement, so a name is reported held only when its lease now runs for `ttl` more.
    """
    if not names:
        return set()
    with write() as connection:
        renewed = connection.scalars(
            update(Lease)
            .where(Lease.name.in_(names) & (Lease.owner == owner))
            .values(expires_at=utcnow() + ttl)
            .returning(Lease.name)
        )
        return set(renewed)


def release(name: str, owner: str) -> None:
    with write() as connection:
        connection.execute(delete(Lease).where((Lease.name == name) & (Lease.owner == owner)))


def chat(chat_id: int) -> str:
    """The lease that pins a chat to one process (see inbox.store: its updates go there only).

    A process pins a user's chat while it holds live state for them: the Telethon client of
    their account, or a login in progress, so every update of theirs reaches that client.
    """
    return f"{CHAT_PREFIX}{chat_id}"


CHAT_PREFIX = "chat:"


def account(account_id: int) -> str:
    return f"account:{account_id}"


def holder(name: str) -> str | None:
    """The live holder of a lease, if any."""
    return scalar(select(Lease.owner).where((Lease.name == name) & (Lease.expires_at >= utcnow())))
