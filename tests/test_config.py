"""Configuration: every bad value stops boot with one line naming the variable."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from felix_hub.backend.config import Config, ConfigError
from tests.support.server import ROOT, free_port, service_env

BAD_VALUES = [
    ("PORT", "eighty", "PORT must be an integer"),
    ("PORT", "70000", "PORT must be between 1 and 65535"),
    ("WEB_CONCURRENCY", "0", "WEB_CONCURRENCY must be between 1 and 64"),
    ("LOG_LEVEL", "LOUD", "LOG_LEVEL must be one of"),
    ("DATABASE_URL", "mysql://db/felix", "DATABASE_URL must point at PostgreSQL or SQLite"),
    ("DATABASE_URL", "not a url", "DATABASE_URL is not a database URL"),
    ("TELEGRAM_BOT_TOKEN", "12345", "TELEGRAM_BOT_TOKEN does not look like a bot token"),
    ("TELEGRAM_BOT_API_URL", "ftp://api", "TELEGRAM_BOT_API_URL must be an http(s):// URL"),
    ("PUBLIC_URL", "http://felix.example", "PUBLIC_URL must be an https:// URL"),
    ("TELEGRAM_WEBHOOK_SECRET", "has spaces", "TELEGRAM_WEBHOOK_SECRET must be 1-256 characters"),
    ("SENTRY_DSN", "nonsense", "SENTRY_DSN is not a Sentry DSN"),
    ("SECRET_KEY", "short", "SECRET_KEY must be at least 16 characters"),
    ("INBOX_RETENTION_HOURS", "-1", "INBOX_RETENTION_HOURS must be between"),
]


@pytest.mark.parametrize(("name", "value", "message"), BAD_VALUES)
def test_bad_values_are_named(name: str, value: str, message: str, tmp_path: Path) -> None:
    env = service_env(f"sqlite:///{tmp_path}/x.db", tmp_path / "instance", **{name: value})
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Config(env)


def test_secret_values_are_not_echoed(tmp_path: Path) -> None:
    env = service_env(f"sqlite:///{tmp_path}/x.db", tmp_path / "instance", TELEGRAM_BOT_TOKEN="123:leaky")
    with pytest.raises(ConfigError) as error:
        Config(env)
    assert "leaky" not in str(error.value)


@pytest.mark.parametrize("command", ["flask", "gunicorn"])
def test_boot_stops_with_one_clear_line(command: str, tmp_path: Path) -> None:
    env = service_env(f"sqlite:///{tmp_path}/x.db", tmp_path / "instance", PORT="eighty",
                      GUNICORN_BIND=f"127.0.0.1:{free_port()}")
    args = ["-m", "flask", "db", "upgrade"] if command == "flask" else ["-m", "gunicorn", "-c", "gunicorn.conf.py",
                                                                       "wsgi:app"]
    result = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == ["felix-hub: configuration error: PORT must be an integer, got 'eighty'"]


def test_postgres_urls_are_normalised(tmp_path: Path) -> None:
    env = service_env("postgres://u:p@db.example:5432/felix", tmp_path / "instance")
    assert Config(env).SQLALCHEMY_DATABASE_URI == "postgresql+psycopg://u:p@db.example:5432/felix"


def test_production_needs_a_secret_key(tmp_path: Path) -> None:
    env = service_env("postgresql://u@db/felix", tmp_path / "instance")
    del env["SECRET_KEY"]
    with pytest.raises(ConfigError, match="SECRET_KEY must be set"):
        Config(env)


def test_a_public_url_needs_a_webhook_secret(tmp_path: Path) -> None:
    env = service_env(f"sqlite:///{tmp_path}/x.db", tmp_path / "instance", PUBLIC_URL="https://felix.example",
                      TELEGRAM_BOT_TOKEN="123456:AAbcdefghijklmnopqrstuvwxyz")
    with pytest.raises(ConfigError, match="TELEGRAM_WEBHOOK_SECRET must be set"):
        Config(env)


def test_dotenv_is_honoured(tmp_path: Path) -> None:
    """A .env file in the project root fills in what the environment leaves out."""
    project = tmp_path / "project"
    shutil.copytree(ROOT / "felix_hub", project / "felix_hub", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "wsgi.py", project / "wsgi.py")
    (project / ".env").write_text("LOG_LEVEL=WARNING\nTELEGRAM_WEBHOOK_SECRET=from-dotenv\n")
    env = service_env(f"sqlite:///{tmp_path}/x.db", tmp_path / "instance", TELEGRAM_WEBHOOK_SECRET="from-env")
    del env["LOG_LEVEL"]
    code = "import wsgi; print(wsgi.app.config['LOG_LEVEL'], wsgi.app.config['TELEGRAM_WEBHOOK_SECRET'])"
    result = subprocess.run([sys.executable, "-c", code], cwd=project, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.stdout.split() == ["WARNING", "from-env"], result.stderr  # the environment wins
