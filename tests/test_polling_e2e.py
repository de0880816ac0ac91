"""No PUBLIC_URL: the engine long-polls getUpdates into the same durable inbox."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.peers.bot_api import TOKEN, FakeBotApi, text_update
from tests.support.server import Server, service_env


def test_long_polling_answers_in_order_from_a_single_poller(
    database_url: str, bot_api: FakeBotApi, tmp_path: Path, make_server: Callable[..., Server]
) -> None:
    env = service_env(database_url, tmp_path / "instance", TELEGRAM_BOT_TOKEN=TOKEN,
                      TELEGRAM_BOT_API_URL=bot_api.url, FELIX_OPEN_REGISTRATION="1")
    server = make_server(env, workers=2).start()
    for n in range(1, 6):
        bot_api.push_update(text_update(n, 601, f"note {n}"))
    bot_api.push_update(text_update(6, 602, "/start"))

    assert bot_api.wait_for(lambda: len(bot_api.sent_messages()) == 6, timeout=30), server.log()[-3000:]
    quoted = [c.params["reply_parameters"]["message_id"] for c in bot_api.sent_messages(601)]
    assert quoted == [1, 2, 3, 4, 5]
    assert bot_api.sent_messages(602)[0].params["text"].startswith("Hi, Ann!")
    # Two workers, one lease: Telegram never sees two getUpdates at once (it would answer 409).
    assert bot_api.max_concurrent_polls == 1
    assert bot_api.calls_to("setWebhook") == []
