"""Channels and subscriptions (blocking; call through the engine).

A channel is stored once however many users follow it, and fetched by one follower's account
(its fetcher). When the fetcher goes away, another follower's account takes over.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import String, cast, delete, func, literal, select, update

from felix_hub.backend.database import rows, upsert, write
from felix_hub.backend.models import Account, AccountStatus, Channel, Post, Subscription, SyncState, User, utcnow
from felix_hub.backend.posts.data import link_prefix

ERROR_LIMIT = 2000


@dataclass(frozen=True)
class ChannelInfo:
    """What Telegram told an account about a channel."""

    telegram_id: int
    title: str
    username: str | None
    is_megagroup: bool
    access_hash: int | None


@dataclass(frozen=True)
class ChannelWork:
    """What an account's worker needs to keep a channel in sync."""

    id: int
    telegram_id: int
    access_hash: int | None
    username: str | None
    title: str
    watermark: int
    backfill_before_id: int | None
    backfill_done: bool
    backfill_fetched: int
    next_attempt_at: datetime | None
    imported_up_to: int


@dataclass(frozen=True)
class ChannelSummary:
    """A followed channel as /channels shows it."""

    id: int
    telegram_id: int
    title: str
    username: str | None
    posts: int
    last_post_at: datetime | None
    sync_state: str
    last_error: str | None
    backfill_done: bool
    backfill_fetched: int


class Followed(StrEnum):
    OK = "ok"
    ALREADY = "already"
    LIMIT = "limit"


def known(*, telegram_id: int | None = None, username: str | None = None) -> ChannelSummary | None:
    """A channel we already store, by Telegram id or username, with a fetcher that can read it."""
    where = Channel.telegram_id == telegram_id if telegram_id is not None else Channel.username == username
    summaries = _summaries(where & Channel.fetch_account_id.is_not(None))
    return summaries[0] if summaries else None


def remember(info: ChannelInfo, account_id: int) -> int:
    """Store or refresh a channel an account can read; that account fetches it if nobody does."""
    values = {"telegram_id": info.telegram_id, "title": info.title[:255], "username": info.username,
              "is_megagroup": info.is_megagroup, "fetch_account_id": account_id, "access_hash": info.access_hash,
              "sync_state": SyncState.NEW, "created_at": utcnow()}
    with write() as connection:
        statement = upsert(connection.dialect.name, Channel.__table__).values(**values)
        c = statement.excluded
        statement = statement.on_conflict_do_update(
            index_elements=[Channel.telegram_id],
            set_={"title": c.title, "username": c.username, "is_megagroup": c.is_megagroup},
        ).returning(Channel.id, Channel.fetch_account_id, Channel.access_lost_by)
        channel_id, fetcher, lost_by = connection.execute(statement).one()
        if fetcher in (None, account_id):
            # This account just read the channel (it may have joined): it can fetch it again.
            values: dict[str, object] = {"fetch_account_id": account_id, "access_hash": info.access_hash}
            if lost_by and account_id in lost_by:
                values["access_lost_by"] = [a for a in lost_by if a != account_id] or None
            connection.execute(update(Channel).where(Channel.id == channel_id).values(**values))
    return channel_id


def remember_imported(telegram_id: int, title: str, username: str | None = None) -> int:
    """A channel known from a Desktop export: stored, not fetched until an account follows it.

    It starts unsynced, so its first follower's account backfills the newest posts (merging with
    the imported ones) before catch-up takes over; a channel Felix already knows keeps its title.
    """
    values = {"telegram_id": telegram_id, "title": title[:255], "username": username,
              "sync_state": SyncState.IMPORTED, "created_at": utcnow()}
    with write() as connection:
        connection.execute(upsert(connection.dialect.name, Channel.__table__).values(**values)
                           .on_conflict_do_nothing(index_elements=[Channel.telegram_id]))
        return connection.execute(select(Channel.id).where(Channel.telegram_id == telegram_id)).scalar_one()


def record_imported(channel_id: int, newest_message_id: int) -> None:
    """A Desktop import stored posts up to `newest_message_id`."""
    with write() as connection:
        connection.execute(
            update(Channel).where((Channel.id == channel_id) & (Channel.imported_up_to < newest_message_id))
            .values(imported_up_to=newest_message_id)
        )


def subscribe(user_id: int, channel_id: int, *, limit: int | None) -> Followed:
    """Follow a channel; `limit` caps how many one user may follow (None: no cap)."""
    with write() as connection:
        exists = connection.scalar(
            select(func.count()).where((Subscription.user_id == user_id) & (Subscription.channel_id == channel_id))
        )
        if exists:
            return Followed.ALREADY
        if limit is not None:
            count = connection.scalar(select(func.count()).where(Subscription.user_id == user_id))
            if count >= limit:
                return Followed.LIMIT
        connection.execute(Subscription.__table__.insert().values(
            user_id=user_id, channel_id=channel_id, created_at=utcnow()))
    return Followed.OK


def set_progress_message(user_id: int, channel_id: int, message_id: int) -> None:
    with write() as connection:
        connection.execute(
            update(Subscription)
            .where((Subscription.user_id == user_id) & (Subscription.channel_id == channel_id))
            .values(progress_message_id=message_id)
        )


def unsubscribe(user_id: int, channel_id: int) -> bool:
    with write() as connection:
        result = connection.execute(
            delete(Subscription).where((Subscription.user_id == user_id) & (Subscription.channel_id == channel_id))
        )
    return result.rowcount > 0


def of_user(user_id: int) -> list[ChannelSummary]:
    followed = select(Subscription.channel_id).where(Subscription.user_id == user_id)
    return _summaries(Channel.id.in_(followed))


def _summaries(where: object) -> list[ChannelSummary]:
    posts = (
        select(func.count(Post.id)).where((Post.channel_id == Channel.id) & Post.deleted_at.is_(None))
        .scalar_subquery()
    )
    found = rows(
        select(Channel.id, Channel.telegram_id, Channel.title, Channel.username, posts, Channel.last_post_at,
               Channel.sync_state, Channel.last_error, Channel.backfill_done, Channel.backfill_fetched)
        .where(where)  # type: ignore[arg-type]
        .order_by(func.lower(Channel.title))
    )
    return [ChannelSummary(*row) for row in found]


def for_account(account_id: int) -> list[ChannelWork]:
    """The channels this account fetches and someone still follows."""
    followed = select(Subscription.channel_id)
    found = rows(
        select(Channel.id, Channel.telegram_id, Channel.access_hash, Channel.username, Channel.title,
               Channel.watermark, Channel.backfill_before_id, Channel.backfill_done, Channel.backfill_fetched,
               Channel.next_attempt_at, Channel.imported_up_to)
        .where((Channel.fetch_account_id == account_id) & Channel.id.in_(followed))
    )
    return [ChannelWork(*row) for row in found]


def assign_orphans() -> int:
    """Give each followed channel without a fetcher to one of its followers' active accounts,
    never to one that already found it cannot read the channel."""
    with write() as connection:
        candidates = connection.execute(
            select(Channel.id, Account.id, Channel.access_lost_by)
            .join(Subscription, Subscription.channel_id == Channel.id)
            .join(Account, (Account.user_id == Subscription.user_id) & (Account.status == AccountStatus.ACTIVE))
            .where(Channel.fetch_account_id.is_(None))
            .order_by(Channel.id, Account.id)
        ).all()
        chosen: dict[int, int] = {}
        for channel_id, account_id, lost_by in candidates:
            if channel_id not in chosen and account_id not in (lost_by or ()):
                chosen[channel_id] = account_id
        for channel_id, account_id in chosen.items():
            # The new fetcher resolves the channel again: access hashes belong to one account.
            connection.execute(update(Channel).where(Channel.id == channel_id).values(
                fetch_account_id=account_id, access_hash=None))
    return len(chosen)


def record_backfill(channel_id: int, before_id: int, fetched: int, *, done: bool) -> None:
    with write() as connection:
        values: dict[str, object] = {"backfill_before_id": before_id, "backfill_fetched": fetched,
                                     "backfill_done": done, "last_synced_at": utcnow()}
        if done:
            values.update(sync_state=SyncState.OK, last_error=None, error_count=0, next_attempt_at=None)
        connection.execute(update(Channel).where(Channel.id == channel_id).values(**values))


def record_synced(channel_id: int, access_hash: int | None = None) -> None:
    values: dict[str, object] = {"sync_state": SyncState.OK, "last_error": None, "error_count": 0,
                                 "next_attempt_at": None, "last_synced_at": utcnow()}
    if access_hash is not None:
        values["access_hash"] = access_hash
    with write() as connection:
        connection.execute(update(Channel).where(Channel.id == channel_id).values(**values))


def record_problem(channel_id: int, state: SyncState, error: str, *, backoff: bool = False) -> int:
    """Note what went wrong (shown in /channels); with `backoff`, wait before the next attempt:
    1 minute, doubling with each failure in a row, at most an hour."""
    with write() as connection:
        count = connection.execute(
            update(Channel).where(Channel.id == channel_id)
            .values(sync_state=state, last_error=error[:ERROR_LIMIT], error_count=Channel.error_count + 1)
            .returning(Channel.error_count)
        ).scalar_one()
        if backoff:
            retry_in = timedelta(seconds=min(60 * 2 ** min(count - 1, 6), 3600))
            connection.execute(update(Channel).where(Channel.id == channel_id).values(
                next_attempt_at=utcnow() + retry_in))
    return count


def rename(channel_id: int, username: str | None) -> None:
    """The channel's public username changed (or went): keep the new one and move every post's
    t.me link to it, since the old name may soon belong to someone else."""
    with write() as connection:
        telegram_id = connection.execute(
            update(Channel).where(Channel.id == channel_id).values(username=username).returning(Channel.telegram_id)
        ).scalar_one()
        link = literal(link_prefix(telegram_id, username)) + cast(Post.message_id, String)
        connection.execute(update(Post).where(Post.channel_id == channel_id).values(link=link))


def advance_watermark(channel_id: int, message_id: int) -> None:
    """History was read up to `message_id` (even if nothing there was a post)."""
    with write() as connection:
        connection.execute(
            update(Channel).where((Channel.id == channel_id) & (Channel.watermark < message_id))
            .values(watermark=message_id)
        )


def lose_access(channel_id: int, account_id: int) -> None:
    """The fetcher can no longer read the channel; another follower's account may still."""
    with write() as connection:
        lost_by = connection.scalar(select(Channel.access_lost_by).where(Channel.id == channel_id)) or []
        connection.execute(update(Channel).where(Channel.id == channel_id).values(
            fetch_account_id=None, access_hash=None, sync_state=SyncState.NO_ACCESS,
            access_lost_by=sorted({*lost_by, account_id})))


@dataclass(frozen=True)
class Watcher:
    """A follower whose "fetching posts" message still shows progress."""

    user_id: int
    telegram_id: int
    language: str
    message_id: int
    title: str


def progress_watchers(channel_id: int) -> list[Watcher]:
    found = rows(
        select(User.id, User.telegram_id, User.language, Subscription.progress_message_id, Channel.title)
        .join(Subscription, Subscription.user_id == User.id)
        .join(Channel, Channel.id == Subscription.channel_id)
        .where((Subscription.channel_id == channel_id) & Subscription.progress_message_id.is_not(None))
    )
    return [Watcher(*row) for row in found]


def progress_shown(channel_id: int) -> None:
    """The backfill finished: stop editing the followers' progress messages."""
    with write() as connection:
        connection.execute(
            update(Subscription).where(Subscription.channel_id == channel_id).values(progress_message_id=None)
        )
