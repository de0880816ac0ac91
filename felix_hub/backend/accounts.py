"""Connected Telegram accounts and their encrypted sessions (blocking; call through the engine)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update

from felix_hub.backend.crypto import cipher
from felix_hub.backend.database import rows, scalar, scalars, upsert, write
from felix_hub.backend.models import Account, AccountStatus, Channel, User, utcnow

MAX_LOGIN_FAILURES = 5
LOGIN_BLOCK = timedelta(hours=1)


@dataclass(frozen=True)
class AccountView:
    id: int
    user_id: int
    owner_telegram_id: int  # the bot user to tell about this account
    owner_language: str
    telegram_user_id: int
    display_name: str
    username: str | None
    status: str
    status_reason: str | None
    flood_wait_until: datetime | None
    channels_fetched: int = 0


def save_login(user_id: int, telegram_user_id: int, display_name: str, username: str | None, session: str) -> int:
    """Store a freshly logged-in account (replacing the user's previous one); returns its id."""
    now = utcnow()
    values = {
        "user_id": user_id, "telegram_user_id": telegram_user_id, "display_name": display_name[:255],
        "username": username, "session": cipher().encrypt(session), "status": AccountStatus.ACTIVE,
        "status_reason": None, "flood_wait_until": None, "connected_at": now, "updated_at": now,
    }
    with write() as connection:
        statement = upsert(connection.dialect.name, Account.__table__).values(**values)
        statement = statement.on_conflict_do_update(
            index_elements=[Account.user_id], set_={k: v for k, v in values.items() if k != "user_id"}
        ).returning(Account.id)
        account_id = connection.execute(statement).scalar_one()
        connection.execute(update(User).where(User.id == user_id).values(login_failures=0, logins_blocked_until=None))
    return account_id


def session_of(account_id: int) -> str | None:
    """The decrypted StringSession, for connecting the account's client."""
    token = scalar(select(Account.session).where(Account.id == account_id))
    return cipher().decrypt(token) if token else None


def active_ids() -> list[int]:
    return scalars(select(Account.id).where(Account.status == AccountStatus.ACTIVE))


def view(account_id: int) -> AccountView | None:
    views = _views(Account.id == account_id)
    return views[0] if views else None


def of_user(user_id: int) -> AccountView | None:
    views = _views(Account.user_id == user_id)
    return views[0] if views else None


def _views(where: object) -> list[AccountView]:
    fetched = (
        select(func.count(Channel.id)).where(Channel.fetch_account_id == Account.id).scalar_subquery()
    )
    found = rows(
        select(Account.id, Account.user_id, User.telegram_id, User.language, Account.telegram_user_id,
               Account.display_name,
               Account.username, Account.status, Account.status_reason, Account.flood_wait_until, fetched)
        .join(User, User.id == Account.user_id)
        .where(where)  # type: ignore[arg-type]
    )
    return [AccountView(*row) for row in found]


def mark_needs_login(account_id: int, reason: str) -> None:
    """The session stopped working (revoked, duplicated, logged out): the user must log in again."""
    with write() as connection:
        connection.execute(
            update(Account).where(Account.id == account_id)
            .values(status=AccountStatus.NEEDS_LOGIN, status_reason=reason, session=None, updated_at=utcnow())
        )
        # Someone else's account may still read these channels.
        connection.execute(update(Channel).where(Channel.fetch_account_id == account_id).values(fetch_account_id=None))


def set_flood_wait(account_id: int, until: datetime | None) -> None:
    with write() as connection:
        connection.execute(update(Account).where(Account.id == account_id).values(flood_wait_until=until))


def remove(account_id: int) -> None:
    """Forget the account and its session (after logging it out)."""
    with write() as connection:
        connection.execute(update(Channel).where(Channel.fetch_account_id == account_id).values(fetch_account_id=None))
        connection.execute(delete(Account).where(Account.id == account_id))


def rotate_sessions() -> int:
    """Re-encrypt every stored session with the first FELIX_ENCRYPTION_KEY."""
    box = cipher()
    with write() as connection:
        rows = connection.execute(select(Account.id, Account.session).where(Account.session.is_not(None))).all()
        for account_id, token in rows:
            connection.execute(update(Account).where(Account.id == account_id).values(session=box.rotate(token)))
    return len(rows)


def login_blocked_until(user_id: int) -> datetime | None:
    until = scalar(select(User.logins_blocked_until).where(User.id == user_id))
    return until if until and until > utcnow() else None


def record_login_failure(user_id: int) -> tuple[int, datetime | None]:
    """Count a wrong code or password; the fifth in a row blocks logins for an hour."""
    with write() as connection:
        failures = connection.execute(
            update(User).where(User.id == user_id).values(login_failures=User.login_failures + 1)
            .returning(User.login_failures)
        ).scalar_one()
        if failures < MAX_LOGIN_FAILURES:
            return failures, None
        until = utcnow() + LOGIN_BLOCK
        connection.execute(
            update(User).where(User.id == user_id).values(login_failures=0, logins_blocked_until=until)
        )
        return failures, until
