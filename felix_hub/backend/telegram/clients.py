"""Making Telethon clients: sessions live in the database (StringSession), never in files."""

from __future__ import annotations

import logging
from collections.abc import Callable

from telethon import TelegramClient
from telethon.sessions import StringSession

from felix_hub.backend.config import Config

ClientFactory = Callable[[str | None], TelegramClient]

# Errors meaning the session is dead: the user has to log in again.
SESSION_DEAD = (
    "AuthKeyUnregisteredError", "AuthKeyDuplicatedError", "SessionRevokedError", "SessionExpiredError",
    "UserDeactivatedError", "UserDeactivatedBanError", "AuthKeyInvalidError",
)


def is_session_dead(error: BaseException) -> bool:
    return type(error).__name__ in SESSION_DEAD


def telethon_factory(config: Config) -> ClientFactory:
    """Clients for the operator's API id; FloodWaits are handled by us, not slept inside calls."""

    def make(session: str | None) -> TelegramClient:
        return TelegramClient(
            StringSession(session),
            config.TELEGRAM_API_ID,
            config.TELEGRAM_API_HASH,
            device_model="Felix Hub",
            app_version="1.0",
            flood_sleep_threshold=0,
            receive_updates=True,
            catch_up=False,
            base_logger=logging.getLogger("telethon"),
        )

    return make


def session_string(client: TelegramClient) -> str:
    return StringSession.save(client.session)
