"""Telegram channels, stored once however many users follow them, and who follows what."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from felix_hub.backend.models.base import Base, NullableJSON, utcnow


class SyncState(StrEnum):
    NEW = "new"  # followed, first backfill not finished
    OK = "ok"
    FLOOD_WAIT = "flood_wait"
    ERROR = "error"  # retried with backoff; last_error says why
    NO_ACCESS = "no_access"  # private and no follower's account can read it
    IMPORTED = "imported"  # known from a Desktop export only


class Channel(Base):
    __tablename__ = "channels"
    __table_args__ = (
        CheckConstraint(
            "sync_state IN ('new', 'ok', 'flood_wait', 'error', 'no_access', 'imported')", name="sync_state"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Telegram's channel id (the bare id, as in PeerChannel), unique across the service.
    telegram_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    username: Mapped[str | None] = mapped_column(String(64), index=True)
    title: Mapped[str] = mapped_column(String(255), default="")
    is_megagroup: Mapped[bool] = mapped_column(default=False)

    # One follower's account fetches the channel for everyone; its access hash goes with it.
    fetch_account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    access_hash: Mapped[int | None] = mapped_column(BigInteger)
    # Accounts that found they cannot read it: the channel goes to another follower's account.
    access_lost_by: Mapped[list[int] | None] = mapped_column(NullableJSON)

    # Highest message id stored: catch-up asks Telegram only for what comes after it.
    watermark: Mapped[int] = mapped_column(Integer, default=0)
    # The first backfill walks back from the newest post; it resumes from here after a stop.
    backfill_before_id: Mapped[int | None] = mapped_column(Integer)
    backfill_done: Mapped[bool] = mapped_column(default=False)
    backfill_fetched: Mapped[int] = mapped_column(Integer, default=0)
    # The newest message a Desktop import stored: the backfill goes down to it, leaving no gap.
    imported_up_to: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    sync_state: Mapped[str] = mapped_column(String(16), default=SyncState.NEW)
    last_error: Mapped[str | None] = mapped_column(Text)
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    last_synced_at: Mapped[datetime | None]
    last_post_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Subscription(Base):
    __tablename__ = "subscriptions"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    channel_id: Mapped[int] = mapped_column(
        ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    # The bot's "fetching posts..." message in the user's chat, edited as the backfill goes.
    progress_message_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
