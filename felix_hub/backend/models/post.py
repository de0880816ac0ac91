"""Posts: every message of every followed channel, stored once, with its edit history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from felix_hub.backend.models.base import Base, NullableJSON, utcnow


class Post(Base):
    __tablename__ = "posts"
    __table_args__ = (
        UniqueConstraint("channel_id", "message_id"),
        Index("ix_posts_channel_id_date", "channel_id", "date"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    # An album is one post: message_id is its first message, album_ids all of them.
    message_id: Mapped[int] = mapped_column(Integer)
    grouped_id: Mapped[int | None] = mapped_column(BigInteger)
    album_ids: Mapped[list[int] | None] = mapped_column(NullableJSON)
    date: Mapped[datetime]
    edit_date: Mapped[datetime | None]
    text: Mapped[str] = mapped_column(Text, default="")  # plain
    html: Mapped[str] = mapped_column(Text, default="")  # entities as safe HTML
    views: Mapped[int | None] = mapped_column(Integer)
    forwards: Mapped[int | None] = mapped_column(Integer)
    replies: Mapped[int | None] = mapped_column(Integer)
    reactions: Mapped[list[dict[str, Any]] | None] = mapped_column(NullableJSON)
    forward_from: Mapped[dict[str, Any] | None] = mapped_column(NullableJSON)
    reply_to_message_id: Mapped[int | None] = mapped_column(Integer)
    link: Mapped[str | None] = mapped_column(Text)
    media: Mapped[list[dict[str, Any]] | None] = mapped_column(NullableJSON)
    deleted_at: Mapped[datetime | None]
    stored_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class PostEdit(Base):
    """A version of a post's text that a later edit replaced."""

    __tablename__ = "post_edits"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), index=True)
    edit_date: Mapped[datetime | None]  # when this version was written (None: the original)
    text: Mapped[str] = mapped_column(Text, default="")
    html: Mapped[str] = mapped_column(Text, default="")
    replaced_at: Mapped[datetime] = mapped_column(default=utcnow)
