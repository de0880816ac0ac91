"""/connect (QR code or phone code, then 2FA), /account, /disconnect and /cancel."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import re
from datetime import UTC, datetime

import qrcode
from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)
from telethon import errors as tg_errors
from telethon.utils import get_display_name

from felix_hub.backend import accounts
from felix_hub.backend.accounts import MAX_LOGIN_FAILURES
from felix_hub.backend.engine import spawn
from felix_hub.backend.models import AccountStatus
from felix_hub.backend.telegram.clients import session_string
from felix_hub.backend.telegram.login import Login, Logins, Outcome, Step
from felix_hub.backend.users import Registered
from felix_hub.bot.common import answer, with_user
from felix_hub.bot.context import FelixContext
from felix_hub.bot.texts import t

log = logging.getLogger(__name__)

QR_MINUTES = 3
_PHONE = re.compile(r"^\+?[\d\s().-]{7,20}$")


# -- /connect -----------------------------------------------------------------------------------

@with_user
async def connect(update: Update, context: FelixContext, user: Registered) -> None:
    runtime = context.runtime
    if not runtime.config.accounts_enabled or runtime.logins is None:
        await answer(update, t(user.language, "connect.disabled"))
        return
    blocked = await runtime.run_sync(accounts.login_blocked_until, user.id)
    if blocked:
        await answer(update, t(user.language, "connect.blocked", until=f"{blocked:%H:%M}"))
        return
    account = await runtime.run_sync(accounts.of_user, user.id)
    if account is not None and account.status == AccountStatus.ACTIVE:
        await answer(update, t(user.language, "connect.already", name=_name(account)))
        return
    buttons = InlineKeyboardMarkup([
        [InlineKeyboardButton(t(user.language, "connect.button.qr"), callback_data="login:qr"),
         InlineKeyboardButton(t(user.language, "connect.button.phone"), callback_data="login:phone")],
        [InlineKeyboardButton(t(user.language, "button.cancel"), callback_data="login:cancel")],
    ])
    await answer(update, t(user.language, "connect.choose"), reply_markup=buttons)


@with_user
async def choose_method(update: Update, context: FelixContext, user: Registered) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None and update.effective_chat is not None
    logins = context.runtime.logins
    method = query.data.removeprefix("login:")
    await query.answer()
    await _drop_buttons(query.message)
    if logins is None:
        return
    chat_id = update.effective_chat.id
    if method == "cancel":
        await logins.cancel(chat_id)
        await answer(update, t(user.language, "cancelled"))
        return
    if await context.runtime.run_sync(accounts.login_blocked_until, user.id):
        await answer(update, t(user.language, "connect.blocked.now"))
        return
    login = await logins.begin(chat_id, user.id, Step.QR if method == "qr" else Step.PHONE, user.language)
    if login is None:
        await answer(update, t(user.language, "connect.busy"))
        return
    if method == "qr":
        login.watcher = spawn(_watch_qr(context, logins, login), f"qr-login-{chat_id}")
    else:
        keyboard = ReplyKeyboardMarkup(
            [[KeyboardButton(t(user.language, "connect.phone.button"), request_contact=True)]],
            one_time_keyboard=True, resize_keyboard=True,
        )
        await answer(update, t(user.language, "connect.phone"), reply_markup=keyboard)


async def _watch_qr(context: FelixContext, logins: Logins, login: Login) -> None:
    """Show the QR code, refresh it before each token expires, finish when it is scanned."""
    language, bot = login.language, context.bot
    deadline = asyncio.get_running_loop().time() + QR_MINUTES * 60
    try:
        while True:
            qr = await logins.new_qr(login)
            photo = _qr_png(qr.url)
            if login.qr_message_id is None:
                sent = await bot.send_photo(login.chat_id, photo, caption=t(language, "connect.qr", minutes=QR_MINUTES))
                login.qr_message_id = sent.message_id
            else:
                await bot.edit_message_media(
                    InputMediaPhoto(photo, caption=t(language, "connect.qr", minutes=QR_MINUTES)),
                    chat_id=login.chat_id, message_id=login.qr_message_id,
                )
            left = deadline - asyncio.get_running_loop().time()
            # Wake a little before Telegram's expiry, to show the next code in time.
            until_expiry = (qr.expires - datetime.now(UTC)).total_seconds() - 2
            try:
                outcome = await logins.wait_qr(login, timeout=max(1.0, min(left, until_expiry)))
            except TimeoutError:
                if asyncio.get_running_loop().time() >= deadline:
                    await bot.send_message(login.chat_id, t(language, "connect.qr.expired"))
                    await logins.cancel(login.chat_id)
                    return
                continue
            await _delete(bot, login.chat_id, login.qr_message_id)
            if outcome == Outcome.NEED_PASSWORD:
                await bot.send_message(login.chat_id, t(language, "connect.password"))
            else:
                await _complete(context, logins, login)
            return
    except asyncio.CancelledError:
        raise
    except Exception as error:
        log.exception("QR login in chat %d failed", login.chat_id)
        await bot.send_message(login.chat_id, t(language, "connect.failed", error=type(error).__name__))
        await logins.cancel(login.chat_id)


def _qr_png(url: str) -> bytes:
    buffer = io.BytesIO()
    qrcode.make(url, border=2, box_size=10).save(buffer, format="PNG")
    return buffer.getvalue()


async def login_step(update: Update, context: FelixContext) -> None:
    """A message in a chat with a login in progress: phone, code or password (never stored)."""
    logins = context.runtime.logins
    chat = update.effective_chat
    message = update.effective_message
    if logins is None or chat is None or message is None:
        return
    login = logins.get(chat.id)
    if login is None:
        return  # not ours: the next handler group answers
    language = login.language
    if login.step == Step.QR:
        await answer(update, t(language, "connect.qr.waiting"))
    elif login.step == Step.PHONE:
        await _phone(update, context, logins, login)
    else:
        secret = message.text or ""
        await _delete(context.bot, chat.id, message.message_id)  # it held a code or a password
        if login.step == Step.CODE:
            await _code(update, context, logins, login, secret)
        else:
            await _password(update, context, logins, login, secret)
    raise ApplicationHandlerStop


async def _phone(update: Update, context: FelixContext, logins: Logins, login: Login) -> None:
    message = update.effective_message
    assert message is not None and update.effective_user is not None
    language = login.language
    if message.contact is not None:
        if message.contact.user_id != update.effective_user.id:
            await answer(update, t(language, "connect.phone.not_yours"))
            return
        phone = message.contact.phone_number
    elif message.text and _PHONE.match(message.text.strip()):
        phone = "+" + re.sub(r"\D", "", message.text)
    else:
        await answer(update, t(language, "connect.phone.invalid"))
        return
    await _delete(context.bot, login.chat_id, message.message_id)  # a phone number is personal data
    try:
        await logins.send_code(login, phone)
    except (tg_errors.PhoneNumberInvalidError, tg_errors.PhoneNumberBannedError,
            tg_errors.PhoneNumberUnoccupiedError):
        await answer(update, t(language, "connect.phone.invalid"))
        return
    except tg_errors.FloodWaitError as flood:
        await answer(update, t(language, "connect.flood", seconds=flood.seconds), reply_markup=ReplyKeyboardRemove())
        await logins.cancel(login.chat_id)
        return
    await answer(update, t(language, "connect.code"), reply_markup=ReplyKeyboardRemove())


async def _code(update: Update, context: FelixContext, logins: Logins, login: Login, text: str) -> None:
    digits = re.sub(r"[\s-]", "", text)
    if not (digits.isdigit() and 5 <= len(digits) <= 6):
        await answer(update, t(login.language, "connect.code.format"))
        return
    outcome = await logins.enter_code(login, digits)
    if outcome == Outcome.EXPIRED:
        await answer(update, t(login.language, "connect.code.expired"))
        await logins.cancel(login.chat_id)
    elif outcome == Outcome.WRONG:
        await _failed(update, context, logins, login, "connect.code.wrong")
    elif outcome == Outcome.NEED_PASSWORD:
        await answer(update, t(login.language, "connect.password"))
    else:
        await _complete(context, logins, login)


async def _password(update: Update, context: FelixContext, logins: Logins, login: Login, password: str) -> None:
    outcome = await logins.enter_password(login, password)
    if outcome == Outcome.WRONG:
        await _failed(update, context, logins, login, "connect.password.wrong")
    else:
        await _complete(context, logins, login)


async def _failed(update: Update, context: FelixContext, logins: Logins, login: Login, key: str) -> None:
    """A wrong code or password: count it; the fifth in a row ends the login for an hour."""
    failures, blocked = await context.runtime.run_sync(accounts.record_login_failure, login.user_id)
    if blocked:
        await answer(update, t(login.language, "connect.blocked.now"))
        await logins.cancel(login.chat_id)
    else:
        await answer(update, t(login.language, key, left=MAX_LOGIN_FAILURES - failures))


async def _complete(context: FelixContext, logins: Logins, login: Login) -> None:
    """Store the account and hand the connected client to the parsers."""
    me = login.me
    assert me is not None
    name = get_display_name(me) or str(me.id)
    account_id = await context.runtime.run_sync(
        accounts.save_login, login.user_id, me.id, name, me.username, session_string(login.client)
    )
    logins.finish(login.chat_id)
    parsers = context.runtime.parsers
    if parsers is None or not await parsers.adopt(account_id, login.client):
        await login.client.disconnect()  # the parsers connect it on their next round
        if parsers is not None:
            parsers.kick()
    label = f"{name} (@{me.username})" if me.username else name
    await context.bot.send_message(login.chat_id, t(login.language, "connect.done", name=label))


@with_user(access=False)
async def cancel(update: Update, context: FelixContext, user: Registered) -> None:
    logins = context.runtime.logins
    chat = update.effective_chat
    assert chat is not None
    if logins is not None and logins.get(chat.id) is not None:
        await logins.cancel(chat.id)
        await answer(update, t(user.language, "cancelled"), reply_markup=ReplyKeyboardRemove())
    else:
        await answer(update, t(user.language, "nothing_to_cancel"))


# -- /account and /disconnect ---------------------------------------------------------------------

@with_user
async def account(update: Update, context: FelixContext, user: Registered) -> None:
    view = await context.runtime.run_sync(accounts.of_user, user.id)
    if view is None:
        await answer(update, t(user.language, "account.none"))
        return
    if view.status == AccountStatus.ACTIVE:
        text = t(user.language, "account.active", name=_name(view), channels=view.channels_fetched)
        if view.flood_wait_until and view.flood_wait_until > datetime.now(UTC):
            text += t(user.language, "account.flood", until=f"{view.flood_wait_until:%H:%M}")
        await answer(update, text)
    else:
        await answer(update, t(user.language, "account.needs_login", name=_name(view), reason=view.status_reason),
                     reply_markup=reconnect_button(user.language))


@with_user
async def disconnect(update: Update, context: FelixContext, user: Registered) -> None:
    view = await context.runtime.run_sync(accounts.of_user, user.id)
    if view is None:
        await answer(update, t(user.language, "account.none"))
        return
    buttons = InlineKeyboardMarkup([[
        InlineKeyboardButton(t(user.language, "disconnect.yes"), callback_data=f"logout:{view.id}"),
        InlineKeyboardButton(t(user.language, "button.cancel"), callback_data="logout:no"),
    ]])
    await answer(update, t(user.language, "disconnect.confirm", name=_name(view)), reply_markup=buttons)


@with_user
async def confirm_disconnect(update: Update, context: FelixContext, user: Registered) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    await query.answer()
    await _drop_buttons(query.message)
    choice = query.data.removeprefix("logout:")
    view = await context.runtime.run_sync(accounts.of_user, user.id)
    if choice == "no" or view is None or str(view.id) != choice:
        await answer(update, t(user.language, "cancelled"))
        return
    await _log_out(context, view.id)
    await context.runtime.run_sync(accounts.remove, view.id)
    await answer(update, t(user.language, "disconnect.done"))


async def _log_out(context: FelixContext, account_id: int) -> None:
    """End the session at Telegram too, with the live client if this process has it."""
    runtime = context.runtime
    client = await runtime.parsers.release_account(account_id) if runtime.parsers else None
    if client is None and runtime.logins is not None:
        session = await runtime.run_sync(accounts.session_of, account_id)
        client = runtime.logins.factory(session) if session else None
        if client is not None:
            await client.connect()
    if client is None:
        return
    try:
        if not client.is_connected():  # the parsers disconnect a client they let go of
            await client.connect()
        await client.log_out()
    except Exception as error:  # already revoked, or Telegram unreachable: forget it anyway
        log.info("log out of account %d: %r", account_id, error)
    finally:
        await client.disconnect()


async def reconnect(update: Update, context: FelixContext) -> None:
    """The "Reconnect" button under an account-lost message."""
    await connect(update, context)


# -- helpers -------------------------------------------------------------------------------------------

def _name(view: accounts.AccountView) -> str:
    return f"{view.display_name} (@{view.username})" if view.username else view.display_name


def reconnect_button(language: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(t(language, "account.reconnect"), callback_data="connect")]])


async def _delete(bot: object, chat_id: int, message_id: int | None) -> None:
    if message_id is None:
        return
    try:
        await bot.delete_message(chat_id, message_id)  # type: ignore[attr-defined]
    except TelegramError as error:
        log.warning("could not delete message %d in chat %d: %r", message_id, chat_id, error)


async def _drop_buttons(message: object) -> None:
    with contextlib.suppress(TelegramError, AttributeError):  # an old message may be gone
        await message.edit_reply_markup(None)  # type: ignore[attr-defined]


def register(application: Application) -> None:
    private = filters.ChatType.PRIVATE
    # Group -1 runs first: while a login waits for a phone, code or password, it takes the message.
    application.add_handler(
        MessageHandler(private & (filters.CONTACT | (filters.TEXT & ~filters.COMMAND)), login_step), group=-1
    )
    application.add_handler(CommandHandler("connect", connect, filters=private))
    application.add_handler(CommandHandler("cancel", cancel, filters=private))
    application.add_handler(CommandHandler("account", account, filters=private))
    application.add_handler(CommandHandler("disconnect", disconnect, filters=private))
    application.add_handler(CallbackQueryHandler(choose_method, pattern=r"^login:(qr|phone|cancel)$"))
    application.add_handler(CallbackQueryHandler(confirm_disconnect, pattern=r"^logout:"))
    application.add_handler(CallbackQueryHandler(reconnect, pattern=r"^connect$"))
