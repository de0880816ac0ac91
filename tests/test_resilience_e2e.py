"""Crashes and shutdowns under real gunicorn: nothing accepted is lost or answered twice."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable

import httpx

from tests.peers.bot_api import FakeBotApi, text_update
from tests.support.server import Server

BAD_LOG_LINES = (
    "Task was destroyed but it is pending",
    "Event loop is closed",
    "was never awaited",
    "Traceback",
)


def answered(bot_api: FakeBotApi) -> Counter[tuple[int, int]]:
    """(chat, quoted message id) of every reply; the bot quotes what it did not understand."""
    return Counter(
        (int(c.params["chat_id"]), c.params["reply_parameters"]["message_id"]) for c in bot_api.sent_messages()
    )


def test_killed_before_processing_every_update_is_answered_once_after_restart(
    bot_env: dict[str, str], bot_api: FakeBotApi, make_server: Callable[..., Server]
) -> None:
    env = {**bot_env, "INBOX_LEASE_SECONDS": "5"}
    server = make_server(env).start()
    bot_api.hold()  # Telegram unreachable: workers claim updates but cannot finish them
    sent = [(20_000 + n % 8, 500 + n) for n in range(40)]
    for chat_id, update_id in sent:
        assert server.post_update(text_update(update_id, chat_id, f"hello {update_id}")).status_code == 200
    time.sleep(1.5)  # let the workers claim and start on them
    server.kill()
    bot_api.release()  # requests of the killed workers die with their connections

    restarted = make_server(env).start()
    expected = Counter((chat, update_id) for chat, update_id in sent)
    assert bot_api.wait_for(lambda: sum(answered(bot_api).values()) >= len(sent), timeout=40), (
        f"{sum(answered(bot_api).values())} of {len(sent)} answered\n{restarted.log()[-3000:]}"
    )
    time.sleep(0.5)
    assert answered(bot_api) == expected


def test_sigterm_under_load_stops_within_10s_cleanly_and_loses_nothing(
    bot_env: dict[str, str], bot_api: FakeBotApi, make_server: Callable[..., Server]
) -> None:
    bot_api.delay = 0.05  # replies in flight when the signal lands
    server = make_server(bot_env).start()
    accepted: list[tuple[int, int]] = []
    stop = threading.Event()

    def load(worker: int) -> None:
        update_id = 10_000 * (worker + 1)
        with httpx.Client(base_url=server.url, timeout=5) as client:
            while not stop.is_set():
                update_id += 1
                chat_id = 30_000 + worker * 10 + update_id % 5
                try:
                    response = server.post_update(text_update(update_id, chat_id, "load"), client=client)
                except httpx.HTTPError:
                    continue
                if response.status_code == 200:
                    accepted.append((chat_id, update_id))

    senders = [threading.Thread(target=load, args=(n,)) for n in range(4)]
    for sender in senders:
        sender.start()
    time.sleep(1.5)
    seconds = server.terminate()
    stop.set()
    for sender in senders:
        sender.join()

    assert seconds < 10, f"shutdown took {seconds:.1f} s"
    log = server.log()
    for bad in BAD_LOG_LINES:
        assert bad not in log, f"{bad!r} in the log:\n{log[-4000:]}"
    assert "engine stopped" in log
    assert accepted, "the load never got through"

    # What was accepted but not yet answered is answered by the next process, once.
    bot_api.delay = 0
    make_server(bot_env).start()
    expected = Counter(accepted)
    assert bot_api.wait_for(lambda: sum(answered(bot_api).values()) >= len(accepted), timeout=60)
    time.sleep(0.5)
    assert answered(bot_api) == expected
