"""Admin commands: /invite creates invite links."""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, CommandHandler, filters

from felix_hub.backend import access
from felix_hub.backend.users import Registered
from felix_hub.bot.common import answer, with_user
from felix_hub.bot.context import FelixContext
from felix_hub.bot.texts import t


@with_user
async def invite(update: Update, context: FelixContext, user: Registered) -> None:
    """/invite [uses] [days]: a deep link that grants access to that many people."""
    if not user.is_admin:
        await answer(update, t(user.language, "admin.only"))
        return
    given = list(context.args or [])[:2]
    given += ["1", "7"][len(given):]  # one person, a week
    try:
        uses, days = int(given[0]), int(given[1])
    except ValueError:
        uses = days = 0
    if not (1 <= uses <= 1000 and 1 <= days <= 365):
        await answer(update, t(user.language, "invite.usage"))
        return
    created = await context.runtime.run_sync(access.create_invite, user.id, uses=uses, days=days)
    link = f"https://t.me/{context.bot.username}?start={created.code}"
    until = f"{created.expires_at:%Y-%m-%d %H:%M} UTC"
    await answer(update, t(user.language, "invite.created", uses=uses, until=until, link=link))


def register(application: Application) -> None:
    application.add_handler(CommandHandler("invite", invite, filters=filters.ChatType.PRIVATE))
