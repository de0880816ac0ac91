"""The dispatcher on a real engine and database: a chat's updates run in order, retries too."""

from __future__ import annotations

import asyncio
import json
import threading
import time

from flask import Flask

from felix_hub.backend.database import serialize, write
from felix_hub.backend.engine import Engine
from felix_hub.backend.inbox import store
from felix_hub.backend.inbox.dispatcher import Dispatcher
from felix_hub.backend.inbox.store import Claimed, Outcome
from tests.peers.bot_api import text_update

CHAT = 4242


def put(update_id: int) -> None:
    store.save(update_id, CHAT, json.dumps(text_update(update_id, CHAT, "hi")))


def test_a_claim_round_under_way_cannot_overtake_a_retry(app: Flask) -> None:
    """Update 1 asks to be retried while a claim round, started before that and held up, is
    claiming the chat's update 2: update 2 must still run after the retried update 1."""
    calls: list[tuple[int, int]] = []  # (update_id, attempt)
    holding, let_go = threading.Event(), threading.Event()

    def hold_the_claims() -> None:  # another claimer, in the middle of its round
        with app.app_context(), write() as connection:
            serialize(connection, "felix-inbox-claims")
            holding.set()
            let_go.wait(10)

    engine = Engine(app)

    async def handle(item: Claimed) -> Outcome:
        calls.append((item.update_id, item.attempts))
        if (item.update_id, item.attempts) != (1, 1):
            return Outcome.done(item.update_id)
        await engine.run_sync(put, 2)  # the chat's next update arrives
        threading.Thread(target=hold_the_claims, daemon=True).start()
        await asyncio.to_thread(holding.wait, 5)
        dispatcher.notify()  # a round starts: it has no outcomes yet and waits for the claims
        await asyncio.sleep(0.3)
        threading.Timer(0.3, let_go.set).start()  # ...until after this update asked for a retry
        return Outcome(item.update_id, "retry", error="Bot API timed out", retry_after=0.2)

    dispatcher = Dispatcher(engine, handle, owner="test", lease_seconds=60, max_attempts=5)
    with app.app_context():
        put(1)
    engine.start([dispatcher])
    try:
        deadline = time.monotonic() + 15
        while len(calls) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        engine.stop()
    assert calls == [(1, 1), (1, 2), (2, 1)]
    with app.app_context():
        assert store.counts() == {"done": 2}


def test_a_finished_update_is_recorded_while_nothing_else_arrives(app: Flask) -> None:
    """Finished work waits for the next arrival's claim round, but not for ever: with no
    arrival and no sweep due, it is recorded by a round of its own."""
    engine = Engine(app)
    handled = threading.Event()

    async def handle(item: Claimed) -> Outcome:
        handled.set()
        return Outcome.done(item.update_id)

    dispatcher = Dispatcher(engine, handle, owner="test", lease_seconds=60, max_attempts=5)
    dispatcher.SWEEP_SECONDS = 30.0  # so only the finished update can start the round that records it
    with app.app_context():
        put(1)
    engine.start([dispatcher])
    try:
        assert handled.wait(10)
        deadline = time.monotonic() + 10
        with app.app_context():
            while store.counts() != {"done": 1} and time.monotonic() < deadline:
                time.sleep(0.02)
            assert store.counts() == {"done": 1}
    finally:
        engine.stop()
