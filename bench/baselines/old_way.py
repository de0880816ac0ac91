"""Baseline (c): the way that broke: a new thread running asyncio.run(process_update) per request.

Each request gets a fresh event loop, so it also needs a fresh Application (its HTTP client
belongs to one loop): initialize (getMe), process the update, shut down. Not durable either:
the 200 goes out before anything is stored. Served by gunicorn: `bench.baselines.old_way:app`.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from flask import request
from telegram import Update

from bench.support import ThreadRuntime
from felix_hub.backend import create_app
from felix_hub.bot import application_builder, register_handlers

app = create_app()
_config = app.extensions["felix_config"]
_runtime = ThreadRuntime(app)


async def _process(data: dict[str, Any]) -> None:
    application = application_builder(_config.TELEGRAM_BOT_TOKEN, _config.TELEGRAM_BOT_API_URL).updater(None).build()
    register_handlers(application, _runtime)
    async with application:
        await application.process_update(Update.de_json(data, application.bot))


@app.post("/old/webhook")
def old_webhook() -> tuple[str, int]:
    data = request.get_json()
    threading.Thread(target=asyncio.run, args=(_process(data),), daemon=True).start()
    return "", 200
