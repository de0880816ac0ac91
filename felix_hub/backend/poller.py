"""Long polling for a bot without a public URL: getUpdates into the same durable inbox.

Only one process may call getUpdates at a time (Telegram answers 409 otherwise), so the
poller runs under a lease; the other workers still process stored updates.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import timedelta

from telegram.error import Conflict, NetworkError

from felix_hub.backend import leases
from felix_hub.backend.bot_service import BotService
from felix_hub.backend.engine import Engine, spawn
from felix_hub.backend.inbox import store
from felix_hub.backend.inbox.dispatcher import Dispatcher
from felix_hub.backend.inbox.intake import MalformedUpdate, parse
from felix_hub.bot import ALLOWED_UPDATES

log = logging.getLogger(__name__)

LEASE_NAME = "bot-poller"


class Poller:
    name = "poller"
    POLL_SECONDS = 25
    LEASE = timedelta(seconds=60)

    def __init__(self, engine: Engine, bot: BotService, inbox: Dispatcher, owner: str) -> None:
        self.engine = engine
        self.bot = bot
        self.inbox = inbox
        self.owner = owner
        self._task: asyncio.Task[None] | None = None
        self._offset: int | None = None

    async def start(self) -> None:
        self._task = spawn(self._run(), "bot-poller")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.engine.run_sync(leases.release, LEASE_NAME, self.owner)

    async def _run(self) -> None:
        await self.bot.ready()
        loop = asyncio.get_running_loop()
        renewed_at = 0.0
        announced = False
        while True:
            if loop.time() - renewed_at > self.LEASE.total_seconds() / 3:
                if not await self.engine.run_sync(leases.acquire, LEASE_NAME, self.owner, self.LEASE):
                    await asyncio.sleep(self.LEASE.total_seconds() / 2)
                    continue
                renewed_at = loop.time()
                if not announced:
                    log.info("poller: no PUBLIC_URL, so this process long-polls the Bot API")
                    announced = True
            try:
                await self._poll_once()
            except Conflict:
                log.error("poller: a webhook is set for this bot; run `flask felix webhook delete` "
                          "or set PUBLIC_URL to receive updates through it")
                await asyncio.sleep(30)
            except NetworkError as exc:
                log.warning("poller: getUpdates failed (%r); retrying", exc)
                await asyncio.sleep(5)

    async def _poll_once(self) -> None:
        bot = self.bot.application.bot
        api_kwargs = {"timeout": self.POLL_SECONDS, "allowed_updates": list(ALLOWED_UPDATES)}
        if self._offset is not None:
            api_kwargs["offset"] = self._offset
        updates = await bot.do_api_request(
            "getUpdates", api_kwargs=api_kwargs, read_timeout=self.POLL_SECONDS + 10
        )
        stored = 0
        for raw in updates:
            try:
                incoming = parse(json.dumps(raw, ensure_ascii=False))
            except MalformedUpdate as exc:
                log.error("poller: skipping a malformed update: %s", exc)
                continue
            # Stored before the next getUpdates confirms it to Telegram (offset = last + 1).
            if await self.engine.run_sync(store.save, incoming.update_id, incoming.chat_key, incoming.payload):
                stored += 1
        ids = [u["update_id"] for u in updates if isinstance(u.get("update_id"), int)]
        if ids:
            self._offset = max(ids) + 1
        if stored:
            self.inbox.notify()
