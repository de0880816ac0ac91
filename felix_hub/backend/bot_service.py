"""The bot on the engine: PTB's Application, initialised with retries, fed from the inbox."""

from __future__ import annotations

import asyncio
import json
import logging

from telegram import Update as TelegramUpdate
from telegram.error import InvalidToken, NetworkError
from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential

from felix_hub.backend.config import Config
from felix_hub.backend.engine import spawn
from felix_hub.backend.inbox.store import Claimed, Outcome
from felix_hub.bot import build_application, publish_commands
from felix_hub.bot.context import Runtime
from felix_hub.bot.retry import retry_slot

log = logging.getLogger(__name__)


class BotService:
    """Owns the python-telegram-bot Application for this process."""

    name = "bot"

    def __init__(self, runtime: Runtime, config: Config) -> None:
        assert config.TELEGRAM_BOT_TOKEN
        self.application = build_application(config.TELEGRAM_BOT_TOKEN, config.TELEGRAM_BOT_API_URL, runtime)
        self.state = "starting"
        self._ready = asyncio.Event()
        self._boot_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        # The Bot API may be unreachable at boot; keep storing updates and connect in the background.
        self._boot_task = spawn(self._boot(), "bot-boot")

    async def _boot(self) -> None:
        try:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception_type(NetworkError),
                wait=wait_exponential(multiplier=1, max=30),
                before_sleep=lambda state: log.warning(
                    "bot: Bot API not reachable yet (%r); retrying", state.outcome and state.outcome.exception()
                ),
            ):
                with attempt:
                    await self.application.initialize()
        except InvalidToken:
            self.state = "invalid token"
            log.error("bot: the Bot API rejected TELEGRAM_BOT_TOKEN; the bot stays off")
            return
        await self.application.start()
        try:
            await publish_commands(self.application)
        except NetworkError as exc:
            log.warning("bot: could not publish the command menu: %r", exc)
        self.state = "ready"
        self._ready.set()
        log.info("bot: ready as @%s", self.application.bot.username)

    async def ready(self) -> None:
        await self._ready.wait()

    async def process(self, item: Claimed) -> Outcome:
        """Run one stored update through the handlers; the error handler may ask for a retry."""
        await self._ready.wait()
        try:
            update = TelegramUpdate.de_json(json.loads(item.payload), self.application.bot)
        except Exception as exc:
            return Outcome(item.update_id, "failed", error=f"unreadable update: {exc!r}")
        with retry_slot() as retries:
            await self.application.process_update(update)
        if retries:
            return Outcome(item.update_id, "retry", error="transient Bot API error", retry_after=max(retries))
        return Outcome.done(item.update_id)

    async def stop(self) -> None:
        if self._boot_task is not None and not self._boot_task.done():
            self._boot_task.cancel()
            await asyncio.gather(self._boot_task, return_exceptions=True)
        if self.application.running:
            await self.application.stop()
        await self.application.shutdown()  # a no-op when initialize() never succeeded
