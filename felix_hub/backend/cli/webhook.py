"""`flask felix webhook set|info|delete`: manage the bot's webhook at Telegram."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import click
from flask import current_app
from flask.cli import AppGroup
from telegram import Bot
from telegram.error import InvalidToken, TelegramError

from felix_hub.backend.config import Config
from felix_hub.backend.engine import Engine
from felix_hub.bot import ALLOWED_UPDATES

T = TypeVar("T")

group = AppGroup("webhook", help="Manage the Telegram webhook (never touched at boot).")


def _with_bot(action: Callable[[Bot], Awaitable[T]]) -> T:
    """Run one Bot API action on a short-lived engine (one loop, as everywhere else)."""
    config: Config = current_app.extensions["felix_config"]
    if not config.TELEGRAM_BOT_TOKEN:
        raise click.ClickException("TELEGRAM_BOT_TOKEN is not set")

    async def run() -> T:
        bot = Bot(config.TELEGRAM_BOT_TOKEN, base_url=f"{config.TELEGRAM_BOT_API_URL}/bot",
                  base_file_url=f"{config.TELEGRAM_BOT_API_URL}/file/bot")
        async with bot:
            return await action(bot)

    engine = Engine(current_app._get_current_object(), threads=1)  # type: ignore[attr-defined]
    engine.start([])
    try:
        return engine.call(run(), timeout=60)
    except InvalidToken:
        raise click.ClickException("the Bot API rejected TELEGRAM_BOT_TOKEN") from None
    except TelegramError as exc:
        raise click.ClickException(f"the Bot API answered: {exc.message}") from None
    finally:
        engine.stop()


@group.command("set")
@click.option("--drop-pending", is_flag=True, help="Discard updates Telegram is still holding.")
def set_webhook(drop_pending: bool) -> None:
    """Point Telegram at PUBLIC_URL/telegram/webhook with our secret token."""
    config: Config = current_app.extensions["felix_config"]
    if not config.webhook_url:
        raise click.ClickException("PUBLIC_URL is not set; without it the bot uses long polling")
    url = config.webhook_url
    _with_bot(lambda bot: bot.set_webhook(
        url,
        secret_token=config.TELEGRAM_WEBHOOK_SECRET,
        allowed_updates=list(ALLOWED_UPDATES),
        max_connections=config.TELEGRAM_WEBHOOK_MAX_CONNECTIONS,
        drop_pending_updates=drop_pending,
    ))
    click.echo(f"Webhook set: {url} (max_connections={config.TELEGRAM_WEBHOOK_MAX_CONNECTIONS})")


@group.command("info")
def info() -> None:
    """Show what Telegram knows about the webhook: URL, pending updates, last error."""
    hook = _with_bot(lambda bot: bot.get_webhook_info())
    click.echo(f"url: {hook.url or '(none: long polling)'}")
    click.echo(f"pending updates: {hook.pending_update_count}")
    click.echo(f"max connections: {hook.max_connections or '-'}")
    click.echo(f"allowed updates: {', '.join(hook.allowed_updates or ()) or 'default'}")
    if hook.last_error_date:
        click.echo(f"last error: {hook.last_error_date:%Y-%m-%d %H:%M:%S %Z} {hook.last_error_message}")
    else:
        click.echo("last error: none")


@group.command("delete")
@click.option("--drop-pending", is_flag=True, help="Discard updates Telegram is still holding.")
def delete(drop_pending: bool) -> None:
    """Remove the webhook (the bot then long-polls when PUBLIC_URL is unset)."""
    _with_bot(lambda bot: bot.delete_webhook(drop_pending_updates=drop_pending))
    click.echo("Webhook deleted")
