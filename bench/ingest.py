"""Ingest benchmark: posts/s from Telethon message objects into the database.

    python -m bench.ingest [--messages 20000] [--repeat 5] [--database-url URL]

Both paths start from the same real `telethon.tl.types.Message` objects and dedupe by
(channel, message id), and both run every message twice (the second pass must add nothing;
posts/s is the first pass, the duplicates' rate is printed beside it):

  ours:     convert + store_posts in pages of 100, as the parsers store a history page
  baseline: the naive way, one message at a time: SELECT it, INSERT it if missing, commit

Each run is on a fresh database. The paths take turns, --repeat times, and the medians are
compared: this machine's speed changes from minute to minute, so one pair of runs can be off by
a third either way.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flask_migrate import upgrade
from telethon.tl import types

from felix_hub.backend import create_app
from felix_hub.backend.config import Config
from felix_hub.backend.database import write
from felix_hub.backend.extensions import db
from felix_hub.backend.models import Channel, Post, utcnow
from felix_hub.backend.posts.store import store_posts
from felix_hub.backend.telegram.convert import post_from_message
from tests.support.databases import fresh_database
from tests.support.server import service_env

CHANNEL_TG_ID = 1_000_000_777
WORDS = ("market", "rates", "новости", "launch", "science", "канал", "update", "report", "weather", "sports")


def messages(count: int, seed: int = 7) -> list[types.Message]:
    """Realistic channel posts: text with entities, some photos, some forwards, views and dates."""
    rng = random.Random(seed)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    result = []
    for n in range(1, count + 1):
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 60)))
        entities = [types.MessageEntityBold(0, 6), types.MessageEntityTextUrl(7, 5, "https://example.com/a")]
        media = None
        if n % 7 == 0:
            media = types.MessageMediaPhoto(photo=types.Photo(
                id=n, access_hash=n, file_reference=b"", date=start, dc_id=2,
                sizes=[types.PhotoSize("x", 800, 600, 50_000)]))
        result.append(types.Message(
            id=n, peer_id=types.PeerChannel(CHANNEL_TG_ID), date=start + timedelta(minutes=n), message=text,
            entities=entities, media=media, views=rng.randint(10, 100_000), forwards=rng.randint(0, 50),
        ))
    return result


def ours(channel_id: int, batch: list[types.Message]) -> None:
    for start in range(0, len(batch), 100):
        page = [post_from_message(m, channel_id=CHANNEL_TG_ID, username="bench") for m in batch[start:start + 100]]
        store_posts(channel_id, page)


def baseline(channel_id: int, batch: list[types.Message]) -> None:
    for message in batch:
        post = post_from_message(message, channel_id=CHANNEL_TG_ID, username="bench")
        exists = db.session.scalar(
            db.select(Post.id).where((Post.channel_id == channel_id) & (Post.message_id == post.message_id))
        )
        if exists is None:
            db.session.add(Post(channel_id=channel_id, message_id=post.message_id, date=post.date, text=post.text,
                                html=post.html, views=post.views, forwards=post.forwards, media=post.media,
                                link=post.link))
        db.session.commit()


@contextmanager
def fresh_app(workdir: Path, name: str) -> Iterator[int]:
    """A migrated database with one channel; yields the channel's id, inside an app context."""
    with fresh_database(workdir / name) as url:
        (workdir / name).mkdir(parents=True, exist_ok=True)
        app = create_app(Config(service_env(url, workdir / "instance", LOG_LEVEL="WARNING")))
        with app.app_context():
            upgrade()
            with write() as connection:
                channel_id = connection.execute(
                    Channel.__table__.insert().values(telegram_id=CHANNEL_TG_ID, title="Bench", created_at=utcnow())
                    .returning(Channel.id)
                ).scalar_one()
            yield channel_id
            db.session.remove()
            db.engine.dispose()


def timed(label: str, run: object, workdir: Path, batch: list[types.Message]) -> float:
    """Store `batch`, then store it again; returns posts/s of the first pass (all new posts)."""
    with fresh_app(workdir, label) as channel_id:
        started = time.perf_counter()
        run(channel_id, batch)  # type: ignore[operator]
        first = time.perf_counter() - started
        run(channel_id, batch)  # type: ignore[operator]  # again: every message is a duplicate
        second = time.perf_counter() - started - first
        stored = db.session.scalar(db.select(db.func.count(Post.id)))
        assert stored == len(batch), f"{label}: {stored} posts stored for {len(batch)} messages"
    rate = len(batch) / first
    print(f"{label:>9}: {len(batch):,} new posts in {first:.2f} s = {rate:,.0f} posts/s; "
          f"the same again (all duplicates) in {second:.2f} s = {len(batch) / second:,.0f} messages/s")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--baseline-messages", type=int, default=2_000, help="the naive path is slow: fewer")
    parser.add_argument("--repeat", type=int, default=5, help="runs of each path, alternating; medians compared")
    parser.add_argument("--database-url", help="a PostgreSQL URL to create benchmark databases next to")
    args = parser.parse_args()
    if args.database_url:
        os.environ["TEST_DATABASE_URL"] = args.database_url
    batch = messages(args.messages)
    fast: list[float] = []
    slow: list[float] = []
    with tempfile.TemporaryDirectory(prefix="felix-ingest-") as tmp:
        for run in range(args.repeat):  # alternating, so a slow minute of the machine hits both
            fast.append(timed("ours", ours, Path(tmp) / f"run-{run}", batch))
            slow.append(timed("baseline", baseline, Path(tmp) / f"run-{run}", batch[: args.baseline_messages]))
    ours_rate, baseline_rate = statistics.median(fast), statistics.median(slow)
    print(f"median of {args.repeat} runs: ours {ours_rate:,.0f} posts/s, baseline {baseline_rate:,.0f} posts/s; "
          f"ours / baseline = {ours_rate / baseline_rate:.1f}x")


if __name__ == "__main__":
    main()
