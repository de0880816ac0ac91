"""A serving process that only runs the parsers, reporting which accounts it holds.

    python -m tests.support.account_holder OUT_FILE

Configured from the environment exactly like the service (DATABASE_URL, FELIX_ENCRYPTION_KEY,
TELEGRAM_API_ID/HASH, ACCOUNT_LEASE_SECONDS, no bot token): it builds the app with
`create_app(Config(env))` and starts the real engine with `serving.start()`, so the parsers,
their leases and Telethon's own client code run for real. Only Telegram is replaced, by a
`FakeTelegram` world in this process in which every stored account's person exists and its
stored session (logged in by the test, in another world) is authorised.

The first line of OUT_FILE describes the process; then, every ~100 ms, one JSON line per sample,
read on the engine loop so it is one consistent instant:

    {"t": <time.monotonic()>, "held": [...], "connected": [...]}

`held` is what the parsers hold (`Parsers.held()`); `connected` is the ground truth, the
account of every client connected to Telegram at that instant, once per connection (a
duplicate in one process would show as a repeated id). `time.monotonic()` is the system-wide
CLOCK_MONOTONIC on Linux, so the test compares these instants with its own and across processes.

SIGTERM stops the engine in order (releasing leases); the process also stops when its parent
dies, so a crashed test never leaves it behind. The test SIGKILLs it to model a crash.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from telethon.sessions import StringSession

from felix_hub.backend import accounts, create_app, serving
from felix_hub.backend.config import Config
from felix_hub.backend.serving import Runtime
from tests.peers.telegram import FakeTelegram, client_factory

SAMPLE_EVERY = 0.1


def world_for_stored_accounts() -> tuple[FakeTelegram, dict[bytes, int]]:
    """A world where every active account's person exists and its stored session is logged in.

    Returns the world and, for each stored session's auth key, the account it belongs to.
    Call inside an app context.
    """
    world = FakeTelegram()
    accounts_by_key: dict[bytes, int] = {}
    for account_id in accounts.active_ids():
        view, session = accounts.view(account_id), accounts.session_of(account_id)
        if view is None or session is None:
            continue
        person = world.person(f"+{view.telegram_user_id}", view.display_name, username=view.username)
        world.authorize(session, person)
        accounts_by_key[StringSession(session).auth_key.key] = account_id
    return world, accounts_by_key


async def _sample(runtime: Runtime, world: FakeTelegram, accounts_by_key: dict[bytes, int]) -> dict[str, Any]:
    """One instant, read on the engine loop: what the parsers hold and which clients are connected."""
    assert runtime.parsers is not None
    held = sorted(runtime.parsers.held())
    connected = sorted(accounts_by_key.get(key, -1) for key in world.connected_keys())
    return {"t": time.monotonic(), "held": held, "connected": connected}


def main(argv: list[str]) -> int:
    out = Path(argv[1])
    parent = os.getppid()
    config = Config(os.environ)
    if not config.accounts_enabled:
        print("TELEGRAM_API_ID and TELEGRAM_API_HASH must be set", file=sys.stderr)
        return 2
    app = create_app(config)
    with app.app_context():
        world, accounts_by_key = world_for_stored_accounts()
    runtime = serving.start(app, client_factory=client_factory(world))
    assert runtime.parsers is not None

    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    with out.open("a", buffering=1) as report:
        header = {"owner": runtime.owner, "pid": os.getpid(), "lease_seconds": config.ACCOUNT_LEASE_SECONDS,
                  "tick_seconds": runtime.parsers.tick_seconds, "accounts": sorted(accounts_by_key.values())}
        report.write(json.dumps(header) + "\n")
        while not stopping.is_set() and os.getppid() == parent:
            sample = runtime.engine.call(_sample(runtime, world, accounts_by_key), timeout=10)
            report.write(json.dumps(sample) + "\n")
            stopping.wait(SAMPLE_EVERY)
    serving.stop(app)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
