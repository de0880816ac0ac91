"""Storing posts: in batches, once per (channel, message), keeping edits (blocking; via the engine).

A batch costs one read of what already exists and one multi-row insert, so a page of history
or a Desktop export of 100,000 messages goes in at thousands of posts per second, and running
the same batch twice adds nothing.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Insert, Row, Select, bindparam, case, delete, insert, select, update

from felix_hub.backend.database import execute_many, scalars, upsert, write
from felix_hub.backend.models import Channel, Post, PostEdit, UTCDateTime, utcnow
from felix_hub.backend.posts.data import PostData, group_albums, merge_album

_posts = Post.__table__
_p = _posts.c
_CONTENT = ("text", "html", "edit_date", "media", "album_ids", "message_id", "grouped_id", "date")
_STATS = ("views", "forwards", "replies", "reactions")
_COLUMNS = ("id", "message_id", "grouped_id", "album_ids", "date", "edit_date", "text", "html", "media",
            *_STATS, "deleted_at")

_UPDATE = (
    update(_posts)
    .where(_p.id == bindparam("post_id"))
    .values({name: bindparam(f"v_{name}", type_=_p[name].type) for name in (*_CONTENT, *_STATS)})
    .values(updated_at=bindparam("now", type_=UTCDateTime()), deleted_at=bindparam("v_deleted_at", type_=UTCDateTime()))
)
_RECORD_EDIT = insert(PostEdit.__table__)
_channels = Channel.__table__.c
_newest = bindparam("newest")
_latest = bindparam("latest", type_=UTCDateTime())
_ADVANCE = update(Channel.__table__).where(_channels.id == bindparam("channel")).values(
    watermark=case((_channels.watermark < _newest, _newest), else_=_channels.watermark),
    last_post_at=case(((_channels.last_post_at.is_(None)) | (_channels.last_post_at < _latest), _latest),
                      else_=_channels.last_post_at),
)
ALBUM_MAX = 10  # messages in one Telegram album
_KEPT_WHEN_UNKNOWN = ("views", "forwards", "replies", "reactions", "media")


@dataclass(frozen=True)
class Stored:
    new: int
    changed: int
    newest_id: int | None = None


def store_posts(channel_id: int, batch: Sequence[PostData], *, contiguous: bool = True) -> Stored:
    """Insert what is new, update what changed (edits, album parts, views, reactions).

    `contiguous` says the batch leaves no gap after the channel's watermark (a history page
    read from it), so the watermark may move past it. Real-time events are not: one may arrive
    after others were missed, and catch-up must still read from before the gap.
    """
    if not batch:
        return Stored(0, 0)
    incoming = group_albums(batch)
    now = utcnow()
    with write() as connection:
        existing = _existing(connection, channel_id, incoming)
        fresh: list[dict[str, Any]] = []
        changes: list[dict[str, Any]] = []
        edits: list[dict[str, Any]] = []
        absorbed: set[int] = set()  # rows of album parts stored alone, now inside their album's row
        for post in incoming:
            row = existing.get(("album", post.grouped_id)) if post.grouped_id else None
            row = row or existing.get(("message", post.message_id))
            if row is None:
                fresh.append(_row(channel_id, post, now))
                continue
            if post.album_ids:
                absorbed.update(existing[("message", i)].id for i in post.album_ids
                                if ("message", i) in existing and existing[("message", i)].id != row.id)
            current = _as_post(row)
            updated = _absorb(current, post)
            if not _differs(updated, current):
                continue
            if _is_edit(current, updated):
                edits.append({"post_id": row.id, "edit_date": current.edit_date, "text": current.text,
                              "html": current.html, "replaced_at": now})
            changes.append(_change(row.id, updated, now))
        if absorbed:  # first: the album's row may take over a lone part's message id
            connection.execute(delete(PostEdit.__table__).where(PostEdit.post_id.in_(absorbed)))
            connection.execute(delete(_posts).where(_p.id.in_(absorbed)))
        # Rows another process stored meanwhile are skipped; SQLite and psycopg both count an
        # executemany's rows (RETURNING would make a page's insert a third slower on PostgreSQL).
        new = execute_many(connection, _insert_statement(connection.dialect.name), fresh)
        if changes:
            execute_many(connection, _UPDATE, changes)
        if edits:
            connection.execute(_RECORD_EDIT, edits)
        newest = max(max(p.message_ids) for p in incoming)
        _advance_channel(connection, channel_id, newest if contiguous else 0, max(p.date for p in incoming))
    return Stored(new, len(changes), newest)


@functools.cache
def _insert_statement(dialect: str) -> Insert:
    return upsert(dialect, _posts).on_conflict_do_nothing()


def mark_deleted(channel_id: int, message_ids: Sequence[int]) -> int:
    """Mark deleted the posts these message ids belong to (a whole album when its first goes)."""
    if not message_ids:
        return 0
    now = utcnow()
    with write() as connection:
        result = connection.execute(
            update(_posts)
            .where((_p.channel_id == channel_id) & _p.message_id.in_(list(message_ids)) & _p.deleted_at.is_(None))
            .values(deleted_at=now, updated_at=now)
        )
        return result.rowcount


def _existing(connection: Connection, channel_id: int, incoming: list[PostData]) -> dict[tuple[str, int], Any]:
    """Rows already stored for this batch, by message id and by album."""
    wanted = {i for p in incoming for i in p.message_ids}
    rows = [row for row in stored_near(connection, channel_id, wanted, *_COLUMNS)
            if row.message_id in wanted or row.grouped_id is not None]
    found: dict[tuple[str, int], Any] = {}
    for row in sorted(rows, key=lambda r: r.album_ids is not None):  # an album's row wins over a lone part's
        for message_id in row.album_ids or (row.message_id,):
            found[("message", message_id)] = row
        if row.grouped_id is not None:
            found[("album", row.grouped_id)] = row
    return found


def stored_near(connection: Connection, channel_id: int, message_ids: Iterable[int], *columns: str) -> list[Row[Any]]:
    """The channel's stored rows of `message_ids`, and album rows within ALBUM_MAX ids of them.

    An album's row is keyed by the first of its parts that was stored, so the row that holds a
    message may sit a few ids away. Read as one id range per run of nearby ids (a history page
    is one run), each an index range on (channel, message id); rows between runs' ids that were
    not asked for may come too.
    """
    statement = _near_statement(columns)
    found: list[Row[Any]] = []
    for first, last in _runs(message_ids, reach=ALBUM_MAX):
        found += connection.execute(statement, {"channel": channel_id, "first": first, "last": last,
                                                "low": first - ALBUM_MAX, "high": last + ALBUM_MAX})
    return found


def _runs(message_ids: Iterable[int], *, reach: int) -> list[tuple[int, int]]:
    """(first, last) of each run of ids whose `reach` ids either side overlap or touch."""
    runs: list[tuple[int, int]] = []
    for i in sorted(set(message_ids)):
        if runs and i - reach <= runs[-1][1] + reach + 1:
            runs[-1] = (runs[-1][0], i)
        else:
            runs.append((i, i))
    return runs


@functools.cache
def _near_statement(columns: tuple[str, ...]) -> Select[Any]:
    # Built once per caller: building a statement costs more than SQLite takes to run it.
    return select(*(_p[name] for name in columns)).where(
        (_p.channel_id == bindparam("channel")) & _p.message_id.between(bindparam("low"), bindparam("high"))
        & (_p.message_id.between(bindparam("first"), bindparam("last")) | _p.grouped_id.is_not(None)))


def _as_post(row: Any) -> PostData:
    return PostData(
        message_id=row.message_id, date=row.date, text=row.text, html=row.html, edit_date=row.edit_date,
        grouped_id=row.grouped_id, album_ids=tuple(row.album_ids) if row.album_ids else None, views=row.views,
        forwards=row.forwards, replies=row.replies, reactions=row.reactions, media=row.media,
        forward_from=None, reply_to_message_id=None, link=None,
    )


def _absorb(current: PostData, new: PostData) -> PostData:
    """The stored post updated with a newer version of it, or with another part of its album.

    Fields the new version lacks (an edit event carries no views) keep their stored value, and
    an older version of the text never replaces a newer one.
    """
    if current.grouped_id is not None and new.grouped_id is None and new.message_id in (current.album_ids or ()):
        new = replace(new, grouped_id=current.grouped_id)  # a part without its album mark (an export)
    if current.grouped_id is not None and new.grouped_id == current.grouped_id:
        new = merge_album([_without_caption(current, new), new])
    newer_text = current.edit_date is None or (new.edit_date is not None and new.edit_date >= current.edit_date)
    if not newer_text:
        new = replace(new, text=current.text, html=current.html, edit_date=current.edit_date)
    kept = {name: getattr(current, name) for name in _KEPT_WHEN_UNKNOWN
            if getattr(new, name) is None and getattr(current, name) is not None}
    return replace(new, **kept) if kept else new  # most often nothing is kept: spare the copy


def _without_caption(album: PostData, part: PostData) -> PostData:
    """The stored album minus its caption when the arriving part brings a caption that is not
    older than the stored one (it is the caption, or an edit of it)."""
    older = album.edit_date is not None and (part.edit_date is None or part.edit_date < album.edit_date)
    if (part.text or part.html) and not older:
        return replace(album, text="", html="")
    return album


def _is_edit(old: PostData, new: PostData) -> bool:
    """A version worth keeping in the edit history: its text changed, or its formatting was
    edited (a newer edit date). A caption arriving with a later album part is not an edit."""
    if not (old.text or old.html):
        return False
    if new.text != old.text:
        return True
    newer = new.edit_date is not None and (old.edit_date is None or new.edit_date > old.edit_date)
    return new.html != old.html and newer


def _differs(new: PostData, old: PostData) -> bool:
    return any(getattr(new, name) != getattr(old, name) for name in (*_CONTENT, *_STATS))


def _row(channel_id: int, post: PostData, now: datetime) -> dict[str, Any]:
    return {
        "channel_id": channel_id, "message_id": post.message_id, "grouped_id": post.grouped_id,
        "album_ids": list(post.album_ids) if post.album_ids else None, "date": post.date,
        "edit_date": post.edit_date, "text": post.text, "html": post.html, "views": post.views,
        "forwards": post.forwards, "replies": post.replies, "reactions": post.reactions,
        "forward_from": post.forward_from, "reply_to_message_id": post.reply_to_message_id,
        "link": post.link, "media": post.media, "stored_at": now, "updated_at": now,
    }


def _change(post_id: int, post: PostData, now: datetime) -> dict[str, Any]:
    values = {f"v_{name}": getattr(post, name) for name in (*_CONTENT, *_STATS)}
    values["v_album_ids"] = list(post.album_ids) if post.album_ids else None
    return {"post_id": post_id, "now": now, "v_deleted_at": None, **values}


def _advance_channel(connection: Connection, channel_id: int, newest: int, latest: datetime) -> None:
    """Move the channel's watermark and last post time forward, never back."""
    connection.execute(_ADVANCE, {"channel": channel_id, "newest": newest, "latest": latest})


def recent_message_ids(channel_id: int, since: datetime) -> list[int]:
    """Ids of the channel's live posts since `since`, for refreshing views and reactions."""
    return scalars(
        select(_p.message_id).where((_p.channel_id == channel_id) & (_p.date >= since) & _p.deleted_at.is_(None))
        .order_by(_p.message_id)
    )
