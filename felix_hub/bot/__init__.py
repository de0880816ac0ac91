"""The Telegram bot: python-telegram-bot handlers, built once per process on the engine."""

from __future__ import annotations

from telegram import BotCommand
from telegram.constants import ParseMode
from telegram.ext import Application, ApplicationBuilder, ContextTypes, Defaults

from felix_hub.bot import account, admin, channels, errors, start
from felix_hub.bot.context import FelixApplication, FelixContext, Runtime
from felix_hub.bot.texts import LANGUAGES, t

COMMANDS = ("start", "connect", "follow", "channels", "unfollow", "account", "cancel", "help")
# What we ask Telegram to deliver (webhook and long polling alike).
ALLOWED_UPDATES = ("message", "edited_message", "callback_query", "my_chat_member")


def application_builder(token: str, api_url: str) -> ApplicationBuilder:
    """PTB's builder, pointed at `api_url` (api.telegram.org, a self-hosted server, a test peer)."""
    return (
        Application.builder()
        .token(token)
        .base_url(f"{api_url}/bot")
        .base_file_url(f"{api_url}/file/bot")
        .defaults(Defaults(parse_mode=ParseMode.HTML))
        .context_types(ContextTypes(context=FelixContext))
    )


def register_handlers(application: Application, runtime: Runtime) -> None:
    application.bot_data["runtime"] = runtime
    start.register(application)
    account.register(application)
    channels.register(application)
    admin.register(application)
    start.register_fallback(application)  # after every other handler
    errors.register(application)


def build_application(token: str, api_url: str, runtime: Runtime) -> FelixApplication:
    """The PTB Application, without an Updater: updates reach it from our inbox."""
    application = application_builder(token, api_url).updater(None).build()
    register_handlers(application, runtime)
    return application


async def publish_commands(application: Application) -> None:
    """The command menu Telegram clients show, in each language we speak."""
    for language in LANGUAGES:
        commands = [BotCommand(name, t(language, f"command.{name}")) for name in COMMANDS]
        await application.bot.set_my_commands(commands, language_code=None if language == "en" else language)
