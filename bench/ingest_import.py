"""Import benchmark: a synthetic Telegram Desktop export (full layout) into a fresh database.

    python -m bench.ingest_import [--messages 100000] [--channels 4] [--database-url URL]

Writes a deterministic export to a temporary folder (text with entities in the list form,
photos, files, voice messages, polls, forwards, replies, edits, service messages, and a personal
chat that is skipped), imports it with `import_export` on a fresh migrated database (SQLite, or
a new PostgreSQL database next to --database-url), then imports it again (must add nothing).
Prints seconds, posts/s and the process's peak RSS.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import resource
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from flask_migrate import upgrade

from felix_hub.backend import create_app
from felix_hub.backend.config import Config
from felix_hub.backend.extensions import db
from felix_hub.backend.imports import import_export
from felix_hub.backend.models import Post
from tests.support.databases import fresh_database
from tests.support.server import service_env

FIRST_CHANNEL_ID = 1_000_000_101
WORDS = ("market", "rates", "новости", "launch", "science", "канал", "update", "report", "погода", "sports",
         "city", "мост", "library", "research", "концерт", "<tag>", "&", "budget", "школа", "train")
START = datetime(2025, 1, 1, tzinfo=UTC)


def write_export(folder: Path, messages: int, channels: int, seed: int = 7) -> Path:
    """A full-layout result.json with `messages` channel messages; returns its path."""
    rng = random.Random(seed)
    path = folder / "result.json"
    with path.open("w", encoding="utf-8") as out:
        out.write('{\n "about": "Synthetic Felix Hub benchmark export.",\n')
        out.write(' "personal_information": {"user_id": 100000001, "first_name": "Bench"},\n')
        out.write(' "chats": {\n  "about": "All chats.",\n  "list": [\n')
        share = messages // channels
        for n in range(channels):
            count = share if n < channels - 1 else messages - share * (channels - 1)
            _write_chat(out, f"Bench Channel {n + 1}", "public_channel", FIRST_CHANNEL_ID + n,
                        _channel_messages(rng, count, FIRST_CHANNEL_ID + n))
            out.write(",\n")
        _write_chat(out, "Bench Friend", "personal_chat", 100000002, _channel_messages(rng, 500, 100000002))
        out.write("\n  ]\n }\n}\n")
    return path


def _write_chat(out: TextIO, name: str, kind: str, chat_id: int, messages: Iterator[dict[str, Any]]) -> None:
    out.write(f'   {{\n    "name": {json.dumps(name)},\n    "type": "{kind}",\n    "id": {chat_id},\n')
    out.write('    "messages": [\n')
    for index, message in enumerate(messages):
        if index:
            out.write(",\n")
        out.write(json.dumps(message, ensure_ascii=False, indent=1))
    out.write("\n    ]\n   }")


def _channel_messages(rng: random.Random, count: int, chat_id: int) -> Iterator[dict[str, Any]]:
    for message_id in range(1, count + 1):
        moment = START + timedelta(minutes=message_id * 7)
        message: dict[str, Any] = {
            "id": message_id, "type": "message", "date": (moment + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%S"),
            "date_unixtime": str(int(moment.timestamp())), "from": "Bench", "from_id": f"channel{chat_id}",
        }
        if message_id % 60 == 0:
            message.update(type="service", action="pin_message", message_id=message_id - 1, text="", text_entities=[])
            yield message
            continue
        if message_id % 20 == 0:
            edited = moment + timedelta(minutes=5)
            message.update(edited=edited.isoformat(), edited_unixtime=str(int(edited.timestamp())))
        message.update(_extras(rng, message_id))
        message["text"], message["text_entities"] = _text(rng)
        yield message


def _extras(rng: random.Random, message_id: int) -> dict[str, Any]:
    if message_id % 7 == 0:
        return {"photo": f"photos/photo_{message_id}@01-01-2025_00-00-00.jpg", "width": 1280, "height": 960,
                "photo_file_size": rng.randint(50_000, 400_000)}
    if message_id % 25 == 0:
        return {"file": f"files/report-{message_id}.pdf", "file_name": f"report-{message_id}.pdf",
                "file_size": rng.randint(10_000, 9_000_000), "mime_type": "application/pdf"}
    if message_id % 50 == 1:
        return {"file": f"voice_messages/audio_{message_id}.ogg", "media_type": "voice_message",
                "mime_type": "audio/ogg", "duration_seconds": rng.randint(3, 300), "file_size": 40_000}
    if message_id % 97 == 0:
        return {"poll": {"question": "Which one?", "closed": True, "total_voters": 12,
                         "answers": [{"text": "A", "voters": 7, "chosen": False},
                                     {"text": "B", "voters": 5, "chosen": False}]}}
    if message_id % 40 == 3:
        return {"forwarded_from": "Another Bench Channel", "forwarded_from_id": "channel1000000999"}
    if message_id % 30 == 5:
        return {"reply_to_message_id": message_id - 4}
    return {}


def _text(rng: random.Random) -> tuple[Any, list[dict[str, Any]]]:
    """`text` as Desktop writes it (plain runs as strings) and the matching `text_entities`."""
    words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 60)))
    entities = [
        {"type": "bold", "text": "Breaking"},
        {"type": "plain", "text": f" {words} "},
        {"type": "text_link", "text": "more", "href": "https://example.com/a"},
        {"type": "plain", "text": " "},
        {"type": "hashtag", "text": "#bench"},
    ]
    return [e if e["type"] != "plain" else e["text"] for e in entities], entities


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--channels", type=int, default=4)
    parser.add_argument("--database-url", help="a PostgreSQL URL to create the benchmark database next to")
    args = parser.parse_args()
    if args.database_url:
        os.environ["TEST_DATABASE_URL"] = args.database_url
    with tempfile.TemporaryDirectory(prefix="felix-import-bench-") as tmp:
        workdir = Path(tmp)
        export = write_export(workdir, args.messages, args.channels)
        print(f"export: {args.messages} channel messages in {args.channels} channels + a personal chat, "
              f"{export.stat().st_size / 2**20:.1f} MiB")
        with fresh_database(workdir) as url:
            app = create_app(Config(service_env(url, workdir / "instance", LOG_LEVEL="WARNING")))
            with app.app_context():
                upgrade()
                gc.collect()
                before = peak_rss_mb()
                started = time.perf_counter()
                report = import_export(workdir)
                seconds = time.perf_counter() - started
                after = peak_rss_mb()
                again = import_export(workdir)
                stored = db.session.scalar(db.select(db.func.count(Post.id)))
                db.session.remove()
                db.engine.dispose()
    assert again.new_posts == 0 and stored == report.new_posts, (again.new_posts, stored, report.new_posts)
    print(f"database: {url.split(':', 1)[0]}")
    print(f"import:  {report.new_posts} posts in {seconds:.2f} s = {report.new_posts / seconds:,.0f} posts/s")
    print(f"again:   {again.new_posts} new posts in {again.seconds:.2f} s")
    print(f"peak RSS: {after:.0f} MiB (before the import: {before:.0f} MiB)")


if __name__ == "__main__":
    main()
