"""The service in this test process, driven the way Telegram drives it.

Updates go in through the real webhook route, the real engine processes them, replies come
out through the loopback Bot API, and the Telegram side is real Telethon talking to the
in-process fake Telegram (tests/peers/telegram.py).
"""

from __future__ import annotations

import itertools
from typing import Any

from flask import Flask
from sqlalchemy import text

from felix_hub.backend.extensions import db
from tests.peers.bot_api import FakeBotApi, callback_update, contact_update, text_update
from tests.peers.telegram import FakeTelegram, Person
from tests.support.server import WEBHOOK_SECRET

ANN = 4242  # her Telegram user id is also her private chat with the bot


class Felix:
    """The service in this process, driven the way Telegram drives it."""

    def __init__(self, app: Flask, bot_api: FakeBotApi, world: FakeTelegram) -> None:
        self.app, self.bot_api, self.world = app, bot_api, world
        self.client = app.test_client()
        self._ids = itertools.count(1)

    def send(self, update: dict[str, Any]) -> None:
        response = self.client.post("/telegram/webhook", json=update,
                                    headers={"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET})
        assert response.status_code == 200

    def say(self, text_: str, chat: int = ANN, language: str = "en") -> int:
        """The user types `text_`; returns the id of their message."""
        update_id = next(self._ids)
        self.send(text_update(update_id, chat, text_, language=language))
        return update_id  # text_update uses the update id as the message id

    def press(self, data: str, chat: int = ANN) -> None:
        self.send(callback_update(next(self._ids), chat, data))

    def share_contact(self, phone: str, chat: int = ANN) -> int:
        update_id = next(self._ids)
        self.send(contact_update(update_id, chat, phone))
        return update_id

    def replies(self, chat: int = ANN) -> list[str]:
        return [str(c.params.get("text", "")) for c in self.bot_api.sent_messages(chat)]

    def wait_reply(self, fragment: str, chat: int = ANN, timeout: float = 20.0) -> str:
        found = self.bot_api.wait_for(lambda: any(fragment in r for r in self.replies(chat)), timeout=timeout)
        assert found, f"no reply containing {fragment!r}; got {self.replies(chat)}"
        return next(r for r in self.replies(chat) if fragment in r)

    def deleted(self, chat: int = ANN) -> set[int]:
        return {int(c.params["message_id"]) for c in self.bot_api.calls_to("deleteMessage")
                if int(c.params["chat_id"]) == chat}

    def sql(self, statement: str, **params: Any) -> list[Any]:
        with self.app.app_context(), db.engine.connect() as connection:
            return list(connection.execute(text(statement), params))


def account_rows(felix: Felix) -> list[Any]:
    return felix.sql("SELECT id, telegram_user_id, status, display_name FROM accounts")


def wait_connected(felix: Felix, person: Person, chat: int = ANN) -> int:
    """Wait for the bot to confirm the login and the account to be stored; returns its id."""
    felix.wait_reply("Connected as", chat)
    mine = lambda: [r for r in account_rows(felix) if r.telegram_user_id == person.id]  # noqa: E731
    assert felix.bot_api.wait_for(lambda: bool(mine()))
    (row,) = mine()
    assert row.status == "active"
    return int(row.id)


def connect_by_phone(felix: Felix, person: Person, chat: int = ANN) -> int:
    """Log `person` in through the bot with their phone and code (and password); the account id."""
    felix.say("/connect", chat)
    felix.wait_reply("How do you want to log in?", chat)
    felix.press("login:phone", chat)
    felix.wait_reply("phone number", chat)
    felix.say("+" + person.phone, chat)
    felix.wait_reply("with spaces or dashes", chat)
    felix.say(" ".join(felix.world.codes[person.phone]), chat)
    if person.password is not None:
        felix.wait_reply("two-step verification", chat)
        felix.say(person.password, chat)
    return wait_connected(felix, person, chat)
