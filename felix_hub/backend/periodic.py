"""A job that runs on the engine every so often, for as long as the engine runs."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from felix_hub.backend.engine import spawn

log = logging.getLogger(__name__)


class Periodic:
    def __init__(self, name: str, every_seconds: float, job: Callable[[], Awaitable[object]]) -> None:
        self.name = name
        self.every_seconds = every_seconds
        self.job = job
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = spawn(self._run(), self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            try:
                await self.job()
            except Exception:
                log.exception("%s failed; will run again in %.0f s", self.name, self.every_seconds)
            await asyncio.sleep(self.every_seconds)
