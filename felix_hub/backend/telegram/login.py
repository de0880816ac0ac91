"""Logins in progress: a fresh Telethon client per chat, by QR code or phone code, then 2FA.

A login holds live state (the client's auth key, Telegram's phone_code_hash, a QR token being
watched), so the chat is pinned to this process until the login ends: every step the user
types reaches the same client. Logins that go quiet are dropped after a while.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from telethon import TelegramClient, errors
from telethon.tl import types
from telethon.tl.custom.qrlogin import QRLogin

from felix_hub.backend import leases
from felix_hub.backend.engine import Engine, spawn
from felix_hub.backend.models import utcnow
from felix_hub.backend.telegram.clients import ClientFactory

log = logging.getLogger(__name__)


class Step(StrEnum):
    QR = "qr"  # waiting for the QR code to be scanned
    PHONE = "phone"  # waiting for the phone number
    CODE = "code"  # waiting for the code Telegram sent
    PASSWORD = "password"  # waiting for the 2FA password


class Outcome(StrEnum):
    DONE = "done"
    NEED_PASSWORD = "need_password"
    WRONG = "wrong"  # code or password
    EXPIRED = "expired"  # the code is no longer valid: start again


@dataclass
class Login:
    chat_id: int
    user_id: int
    client: TelegramClient
    step: Step
    language: str
    phone: str | None = None
    qr: QRLogin | None = None
    qr_message_id: int | None = None
    watcher: asyncio.Task[None] | None = None
    touched_at: datetime = field(default_factory=utcnow)
    me: types.User | None = None


class Logins:
    """The logins this process is running, one per chat."""

    name = "logins"
    IDLE = timedelta(minutes=10)

    def __init__(self, engine: Engine, owner: str, factory: ClientFactory) -> None:
        self.engine = engine
        self.owner = owner
        self.factory = factory
        self.pin = timedelta(seconds=60)
        self._logins: dict[int, Login] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = spawn(self._keep_alive(), "logins")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        for chat_id in list(self._logins):
            await self.cancel(chat_id)

    def get(self, chat_id: int) -> Login | None:
        login = self._logins.get(chat_id)
        if login is not None:
            login.touched_at = utcnow()
        return login

    async def begin(self, chat_id: int, user_id: int, step: Step, language: str) -> Login | None:
        """Start a login with a new unauthorised client; None when another process has this chat."""
        await self.cancel(chat_id)
        if not await self.engine.run_sync(leases.acquire, leases.chat(chat_id), self.owner, self.pin):
            return None
        client = self.factory(None)
        await client.connect()
        login = Login(chat_id, user_id, client, step, language)
        self._logins[chat_id] = login
        return login

    async def cancel(self, chat_id: int) -> None:
        """Abandon a login: its client is disconnected and the chat unpinned."""
        login = self._logins.pop(chat_id, None)
        if login is None:
            return
        if login.watcher is not None and login.watcher is not asyncio.current_task():
            login.watcher.cancel()
            await asyncio.gather(login.watcher, return_exceptions=True)
        with contextlib.suppress(Exception):
            await login.client.disconnect()
        await self.engine.run_sync(leases.release, leases.chat(chat_id), self.owner)

    def finish(self, chat_id: int) -> Login | None:
        """The login succeeded: hand its connected client over (the chat stays pinned)."""
        return self._logins.pop(chat_id, None)

    # -- the Telegram side of each step -------------------------------------------------------

    async def send_code(self, login: Login, phone: str) -> None:
        await login.client.send_code_request(phone)
        login.phone, login.step = phone, Step.CODE

    async def enter_code(self, login: Login, code: str) -> Outcome:
        assert login.phone is not None
        try:
            login.me = await login.client.sign_in(login.phone, code)
        except errors.SessionPasswordNeededError:
            login.step = Step.PASSWORD
            return Outcome.NEED_PASSWORD
        except (errors.PhoneCodeInvalidError, errors.PhoneCodeEmptyError):
            return Outcome.WRONG
        except errors.PhoneCodeExpiredError:
            return Outcome.EXPIRED
        return Outcome.DONE

    async def enter_password(self, login: Login, password: str) -> Outcome:
        try:
            login.me = await login.client.sign_in(password=password)
        except errors.PasswordHashInvalidError:
            return Outcome.WRONG
        return Outcome.DONE

    async def new_qr(self, login: Login) -> QRLogin:
        if login.qr is None:
            login.qr = await login.client.qr_login()
        else:
            await login.qr.recreate()
        return login.qr

    async def wait_qr(self, login: Login, timeout: float) -> Outcome:
        """Wait for the scan; raises TimeoutError when the code expires first."""
        assert login.qr is not None
        try:
            login.me = await login.qr.wait(timeout)
        except errors.SessionPasswordNeededError:
            login.step = Step.PASSWORD
            return Outcome.NEED_PASSWORD
        return Outcome.DONE

    # -- housekeeping ----------------------------------------------------------------------------

    async def _keep_alive(self) -> None:
        """Renew the pins of running logins; drop the ones nobody touched for a while."""
        while True:
            await asyncio.sleep(self.pin.total_seconds() / 3)
            for chat_id, login in list(self._logins.items()):
                if utcnow() - login.touched_at > self.IDLE:
                    log.info("login in chat %d timed out", chat_id)
                    await self.cancel(chat_id)
            names = [leases.chat(chat_id) for chat_id in self._logins]
            if names:
                await self.engine.run_sync(leases.renew, names, self.owner, self.pin)
