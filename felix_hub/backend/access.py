"""Who may use the bot: admins, open registration, or an invite code (blocking; via the engine)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select, update

from felix_hub.backend.database import write
from felix_hub.backend.models import Invite, User, utcnow


class Redeemed(StrEnum):
    OK = "ok"
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    USED_UP = "used_up"


@dataclass(frozen=True)
class NewInvite:
    code: str
    uses: int
    expires_at: datetime


def create_invite(created_by: int, *, uses: int, days: int) -> NewInvite:
    """A code that lets `uses` people in within `days` days (the /start deep-link payload)."""
    code = secrets.token_urlsafe(12)  # 16 characters, fits Telegram's 64-character start parameter
    expires_at = utcnow() + timedelta(days=days)
    with write() as connection:
        connection.execute(
            Invite.__table__.insert().values(
                code=code, created_by=created_by, uses_left=uses, expires_at=expires_at, created_at=utcnow()
            )
        )
    return NewInvite(code, uses, expires_at)


def redeem(user_id: int, code: str) -> Redeemed:
    """Grant the user access with an invite code, using one of its uses."""
    now = utcnow()
    with write() as connection:
        invite = connection.execute(
            select(Invite.id, Invite.uses_left, Invite.expires_at).where(Invite.code == code).with_for_update()
        ).first()
        if invite is None:
            return Redeemed.UNKNOWN
        if invite.expires_at < now:
            return Redeemed.EXPIRED
        if invite.uses_left <= 0:
            return Redeemed.USED_UP
        connection.execute(update(Invite).where(Invite.id == invite.id).values(uses_left=Invite.uses_left - 1))
        connection.execute(update(User).where(User.id == user_id).values(access_granted_at=now, invite_id=invite.id))
    return Redeemed.OK
