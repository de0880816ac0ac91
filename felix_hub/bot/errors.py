"""The error handler: full details to the logs (and Sentry), a short apology to the user."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

from telegram import Update
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import Application

from felix_hub.backend.users import language_for
from felix_hub.bot.context import FelixContext
from felix_hub.bot.retry import request_retry
from felix_hub.bot.texts import t

log = logging.getLogger(__name__)

# Telegram could not be reached or asked us to slow down: the same update may well work later.
TRANSIENT_RETRY_SECONDS = 5.0

# What people type can be a login code, a 2FA password or a phone number (a shared contact's
# often comes without the "+" the log redactor looks for): the log keeps their length only.
_TYPED = frozenset({"text", "caption", "phone_number", "vcard"})


def _loggable(value: Any) -> Any:
    """An update's `to_dict()` for the log: every field but what the user typed."""
    if isinstance(value, dict):
        return {key: f"[{len(item)} characters]" if key in _TYPED and isinstance(item, str) else _loggable(item)
                for key, item in value.items()}
    if isinstance(value, list):
        return [_loggable(item) for item in value]
    return value


def retry_delay(error: BaseException | None) -> float | None:
    """Seconds to wait before running the update again, or None when retrying cannot help."""
    if isinstance(error, RetryAfter):
        after = error.retry_after  # int or timedelta, depending on PTB's PTB_TIMEDELTA switch
        return after.total_seconds() if isinstance(after, timedelta) else float(after)
    if isinstance(error, NetworkError) and not isinstance(error, BadRequest):
        return TRANSIENT_RETRY_SECONDS
    return None


async def on_error(update: object, context: FelixContext) -> None:
    error = context.error
    delay = retry_delay(error)
    if delay is not None and request_retry(delay):
        log.warning("update will be retried in %.0f s: %r", delay, error)
        return
    if isinstance(update, Update):
        details = json.dumps(_loggable(update.to_dict()), ensure_ascii=False)
    else:
        details = repr(update)
    log.error("error while handling an update: %s", details, exc_info=error)
    if isinstance(update, Update) and update.effective_chat and not isinstance(error, Forbidden):
        user = update.effective_user
        language = language_for(user.language_code if user else None)
        try:
            await context.bot.send_message(update.effective_chat.id, t(language, "error.apology"))
        except TelegramError as exc:
            log.warning("could not send the apology: %r", exc)


def register(application: Application) -> None:
    application.add_error_handler(on_error)
