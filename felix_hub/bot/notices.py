"""Messages the bot sends on its own: backfill progress, an account that needs a new login."""

from __future__ import annotations

import logging

from telegram import Bot
from telegram.error import BadRequest, TelegramError

from felix_hub.backend import accounts, channels
from felix_hub.bot.account import reconnect_button
from felix_hub.bot.context import Runtime
from felix_hub.bot.texts import t

log = logging.getLogger(__name__)


class Notices:
    """Implements the parsers' events (felix_hub.backend.telegram.worker.ParserEvents)."""

    def __init__(self, bot: Bot, runtime: Runtime) -> None:
        self.bot = bot
        self.runtime = runtime

    async def backfill_progress(self, channel_id: int, fetched: int, done: bool) -> None:
        for watcher in await self.runtime.run_sync(channels.progress_watchers, channel_id):
            key = "follow.progress_done" if done else "follow.progress"
            text = t(watcher.language, key, title=watcher.title, fetched=fetched)
            try:
                await self.bot.edit_message_text(text, chat_id=watcher.telegram_id, message_id=watcher.message_id)
            except BadRequest as error:
                if "not modified" not in str(error).lower():
                    log.info("progress message of user %d: %r", watcher.user_id, error)
            except TelegramError as error:
                log.info("progress message of user %d: %r", watcher.user_id, error)
        if done:
            await self.runtime.run_sync(channels.progress_shown, channel_id)

    async def account_lost(self, account_id: int, reason: str) -> None:
        view = await self.runtime.run_sync(accounts.view, account_id)
        if view is None:
            return
        language = view.owner_language
        try:
            await self.bot.send_message(view.owner_telegram_id,
                                        t(language, "account.lost", name=view.display_name, reason=reason),
                                        reply_markup=reconnect_button(language))
        except TelegramError as error:
            log.info("could not tell user about account %d: %r", account_id, error)
