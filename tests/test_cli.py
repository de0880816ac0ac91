"""`flask ...` from the repository root: webhook management, and commands that stay quiet."""

from __future__ import annotations

from pathlib import Path

from tests.peers.bot_api import FakeBotApi
from tests.support.server import WEBHOOK_SECRET, flask, service_env


def test_webhook_set_info_delete(bot_env: dict[str, str], bot_api: FakeBotApi) -> None:
    result = flask(bot_env, "felix", "webhook", "set")
    assert "Webhook set: https://felix.example.test/telegram/webhook" in result.stdout
    hook = bot_api.webhook
    assert hook["url"] == "https://felix.example.test/telegram/webhook"
    assert hook["secret_token"] == WEBHOOK_SECRET
    assert hook["allowed_updates"] == ["message", "edited_message", "callback_query", "my_chat_member"]
    assert hook["max_connections"] == 40

    info = flask(bot_env, "felix", "webhook", "info").stdout
    assert "url: https://felix.example.test/telegram/webhook" in info
    assert "pending updates: 3" in info
    assert "Connection timed out" in info

    assert "Webhook deleted" in flask(bot_env, "felix", "webhook", "delete").stdout
    assert bot_api.webhook == {}
    assert "(none: long polling)" in flask(bot_env, "felix", "webhook", "info").stdout


def test_webhook_set_needs_a_public_url(bot_env: dict[str, str], bot_api: FakeBotApi) -> None:
    env = {k: v for k, v in bot_env.items() if k != "PUBLIC_URL"}
    result = flask(env, "felix", "webhook", "set", check=False)
    assert result.returncode != 0
    assert "PUBLIC_URL is not set" in result.stderr
    assert bot_api.calls == []


def test_a_rejected_token_is_reported_plainly(bot_env: dict[str, str], bot_api: FakeBotApi) -> None:
    env = {**bot_env, "TELEGRAM_BOT_TOKEN": "123456:AAThisTokenIsNotTheOneTheServerKnows"}
    result = flask(env, "felix", "webhook", "info", check=False)
    assert result.returncode != 0
    assert "rejected TELEGRAM_BOT_TOKEN" in result.stderr
    assert "Traceback" not in result.stderr


def test_other_commands_never_start_the_engine_or_call_telegram(bot_env: dict[str, str],
                                                               bot_api: FakeBotApi) -> None:
    outputs = [flask(bot_env, "db", "upgrade"), flask(bot_env, "routes"), flask(bot_env, "db", "current")]
    assert bot_api.calls == []
    for result in outputs:
        assert "engine started" not in result.stdout + result.stderr
    assert "/telegram/webhook" in outputs[1].stdout


def test_flask_db_upgrade_on_a_new_laptop_needs_no_settings(tmp_path: Path) -> None:
    env = service_env("", tmp_path / "instance")
    del env["DATABASE_URL"], env["SECRET_KEY"]
    flask(env, "db", "upgrade")
    assert (tmp_path / "instance" / "felix.db").exists()
    assert (tmp_path / "instance" / "secret_key").stat().st_mode & 0o077 == 0
