"""The callback context our handlers receive: PTB's, plus the process's services."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from telegram.ext import Application, CallbackContext, ExtBot

if TYPE_CHECKING:
    from felix_hub.backend.config import Config
    from felix_hub.backend.telegram.login import Logins
    from felix_hub.backend.telegram.parsers import Parsers

T = TypeVar("T")


class Runtime(Protocol):
    """What handlers need from the process they run in."""

    config: Config
    logins: Logins | None
    parsers: Parsers | None

    async def run_sync(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run blocking `fn` (SQL, files) off the event loop and return its result."""
        ...


class FelixContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[str, Any]]):
    @property
    def runtime(self) -> Runtime:
        return self.application.bot_data["runtime"]


FelixApplication = Application[ExtBot[None], FelixContext, dict[Any, Any], dict[Any, Any], dict[str, Any], Any]
