"""Runs stored updates on the engine: each chat in order, different chats concurrently."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from datetime import timedelta

from felix_hub.backend.engine import Engine, spawn
from felix_hub.backend.inbox import store
from felix_hub.backend.inbox.store import Claimed, Outcome

log = logging.getLogger(__name__)

Handler = Callable[[Claimed], Awaitable[Outcome]]


class Dispatcher:
    """Claims inbox rows in rounds and feeds them to `handle`, one task per busy chat.

    A round is triggered by `notify()` (a new row was stored in this process), by finished
    updates (record them, claim what follows) and by a periodic sweep that picks up rows other
    processes released or left behind when they crashed.
    """

    name = "inbox"
    SWEEP_SECONDS = 2.0
    DRAIN_SECONDS = 3.0
    # Finished updates wait this long for the next arrival's round to record them: a round is a
    # write transaction, and on SQLite every round is a turn of the one write lock that the
    # webhook's inserts wait for. The cost is that a chat's next update stored by another
    # process may start this much later.
    RECORD_DELAY = 0.05

    def __init__(
        self, engine: Engine, handle: Handler, *, owner: str, lease_seconds: int, max_attempts: int,
        concurrency: int = 64,
    ) -> None:
        # Claim no more than we will start soon: the rest stays for other processes.
        self.capacity = 2 * concurrency
        self.engine = engine
        self.handle = handle
        self.owner = owner
        self.lease = timedelta(seconds=lease_seconds)
        self.max_attempts = max_attempts
        self._slots = asyncio.Semaphore(concurrency)
        self._chats: dict[Hashable, deque[Claimed]] = {}
        # Chats whose update is to be retried, until a round has recorded that: a round already
        # under way did not see the retry and may claim the chat's next update meanwhile.
        self._retrying: dict[Hashable, int] = {}
        self._drains: set[asyncio.Task[None]] = set()
        self._outcomes: list[Outcome] = []
        self._queued = 0  # claimed here and not finished yet
        self._wake: asyncio.Event | None = None
        self._record_soon: asyncio.TimerHandle | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self._closing = False

    def notify(self) -> None:
        """Thread-safe: a new row is waiting (called by the webhook after it stored one)."""
        if self._wake is not None:
            self.engine.call_soon(self._wake.set)

    async def start(self) -> None:
        self._wake = asyncio.Event()
        self._wake.set()  # first round replays whatever an earlier process left unfinished
        self._loop_task = spawn(self._rounds(), "inbox-rounds")

    async def stop(self) -> None:
        """Stop claiming, let running updates finish briefly, hand the rest back."""
        self._closing = True
        self._stop_record_timer()
        if self._loop_task is not None and self._wake is not None:
            self._wake.set()  # let a round in progress finish; cancelling it could orphan claims
            await asyncio.gather(self._loop_task, return_exceptions=True)
        if self._drains:
            _, late = await asyncio.wait(self._drains, timeout=self.DRAIN_SECONDS)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        outcomes, self._outcomes = self._outcomes, []
        handed_back = await self.engine.run_sync(store.finish, self.owner, outcomes)
        if handed_back:
            log.info("inbox: handed %d unfinished updates back for another process", handed_back)

    async def _rounds(self) -> None:
        assert self._wake is not None
        loop = asyncio.get_running_loop()
        renewed_at = loop.time()
        while not self._closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.SWEEP_SECONDS)
            if self._closing:
                break
            await asyncio.sleep(0)  # let notifications already queued on the loop join this round
            self._wake.clear()  # after them: they are this round's, not a reason for another
            room = self.capacity - self._queued
            outcomes, self._outcomes = self._outcomes, []
            self._stop_record_timer()
            try:
                if loop.time() - renewed_at > self.lease.total_seconds() / 3:
                    await self.engine.run_sync(store.renew, self.owner, self.lease)
                    renewed_at = loop.time()
                if room <= 0 and not outcomes:
                    continue  # nothing to record and no room: a round would only cost a transaction
                claimed = await self.engine.run_sync(
                    store.claim_round, self.owner, outcomes, lease=self.lease, max_attempts=self.max_attempts,
                    limit=max(room, 0),
                )
            except Exception:
                log.exception("inbox: claim round failed; retrying")
                self._outcomes[:0] = outcomes
                await asyncio.sleep(1.0)
                continue
            recorded = {o.update_id for o in outcomes if o.kind == "retry"}
            self._retrying = {key: update_id for key, update_id in self._retrying.items() if update_id not in recorded}
            for item in claimed:
                self._enqueue(item)

    def _enqueue(self, item: Claimed) -> None:
        key: Hashable = item.chat_key if item.chat_key is not None else ("update", item.update_id)
        if key in self._retrying:  # it must not overtake the update to be retried: hand it back
            self._queued += 1
            self._finished(Outcome.released(item.update_id))
            return
        queue = self._chats.get(key)
        if queue is None:
            queue = self._chats[key] = deque()
            task = spawn(self._drain(key, queue), f"inbox-chat-{key}")
            self._drains.add(task)
            task.add_done_callback(self._drains.discard)
        queue.append(item)
        self._queued += 1

    async def _drain(self, key: Hashable, queue: deque[Claimed]) -> None:
        try:
            while queue:
                item = queue[0]
                async with self._slots:
                    outcome = await self._run_one(item)
                queue.popleft()
                self._finished(outcome)
                if outcome.kind == "retry":
                    # Later updates of this chat must wait for the retried one.
                    self._retrying[key] = item.update_id
                    for later in queue:
                        self._finished(Outcome.released(later.update_id))
                    queue.clear()
        except asyncio.CancelledError:
            for item in queue:
                self._finished(Outcome.released(item.update_id))
            queue.clear()
            raise
        finally:
            del self._chats[key]

    async def _run_one(self, item: Claimed) -> Outcome:
        try:
            return await self.handle(item)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the handler itself broke, not a bot callback
            log.exception("inbox: update %d could not be processed", item.update_id)
            return Outcome(item.update_id, "failed", error=repr(exc))

    def _finished(self, outcome: Outcome) -> None:
        self._queued -= 1
        self._outcomes.append(outcome)
        if self._record_soon is None and self._wake is not None and not self._closing:  # stop() records the rest
            self._record_soon = asyncio.get_running_loop().call_later(self.RECORD_DELAY, self._wake.set)

    def _stop_record_timer(self) -> None:
        if self._record_soon is not None:
            self._record_soon.cancel()
            self._record_soon = None
