"""The inbox table as a queue shared by every process (blocking SQL; call via the engine).

Rules that make it safe with many gunicorn workers on one database:

* A row is stored before its webhook answers 200; a duplicate `update_id` is ignored.
* Rows of one chat run one at a time, in `update_id` order: a process claims a chat's rows
  only while no other live process holds a row of that chat.
* Claims are leases (`owner`, `lease_until`), renewed while work goes on; a crashed
  process's rows become claimable again when its lease lapses.
* All claim rounds run under one database mutex, so two processes never see a chat as free
  at the same time.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import Connection, Integer, bindparam, case, delete, func, select, union_all, update
from sqlalchemy.sql.dml import Insert

from felix_hub.backend.database import rows, serialize, upsert, write
from felix_hub.backend.leases import CHAT_PREFIX
from felix_hub.backend.models import Lease, Update, UpdateStatus, UTCDateTime, utcnow

_MUTEX = "felix-inbox-claims"
_SAVER = "felix_inbox_saver"  # the app's _GroupCommit, in app.extensions
_ERROR_LIMIT = 2000
MAX_UPDATE_ID = 2**63 - 1


@dataclass(frozen=True)
class Claimed:
    update_id: int
    chat_key: int | None
    payload: str
    attempts: int


@dataclass(frozen=True)
class Outcome:
    """What became of one claimed update. `kind` is done, retry, failed or released."""

    update_id: int
    kind: str
    error: str | None = None
    retry_after: float = 0.0

    @classmethod
    def done(cls, update_id: int) -> Outcome:
        return cls(update_id, "done")

    @classmethod
    def released(cls, update_id: int) -> Outcome:
        """Handed back untouched (shutdown, or a retry ahead of it in the same chat)."""
        return cls(update_id, "released")


def chat_key(update: dict[str, Any]) -> int | None:
    """The chat whose updates must stay in order: the chat, else the user, else none."""
    for field, body in update.items():
        if field == "update_id" or not isinstance(body, dict):
            continue
        message = body.get("message")
        for holder in (body, message if isinstance(message, dict) else {}):
            chat = holder.get("chat")
            if isinstance(chat, dict) and _is_id(chat.get("id")):
                return chat["id"]
        for who in ("from", "user"):
            user = body.get(who)
            if isinstance(user, dict) and _is_id(user.get("id")):
                return user["id"]
    return None


def _is_id(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) <= MAX_UPDATE_ID


# Statements are built once: constructing a SQLAlchemy statement costs more than running it
# on SQLite, and these run for every update.
_table = Update.__table__
_c = _table.c
_now = bindparam("now", type_=UTCDateTime())
_mine = (_c.owner == bindparam("me")) & (_c.status == UpdateStatus.PROCESSING)
_ids = _c.update_id.in_(bindparam("ids", expanding=True))
_one = _c.update_id == bindparam("id")
_free = {"owner": None, "lease_until": None}
# A processed update is kept for dedupe by its id only: its body may hold a login code or a
# 2FA password the user typed, which must not stay at rest.
_forget = {"payload": ""}

_MARK_DONE = update(_table).where(_mine & _ids).values(status=UpdateStatus.DONE, processed_at=_now, **_free, **_forget)
_RELEASE = update(_table).where(_mine & _ids).values(
    status=UpdateStatus.PENDING, attempts=case((_c.attempts > 0, _c.attempts - 1), else_=0), **_free
)
_RETRY = update(_table).where(_mine & _one).values(
    status=UpdateStatus.PENDING, not_before=bindparam("due", type_=UTCDateTime()),
    last_error=bindparam("error"), **_free,
)
_FAIL = update(_table).where(_mine & _one).values(
    status=UpdateStatus.FAILED, processed_at=_now, last_error=bindparam("error"), **_free, **_forget
)
_GIVE_UP = update(_table).where(_ids).values(
    status=UpdateStatus.FAILED, processed_at=_now,
    last_error=func.coalesce(_c.last_error, "gave up after repeated attempts"), **_free, **_forget,
)
_CANDIDATE_COLUMNS = (_c.update_id, _c.chat_key, _c.status, _c.lease_until, _c.not_before, _c.attempts)
# In one statement: rows other processes are on (live ones block their chat, lapsed ones are
# up for grabs) and a window of the oldest pending rows, wider than a round's limit to step
# over busy chats.
_OTHERS = select(*_CANDIDATE_COLUMNS).where((_c.status == UpdateStatus.PROCESSING) & (_c.owner != bindparam("me")))
_PENDING_WINDOW = (
    select(*_CANDIDATE_COLUMNS).where(_c.status == UpdateStatus.PENDING).order_by(_c.update_id)
    .limit(bindparam("window", type_=Integer)).subquery()
)
_CANDIDATES = union_all(_OTHERS, select(_PENDING_WINDOW))
# Chats pinned to another live process (it holds a login or an account client for that user).
_PINNED = select(Lease.name).where(
    Lease.name.startswith(CHAT_PREFIX) & (Lease.owner != bindparam("me")) & (Lease.expires_at > _now)
)
_CLAIM = update(_table).where(_ids).values(
    status=UpdateStatus.PROCESSING, owner=bindparam("me"),
    lease_until=bindparam("until", type_=UTCDateTime()), attempts=_c.attempts + 1, not_before=None,
).returning(_c.update_id, _c.chat_key, _c.payload, _c.attempts)
_HAND_BACK = update(_table).where(_mine).values(status=UpdateStatus.PENDING, **_free)
_RENEW = update(_table).where(_mine).values(lease_until=bindparam("until", type_=UTCDateTime()))
_PRUNE = delete(_table).where(
    _c.status.in_((UpdateStatus.DONE, UpdateStatus.FAILED))
    & (_c.processed_at < bindparam("before", type_=UTCDateTime()))
)


@functools.cache
def _save_statement(dialect: str) -> Insert:
    # RETURNING, because rowcount is not reliable for ON CONFLICT on every driver.
    return upsert(dialect, _table).on_conflict_do_nothing().returning(_c.update_id)


def save(update_id: int, key: int | None, payload: str) -> bool:
    """Store one update; False when that `update_id` was already stored. Needs an app context."""
    saver: _GroupCommit | None = current_app.extensions.get(_SAVER)
    if saver is None:  # the first save of this app; setdefault keeps one if two race here
        saver = current_app.extensions.setdefault(_SAVER, _GroupCommit())
    return saver.save({"update_id": update_id, "chat_key": key, "payload": payload,
                       "status": UpdateStatus.PENDING, "attempts": 0, "received_at": utcnow()})


@dataclass
class _Pending:
    row: dict[str, Any]
    stored: bool = False
    error: BaseException | None = None
    done: bool = False


class _GroupCommit:
    """Concurrent webhook requests share one write transaction.

    Each request queues its row and then takes the committer's seat; whoever gets the seat
    inserts every row queued so far in one transaction and tells their requests. Under a burst
    one lock and one commit store many updates, and each is still stored before it is answered.
    """

    def __init__(self) -> None:
        self._queue_lock = threading.Lock()
        self._seat = threading.Lock()
        self._queue: list[_Pending] = []

    def save(self, row: dict[str, Any]) -> bool:
        mine = _Pending(row)
        with self._queue_lock:
            self._queue.append(mine)
        with self._seat:
            if not mine.done:  # nobody committed it while we waited for the seat
                with self._queue_lock:
                    batch, self._queue = self._queue, []
                self._commit(batch)
        if mine.error is not None:
            raise mine.error
        return mine.stored

    @staticmethod
    def _commit(batch: list[_Pending]) -> None:
        try:
            with write() as connection:
                inserted = set(connection.scalars(_save_statement(connection.dialect.name), [p.row for p in batch]))
            for pending in batch:
                pending.stored = pending.row["update_id"] in inserted
                inserted.discard(pending.row["update_id"])  # the same update twice in a batch: stored once
        except Exception as error:
            for pending in batch:
                pending.error = error
        finally:
            for pending in batch:
                pending.done = True


def claim_round(
    owner: str,
    outcomes: Sequence[Outcome],
    *,
    lease: timedelta,
    max_attempts: int,
    limit: int = 128,
) -> list[Claimed]:
    """Record finished work, then claim up to `limit` rows this process may run next, in order.

    Cost is bounded by rows in flight plus a window of the oldest pending rows, never by the
    table's size or the whole backlog: this runs under the claim mutex.
    """
    now = utcnow()
    with write() as connection:
        serialize(connection, _MUTEX)
        _record(connection, owner, outcomes, now)
        if limit <= 0:
            return []
        seen = connection.execute(_CANDIDATES, {"me": owner, "window": 4 * limit}).all()
        held_elsewhere = {r.chat_key for r in seen if r.status == UpdateStatus.PROCESSING and r.lease_until > now}
        pinned = connection.scalars(_PINNED, {"me": owner, "now": now})
        held_elsewhere |= {int(name[len(CHAT_PREFIX) :]) for name in pinned}
        # Pending rows, and rows of a process that let its lease lapse.
        candidates = sorted(
            (r for r in seen if r.status == UpdateStatus.PENDING or r.lease_until <= now), key=lambda r: r.update_id
        )
        claim, exhausted = _choose(candidates, held_elsewhere, now, max_attempts, limit)
        if exhausted:
            connection.execute(_GIVE_UP, {"ids": exhausted, "now": now})
        if not claim:
            return []
        claimed = connection.execute(_CLAIM, {"ids": claim, "me": owner, "until": now + lease}).all()
    return sorted((Claimed(*row) for row in claimed), key=lambda c: c.update_id)


def _choose(
    candidates: Iterable[Any], held_elsewhere: set[int | None], now: datetime, max_attempts: int, limit: int
) -> tuple[list[int], list[int]]:
    """Pick rows to claim, oldest first, skipping chats that another process holds or that wait
    for a retry of their first row."""
    claim: list[int] = []
    exhausted: list[int] = []
    waiting: set[int] = set()
    for r in candidates:
        key = r.chat_key
        if key is not None and (key in held_elsewhere or key in waiting):
            continue
        if r.not_before is not None and r.not_before > now:
            if key is not None:
                waiting.add(key)
            continue
        if r.attempts >= max_attempts:
            exhausted.append(r.update_id)
            continue
        claim.append(r.update_id)
        if len(claim) >= limit:
            break
    return claim, exhausted


def _record(connection: Connection, owner: str, outcomes: Sequence[Outcome], now: datetime) -> None:
    by_kind: dict[str, list[Outcome]] = {}
    for outcome in outcomes:
        by_kind.setdefault(outcome.kind, []).append(outcome)
    if done := by_kind.get("done"):
        connection.execute(_MARK_DONE, {"me": owner, "ids": [o.update_id for o in done], "now": now})
    if released := by_kind.get("released"):
        connection.execute(_RELEASE, {"me": owner, "ids": [o.update_id for o in released]})
    if retries := by_kind.get("retry"):
        connection.execute(_RETRY, [
            {"me": owner, "id": o.update_id, "error": (o.error or "")[:_ERROR_LIMIT],
             "due": now + timedelta(seconds=o.retry_after)} for o in retries
        ])
    if failures := by_kind.get("failed"):
        connection.execute(_FAIL, [
            {"me": owner, "id": o.update_id, "error": (o.error or "")[:_ERROR_LIMIT], "now": now}
            for o in failures
        ])


def finish(owner: str, outcomes: Sequence[Outcome]) -> int:
    """At shutdown: record outcomes and hand back every row still claimed by `owner`."""
    with write() as connection:
        serialize(connection, _MUTEX)
        _record(connection, owner, outcomes, utcnow())
        return connection.execute(_HAND_BACK, {"me": owner}).rowcount


def renew(owner: str, lease: timedelta) -> int:
    """Extend the lease of every row `owner` is still working on."""
    with write() as connection:
        return connection.execute(_RENEW, {"me": owner, "until": utcnow() + lease}).rowcount


def prune(older_than: timedelta) -> int:
    """Delete finished rows; their `update_id` only matters while Telegram may redeliver."""
    with write() as connection:
        return connection.execute(_PRUNE, {"before": utcnow() - older_than}).rowcount


def counts() -> dict[str, int]:
    return {status: n for status, n in rows(select(Update.status, func.count()).group_by(Update.status))}
