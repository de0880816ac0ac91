"""Users: people who talk to the bot (blocking; call through the engine)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import Row, bindparam, select
from sqlalchemy.sql.dml import Insert

from felix_hub.backend.database import read, upsert, write
from felix_hub.backend.models import User, utcnow

# Telegram clients in these languages are usually read by Russian speakers.
_RUSSIAN_READERS = ("ru", "uk", "be", "kk", "uz", "ky", "tg")


def language_for(language_code: str | None) -> str:
    """The language to answer in (ru or en), from a Telegram `language_code` like "en-US"."""
    if language_code and language_code.split("-")[0].lower() in _RUSSIAN_READERS:
        return "ru"
    return "en"


@dataclass(frozen=True)
class Profile:
    """What Telegram tells us about a user."""

    telegram_id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None


@dataclass(frozen=True)
class Registered:
    """A user as the bot sees them on each update."""

    id: int
    telegram_id: int
    first_name: str
    language: str
    is_admin: bool
    has_access: bool


SEEN_PRECISION = timedelta(minutes=1)  # how stale `last_seen_at` may get before an update writes it
_KNOWN = select(User.id, User.telegram_id, User.first_name, User.last_name, User.username, User.language_code,
                User.language, User.access_granted_at, User.last_seen_at).where(
    User.telegram_id == bindparam("telegram_id"))


@functools.cache
def _register_statement(dialect: str) -> Insert:
    statement = upsert(dialect, User.__table__)
    refreshed = ("first_name", "last_name", "username", "language_code", "last_seen_at")
    return statement.on_conflict_do_update(
        index_elements=[User.telegram_id],
        set_={name: statement.excluded[name] for name in refreshed},
    ).returning(User.id, User.telegram_id, User.first_name, User.language, User.access_granted_at)


def register(profile: Profile) -> Registered:
    """Create the user on first contact; refresh names and last seen when they changed.

    Most updates come from a user the bot knows, with the same names, seen a moment ago: those
    cost one read. On SQLite that leaves the one write lock to the updates being stored.
    """
    now = utcnow()
    known = _known(profile.telegram_id)
    if known is not None:
        unchanged = (known.first_name, known.last_name, known.username, known.language_code) == (
            profile.first_name, profile.last_name, profile.username, profile.language_code)
        if unchanged and now - known.last_seen_at < SEEN_PRECISION:
            return _registered(known)
    with write() as connection:
        row = connection.execute(
            _register_statement(connection.dialect.name),
            {
                "telegram_id": profile.telegram_id,
                "first_name": profile.first_name,
                "last_name": profile.last_name,
                "username": profile.username,
                "language_code": profile.language_code,
                "language": language_for(profile.language_code),
                "created_at": now,
                "last_seen_at": now,
            },
        ).one()
    return _registered(row)


def _registered(row: Row[Any]) -> Registered:
    """The user of a row with their id, telegram_id, first_name, language and access_granted_at."""
    config = current_app.extensions["felix_config"]
    admin = row.telegram_id in config.FELIX_ADMINS
    return Registered(row.id, row.telegram_id, row.first_name, row.language, is_admin=admin,
                      has_access=admin or config.FELIX_OPEN_REGISTRATION or row.access_granted_at is not None)


def find(telegram_id: int) -> Registered | None:
    """The user with this Telegram id, if they ever talked to the bot (read-only)."""
    known = _known(telegram_id)
    return _registered(known) if known is not None else None


def _known(telegram_id: int) -> Row[Any] | None:
    with read() as connection:
        return connection.execute(_KNOWN, {"telegram_id": telegram_id}).one_or_none()
