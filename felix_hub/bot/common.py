"""Small pieces every handler module uses: who is asking, may they, and answering them."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import Message, Update

from felix_hub.backend import users
from felix_hub.backend.users import Registered
from felix_hub.bot.context import FelixContext
from felix_hub.bot.texts import t

UserHandler = Callable[[Update, FelixContext, Registered], Awaitable[None]]
Handler = Callable[[Update, FelixContext], Awaitable[None]]


def profile_of(update: Update) -> users.Profile:
    user = update.effective_user
    assert user is not None
    return users.Profile(
        telegram_id=user.id,
        first_name=user.first_name,
        last_name=user.last_name,
        username=user.username,
        language_code=user.language_code,
    )


def with_user(handler: UserHandler | None = None, *, access: bool = True) -> Any:
    """Register the user on every update and hand them to the handler; with `access`, turn
    away users who have none (invite-only servers)."""

    def decorate(inner: UserHandler) -> Handler:
        @functools.wraps(inner)
        async def wrapper(update: Update, context: FelixContext) -> None:
            user = await context.runtime.run_sync(users.register, profile_of(update))
            if access and not user.has_access:
                await answer(update, t(user.language, "access.closed"))
                return
            await inner(update, context, user)

        return wrapper

    return decorate(handler) if handler is not None else decorate


async def answer(update: Update, text: str, **kwargs: Any) -> Message:
    """Reply in the chat the update came from (a message or a button press)."""
    if update.callback_query is not None:
        await update.callback_query.answer()
    chat = update.effective_chat
    assert chat is not None
    return await chat.send_message(text, **kwargs)
