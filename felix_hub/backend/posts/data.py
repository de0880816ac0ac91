"""PostData: one post as the parsers and importers hand it to storage."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any


def link_prefix(channel_id: int, username: str | None) -> str:
    """What a post's t.me link is, less its message id: by username when the channel has one."""
    return f"https://t.me/{username}/" if username else f"https://t.me/c/{channel_id}/"


@dataclass(slots=True)  # not frozen (treated as if it were): a frozen __init__ costs 3x, paid per post
class PostData:
    """A channel post, ready to store. Datetimes are timezone-aware UTC.

    `media` items are dicts with a `kind` (photo, video, document, audio, voice, video_note,
    sticker, animation, poll, webpage, geo, contact, other) and whatever metadata applies:
    `mime`, `size`, `duration`, `file_name`, `width`, `height`, `title`, `performer`, `url`,
    `site_name`, `description`, `question`, `options` (poll), `message_id` (within an album).

    `forward_from` is `{"type": "channel" | "user" | "hidden", "id": int | None,
    "name": str | None, "message_id": int | None, "date": ISO-8601 str | None}`.
    `reactions` is a list of `{"emoji": str, "count": int}` or `{"custom_emoji_id": int, "count": int}`.
    """

    message_id: int
    date: datetime
    text: str = ""
    html: str = ""
    edit_date: datetime | None = None
    grouped_id: int | None = None
    album_ids: tuple[int, ...] | None = None
    views: int | None = None
    forwards: int | None = None
    replies: int | None = None
    reactions: list[dict[str, Any]] | None = None
    forward_from: dict[str, Any] | None = None
    reply_to_message_id: int | None = None
    link: str | None = None
    media: list[dict[str, Any]] | None = None

    @property
    def message_ids(self) -> tuple[int, ...]:
        """Every Telegram message id this post stands for (several for an album)."""
        return self.album_ids or (self.message_id,)


def merge_album(parts: Sequence[PostData]) -> PostData:
    """Messages of one album (same grouped_id) as one post: the first id, every medium, one caption."""
    if not parts:
        raise ValueError("an album has at least one message")
    if len({p.grouped_id for p in parts}) != 1:
        raise ValueError("album parts must share one grouped_id")
    ordered = sorted(parts, key=lambda p: p.message_id)
    ids = sorted({i for p in ordered for i in p.message_ids})
    captioned = next((p for p in ordered if p.text or p.html), ordered[0])
    stats = captioned if captioned.views is not None else next((p for p in ordered if p.views is not None), captioned)
    media: dict[int, dict[str, Any]] = {}
    for part in ordered:
        for item in part.media or ():
            media[item.get("message_id", part.message_id)] = item
    edits = [p.edit_date for p in ordered if p.edit_date is not None]
    return replace(
        ordered[0],
        album_ids=tuple(ids),
        date=min(p.date for p in ordered),
        edit_date=max(edits) if edits else None,
        text=captioned.text,
        html=captioned.html,
        views=stats.views,
        forwards=stats.forwards,
        replies=stats.replies,
        reactions=stats.reactions,
        media=[media[i] for i in sorted(media)] or None,
        message_id=ids[0],
    )


def group_albums(posts: Iterable[PostData]) -> list[PostData]:
    """Merge the album parts among `posts`; everything sorted by message id."""
    albums: dict[int, list[PostData]] = {}
    single: list[PostData] = []
    for post in posts:
        if post.grouped_id is None:
            single.append(post)
        else:
            albums.setdefault(post.grouped_id, []).append(post)
    merged = single + [merge_album(parts) for parts in albums.values()]
    return sorted(merged, key=lambda p: p.message_id)
