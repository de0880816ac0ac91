"""The parsers on the engine: one connected client per account this process holds the lease of.

Two processes using one Telethon session at once get AUTH_KEY_DUPLICATED, so an account is
connected only by the process holding its lease (renewed by heartbeat, taken over when the
holder dies). The same process pins the account owner's chat, so their bot commands (/follow,
/disconnect) run where the live client is.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from datetime import timedelta

from telethon import TelegramClient

from felix_hub.backend import accounts, channels, leases
from felix_hub.backend.config import Config
from felix_hub.backend.engine import Engine, spawn
from felix_hub.backend.telegram.clients import ClientFactory
from felix_hub.backend.telegram.worker import AccountWorker, ParserEvents

log = logging.getLogger(__name__)


@dataclass
class _Running:
    worker: AccountWorker
    task: asyncio.Task[None]
    owner_chat: int


class Parsers:
    name = "parsers"

    def __init__(self, engine: Engine, config: Config, owner: str, factory: ClientFactory,
                 events_: ParserEvents, *, lease_seconds: int = 60) -> None:
        self.engine = engine
        self.config = config
        self.owner = owner
        self.factory = factory
        self.events = events_
        self.lease = timedelta(seconds=lease_seconds)
        self.tick_seconds = max(1.0, lease_seconds / 4)
        self._running: dict[int, _Running] = {}
        self._kick: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self._renewed_at = time.monotonic()  # when the last renewal round began and then succeeded

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        self._kick = asyncio.Event()
        self._task = spawn(self._supervise(), "parsers")
        self._watchdog = spawn(self._watch_leases(), "parsers-watchdog")

    async def stop(self) -> None:
        for task in (self._watchdog, self._task):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        for account_id in list(self._running):
            await self._stop_worker(account_id)

    def kick(self) -> None:
        """Thread-safe: look for accounts and channels to work on now."""
        if self._kick is not None:
            self.engine.call_soon(self._kick.set)

    # -- what handlers use ---------------------------------------------------------------------

    def client_for(self, account_id: int) -> TelegramClient | None:
        running = self._running.get(account_id)
        return running.worker.client if running else None

    def held(self) -> set[int]:
        """The accounts this process holds the lease of and runs a client for (read on the engine)."""
        return set(self._running)

    def nudge(self, account_id: int) -> None:
        """A channel was followed: let the account's worker pick it up now."""
        running = self._running.get(account_id)
        if running is not None:
            running.worker.kick()

    async def adopt(self, account_id: int, client: TelegramClient) -> bool:
        """Take over the connected client of a login that just succeeded, without reconnecting."""
        view = await self.engine.run_sync(accounts.view, account_id)
        if view is None or not await self._claim(account_id, view.owner_telegram_id):
            return False
        self._start_worker(account_id, client, view.owner_telegram_id)
        return True

    async def release_account(self, account_id: int) -> TelegramClient | None:
        """Stop working on an account (it is being logged out) and hand over its client."""
        running = self._running.pop(account_id, None)
        if running is None:
            return None
        running.task.cancel()
        await asyncio.gather(running.task, return_exceptions=True)
        await self._unclaim(account_id, running.owner_chat)
        return running.worker.client

    # -- the supervisor ------------------------------------------------------------------------

    async def _supervise(self) -> None:
        assert self._kick is not None
        while True:
            try:
                await self._tick()
            except Exception:
                log.exception("parsers: supervision round failed")
            self._kick.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._kick.wait(), timeout=self.tick_seconds)

    async def _tick(self) -> None:
        await self.engine.run_sync(channels.assign_orphans)
        await self._renew()
        active = set(await self.engine.run_sync(accounts.active_ids))
        for account_id in [a for a in self._running if a not in active]:
            await self._stop_worker(account_id)
        for account_id, running in list(self._running.items()):
            if running.task.done():
                self._running.pop(account_id)
                await self._unclaim(account_id, running.owner_chat)
        for account_id in sorted(active - set(self._running)):
            await self._try_start(account_id)
        for running in self._running.values():
            running.worker.kick()

    async def _renew(self) -> None:
        names = [n for a, r in self._running.items() for n in (leases.account(a), leases.chat(r.owner_chat))]
        began = time.monotonic()
        held = await self.engine.run_sync(leases.renew, names, self.owner, self.lease)
        self._renewed_at = began
        for account_id in [a for a in self._running if leases.account(a) not in held]:
            log.warning("parsers: lost the lease of account %d; disconnecting it here", account_id)
            await self._stop_worker(account_id)

    async def _watch_leases(self) -> None:
        """Disconnect every account before its lease can lapse when renewals stop succeeding (the
        database is unreachable, or rounds hang): another process may take the accounts then, and
        two connections of one session get AUTH_KEY_DUPLICATED. Needs no database to act."""
        margin = self.lease.total_seconds() - self.tick_seconds
        while True:
            await asyncio.sleep(min(1.0, self.tick_seconds))
            if self._running and time.monotonic() - self._renewed_at > margin:
                log.error("parsers: leases not renewed for %.0f s; disconnecting %d account(s) here",
                          time.monotonic() - self._renewed_at, len(self._running))
                for running in list(self._running.values()):
                    running.task.cancel()  # the worker disconnects its client on the way out
                await asyncio.gather(*(r.task for r in self._running.values()), return_exceptions=True)
                self._running.clear()

    async def _try_start(self, account_id: int) -> None:
        view = await self.engine.run_sync(accounts.view, account_id)
        if view is None or not await self._claim(account_id, view.owner_telegram_id):
            return
        session = await self.engine.run_sync(accounts.session_of, account_id)
        if session is None:
            await self._unclaim(account_id, view.owner_telegram_id)
            return
        self._start_worker(account_id, self.factory(session), view.owner_telegram_id)

    def _start_worker(self, account_id: int, client: TelegramClient, owner_chat: int) -> None:
        worker = AccountWorker(account_id, client, self.engine.run_sync, self.config, self.events)
        task = spawn(self._run_worker(worker), f"account-{account_id}")
        self._running[account_id] = _Running(worker, task, owner_chat)
        log.info("parsers: account %d connected in this process", account_id)

    async def _run_worker(self, worker: AccountWorker) -> None:
        try:
            await worker.run()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("parsers: account %d stopped on an error; it will be retried", worker.account_id)
        finally:
            with contextlib.suppress(Exception):
                await worker.client.disconnect()

    async def _stop_worker(self, account_id: int) -> None:
        running = self._running.pop(account_id, None)
        if running is None:
            return
        running.task.cancel()
        await asyncio.gather(running.task, return_exceptions=True)
        await self._unclaim(account_id, running.owner_chat)

    async def _claim(self, account_id: int, owner_chat: int) -> bool:
        if not await self.engine.run_sync(leases.acquire, leases.account(account_id), self.owner, self.lease):
            return False
        await self.engine.run_sync(leases.acquire, leases.chat(owner_chat), self.owner, self.lease)
        return True

    async def _unclaim(self, account_id: int, owner_chat: int) -> None:
        with contextlib.suppress(Exception):
            await self.engine.run_sync(leases.release, leases.account(account_id), self.owner)
            await self.engine.run_sync(leases.release, leases.chat(owner_chat), self.owner)
