"""A person who talks to the bot."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from felix_hub.backend.models.base import Base, utcnow


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    telegram_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    first_name: Mapped[str] = mapped_column(String(255), default="")
    last_name: Mapped[str | None] = mapped_column(String(255))
    username: Mapped[str | None] = mapped_column(String(64))
    # What Telegram reports, and the language the bot answers in (ru or en).
    language_code: Mapped[str | None] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(2), default="en")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set when an invite was redeemed (admins and open registration need none).
    access_granted_at: Mapped[datetime | None]
    # use_alter: invites name their creator too; the cycle is broken when creating tables.
    invite_id: Mapped[int | None] = mapped_column(ForeignKey("invites.id", ondelete="SET NULL", use_alter=True))
    # Wrong codes and passwords in a row; five block logins for an hour.
    login_failures: Mapped[int] = mapped_column(default=0, server_default="0")
    logins_blocked_until: Mapped[datetime | None]

    def __repr__(self) -> str:
        return f"<User {self.id} tg={self.telegram_id}>"
