"""The inbox table as a multi-process queue, against a real SQLite or PostgreSQL database."""

from __future__ import annotations

import json
import random
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select, update

from felix_hub.backend import create_app, serving
from felix_hub.backend.config import Config
from felix_hub.backend.database import write
from felix_hub.backend.extensions import db
from felix_hub.backend.inbox import store
from felix_hub.backend.inbox.store import Outcome, chat_key
from felix_hub.backend.models import Update, UpdateStatus, utcnow
from tests.peers.bot_api import text_update
from tests.support.server import service_env

LEASE = timedelta(seconds=60)


def put(update_id: int, chat: int | None) -> None:
    update = text_update(update_id, chat or 1, "hi")
    store.save(update_id, chat, json.dumps(update))


def claim(owner: str, outcomes: list[Outcome] | None = None, **options: object) -> list[int]:
    options.setdefault("lease", LEASE)
    options.setdefault("max_attempts", 5)
    return [c.update_id for c in store.claim_round(owner, outcomes or [], **options)]  # type: ignore[arg-type]


def status(update_id: int) -> str:
    db.session.rollback()  # a fresh snapshot: the last read transaction may predate the write
    return db.session.get(Update, update_id).status


@pytest.fixture(autouse=True)
def context(app: Flask):
    with app.app_context():
        yield


def test_concurrent_saves_share_commits_and_each_update_is_stored_once(app: Flask) -> None:
    # 400 updates from 16 threads at once, every one delivered twice: as in a webhook burst with
    # Telegram retrying. Each save answers for its own update; each update is stored once.
    answers: dict[int, list[bool]] = {n: [] for n in range(1, 401)}
    start = threading.Barrier(16)

    def deliver(ids: list[int]) -> None:
        with app.app_context():
            start.wait()
            for update_id in ids:
                answers[update_id].append(store.save(update_id, update_id % 7, json.dumps({"n": update_id})))

    ids = list(range(1, 401)) * 2
    random.Random(3).shuffle(ids)
    threads = [threading.Thread(target=deliver, args=(ids[n::16],)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(sorted(given) == [False, True] for given in answers.values())
    db.session.rollback()
    assert db.session.scalar(db.select(db.func.count(Update.update_id))) == 400


def test_a_failed_group_commit_fails_every_save_in_it(app: Flask) -> None:
    # An update_id past what the column holds fails the transaction: the save raises, so the
    # webhook answers 503 and Telegram retries; the next save works.
    with pytest.raises(Exception):  # noqa: B017 - the driver's own error type differs per database
        store.save(2**70, 1, "{}")
    assert store.save(1, 1, "{}") is True


def test_save_ignores_a_redelivered_update() -> None:
    assert store.save(1, 5, "{}") is True
    assert store.save(1, 5, '{"other": 1}') is False
    assert db.session.get(Update, 1).payload == "{}"


def test_chat_keys_come_from_the_chat_then_the_user() -> None:
    assert chat_key(text_update(1, 42, "x")) == 42
    callback = {"update_id": 2, "callback_query": {"id": "q", "from": {"id": 7},
                                                   "message": {"chat": {"id": -100}}}}
    assert chat_key(callback) == -100
    assert chat_key({"update_id": 3, "inline_query": {"id": "q", "from": {"id": 9}}}) == 9
    assert chat_key({"update_id": 4, "poll": {"id": "p"}}) is None
    assert chat_key({"update_id": 5, "message": {"chat": {"id": True}}}) is None


def test_one_owner_at_a_time_per_chat_in_order() -> None:
    for update_id, chat in [(1, 10), (2, 20), (3, 10), (4, 30)]:
        put(update_id, chat)
    assert claim("a", limit=1) == [1]
    # Chat 10 is held by a: b may take everything else, but not 3.
    assert claim("b") == [2, 4]
    assert claim("c") == []
    # a finishes 1 and picks up 3 in the same round.
    assert claim("a", [Outcome.done(1)]) == [3]
    assert status(1) == UpdateStatus.DONE


def test_a_lapsed_lease_is_taken_over() -> None:
    put(1, 10)
    put(2, 10)
    assert claim("dead", lease=timedelta(seconds=-1), limit=1) == [1]
    assert claim("alive") == [1, 2]
    # The dead owner's late report changes nothing: the row is no longer its own.
    claim("dead", [Outcome(1, "failed", error="late")])
    assert status(1) == UpdateStatus.PROCESSING


def test_a_retry_holds_back_the_rest_of_its_chat() -> None:
    for update_id in (1, 2, 3):
        put(update_id, 10)
    put(4, 20)
    assert claim("a") == [1, 2, 3, 4]
    retry = Outcome(1, "retry", error="Telegram unreachable", retry_after=60)
    assert claim("a", [retry, Outcome.released(2), Outcome.released(3), Outcome.done(4)]) == []
    assert status(1) == status(2) == UpdateStatus.PENDING
    assert claim("b") == []  # nothing of chat 10 may run before update 1 is due
    db.session.execute(db.update(Update).where(Update.update_id == 1).values(not_before=utcnow()))
    db.session.commit()
    assert claim("b") == [1, 2, 3]


def test_updates_that_keep_failing_are_given_up() -> None:
    put(1, 10)
    put(2, 10)
    for _ in range(2):
        assert claim("a", limit=1) == [1]
        claim("a", [Outcome.released(1)], limit=0)
        # a crash each time: the claim counted, nothing recorded
        db.session.execute(db.update(Update).where(Update.update_id == 1).values(attempts=Update.attempts + 1))
        db.session.commit()
    assert claim("a", max_attempts=2) == [2]
    assert status(1) == UpdateStatus.FAILED


def test_finish_hands_everything_back() -> None:
    for update_id in (1, 2, 3):
        put(update_id, update_id)
    assert claim("a") == [1, 2, 3]
    assert store.finish("a", [Outcome.done(1)]) == 2
    assert [status(n) for n in (1, 2, 3)] == ["done", "pending", "pending"]
    assert claim("b") == [2, 3]


def test_prune_removes_only_old_finished_rows() -> None:
    for update_id in (1, 2, 3):
        put(update_id, update_id)
    claim("a", limit=2)
    claim("a", [Outcome.done(1), Outcome(2, "failed", error="x")], limit=0)
    assert store.prune(timedelta(hours=1)) == 0
    assert store.prune(timedelta(seconds=-1)) == 2
    assert db.session.scalars(db.select(Update.update_id)).all() == [3]


def test_a_serving_process_prunes_what_is_older_than_the_retention(database_url: str, tmp_path: Path) -> None:
    """Each serving process runs the pruning job from its start, with INBOX_RETENTION_HOURS."""
    for update_id in (1, 2, 3):
        put(update_id, update_id)
    claim("a", limit=2)
    claim("a", [Outcome.done(1), Outcome.done(2)], limit=0)
    with write() as connection:
        connection.execute(update(Update).where(Update.update_id == 1)
                           .values(processed_at=utcnow() - timedelta(hours=3)))

    def kept() -> list[int]:
        db.session.rollback()  # a fresh snapshot
        return list(db.session.scalars(select(Update.update_id).order_by(Update.update_id)))

    serving_app = create_app(Config(service_env(database_url, tmp_path / "serving", INBOX_RETENTION_HOURS="2")))
    serving.start(serving_app)
    try:
        deadline = time.monotonic() + 10
        while 1 in kept() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        serving.stop(serving_app)
    assert kept() == [2, 3]  # done an hour too long ago: gone; done just now, and pending: kept


def test_concurrent_claimers_never_break_chat_order(app: Flask) -> None:
    """Four threads act as four processes sharing 600 updates over 12 chats."""
    rng = random.Random(7)
    chats = list(range(100, 112))
    expected: dict[int, list[int]] = {chat: [] for chat in chats}
    for update_id in range(1, 601):
        chat = rng.choice(chats)
        put(update_id, chat)
        expected[chat].append(update_id)
    running: dict[int, str] = {}
    processed: dict[int, list[int]] = {chat: [] for chat in chats}
    violations: list[str] = []
    guard = threading.Lock()

    def worker(owner: str) -> None:
        try:
            work(owner)
        except Exception as exc:  # a thread's failure must fail the test, not vanish
            violations.append(f"{owner} crashed: {exc!r}")

    def work(owner: str) -> None:
        with app.app_context():
            outcomes: list[Outcome] = []
            idle_rounds = 0
            while idle_rounds < 5:
                claimed = store.claim_round(owner, outcomes, lease=LEASE, max_attempts=5, limit=7)
                outcomes = []
                idle_rounds = 0 if claimed else idle_rounds + 1
                for item in claimed:
                    with guard:
                        holder = running.get(item.chat_key)
                        if holder not in (None, owner):
                            violations.append(f"{owner} got chat {item.chat_key} while {holder} held it")
                        running[item.chat_key] = owner
                        processed[item.chat_key].append(item.update_id)
                    outcomes.append(Outcome.done(item.update_id))
                with guard:
                    for chat in {item.chat_key for item in claimed}:
                        running.pop(chat, None)
            store.claim_round(owner, outcomes, lease=LEASE, max_attempts=5, limit=0)

    # Holding is released only when outcomes are recorded in the next round, so "running" is
    # cleared just before that round: any overlap seen here is a real double claim.
    threads = [threading.Thread(target=worker, args=(f"p{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert violations == []
    assert processed == expected
    assert store.counts() == {"done": 600}


def test_a_pinned_chat_goes_to_the_pinning_process_only() -> None:
    from felix_hub.backend import leases

    put(1, 10)
    put(2, 20)
    assert leases.acquire(leases.chat(10), "a", LEASE)
    assert claim("b") == [2]
    assert claim("a") == [1]
    leases.release(leases.chat(10), "a")
    put(3, 10)
    assert claim("b") == []  # chat 10 is a's while update 1 is still running there
    claim("a", [Outcome.done(1)], limit=0)
    assert claim("b") == [3]
