"""The Telethon parser (`AccountWorker`) against the in-process fake Telegram, on a real database.

The worker runs for real with a real `TelegramClient` whose network is `tests/peers/telegram.py`;
users, accounts, channels and posts go through the real service functions. Each test checks what
ended up in the database and what Telegram was asked for.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import Row, select
from telethon.tl import functions, types

from felix_hub.backend import accounts, channels, create_app, users
from felix_hub.backend.config import Config
from felix_hub.backend.database import rows
from felix_hub.backend.extensions import db
from felix_hub.backend.models import Account, Channel, Post, PostEdit, SyncState
from felix_hub.backend.posts.store import store_posts
from felix_hub.backend.telegram.clients import session_string
from felix_hub.backend.telegram.convert import post_from_message
from felix_hub.backend.telegram.worker import AccountWorker
from tests.peers.bot_api import TOKEN
from tests.peers.telegram import FakeChannel, FakeTelegram, FakeTelegramClient, Person
from tests.support.server import WEBHOOK_SECRET, service_env

T = TypeVar("T")
WAIT = 30.0  # seconds a condition may take before the test gives up (a hang, not a slow run)


# -- the world and the service -------------------------------------------------------------------


@dataclass(frozen=True)
class HistoryRead:
    """One GetHistory request as Telegram received it (Telethon reuses and mutates its request)."""

    channel_id: int
    offset_id: int
    add_offset: int
    limit: int


class RecordingTelegram(FakeTelegram):
    """The fake Telegram, also noting the paging of every history read (failed ones included)."""

    def __init__(self) -> None:
        super().__init__()
        self.history_reads: list[HistoryRead] = []

    def answer(self, sender: Any, request: Any) -> Any:
        inner = request
        while isinstance(inner, (functions.InvokeWithLayerRequest, functions.InitConnectionRequest,
                                 functions.InvokeWithoutUpdatesRequest)):
            inner = inner.query
        if isinstance(inner, functions.messages.GetHistoryRequest):
            with self.lock:
                self.history_reads.append(HistoryRead(getattr(inner.peer, "channel_id", 0), inner.offset_id,
                                                      inner.add_offset, inner.limit))
        return super().answer(sender, request)

    def reads_of(self, channel: FakeChannel) -> list[tuple[int, int]]:
        """(offset_id, add_offset) of each history read of `channel`, in order."""
        with self.lock:
            return [(r.offset_id, r.add_offset) for r in self.history_reads if r.channel_id == channel.id]


class Recorder:
    """ParserEvents that remembers what the worker told the rest of the service."""

    def __init__(self) -> None:
        self.progress: list[tuple[int, int, bool]] = []
        self.lost: list[tuple[int, str]] = []

    async def backfill_progress(self, channel_id: int, fetched: int, done: bool) -> None:
        self.progress.append((channel_id, fetched, done))

    async def account_lost(self, account_id: int, reason: str) -> None:
        self.lost.append((account_id, reason))


@dataclass
class Running:
    worker: AccountWorker
    task: asyncio.Task[None]


class ParserHarness:
    """The service side of a test: the app, the blocking functions through threads, running workers."""

    def __init__(self, app: Flask, world: RecordingTelegram) -> None:
        self.app = app
        self.world = world
        self.config: Config = app.extensions["felix_config"]
        self.events = Recorder()

    async def run_sync(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """What the engine gives the worker: `fn` in a thread, inside the app context."""

        def call() -> T:
            with self.app.app_context():
                return fn(*args, **kwargs)

        return await asyncio.to_thread(call)

    async def connect_account(self, person: Person) -> tuple[int, int]:
        """Log `person` in with a code, as the bot's login does; returns (user id, account id)."""
        client = FakeTelegramClient(self.world)
        await client.connect()
        try:
            await client.send_code_request(person.phone)
            me = await client.sign_in(person.phone, self.world.codes[person.phone])
            session = session_string(client)
        finally:
            await client.disconnect()
        user = await self.run_sync(users.register, users.Profile(person.id, person.first_name))
        account_id = await self.run_sync(accounts.save_login, user.id, me.id, person.first_name, person.username,
                                         session)
        return user.id, account_id

    async def follow(self, user_id: int, account_id: int, channel: FakeChannel, *, known_hash: bool = True) -> int:
        """The user follows `channel`, read by their account; without `known_hash` it must resolve it."""
        info = channels.ChannelInfo(channel.id, channel.title, channel.username, channel.megagroup,
                                    channel.access_hash if known_hash else None)
        channel_id = await self.run_sync(channels.remember, info, account_id)
        assert await self.run_sync(channels.subscribe, user_id, channel_id, limit=None) == channels.Followed.OK
        return channel_id

    @contextlib.asynccontextmanager
    async def worker(self, account_id: int) -> AsyncIterator[Running]:
        """The account's worker on a fresh client from its stored session; stopped and disconnected after."""
        session = await self.run_sync(accounts.session_of, account_id)
        client = FakeTelegramClient(self.world, session)
        worker = AccountWorker(account_id, client, self.run_sync, self.config, self.events)
        running = Running(worker, asyncio.create_task(worker.run(), name=f"account-{account_id}"))
        try:
            yield running
        finally:
            running.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await running.task  # an error the worker died of fails the test here
            await client.disconnect()

    async def until(self, check: Callable[[], bool], running: Running | None = None, *, what: str) -> None:
        """Wait until the blocking `check()` (run in the app) holds; fail if the worker stops first."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT
        while not await self.run_sync(check):
            if running is not None and running.task.done():
                running.task.result()
                raise AssertionError(f"the worker stopped before {what}")
            if loop.time() > deadline:
                raise AssertionError(f"gave up waiting for {what}")
            await asyncio.sleep(0.02)


@pytest.fixture
def make_felix(database_url: str, tmp_path: Path) -> Iterator[Callable[..., ParserHarness]]:
    """Build the app on a migrated database with config overrides, and a fake Telegram for it."""
    apps: list[Flask] = []

    def make(**overrides: str) -> ParserHarness:
        env = service_env(database_url, tmp_path / "instance", TELEGRAM_BOT_TOKEN=TOKEN,
                          TELEGRAM_WEBHOOK_SECRET=WEBHOOK_SECRET, **overrides)
        app = create_app(Config(env))
        with app.app_context():
            upgrade()
        apps.append(app)
        return ParserHarness(app, RecordingTelegram())

    yield make
    for app in apps:
        with app.app_context():
            db.engine.dispose()


# -- reading the database (blocking; through ParserHarness.run_sync or .until) ---------------------


def posts(channel_id: int) -> list[Row[Any]]:
    return rows(
        select(Post.id, Post.message_id, Post.text, Post.edit_date, Post.grouped_id, Post.album_ids, Post.media,
               Post.deleted_at)
        .where(Post.channel_id == channel_id).order_by(Post.message_id)
    )


def message_ids(channel_id: int) -> list[int]:
    return [p.message_id for p in posts(channel_id)]


def post(channel_id: int, message_id: int) -> Row[Any] | None:
    return next((p for p in posts(channel_id) if p.message_id == message_id), None)


def edits(post_id: int) -> list[tuple[str, datetime | None]]:
    return [(e.text, e.edit_date) for e in rows(
        select(PostEdit.text, PostEdit.edit_date).where(PostEdit.post_id == post_id).order_by(PostEdit.id))]


def channel_row(channel_id: int) -> Row[Any]:
    return rows(
        select(Channel.fetch_account_id, Channel.access_hash, Channel.watermark, Channel.backfill_before_id,
               Channel.backfill_done, Channel.backfill_fetched, Channel.sync_state, Channel.last_error,
               Channel.error_count, Channel.next_attempt_at, Channel.last_post_at)
        .where(Channel.id == channel_id)
    )[0]


def account_row(account_id: int) -> Row[Any]:
    return rows(select(Account.status, Account.status_reason, Account.session, Account.flood_wait_until)
                .where(Account.id == account_id))[0]


def links(channel_id: int) -> tuple[str | None, list[str]]:
    """The channel's username and its posts' t.me links, in message order."""
    username = rows(select(Channel.username).where(Channel.id == channel_id))[0].username
    return username, [p.link for p in rows(select(Post.link).where(Post.channel_id == channel_id)
                                           .order_by(Post.message_id))]


def backfilled(channel_id: int) -> bool:
    return bool(channel_row(channel_id).backfill_done)


# -- building posts --------------------------------------------------------------------------------

_photo_ids = itertools.count(7_000_000)
_album_ids = itertools.count(13_000_000_000_000_000)


def photo() -> types.MessageMediaPhoto:
    """A real photo as Telegram describes it (only metadata: nothing is downloaded)."""
    return types.MessageMediaPhoto(photo=types.Photo(
        id=next(_photo_ids), access_hash=42, file_reference=b"ref", date=datetime.now(UTC),
        sizes=[types.PhotoSizeProgressive(type="y", w=1280, h=960, sizes=[10_000, 60_000, 120_000]),
               types.PhotoSize(type="m", w=320, h=240, size=9_000)],
        dc_id=2))


def album(world: FakeTelegram, channel: FakeChannel, caption: str, count: int, *,
          deliver: bool) -> list[types.Message]:
    """An album: `count` photos sharing a grouped_id, the caption on the first one."""
    grouped_id = next(_album_ids)
    return [world.post(channel, caption if n == 0 else "", deliver=deliver, grouped_id=grouped_id, media=photo())
            for n in range(count)]


# -- the tests -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("backfill_posts", "backfill_days", "history", "first_stored", "progress"),
    [
        # 150 posts wanted: pages of 100 until covered, so the newest 200 (whole pages) are kept.
        ("150", "0", 250, 51, [(100, False), (200, True)]),
        # Two days wanted of a post every 10 minutes: the day span, not the count, decides (300 posts).
        ("10", "2", 400, 101, [(100, False), (200, False), (300, True)]),
        # A short channel: its whole history, in one short page.
        ("100", "7", 30, 1, [(30, True)]),
    ],
)
def test_first_follow_backfills_the_newest_posts(make_felix: Callable[..., ParserHarness], backfill_posts: str,
                                                 backfill_days: str, history: int, first_stored: int,
                                                 progress: list[tuple[int, bool]]) -> None:
    """Following a channel reads its history back from the newest post, a page at a time, until both
    BACKFILL_POSTS and BACKFILL_DAYS are covered: each of those posts is stored once, progress is
    reported per page, the channel is resolved once and its watermark is the newest post."""
    felix = make_felix(BACKFILL_POSTS=backfill_posts, BACKFILL_DAYS=backfill_days)
    world = felix.world
    ann = world.person("+44 7700 900001", "Ann")
    news = world.channel("News", "news", members=[ann])
    written = world.history(news, history)

    async def scenario() -> None:
        user_id, account_id = await felix.connect_account(ann)
        channel_id = await felix.follow(user_id, account_id, news, known_hash=False)
        async with felix.worker(account_id) as running:
            await felix.until(lambda: backfilled(channel_id), running, what="the backfill")
            stored = await felix.run_sync(posts, channel_id)
            channel = await felix.run_sync(channel_row, channel_id)

        assert [p.message_id for p in stored] == list(range(first_stored, history + 1))
        assert [p.text for p in stored] == [f"post {n - 1}" for n in range(first_stored, history + 1)]
        assert felix.events.progress == [(channel_id, fetched, done) for fetched, done in progress]
        pages = len(progress)
        assert world.reads_of(news) == [(0, 0)] + [(history - 100 * n + 1, 0) for n in range(1, pages)]
        assert world.count("ResolveUsernameRequest") == 1  # by username once; its access hash is kept
        assert (channel.access_hash, channel.watermark, channel.backfill_fetched) == (
            news.access_hash, history, history - first_stored + 1)
        assert channel.backfill_before_id == first_stored
        assert (channel.sync_state, channel.last_error) == (SyncState.OK, None)
        assert channel.last_post_at == written[-1].date

    asyncio.run(scenario())


def test_catch_up_stores_exactly_the_posts_missed(make_felix: Callable[..., ParserHarness]) -> None:
    """Posts whose updates never arrived (while the account was disconnected, or lost while it ran)
    are read from history after the watermark, oldest first: each stored once, none read twice,
    and the watermark moves to the newest. A post stored from a live event is not duplicated."""
    felix = make_felix(BACKFILL_POSTS="50", BACKFILL_DAYS="0")
    world = felix.world
    ann = world.person("+44 7700 900002", "Ann")
    news = world.channel("News", "news", members=[ann])
    world.history(news, 120)

    async def scenario() -> None:
        user_id, account_id = await felix.connect_account(ann)
        channel_id = await felix.follow(user_id, account_id, news)
        async with felix.worker(account_id) as running:
            await felix.until(lambda: backfilled(channel_id), running, what="the backfill")
        assert await felix.run_sync(message_ids, channel_id) == list(range(21, 121))
        assert world.reads_of(news) == [(0, 0)]

        # While nobody is connected: 130 posts in history only, and one whose update reached no one.
        for n in range(130):
            world.post(news, f"missed {n}", deliver=False)
        world.post(news, "nobody listening")
        async with felix.worker(account_id) as running:
            await felix.until(lambda: channel_row(channel_id).watermark == 251, running, what="the catch-up")
            # From the watermark, oldest first, 100 at a time: never the backfill's pages again.
            # (A short page makes Telethon's iterator ask once more for the rest of its limit.)
            assert world.reads_of(news)[1:] == [(121, -100), (221, -100), (252, -69)]
            stored = await felix.run_sync(posts, channel_id)
            assert [p.message_id for p in stored] == list(range(21, 252))
            assert [p.text for p in stored[100:]] == [*(f"missed {n}" for n in range(130)), "nobody listening"]

            # While running: one post arrives live (stored, watermark unmoved), three are lost.
            world.post(news, "live")
            await felix.until(lambda: post(channel_id, 252) is not None, running, what="the live post")
            assert (await felix.run_sync(channel_row, channel_id)).watermark == 251
            for n in range(3):
                world.post(news, f"lost {n}", deliver=False)
            running.worker.kick()
            await felix.until(lambda: channel_row(channel_id).watermark == 255, running, what="the second catch-up")
            stored = await felix.run_sync(posts, channel_id)

        assert [p.message_id for p in stored] == list(range(21, 256))
        assert [p.text for p in stored[-4:]] == ["live", "lost 0", "lost 1", "lost 2"]
        assert world.reads_of(news)[4:] == [(252, -100), (256, -96)]
        assert felix.events.progress == [(channel_id, 100, True)]  # the backfill only

    asyncio.run(scenario())


def test_a_flood_wait_mid_backfill_waits_and_resumes_without_gaps(make_felix: Callable[..., ParserHarness]) -> None:
    """A FloodWait on the second history page: the channel and the account show the wait, the
    worker sleeps it out and resumes from the stored position (page one is never read again), and
    the whole history ends up stored once with no gap."""
    felix = make_felix(BACKFILL_POSTS="1000", BACKFILL_DAYS="0")
    world = felix.world
    ann = world.person("+44 7700 900003", "Ann")
    news = world.channel("News", "news", members=[ann])
    world.history(news, 250)
    world.fail("GetHistoryRequest", "FLOOD_WAIT_2", skip=1)
    seen: list[tuple[str | None, bool, list[int]]] = []

    def look(channel_id: int, account_id: int) -> bool:
        channel = channel_row(channel_id)
        if channel.sync_state == SyncState.FLOOD_WAIT:
            seen.append((channel.last_error, account_row(account_id).flood_wait_until is not None,
                         message_ids(channel_id)))
        return bool(channel.backfill_done)

    async def scenario() -> None:
        user_id, account_id = await felix.connect_account(ann)
        channel_id = await felix.follow(user_id, account_id, news)
        async with felix.worker(account_id) as running:
            await felix.until(lambda: look(channel_id, account_id), running, what="the backfill")
            stored = await felix.run_sync(message_ids, channel_id)
            channel = await felix.run_sync(channel_row, channel_id)
            account = await felix.run_sync(account_row, account_id)

        assert ("FloodWait 2 s", True, list(range(151, 251))) in seen  # meanwhile: page one kept
        assert world.reads_of(news) == [(0, 0), (151, 0), (151, 0), (51, 0)]  # the failed read, retried
        assert stored == list(range(1, 251))
        assert felix.events.progress == [(channel_id, 100, False), (channel_id, 200, False), (channel_id, 250, True)]
        assert (channel.sync_state, channel.last_error, channel.error_count) == (SyncState.OK, None, 0)
        assert (channel.watermark, channel.backfill_fetched) == (250, 250)
        assert account.flood_wait_until is None

    asyncio.run(scenario())


def test_a_restart_during_a_flood_wait_resumes_the_backfill(make_felix: Callable[..., ParserHarness]) -> None:
    """A worker stopped in the middle of a long FloodWait (a deploy, a crash) leaves the backfill
    position stored; the next worker goes on from there, and nothing is missing or doubled."""
    felix = make_felix(BACKFILL_POSTS="1000", BACKFILL_DAYS="0")
    world = felix.world
    ann = world.person("+44 7700 900004", "Ann")
    news = world.channel("News", "news", members=[ann])
    world.history(news, 250)
    world.fail("GetHistoryRequest", "FLOOD_WAIT_600", skip=1)

    async def scenario() -> None:
        user_id, account_id = await felix.connect_account(ann)
        channel_id = await felix.follow(user_id, account_id, news)
        async with felix.worker(account_id) as running:
            await felix.until(lambda: channel_row(channel_id).sync_state == SyncState.FLOOD_WAIT, running,
                              what="the flood wait")
        channel = await felix.run_sync(channel_row, channel_id)
        assert (channel.backfill_before_id, channel.backfill_fetched, channel.backfill_done) == (151, 100, False)
        async with felix.worker(account_id) as running:
            await felix.until(lambda: backfilled(channel_id), running, what="the backfill")
            stored = await felix.run_sync(message_ids, channel_id)

        assert world.reads_of(news) == [(0, 0), (151, 0), (151, 0), (51, 0)]
        assert stored == list(range(1, 251))
        assert felix.events.progress[-1] == (channel_id, 250, True)

    asyncio.run(scenario())


def test_live_posts_edits_and_deletions_are_stored(make_felix: Callable[..., ParserHarness]) -> None:
    """While the worker runs, a new post is stored as it arrives (without moving the watermark),
    an edit replaces the text and keeps the previous version, and a deletion marks the post
    deleted while the other posts stay."""
    felix = make_felix(BACKFILL_POSTS="10", BACKFILL_DAYS="0")
    world = felix.world
    ann = world.person("+44 7700 900005", "Ann")
    news = world.channel("News", "news", members=[ann])
    world.history(news, 20)

    async def scenario() -> None:
        user_id, account_id = await felix.connect_account(ann)
        channel_id = await felix.follow(user_id, account_id, news)
        async with felix.worker(account_id) as running:
            await felix.until(lambda: backfilled(channel_id), running, what="the backfill")
            reads = world.count("GetHistoryRequest")

            world.post(news, "breaking")
            await felix.until(lambda: post(channel_id, 21) is not None, running, what="the new post")
            world.edit(news, 21, "breaking, corrected")
            await felix.until(lambda: post(channel_id, 21).text == "breaking, corrected", running, what="the edit")
            world.edit(news, 5, "post 4, fixed")  # an old post, stored by the backfill
            await felix.until(lambda: post(channel_id, 5).text == "post 4, fixed", running, what="the old edit")
            world.delete(news, 3)
            await felix.until(lambda: post(channel_id, 3).deleted_at is not None, running, what="the deletion")
            stored = await felix.run_sync(posts, channel_id)
            channel = await felix.run_sync(channel_row, channel_id)
            history_21 = await felix.run_sync(edits, stored[20].id)
            history_5 = await felix.run_sync(edits, stored[4].id)

        assert [p.message_id for p in stored] == list(range(1, 22))
        assert [p.message_id for p in stored if p.deleted_at is not None] == [3]
        assert stored[20].edit_date is not None and stored[4].edit_date is not None
        assert history_21 == [("breaking", None)] and history_5 == [("post 4", None)]
        assert channel.watermark == 20  # live events never move it: only a contiguous history read does
        assert world.count("GetHistoryRequest") == reads  # all of it came as updates

    asyncio.run(scenario())


def test_an_album_is_one_post_with_every_photo(make_felix: Callable[..., ParserHarness]) -> None:
    """An album (messages sharing a grouped_id) is stored as one post holding every photo, whether
    it is read from history or arrives live; editing its caption edits that one post."""
    felix = make_felix(BACKFILL_POSTS="100", BACKFILL_DAYS="0")
    world = felix.world
    ann = world.person("+44 7700 900006", "Ann")
    news = world.channel("News", "news", members=[ann])
    world.history(news, 3)
    old = album(world, news, "old trip", 3, deliver=False)  # ids 4-6
    world.history(news, 2)  # ids 7-8

    async def scenario() -> None:
        user_id, account_id = await felix.connect_account(ann)
        channel_id = await felix.follow(user_id, account_id, news)
        async with felix.worker(account_id) as running:
            await felix.until(lambda: backfilled(channel_id), running, what="the backfill")
            from_history = await felix.run_sync(posts, channel_id)

            new = album(world, news, "new trip", 4, deliver=True)  # ids 9-12
            # Parts may come as more than one Album event when the machine is busy: wait for all four.
            await felix.until(lambda: (p := post(channel_id, 9)) is not None and len(p.album_ids or ()) == 4,
                              running, what="the live album")
            live = await felix.run_sync(post, channel_id, 9)

            world.edit(news, 9, "new trip, with names")
            await felix.until(lambda: post(channel_id, 9).text == "new trip, with names", running,
                              what="the caption edit")
            edited = await felix.run_sync(posts, channel_id)
            previous = await felix.run_sync(edits, live.id)

        assert [p.message_id for p in from_history] == [1, 2, 3, 4, 7, 8]
        (old_album,) = [p for p in from_history if p.message_id == 4]
        assert (old_album.text, old_album.grouped_id, old_album.album_ids) == ("old trip", old[0].grouped_id,
                                                                               [4, 5, 6])
        assert [(m["kind"], m["message_id"], m["width"], m["size"]) for m in old_album.media] == [
            ("photo", n, 1280, 120_000) for n in (4, 5, 6)]
        assert (live.text, live.grouped_id, live.album_ids) == ("new trip", new[0].grouped_id, [9, 10, 11, 12])
        assert [m["message_id"] for m in live.media] == [9, 10, 11, 12]
        assert [p.message_id for p in edited] == [1, 2, 3, 4, 7, 8, 9]
        assert edited[-1].album_ids == [9, 10, 11, 12] and len(edited[-1].media) == 4
        assert previous == [("new trip", None)]

    asyncio.run(scenario())


def test_a_channel_the_account_cannot_read_is_given_up_and_the_others_go_on(
        make_felix: Callable[..., ParserHarness]) -> None:
    """A private channel the account is not (or no longer) a member of: Telegram answers
    CHANNEL_PRIVATE to a read with a stale access hash, and without one it cannot even be
    addressed. Either way the account gives the channel up (no access, no fetcher, so another
    follower's account may take it), and the account's other channels are read as usual."""
    felix = make_felix(BACKFILL_POSTS="100", BACKFILL_DAYS="0")
    world = felix.world
    ann = world.person("+44 7700 900007", "Ann")
    news = world.channel("News", "news", members=[ann])
    left = world.channel("Left", public=False, invite_hash="left")  # Ann left it after following
    unknown = world.channel("Unknown", public=False, invite_hash="unknown")
    for channel in (news, left, unknown):
        world.history(channel, 30)

    async def scenario() -> None:
        user_id, account_id = await felix.connect_account(ann)
        left_id = await felix.follow(user_id, account_id, left)
        unknown_id = await felix.follow(user_id, account_id, unknown, known_hash=False)
        news_id = await felix.follow(user_id, account_id, news)
        async with felix.worker(account_id) as running:
            await felix.until(lambda: backfilled(news_id) and channel_row(left_id).fetch_account_id is None
                              and channel_row(unknown_id).fetch_account_id is None, running, what="the first round")
            running.worker.kick()  # the next round reads only what the account still fetches
            world.post(news, "more", deliver=False)
            await felix.until(lambda: channel_row(news_id).watermark == 31, running, what="the catch-up")
            lost = [await felix.run_sync(channel_row, i) for i in (left_id, unknown_id)]
            counts = [len(await felix.run_sync(posts, i)) for i in (news_id, left_id, unknown_id)]

        for channel in lost:
            assert (channel.sync_state, channel.fetch_account_id, channel.access_hash) == (
                SyncState.NO_ACCESS, None, None)
        assert counts == [31, 0, 0]
        assert world.reads_of(left) == [(0, 0)] and world.reads_of(unknown) == []  # tried once, in the first round

    asyncio.run(scenario())


@pytest.mark.parametrize("when", ["while running", "before connecting"])
def test_a_revoked_session_marks_the_account_for_login(make_felix: Callable[..., ParserHarness], when: str) -> None:
    """The user ends the session from Telegram's device list: the worker stops, the account needs a
    new login (its session forgotten, its channels free for other followers' accounts) and the
    service is told once, with the reason."""
    felix = make_felix(BACKFILL_POSTS="10", BACKFILL_DAYS="0")
    world = felix.world
    ann = world.person("+44 7700 900008", "Ann")
    news = world.channel("News", "news", members=[ann])
    world.history(news, 20)

    async def scenario() -> None:
        user_id, account_id = await felix.connect_account(ann)
        channel_id = await felix.follow(user_id, account_id, news)
        if when == "before connecting":
            world.revoke(ann)
        async with felix.worker(account_id) as running:
            if when == "while running":
                await felix.until(lambda: backfilled(channel_id), running, what="the backfill")
                world.revoke(ann)
                running.worker.kick()
            await asyncio.wait_for(asyncio.shield(running.task), WAIT)  # it ends by itself, without an error
            account = await felix.run_sync(account_row, account_id)
            channel = await felix.run_sync(channel_row, channel_id)

        reason = "AuthKeyUnregisteredError" if when == "while running" else "the session is not logged in"
        assert (account.status, account.status_reason, account.session) == ("needs_login", reason, None)
        assert channel.fetch_account_id is None
        assert felix.events.lost == [(account_id, reason)]
        if when == "before connecting":
            assert world.reads_of(news) == []

    asyncio.run(scenario())


def test_with_no_backfill_only_posts_after_the_follow_are_kept(make_felix: Callable[..., ParserHarness]) -> None:
    """BACKFILL_POSTS=0 and BACKFILL_DAYS=0 ask for nothing from before the follow: no old post is
    stored, yet the channel's first sync completes (the watermark set at its newest message, the
    progress reported done), so posts missed after the follow are caught up."""
    felix = make_felix(BACKFILL_POSTS="0", BACKFILL_DAYS="0")
    world = felix.world
    ann = world.person("+44 7700 900009", "Ann")
    news = world.channel("News", "news", members=[ann])
    world.history(news, 30)

    async def scenario() -> None:
        user_id, account_id = await felix.connect_account(ann)
        channel_id = await felix.follow(user_id, account_id, news)
        async with felix.worker(account_id) as running:
            await felix.until(lambda: backfilled(channel_id), running, what="the first sync")
            assert await felix.run_sync(message_ids, channel_id) == []
            assert (await felix.run_sync(channel_row, channel_id)).watermark == 30
            world.post(news, "missed", deliver=False)
            running.worker.kick()
            await felix.until(lambda: channel_row(channel_id).watermark == 31, running, what="the catch-up")
            stored = await felix.run_sync(posts, channel_id)

        assert [(p.message_id, p.text) for p in stored] == [(31, "missed")]
        assert felix.events.progress == [(channel_id, 0, True)]

    asyncio.run(scenario())


@pytest.mark.parametrize("username_now", ["taken by another channel", "given up"])
def test_a_channel_whose_username_changed_is_found_by_its_id(make_felix: Callable[..., ParserHarness],
                                                             username_now: str) -> None:
    """A channel known without an access hash (as after another account took it over) is resolved
    again. If its old username now belongs to another channel, that channel's posts are never
    stored as this one's; if nobody has the username any more, the channel is still readable. Either
    way it is found by its id among the account's chats and read as usual."""
    felix = make_felix(BACKFILL_POSTS="100", BACKFILL_DAYS="0")
    world = felix.world
    ann = world.person("+44 7700 900010", "Ann")
    news = world.channel("News", "news", members=[ann])
    world.history(news, 5)

    async def scenario() -> None:
        user_id, account_id = await felix.connect_account(ann)
        channel_id = await felix.follow(user_id, account_id, news, known_hash=False)
        news.username, news.public = None, False  # it went private after it was followed
        other = world.channel("Other", "news" if username_now == "taken by another channel" else None,
                              members=[ann])
        for n in range(7):
            world.post(other, f"someone else's {n}", deliver=False)
        async with felix.worker(account_id) as running:
            await felix.until(lambda: backfilled(channel_id), running, what="the backfill")
            stored = await felix.run_sync(posts, channel_id)
            channel = await felix.run_sync(channel_row, channel_id)

        assert [p.text for p in stored] == [f"post {n}" for n in range(5)]
        assert world.reads_of(other) == []
        assert (channel.access_hash, channel.sync_state) == (news.access_hash, SyncState.OK)
        assert world.count("ResolveUsernameRequest") == 1 and world.count("GetDialogsRequest") == 1

    asyncio.run(scenario())


def test_another_followers_account_takes_over_a_channel_the_fetcher_cannot_read(
        make_felix: Callable[..., ParserHarness]) -> None:
    """Ann's account fetches a private channel she has left; Bob, a member, follows it too. When
    Ann's worker finds it cannot read the channel, the next supervision round (assign_orphans)
    gives the channel to Bob's account, whose worker backfills it."""
    felix = make_felix(BACKFILL_POSTS="100", BACKFILL_DAYS="0")
    world = felix.world
    ann = world.person("+44 7700 900011", "Ann")
    bob = world.person("+44 7700 900012", "Bob")
    club = world.channel("Club", public=False, invite_hash="club", members=[bob])  # Ann left it
    world.history(club, 12)

    async def scenario() -> None:
        ann_user, ann_account = await felix.connect_account(ann)
        bob_user, bob_account = await felix.connect_account(bob)
        channel_id = await felix.follow(ann_user, ann_account, club)
        assert await felix.run_sync(channels.subscribe, bob_user, channel_id, limit=None) == channels.Followed.OK
        async with felix.worker(ann_account) as ann_running, felix.worker(bob_account) as bob_running:
            await felix.until(lambda: channel_row(channel_id).sync_state == SyncState.NO_ACCESS, ann_running,
                              what="Ann's worker giving the channel up")
            await felix.run_sync(channels.assign_orphans)  # what the parsers' supervisor runs every round
            assert (await felix.run_sync(channel_row, channel_id)).fetch_account_id == bob_account
            bob_running.worker.kick()
            await felix.until(lambda: backfilled(channel_id), bob_running, what="Bob's backfill")
            assert await felix.run_sync(message_ids, channel_id) == list(range(1, 13))

    asyncio.run(scenario())


@pytest.mark.parametrize("backfill_posts", ["30", "0"])
def test_a_channel_imported_earlier_is_backfilled_down_to_the_import(make_felix: Callable[..., ParserHarness],
                                                                     backfill_posts: str) -> None:
    """A Desktop export held posts 1-120; 280 more were written since. Following the channel
    backfills past BACKFILL_POSTS (even when nothing from before the follow is asked for) until it
    meets the imported posts: nothing in between is missed."""
    felix = make_felix(BACKFILL_POSTS=backfill_posts, BACKFILL_DAYS="0")
    world = felix.world
    ann = world.person("+44 7700 900021", "Ann")
    news = world.channel("News", "news", members=[ann])
    written = world.history(news, 400)

    async def scenario() -> None:
        user_id, account_id = await felix.connect_account(ann)
        channel_id = await felix.follow(user_id, account_id, news)
        exported = [post_from_message(m, channel_id=news.id, username="news") for m in written[:120]]
        await felix.run_sync(store_posts, channel_id, exported, contiguous=False)
        await felix.run_sync(channels.record_imported, channel_id, 120)
        async with felix.worker(account_id) as running:
            await felix.until(lambda: backfilled(channel_id), running, what="the backfill")
            stored = await felix.run_sync(message_ids, channel_id)

        assert stored == list(range(1, 401))
        assert world.reads_of(news) == [(0, 0), (301, 0), (201, 0)]  # it stopped on reaching post 101 <= 120

    asyncio.run(scenario())


def test_views_and_reactions_of_recent_posts_are_refreshed(make_felix: Callable[..., ParserHarness]) -> None:
    """Views and reactions change without any update telling us: each round re-reads the recent
    posts by id (STATS_REFRESH_MINUTES=0 here) and stores the new counts."""
    felix = make_felix(BACKFILL_POSTS="10", BACKFILL_DAYS="0", STATS_REFRESH_MINUTES="0")
    world = felix.world
    ann = world.person("+44 7700 900031", "Ann")
    news = world.channel("News", "news", members=[ann])
    world.history(news, 5, step=timedelta(hours=1))

    async def scenario() -> None:
        user_id, account_id = await felix.connect_account(ann)
        channel_id = await felix.follow(user_id, account_id, news)
        async with felix.worker(account_id) as running:
            await felix.until(lambda: backfilled(channel_id), running, what="the backfill")
            old = news.messages[4]
            liked = types.MessageReactions(results=[types.ReactionCount(reaction=types.ReactionEmoji("👍"), count=7)])
            news.messages[4] = types.Message(id=4, peer_id=old.peer_id, date=old.date, message=old.message,
                                             post=True, views=950, forwards=3, reactions=liked)
            running.worker.kick()

            def refreshed() -> bool:
                row = rows(select(Post.views, Post.forwards, Post.reactions)
                           .where((Post.channel_id == channel_id) & (Post.message_id == 4)))[0]
                return row.views == 950 and row.forwards == 3 and bool(row.reactions)

            await felix.until(refreshed, running, what="the new counts")
            stored = await felix.run_sync(
                rows, select(Post.reactions).where((Post.channel_id == channel_id) & (Post.message_id == 4)))

        assert world.count("GetMessagesRequest") >= 1  # by id, not by reading history again
        assert "👍" in str(stored[0].reactions) and "7" in str(stored[0].reactions)

    asyncio.run(scenario())


def test_a_renamed_channel_moves_its_links(make_felix: Callable[..., ParserHarness]) -> None:
    """@news becomes @fresh_news, then goes private: the next page read from Telegram carries the
    channel as it is now, and every stored post's link follows it."""
    felix = make_felix(BACKFILL_POSTS="10", BACKFILL_DAYS="0", STATS_REFRESH_MINUTES="0")
    world = felix.world
    ann = world.person("+44 7700 900041", "Ann")
    news = world.channel("News", "news", members=[ann])
    world.history(news, 3, step=timedelta(hours=1))

    async def scenario() -> None:
        user_id, account_id = await felix.connect_account(ann)
        channel_id = await felix.follow(user_id, account_id, news)
        async with felix.worker(account_id) as running:
            await felix.until(lambda: backfilled(channel_id), running, what="the backfill")
            assert await felix.run_sync(links, channel_id) == ("news", [f"https://t.me/news/{n}" for n in (1, 2, 3)])
            news.username = "fresh_news"
            running.worker.kick()
            await felix.until(lambda: links(channel_id)[0] == "fresh_news", running, what="the new name")
            assert (await felix.run_sync(links, channel_id))[1] == [f"https://t.me/fresh_news/{n}" for n in (1, 2, 3)]
            news.username = None
            running.worker.kick()
            await felix.until(lambda: links(channel_id)[0] is None, running, what="the name to go")
            assert (await felix.run_sync(links, channel_id))[1] == [f"https://t.me/c/{news.id}/{n}" for n in (1, 2, 3)]

    asyncio.run(scenario())


def test_a_live_post_brings_the_channels_new_name(make_felix: Callable[..., ParserHarness]) -> None:
    """A new post arrives with the channel as it is now: a rename is noticed without waiting for
    the next catch-up, and the new post is stored with the new link."""
    felix = make_felix(BACKFILL_POSTS="10", BACKFILL_DAYS="0", STATS_REFRESH_MINUTES="0")
    world = felix.world
    ann = world.person("+44 7700 900042", "Ann")
    news = world.channel("News", "news", members=[ann])
    world.history(news, 2, step=timedelta(hours=1))

    async def scenario() -> None:
        user_id, account_id = await felix.connect_account(ann)
        channel_id = await felix.follow(user_id, account_id, news)
        async with felix.worker(account_id) as running:
            await felix.until(lambda: backfilled(channel_id), running, what="the backfill")
            history_reads = world.count("GetHistoryRequest")
            news.username = "live_news"
            world.post(news, "breaking")
            await felix.until(lambda: len(links(channel_id)[1]) == 3, running, what="the live post")
            assert await felix.run_sync(links, channel_id) == (
                "live_news", [f"https://t.me/live_news/{n}" for n in (1, 2, 3)])
            assert world.count("GetHistoryRequest") == history_reads  # the event alone told us

    asyncio.run(scenario())
