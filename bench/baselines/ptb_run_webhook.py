"""Baseline (b): python-telegram-bot's own webhook server (`run_webhook`), same handlers.

Usage: python -m bench.baselines.ptb_run_webhook PORT [concurrent]
Database and Bot API come from the environment, as for the service itself.
"""

from __future__ import annotations

import sys

from bench.support import ThreadRuntime
from felix_hub.backend import create_app
from felix_hub.bot import application_builder, register_handlers


def main() -> None:
    port = int(sys.argv[1])
    concurrent = len(sys.argv) > 2 and sys.argv[2] == "concurrent"
    app = create_app()
    config = app.extensions["felix_config"]
    builder = application_builder(config.TELEGRAM_BOT_TOKEN, config.TELEGRAM_BOT_API_URL)
    if concurrent:
        builder = builder.concurrent_updates(256)
    application = builder.build()
    register_handlers(application, ThreadRuntime(app))
    application.run_webhook(
        listen="127.0.0.1", port=port, url_path="telegram/webhook",
        secret_token=config.TELEGRAM_WEBHOOK_SECRET,
        webhook_url=f"http://127.0.0.1:{port}/telegram/webhook",
    )


if __name__ == "__main__":
    main()
