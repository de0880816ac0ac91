"""/follow, /channels and /unfollow."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, filters
from telethon import TelegramClient
from telethon import errors as tg_errors
from telethon.tl import functions, types

from felix_hub.backend import accounts, channels
from felix_hub.backend.channels import ChannelInfo, Followed
from felix_hub.backend.models import AccountStatus
from felix_hub.backend.telegram import links
from felix_hub.backend.telegram.clients import is_session_dead
from felix_hub.backend.users import Registered
from felix_hub.bot.account import reconnect_button
from felix_hub.bot.common import answer, with_user
from felix_hub.bot.context import FelixContext
from felix_hub.bot.texts import t

log = logging.getLogger(__name__)


class FollowProblem(Exception):
    """Why a channel cannot be followed, as a text key and its values."""

    def __init__(self, key: str, **values: Any) -> None:
        super().__init__(key)
        self.key = key
        self.values = values


# Telegram's refusals that mean the same whichever step of a follow meets them.
_REFUSALS: tuple[tuple[type[Exception], str], ...] = (
    (tg_errors.ChannelPrivateError, "follow.private"),
    (tg_errors.ChannelsTooMuchError, "follow.too_many"),
    (tg_errors.InviteHashExpiredError, "follow.invite_expired"),
    (tg_errors.InviteHashInvalidError, "follow.invite_invalid"),
    (tg_errors.InviteRequestSentError, "follow.invite_requested"),
)


# -- /follow ---------------------------------------------------------------------------------------

@with_user
async def follow(update: Update, context: FelixContext, user: Registered) -> None:
    if not context.args:
        await answer(update, t(user.language, "follow.usage"))
        return
    text = " ".join(context.args)
    async with _replying_to_problems(update, context, user):
        try:
            ref = links.parse(text)
        except links.NotAChannelLink:
            await answer(update, t(user.language, "follow.not_link", text=text[:100]))
            return
        await _follow(update, context, user, ref)


@contextlib.asynccontextmanager
async def _replying_to_problems(update: Update, context: FelixContext, user: Registered) -> AsyncIterator[None]:
    """What stops a follow becomes its reply: a FollowProblem's text, Telegram's refusal, or the
    lost-session notice."""
    try:
        yield
    except FollowProblem as problem:
        await answer(update, t(user.language, problem.key, **problem.values))
    except Exception as error:
        refusal = next((key for kind, key in _REFUSALS if isinstance(error, kind)), None)
        if refusal is not None:
            await answer(update, t(user.language, refusal))
        elif is_session_dead(error):
            await _session_lost(update, context, user, type(error).__name__)
        else:
            raise


async def _session_lost(update: Update, context: FelixContext, user: Registered, reason: str) -> None:
    """Telegram ended the account's session while we used it: say so, and offer a new login."""
    runtime = context.runtime
    view = await runtime.run_sync(accounts.of_user, user.id)
    if view is None:
        return
    await runtime.run_sync(accounts.mark_needs_login, view.id, reason)
    client = await runtime.parsers.release_account(view.id) if runtime.parsers else None
    if client is not None:
        await client.disconnect()
    await answer(update, t(user.language, "account.lost", name=view.display_name, reason=reason),
                 reply_markup=reconnect_button(user.language))


async def _follow(update: Update, context: FelixContext, user: Registered, ref: links.ChannelRef) -> None:
    runtime = context.runtime
    limit = None if user.is_admin else runtime.config.MAX_CHANNELS_PER_USER
    if limit is not None and len(await runtime.run_sync(channels.of_user, user.id)) >= limit:
        raise FollowProblem("follow.limit", limit=limit)
    if ref.username:
        known = await runtime.run_sync(channels.known, username=ref.username)
        if known is not None:
            await _subscribe(update, context, user, known.id, known.title, known.posts, limit)
            return
    account_id, client = await _client_of(context, user)
    if ref.invite_hash:
        entity = await _from_invite(update, context, user, client, ref.invite_hash)
        if entity is None:
            return  # asked the user to confirm joining
    else:
        entity = await _resolve(client, ref)
    await _follow_entity(update, context, user, account_id, client, entity, limit)


async def _client_of(context: FelixContext, user: Registered) -> tuple[int, TelegramClient]:
    view = await context.runtime.run_sync(accounts.of_user, user.id)
    if view is None or view.status != AccountStatus.ACTIVE:
        raise FollowProblem("follow.need_account")
    client = context.runtime.parsers.client_for(view.id) if context.runtime.parsers else None
    if client is None:
        raise FollowProblem("follow.account_busy")
    return view.id, client


async def _resolve(client: TelegramClient, ref: links.ChannelRef) -> types.Channel:
    name = f"@{ref.username}" if ref.username else f"t.me/c/{ref.channel_id}"
    try:
        if ref.username:
            entity = await client.get_entity(ref.username)
        else:
            entity = await _private_channel(client, ref.channel_id or 0)
    except (tg_errors.UsernameNotOccupiedError, tg_errors.UsernameInvalidError):
        raise FollowProblem("follow.not_found", name=name) from None
    except ValueError:  # Telethon: nobody by that name, or not in this account's dialogs
        raise FollowProblem("follow.not_found" if ref.username else "follow.private", name=name) from None
    except tg_errors.FloodWaitError as flood:
        raise FollowProblem("follow.flood", seconds=flood.seconds) from None
    if not isinstance(entity, types.Channel):
        raise FollowProblem("follow.not_channel", name=name)
    return entity


async def _private_channel(client: TelegramClient, channel_id: int) -> Any:
    try:
        return await client.get_entity(types.PeerChannel(channel_id))
    except ValueError:
        await client.get_dialogs()  # the access hash of a private channel comes with the dialogs
        return await client.get_entity(types.PeerChannel(channel_id))


async def _from_invite(update: Update, context: FelixContext, user: Registered, client: TelegramClient,
                       invite_hash: str) -> types.Channel | None:
    invite = await client(functions.messages.CheckChatInviteRequest(invite_hash))
    if isinstance(invite, types.ChatInviteAlready | types.ChatInvitePeek):
        if not isinstance(invite.chat, types.Channel):
            raise FollowProblem("follow.not_channel", name=getattr(invite.chat, "title", ""))
        return invite.chat
    if not invite.channel:
        raise FollowProblem("follow.not_channel", name=invite.title)
    buttons = InlineKeyboardMarkup([[
        InlineKeyboardButton(t(user.language, "follow.join"), callback_data=f"join:{invite_hash}"),
        InlineKeyboardButton(t(user.language, "button.cancel"), callback_data="join:no"),
    ]])
    await answer(update, t(user.language, "follow.join_confirm", title=invite.title,
                           members=invite.participants_count), reply_markup=buttons)
    return None


@with_user
async def confirm_join(update: Update, context: FelixContext, user: Registered) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    await query.answer()
    if query.message is not None:
        await query.message.edit_reply_markup(None)
    invite_hash = query.data.removeprefix("join:")
    if invite_hash == "no":
        await answer(update, t(user.language, "cancelled"))
        return
    async with _replying_to_problems(update, context, user):
        account_id, client = await _client_of(context, user)
        entity = await _join_invite(client, invite_hash)
        limit = None if user.is_admin else context.runtime.config.MAX_CHANNELS_PER_USER
        await _follow_entity(update, context, user, account_id, client, entity, limit)


async def _join_invite(client: TelegramClient, invite_hash: str) -> types.Channel:
    try:
        result = await client(functions.messages.ImportChatInviteRequest(invite_hash))
    except tg_errors.UserAlreadyParticipantError:
        invite = await client(functions.messages.CheckChatInviteRequest(invite_hash))
        return invite.chat
    chat = next((c for c in result.chats if isinstance(c, types.Channel)), None)
    if chat is None:
        raise FollowProblem("follow.not_channel", name="")
    return chat


async def _follow_entity(update: Update, context: FelixContext, user: Registered, account_id: int,
                         client: TelegramClient, entity: types.Channel, limit: int | None) -> None:
    if entity.left:
        # Real-time posts only reach members: the account joins public channels it follows.
        await client(functions.channels.JoinChannelRequest(entity))
    info = ChannelInfo(telegram_id=entity.id, title=entity.title, username=entity.username,
                       is_megagroup=bool(entity.megagroup), access_hash=entity.access_hash)
    channel_id = await context.runtime.run_sync(channels.remember, info, account_id)
    summary = await context.runtime.run_sync(channels.known, telegram_id=entity.id)
    await _subscribe(update, context, user, channel_id, entity.title, summary.posts if summary else 0, limit)


async def _subscribe(update: Update, context: FelixContext, user: Registered, channel_id: int, title: str,
                     posts: int, limit: int | None) -> None:
    followed = await context.runtime.run_sync(channels.subscribe, user.id, channel_id, limit=limit)
    if followed == Followed.LIMIT:
        raise FollowProblem("follow.limit", limit=limit)
    if followed == Followed.ALREADY:
        raise FollowProblem("follow.already", title=title)
    if posts:
        await answer(update, t(user.language, "follow.ok_known", title=title, posts=posts))
        return
    message = await answer(update, t(user.language, "follow.ok", title=title))
    await context.runtime.run_sync(channels.set_progress_message, user.id, channel_id, message.message_id)
    if context.runtime.parsers is not None:
        context.runtime.parsers.kick()


# -- /channels and /unfollow --------------------------------------------------------------------------

@with_user
async def list_channels(update: Update, context: FelixContext, user: Registered) -> None:
    followed = await context.runtime.run_sync(channels.of_user, user.id)
    if not followed:
        await answer(update, t(user.language, "channels.none"))
        return
    lines = [t(user.language, "channels.title", count=len(followed)), ""]
    for n, channel in enumerate(followed, 1):
        lines.append(f"{n}. " + t(user.language, "channels.line", title=_label(channel),
                                   posts=channel.posts, last=_ago(channel.last_post_at, user.language),
                                   state=_state(channel, user.language)))
    buttons = [[InlineKeyboardButton(t(user.language, "channels.unfollow", title=channel.title[:40]),
                                     callback_data=f"unfollow:{channel.id}")] for channel in followed]
    text = "\n".join(lines)
    # Telegram caps a message at 4096 characters; long lists go out in parts, buttons on the last.
    for start in range(0, len(text), 4000):
        last = start + 4000 >= len(text)
        await answer(update, text[start:start + 4000], reply_markup=InlineKeyboardMarkup(buttons) if last else None)


def _label(channel: channels.ChannelSummary) -> str:
    return f"{channel.title} (@{channel.username})" if channel.username else channel.title


def _state(channel: channels.ChannelSummary, language: str) -> str:
    if channel.sync_state == "new":
        return t(language, "state.new", fetched=channel.backfill_fetched)
    if channel.sync_state == "error":
        return t(language, "state.error", error=(channel.last_error or "")[:120])
    return t(language, f"state.{channel.sync_state}")


def _ago(moment: datetime | None, language: str) -> str:
    if moment is None:
        return t(language, "channels.never")
    minutes = int((datetime.now(UTC) - moment).total_seconds() // 60)
    if minutes < 60:
        return t(language, "ago.minutes", n=minutes)
    if minutes < 48 * 60:
        return t(language, "ago.hours", n=minutes // 60)
    return f"{moment:%Y-%m-%d}"


@with_user
async def unfollow(update: Update, context: FelixContext, user: Registered) -> None:
    if not context.args:
        await answer(update, t(user.language, "unfollow.usage"))
        return
    try:
        ref = links.parse(" ".join(context.args))
    except links.NotAChannelLink:
        await answer(update, t(user.language, "unfollow.usage"))
        return
    followed = await context.runtime.run_sync(channels.of_user, user.id)
    match = next((c for c in followed if (ref.username and c.username == ref.username)
                  or (ref.channel_id and c.telegram_id == ref.channel_id)), None)
    if match is None:
        await answer(update, t(user.language, "unfollow.not_following"))
        return
    await context.runtime.run_sync(channels.unsubscribe, user.id, match.id)
    await answer(update, t(user.language, "unfollow.done", title=match.title))


@with_user
async def unfollow_button(update: Update, context: FelixContext, user: Registered) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    channel_id = int(query.data.removeprefix("unfollow:"))
    followed = await context.runtime.run_sync(channels.of_user, user.id)
    match = next((c for c in followed if c.id == channel_id), None)
    if match is None or not await context.runtime.run_sync(channels.unsubscribe, user.id, channel_id):
        await answer(update, t(user.language, "unfollow.not_following"))
        return
    await answer(update, t(user.language, "unfollow.done", title=match.title))


def register(application: Application) -> None:
    private = filters.ChatType.PRIVATE
    application.add_handler(CommandHandler("follow", follow, filters=private))
    application.add_handler(CommandHandler("channels", list_channels, filters=private))
    application.add_handler(CommandHandler("unfollow", unfollow, filters=private))
    application.add_handler(CallbackQueryHandler(confirm_join, pattern=r"^join:"))
    application.add_handler(CallbackQueryHandler(unfollow_button, pattern=r"^unfollow:\d+$"))
