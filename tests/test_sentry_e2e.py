"""Errors reach Sentry (a loopback ingestion server) with the exception and without secrets."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

from tests.peers.bot_api import TOKEN, FakeBotApi, text_update
from tests.peers.sentry import FakeSentry
from tests.support.server import ROOT, WEBHOOK_SECRET, Server, service_env

PHONE = "+7 999 123-45-67"
# Typed without the "+": only the rule that the log keeps no typed text protects it.
BARE_PHONE = "79991234567"


def test_a_failing_handler_is_reported_scrubbed_and_the_user_gets_an_apology(
    bot_env: dict[str, str], bot_api: FakeBotApi, sentry: FakeSentry, make_server: Callable[..., Server]
) -> None:
    bot_api.fail_chat(667, 400, "Bad Request: message text is empty", times=1)
    server = make_server({**bot_env, "SENTRY_DSN": sentry.dsn}).start()

    server.post_update(text_update(1, 667, f"/start my phone is {PHONE} or {BARE_PHONE}"))
    event = sentry.wait_for_event()
    assert event is not None, server.log()[-3000:]
    exceptions = event["exception"]["values"]
    assert exceptions[-1]["type"] == "BadRequest"
    assert "text is empty" in exceptions[-1]["value"]
    assert any(frame.get("module", "").startswith("felix_hub.bot")
               for frame in exceptions[-1]["stacktrace"]["frames"])

    raw = b"".join(sentry.raw).decode(errors="replace")
    secret_part = TOKEN.split(":", 1)[1]
    for secret in (TOKEN, secret_part, WEBHOOK_SECRET, bot_env["SECRET_KEY"], PHONE, BARE_PHONE):
        assert secret not in raw, f"{secret!r} leaked to Sentry"

    assert bot_api.wait_for(lambda: bot_api.sent_messages(667))
    assert bot_api.sent_messages(667)[0].params["text"].startswith("Sorry, something went wrong")

    # The log has the traceback and the update, scrubbed the same way.
    assert bot_api.wait_for(lambda: "error while handling an update" in server.log())
    log = server.log()
    assert "Traceback" in log and "BadRequest" in log
    assert TOKEN not in log and secret_part not in log and PHONE not in log and BARE_PHONE not in log
    assert '"update_id": 1' in log and '"text": "[50 characters]"' in log


def test_errors_in_engine_tasks_are_captured(database_url: str, sentry: FakeSentry, tmp_path: Path) -> None:
    """A background task on the engine raises; nobody awaits it; Sentry still hears of it."""
    env = service_env(database_url, tmp_path / "instance", SENTRY_DSN=sentry.dsn,
                      TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_WEBHOOK_SECRET=WEBHOOK_SECRET)
    script = textwrap.dedent("""
        import asyncio, sentry_sdk
        from felix_hub.backend import create_app
        from felix_hub.backend.engine import Engine

        app = create_app()
        engine = Engine(app)
        engine.start([])

        async def doomed():
            raise LookupError("engine task broke")

        async def launch():
            asyncio.get_running_loop().create_task(doomed())
            await asyncio.sleep(0.2)

        engine.call(launch(), timeout=5)
        engine.stop()
        sentry_sdk.flush(5)
    """)
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    event = sentry.wait_for_event(timeout=10)
    assert event is not None, result.stderr
    assert event["exception"]["values"][-1]["type"] == "LookupError"
