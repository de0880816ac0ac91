"""One connected Telegram account on the engine: real-time events, catch-up and backfill.

Every history read resumes from what is stored (the channel's watermark going forward, the
backfill position going back), so a FloodWait, a crash or a restart never restarts a channel
from zero and never leaves a gap. Real-time events are stored as they come but never move the
watermark: only a contiguous read of history does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any, Protocol, TypeVar

from telethon import TelegramClient, errors, events, utils
from telethon.tl import types

from felix_hub.backend import accounts, channels
from felix_hub.backend.config import Config
from felix_hub.backend.models import SyncState, utcnow
from felix_hub.backend.posts.data import PostData
from felix_hub.backend.posts.store import mark_deleted, recent_message_ids, store_posts
from felix_hub.backend.telegram.clients import is_session_dead
from felix_hub.backend.telegram.convert import is_post, post_from_message

log = logging.getLogger(__name__)

T = TypeVar("T")
PAGE = 100
# Channel errors that mean this account cannot read the channel (another follower's may).
NO_ACCESS = (errors.ChannelPrivateError, errors.ChannelInvalidError, errors.ChannelPublicGroupNaError,
             errors.UsernameNotOccupiedError, errors.UsernameInvalidError)


class SessionDead(Exception):
    """The account's session no longer works; the user must log in again."""


class ParserEvents(Protocol):
    """What the worker tells the rest of the service (the bot turns these into messages)."""

    async def backfill_progress(self, channel_id: int, fetched: int, done: bool) -> None: ...

    async def account_lost(self, account_id: int, reason: str) -> None: ...


RunSync = Callable[..., Awaitable[Any]]
Step = Callable[[channels.ChannelWork], Awaitable[None]]


class AccountWorker:
    STATS_WINDOW = timedelta(days=2)  # views, forwards and reactions of posts this recent are re-read

    def __init__(self, account_id: int, client: TelegramClient, run_sync: RunSync, config: Config,
                 events_: ParserEvents) -> None:
        self.account_id = account_id
        self.client = client
        self.run_sync = run_sync
        self.config = config
        self.events = events_
        self.channels: dict[int, channels.ChannelWork] = {}  # by Telegram channel id
        self._kick = asyncio.Event()
        self._stats_at = utcnow()

    def kick(self) -> None:
        """Look at the channel list again now (a channel was followed)."""
        self._kick.set()

    async def run(self) -> None:
        handlers = [
            (self._on_message, events.NewMessage()),
            (self._on_album, events.Album()),
            (self._on_message, events.MessageEdited()),
            (self._on_deleted, events.MessageDeleted()),
        ]
        try:
            if not self.client.is_connected():
                await self.client.connect()
            if await self.client.get_me() is None:
                raise SessionDead("the session is not logged in")
            for handler, event in handlers:
                self.client.add_event_handler(handler, event)
            while True:
                self._kick.clear()  # before the round: a kick that comes during it starts the next one
                await self._sync_all()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._kick.wait(), timeout=self.config.CATCHUP_MINUTES * 60)
        except SessionDead as dead:
            await self._lose_session(str(dead))
        except Exception as error:
            if not is_session_dead(error):
                raise
            await self._lose_session(type(error).__name__)
        finally:
            for handler, event in handlers:
                self.client.remove_event_handler(handler, event)

    async def _lose_session(self, reason: str) -> None:
        log.warning("account %d: session lost (%s)", self.account_id, reason)
        await self.run_sync(accounts.mark_needs_login, self.account_id, reason)
        await self.events.account_lost(self.account_id, reason)

    # -- history ----------------------------------------------------------------------------

    async def _sync_all(self) -> None:
        works = await self.run_sync(channels.for_account, self.account_id)
        self.channels = {w.telegram_id: w for w in works}
        now = utcnow()
        for work in works:
            if work.next_attempt_at and work.next_attempt_at > now:
                continue
            await self._guarded(work, self._sync_one)
        if utcnow() - self._stats_at >= timedelta(minutes=self.config.STATS_REFRESH_MINUTES):
            self._stats_at = utcnow()
            for work in self.channels.values():
                await self._guarded(work, self._refresh_recent)

    async def _guarded(self, work: channels.ChannelWork, step: Step) -> None:
        """Run one channel's step; a channel's trouble never stops the others."""
        while True:
            try:
                await step(work)
                return
            except errors.FloodWaitError as flood:
                await self._wait_flood(work, flood.seconds)
                work = await self._reload(work)  # resume from what was stored, not from the start
            except NO_ACCESS as error:
                log.info("account %d cannot read channel %d: %r", self.account_id, work.telegram_id, error)
                await self.run_sync(channels.lose_access, work.id, self.account_id)
                return
            except Exception as error:
                if is_session_dead(error):
                    raise
                log.warning("account %d: channel %d failed: %r", self.account_id, work.telegram_id, error)
                await self.run_sync(channels.record_problem, work.id, SyncState.ERROR, _describe(error), backoff=True)
                return

    async def _wait_flood(self, work: channels.ChannelWork, seconds: int) -> None:
        until = utcnow() + timedelta(seconds=seconds)
        log.info("account %d: FloodWait of %d s on channel %d", self.account_id, seconds, work.telegram_id)
        await self.run_sync(accounts.set_flood_wait, self.account_id, until)
        await self.run_sync(channels.record_problem, work.id, SyncState.FLOOD_WAIT, f"FloodWait {seconds} s")
        await asyncio.sleep(seconds)
        await self.run_sync(accounts.set_flood_wait, self.account_id, None)

    async def _reload(self, work: channels.ChannelWork) -> channels.ChannelWork:
        works = await self.run_sync(channels.for_account, self.account_id)
        return next((w for w in works if w.id == work.id), work)

    async def _sync_one(self, work: channels.ChannelWork) -> None:
        entity = await self._entity(work)
        if not work.backfill_done:
            await self._backfill(work, entity)
        else:
            await self._catch_up(work, entity)
        await self.run_sync(channels.record_synced, work.id)

    async def _entity(self, work: channels.ChannelWork) -> types.InputPeerChannel:
        if work.access_hash is not None:
            return types.InputPeerChannel(work.telegram_id, work.access_hash)
        entity = None
        if work.username:
            with contextlib.suppress(ValueError):  # Telethon's answer when nobody has the username now
                entity = await self.client.get_input_entity(work.username)
        if not isinstance(entity, types.InputPeerChannel) or entity.channel_id != work.telegram_id:
            # No username, or it is gone or names another chat now (usernames change hands): find it by id.
            peer = types.PeerChannel(work.telegram_id)
            try:
                entity = await self.client.get_input_entity(peer)
            except ValueError:
                await self.client.get_dialogs()  # private channels are only known through the dialogs
                try:
                    entity = await self.client.get_input_entity(peer)
                except ValueError:  # not among this account's chats: it has no way to address the channel
                    raise errors.ChannelPrivateError(request=None) from None
        await self.run_sync(channels.record_synced, work.id, entity.access_hash)
        return entity

    async def _backfill(self, work: channels.ChannelWork, entity: types.InputPeerChannel) -> None:
        """Walk back from the newest post until both the post count and the day span are covered."""
        oldest_wanted = utcnow() - timedelta(days=self.config.BACKFILL_DAYS)
        before_id, fetched = work.backfill_before_id or 0, work.backfill_fetched
        if self.config.BACKFILL_POSTS == 0 and self.config.BACKFILL_DAYS == 0 and not work.imported_up_to:
            # Nothing from before the follow: catch-up starts after the newest message. (Above an
            # import, the walk below still runs down to it, so no gap is left between the two.)
            newest = await self.client.get_messages(entity, limit=1)
            before_id = newest[0].id if newest else 0
            await self.run_sync(channels.advance_watermark, work.id, before_id)
            await self.run_sync(channels.record_backfill, work.id, before_id, fetched, done=True)
            await self.events.backfill_progress(work.id, fetched, True)
            return
        done = False
        while not done:
            page = await self.client.get_messages(entity, limit=PAGE, offset_id=before_id)
            work, posts = await self._posts_of(work, page)
            if posts:
                # The first page is the newest history: it sets the watermark for catch-up.
                await self.run_sync(store_posts, work.id, posts, contiguous=before_id == 0)
            fetched += len(posts)
            if page:
                before_id = min(m.id for m in page)
            enough = fetched >= self.config.BACKFILL_POSTS and (not page or page[-1].date < oldest_wanted)
            reached_import = not work.imported_up_to or before_id <= work.imported_up_to  # no gap above it
            covered = enough and reached_import
            done = len(page) < PAGE or covered
            await self.run_sync(channels.record_backfill, work.id, before_id, fetched, done=done)
            await self.events.backfill_progress(work.id, fetched, done)

    async def _catch_up(self, work: channels.ChannelWork, entity: types.InputPeerChannel) -> None:
        """Read everything after the watermark, oldest first, one page at a time."""
        watermark = work.watermark
        while True:
            page = await self.client.get_messages(entity, limit=PAGE, min_id=watermark, reverse=True)
            if not page:
                return
            work, posts = await self._posts_of(work, page)
            if posts:
                await self.run_sync(store_posts, work.id, posts, contiguous=True)
            newest = max(m.id for m in page)
            if not posts:  # only service messages: still, we have read up to here
                await self.run_sync(channels.advance_watermark, work.id, newest)
            watermark = newest
            if len(page) < PAGE:
                return

    async def _refresh_recent(self, work: channels.ChannelWork) -> None:
        """Views, forwards and reactions keep changing for a while: re-read recent posts."""
        ids = await self.run_sync(recent_message_ids, work.id, utcnow() - self.STATS_WINDOW)
        entity = await self._entity(work)
        for start in range(0, len(ids), PAGE):
            page = await self.client.get_messages(entity, ids=ids[start:start + PAGE])
            work, posts = await self._posts_of(work, [m for m in page if m is not None])
            if posts:
                await self.run_sync(store_posts, work.id, posts, contiguous=False)

    async def _posts_of(self, work: channels.ChannelWork, page: Sequence[types.Message]
                        ) -> tuple[channels.ChannelWork, list[PostData]]:
        """The page's posts, linked by the channel's current username.

        Telegram sends the channel along with every page and every new post, so a changed
        username is noticed here: the channel and its stored posts' links move to it before
        these posts are stored.
        """
        chat = next((m.chat for m in page if isinstance(m.chat, types.Channel) and not m.chat.min), None)
        if chat is not None and (username := _public_name(chat)) != work.username:
            log.info("channel %d is now @%s (was @%s)", work.telegram_id, username, work.username)
            await self.run_sync(channels.rename, work.id, username)
            work = replace(work, username=username)
            self.channels[work.telegram_id] = work
        return work, [post_from_message(m, channel_id=work.telegram_id, username=work.username)
                      for m in page if is_post(m)]

    # -- real-time events ---------------------------------------------------------------------

    def _channel_of(self, peer: Any) -> channels.ChannelWork | None:
        if isinstance(peer, types.PeerChannel):
            return self.channels.get(peer.channel_id)
        return None

    async def _on_message(self, event: events.NewMessage.Event | events.MessageEdited.Event) -> None:
        message = event.message
        work = self._channel_of(message.peer_id)
        if work is None or not is_post(message):
            return
        if message.grouped_id and not isinstance(event, events.MessageEdited.Event):
            return  # new albums arrive whole through the Album event (MessageEdited.Event is a NewMessage.Event)
        await self._store_live(work, [message])

    async def _on_album(self, event: events.Album.Event) -> None:
        work = self._channel_of(event.messages[0].peer_id)
        if work is not None:
            await self._store_live(work, [m for m in event.messages if is_post(m)])

    async def _on_deleted(self, event: events.MessageDeleted.Event) -> None:
        # A channel's deletions name the channel; deletions elsewhere name no chat.
        work = self.channels.get(utils.resolve_id(event.chat_id)[0]) if event.is_channel else None
        if work is not None:
            await self.run_sync(mark_deleted, work.id, list(event.deleted_ids))

    async def _store_live(self, work: channels.ChannelWork, messages: Sequence[types.Message]) -> None:
        try:
            work, posts = await self._posts_of(work, messages)  # an event carries the channel too
            await self.run_sync(store_posts, work.id, posts, contiguous=False)
        except Exception:
            # Catch-up will read it from history; an event is never the only way in.
            log.exception("account %d: storing a live post of channel %d failed", self.account_id, work.telegram_id)


def _public_name(channel: types.Channel) -> str | None:
    """The channel's username; one with several (collectible) usernames reports the first active."""
    if channel.username:
        return channel.username
    return next((u.username for u in channel.usernames or () if u.active), None)


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:500]

