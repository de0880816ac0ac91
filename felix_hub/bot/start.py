"""/start (with an optional invite code), /help, and the answer to anything not understood."""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, CommandHandler, MessageHandler, filters

from felix_hub.backend import access, users
from felix_hub.backend.users import Registered
from felix_hub.bot.common import answer, profile_of, with_user
from felix_hub.bot.context import FelixContext
from felix_hub.bot.texts import t


async def start(update: Update, context: FelixContext) -> None:
    """Greet; `/start CODE` (an invite deep link) grants access first."""
    user = await context.runtime.run_sync(users.register, profile_of(update))
    code = context.args[0] if context.args else None
    if code and not user.has_access:
        redeemed = await context.runtime.run_sync(access.redeem, user.id, code)
        if redeemed != access.Redeemed.OK:
            await answer(update, t(user.language, f"access.{redeemed}"))
            return
        await answer(update, t(user.language, "access.granted"))
    elif not user.has_access:
        await answer(update, t(user.language, "access.closed"))
        return
    await answer(update, t(user.language, "start.greeting", name=user.first_name))


@with_user(access=False)
async def help_command(update: Update, context: FelixContext, user: Registered) -> None:
    text = t(user.language, "help") + (t(user.language, "help.admin") if user.is_admin else "")
    await answer(update, text)


async def unknown(update: Update, context: FelixContext) -> None:
    assert update.effective_user is not None and update.effective_message is not None
    language = users.language_for(update.effective_user.language_code)
    # Quoted: in a busy chat it shows which message was not understood.
    await update.effective_message.reply_text(t(language, "unknown"), do_quote=True)


def register(application: Application) -> None:
    private = filters.ChatType.PRIVATE
    application.add_handler(CommandHandler("start", start, filters=private))
    application.add_handler(CommandHandler("help", help_command, filters=private))


def register_fallback(application: Application) -> None:
    """Added after every other handler: answers only what nothing else took."""
    private = filters.ChatType.PRIVATE
    application.add_handler(MessageHandler(private & (filters.COMMAND | filters.TEXT), unknown))
