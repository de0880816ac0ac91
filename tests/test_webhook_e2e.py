"""The webhook path end to end: real gunicorn, real database, loopback Bot API."""

from __future__ import annotations

import threading
from collections.abc import Callable

import httpx

from tests.peers.bot_api import FakeBotApi, text_update
from tests.support.server import Server


def test_start_greets_in_the_users_language(bot_env: dict[str, str], bot_api: FakeBotApi,
                                            make_server: Callable[..., Server]) -> None:
    server = make_server(bot_env).start()

    assert server.post_update(text_update(1, 501, "/start", language="en", first_name="Ann")).status_code == 200
    assert server.post_update(text_update(2, 502, "/start", language="ru", first_name="Борис")).status_code == 200

    assert bot_api.wait_for(lambda: len(bot_api.sent_messages()) == 2)
    english = bot_api.sent_messages(501)[0].params["text"]
    russian = bot_api.sent_messages(502)[0].params["text"]
    assert english.startswith("Hi, Ann!")
    assert russian.startswith("Привет, Борис!")
    assert bot_api.sent_messages(501)[0].params["parse_mode"] == "HTML"

    health = server.client.get("/healthz").json()
    assert health["status"] == "ok" and health["engine"]["alive"] is True
    assert isinstance(health["engine"]["loop_lag_ms"], float)
    ready = server.client.get("/readyz").json()
    assert ready["checks"] == {"database": "ok", "migrations": "ok", "engine": "ok", "bot": "ready"}


def test_user_text_is_escaped_in_replies(bot_env: dict[str, str], bot_api: FakeBotApi,
                                         make_server: Callable[..., Server]) -> None:
    server = make_server(bot_env).start()
    server.post_update(text_update(1, 503, "/start", first_name="<b>Eve</b> & co"))
    assert bot_api.wait_for(lambda: bot_api.sent_messages(503))
    assert bot_api.sent_messages(503)[0].params["text"].startswith("Hi, &lt;b&gt;Eve&lt;/b&gt; &amp; co!")


def test_help_and_unknown_input(bot_env: dict[str, str], bot_api: FakeBotApi,
                                make_server: Callable[..., Server]) -> None:
    server = make_server(bot_env).start()
    server.post_update(text_update(1, 504, "/help", language="ru"))
    server.post_update(text_update(2, 504, "what is this?", language="ru"))
    assert bot_api.wait_for(lambda: len(bot_api.sent_messages(504)) == 2)
    help_text, unknown_text = (c.params["text"] for c in bot_api.sent_messages(504))
    assert all(command in help_text for command in ("/connect", "/follow", "/channels", "/help"))
    assert "Что я умею" in help_text
    assert "/help" in unknown_text


def test_wrong_or_missing_secret_is_refused_and_nothing_processed(
    bot_env: dict[str, str], bot_api: FakeBotApi, make_server: Callable[..., Server]
) -> None:
    server = make_server(bot_env).start()
    assert server.post_update(text_update(1, 505, "/start"), secret="wrong").status_code == 403
    assert server.post_update(text_update(2, 505, "/start"), secret=None).status_code == 403
    # A later good update proves the service is processing: only it gets a reply.
    assert server.post_update(text_update(3, 506, "/start")).status_code == 200
    assert bot_api.wait_for(lambda: bot_api.sent_messages(506))
    assert bot_api.sent_messages(505) == []


def test_a_redelivered_update_is_answered_once(bot_env: dict[str, str], bot_api: FakeBotApi,
                                               make_server: Callable[..., Server]) -> None:
    server = make_server(bot_env).start()
    update = text_update(77, 507, "/start")
    statuses = [server.post_update(update).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    server.post_update(text_update(78, 508, "/start"))  # a marker processed after the duplicates
    assert bot_api.wait_for(lambda: bot_api.sent_messages(508))
    assert bot_api.wait_for(lambda: bot_api.sent_messages(507))
    assert len(bot_api.sent_messages(507)) == 1


def test_many_chats_concurrently_each_in_order(bot_env: dict[str, str], bot_api: FakeBotApi,
                                               make_server: Callable[..., Server]) -> None:
    """300 updates over 30 chats from 30 concurrent senders, two gunicorn workers."""
    server = make_server(bot_env, workers=2).start()
    chats = [10_000 + n for n in range(30)]
    per_chat = 10
    errors: list[str] = []

    def send(chat_index: int, chat_id: int) -> None:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            for seq in range(per_chat):
                update_id = 1000 + seq * len(chats) + chat_index  # ids interleave across chats
                response = server.post_update(text_update(update_id, chat_id, f"message {seq}"), client=client)
                if response.status_code != 200:
                    errors.append(f"{chat_id}/{seq}: {response.status_code}")

    threads = [threading.Thread(target=send, args=(i, chat)) for i, chat in enumerate(chats)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []

    total = len(chats) * per_chat
    assert bot_api.wait_for(lambda: len(bot_api.sent_messages()) >= total, timeout=60), (
        f"{len(bot_api.sent_messages())} of {total} replies\n{server.log()[-3000:]}"
    )
    assert len(bot_api.sent_messages()) == total
    for chat_id in chats:
        replies = bot_api.sent_messages(chat_id)
        # Each reply is to the message with the same id as its update: check reply order.
        # The bot quotes the message it answers; message_id == update_id here.
        answered = [c.params["reply_parameters"]["message_id"] for c in replies]
        assert answered == sorted(answered), f"chat {chat_id} answered out of order: {answered}"
        assert len(replies) == per_chat
