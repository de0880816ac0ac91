"""What a serving process runs besides Flask: the engine and its services.

`start(app)` is called once per gunicorn worker after the fork (see gunicorn.conf.py), never at
import, so `flask db upgrade` and other commands never start the engine or call the Bot API.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from flask import Flask

from felix_hub.backend.config import Config
from felix_hub.backend.engine import Engine, Service
from felix_hub.backend.extensions import db
from felix_hub.backend.inbox import store
from felix_hub.backend.leases import process_owner
from felix_hub.backend.periodic import Periodic
from felix_hub.backend.telegram.clients import ClientFactory, telethon_factory

log = logging.getLogger(__name__)

T = TypeVar("T")
_KEY = "felix_runtime"


class Runtime:
    """The engine and the services on it; handlers reach them through this (bot_data["runtime"])."""

    def __init__(self, app: Flask, config: Config, *, client_factory: ClientFactory | None = None) -> None:
        from felix_hub.backend.bot_service import BotService
        from felix_hub.backend.inbox.dispatcher import Dispatcher
        from felix_hub.backend.poller import Poller
        from felix_hub.backend.telegram.login import Logins
        from felix_hub.backend.telegram.parsers import Parsers
        from felix_hub.bot.notices import Notices

        self.config = config
        self.owner = process_owner()
        self.engine = Engine(app, threads=config.ENGINE_THREADS)
        self.bot: BotService | None = None
        self.inbox: Dispatcher | None = None
        self.logins: Logins | None = None
        self.parsers: Parsers | None = None
        retention = timedelta(hours=config.INBOX_RETENTION_HOURS)
        prune = Periodic("inbox-prune", 600, lambda: self.engine.run_sync(store.prune, retention))

        if config.bot_enabled:
            self.bot = BotService(self, config)
            self.inbox = Dispatcher(
                self.engine, self.bot.process, owner=self.owner,
                lease_seconds=config.INBOX_LEASE_SECONDS, max_attempts=config.INBOX_MAX_ATTEMPTS,
            )
        else:
            log.warning("TELEGRAM_BOT_TOKEN is not set: the bot is disabled")
        if config.accounts_enabled:
            factory = client_factory or telethon_factory(config)
            self.logins = Logins(self.engine, self.owner, factory)
            events = Notices(self.bot.application.bot, self) if self.bot else _Unheard()
            self.parsers = Parsers(self.engine, config, self.owner, factory, events,
                                   lease_seconds=config.ACCOUNT_LEASE_SECONDS)
        else:
            log.info("TELEGRAM_API_ID/TELEGRAM_API_HASH are not set: users cannot connect accounts")

        # Start order; shutdown runs in reverse: intake (poller, inbox) first, PTB next, Telethon last.
        services: list[Service | None] = [self.parsers, self.bot, self.logins, prune, self.inbox]
        if self.bot is not None and not config.uses_webhook:
            assert self.inbox is not None
            services.append(Poller(self.engine, self.bot, self.inbox, self.owner))
        self.services = [s for s in services if s is not None]

    async def run_sync(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        return await self.engine.run_sync(fn, *args, **kwargs)

    def notify_inbox(self) -> None:
        if self.inbox is not None:
            self.inbox.notify()


class _Unheard:
    """Parser events with no bot to tell anyone: logged only."""

    async def backfill_progress(self, channel_id: int, fetched: int, done: bool) -> None:
        log.info("channel %d: %d posts fetched%s", channel_id, fetched, " (done)" if done else "")

    async def account_lost(self, account_id: int, reason: str) -> None:
        log.warning("account %d needs a new login: %s", account_id, reason)


def start(app: Flask, *, client_factory: ClientFactory | None = None) -> Runtime:
    """Start this process's engine. Call after fork: connections must not be shared."""
    with app.app_context():
        db.engine.dispose(close=False)  # pooled connections inherited from a --preload master
    runtime = Runtime(app, app.extensions["felix_config"], client_factory=client_factory)
    app.extensions[_KEY] = runtime
    # What boot built (modules, the app, PTB, SQLAlchemy's metadata) lives as long as the
    # process: keep the collector from walking it again. Without this, each full collection
    # took 80-120 ms here, and every thread of the worker, and every write waiting for a lock
    # the worker held, stood still that long. Frozen before the engine runs, so nothing in
    # flight is frozen with it.
    gc.collect()
    gc.freeze()
    runtime.engine.start(runtime.services)
    return runtime


def stop(app: Flask) -> None:
    runtime: Runtime | None = app.extensions.get(_KEY)
    if runtime is not None:
        runtime.engine.stop()
        gc.unfreeze()  # a process that starts engines again (the tests) freezes afresh


def current(app: Flask) -> Runtime | None:
    return app.extensions.get(_KEY)
