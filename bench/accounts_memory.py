"""Memory of a serving process with connected Telegram accounts.

    python -m bench.accounts_memory [--accounts 10] [--posts 100]

Each measurement runs in a fresh process: the app and its real engine with the parsers
(`serving.start`), on a fresh SQLite database, with N accounts whose real Telethon clients
talk to the in-process fake Telegram (tests/peers/telegram.py; no network exists here). Every
account follows its own channel of `--posts` posts and is measured once it is connected and
its backfill is done. The baseline is the same process with no account. Prints resident
memory (RSS) for both and the cost per account.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from flask_migrate import upgrade
from sqlalchemy import func, select

from felix_hub.backend import accounts, channels, create_app, serving, users
from felix_hub.backend.config import Config
from felix_hub.backend.database import scalar
from felix_hub.backend.models import Channel, Post
from felix_hub.backend.telegram.clients import session_string
from tests.peers.telegram import FakeTelegram, FakeTelegramClient, client_factory
from tests.support.server import service_env


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


async def _log_in(world: FakeTelegram, phone: str) -> str:
    client = FakeTelegramClient(world)
    await client.connect()
    await client.send_code_request(phone)
    await client.sign_in(phone, world.codes[phone])
    session = session_string(client)
    await client.disconnect()
    return session


def measure(count: int, posts: int) -> dict[str, float]:
    """In this process: start the service with `count` accounts; RSS once all are in sync."""
    with tempfile.TemporaryDirectory(prefix="felix-memory-") as tmp:
        env = service_env(f"sqlite:///{tmp}/felix.db", Path(tmp) / "instance", LOG_LEVEL="WARNING",
                          TELEGRAM_API_ID="12345", TELEGRAM_API_HASH="0123456789abcdef0123456789abcdef",
                          BACKFILL_POSTS=str(posts))
        app = create_app(Config(env))
        world = FakeTelegram()
        with app.app_context():
            upgrade()
            for n in range(count):
                person = world.person(f"+1555{n:07d}", f"User {n}")
                channel = world.channel(f"Channel {n}", f"channel_{n:03d}", members=[person])
                world.history(channel, posts)
                user = users.register(users.Profile(telegram_id=9000 + n, first_name=f"User {n}"))
                account_id = accounts.save_login(user.id, person.id, person.first_name, None,
                                                 asyncio.run(_log_in(world, person.phone)))
                info = channels.ChannelInfo(channel.id, channel.title, channel.username, False, channel.access_hash)
                channels.subscribe(user.id, channels.remember(info, account_id), limit=None)
        gc.collect()
        before = rss_mib()
        started = time.perf_counter()
        serving.start(app, client_factory=client_factory(world))
        with app.app_context():
            while world.connected() < count or scalar(select(func.count(Post.id))) < count * posts or scalar(
                    select(func.count(Channel.id)).where(Channel.backfill_done.is_(False))):
                if time.perf_counter() - started > 120:
                    raise RuntimeError("accounts did not all connect and backfill within 120 s")
                time.sleep(0.2)
        seconds = time.perf_counter() - started
        time.sleep(1)  # let the first supervision rounds settle
        gc.collect()
        after = rss_mib()
        serving.stop(app)
        return {"accounts": count, "rss_before_engine_mib": before, "rss_mib": after, "seconds_to_sync": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=10)
    parser.add_argument("--posts", type=int, default=100)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # a child measuring one case
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(measure(args.one, args.posts)))
        return
    results = []
    for count in (0, args.accounts):
        child = subprocess.run([sys.executable, "-m", "bench.accounts_memory", "--one", str(count),
                                "--posts", str(args.posts)], capture_output=True, text=True, check=True)
        results.append(json.loads(child.stdout.strip().splitlines()[-1]))
    base, loaded = results
    for r in results:
        print(f"{r['accounts']:>3} accounts: RSS {r['rss_mib']:.1f} MiB (app before the engine: "
              f"{r['rss_before_engine_mib']:.1f} MiB; in sync after {r['seconds_to_sync']:.1f} s)")
    per_account = (loaded["rss_mib"] - base["rss_mib"]) / max(1, args.accounts)
    print(f"cost per connected account: {per_account:.2f} MiB")


if __name__ == "__main__":
    main()
