"""Configuration from the environment (12-factor), validated once at boot.

Every value is read here and nowhere else. A bad value raises `ConfigError` whose message is
one line naming the variable, so a misconfigured deploy fails loudly at boot instead of at
the first update.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

PROJECT_ROOT = Path(__file__).resolve().parents[2]

_BOT_TOKEN = re.compile(r"^\d{3,20}:[A-Za-z0-9_-]{20,100}$")
# Telegram's own rule for `secret_token` in setWebhook.
_WEBHOOK_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class ConfigError(ValueError):
    """An environment variable holds a value the service cannot run with."""


class _Reader:
    """Typed access to an environment mapping; every error names its variable."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ

    def text(self, name: str, default: str | None = None) -> str | None:
        value = self.environ.get(name, "").strip()
        return value or default

    def integer(self, name: str, default: int, *, low: int, high: int) -> int:
        raw = self.text(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
        if not low <= value <= high:
            raise ConfigError(f"{name} must be between {low} and {high}, got {value}")
        return value

    def flag(self, name: str, default: bool = False) -> bool:
        raw = self.text(name)
        if raw is None:
            return default
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{name} must be 1 or 0, got {raw!r}")

    def url(self, name: str, default: str | None = None, *, https_only: bool = False) -> str | None:
        raw = self.text(name, default)
        if raw is None:
            return None
        parts = urlsplit(raw)
        schemes = ("https",) if https_only else ("http", "https")
        if parts.scheme not in schemes or not parts.netloc:
            wanted = "an https:// URL" if https_only else "an http(s):// URL"
            raise ConfigError(f"{name} must be {wanted}, got {raw!r}")
        return raw.rstrip("/")


def database_url(raw: str | None, instance_path: Path) -> str:
    """Normalise DATABASE_URL: Heroku's `postgres://` and plain `postgresql://` use psycopg 3."""
    if raw is None:
        return f"sqlite:///{instance_path / 'felix.db'}"
    if raw.startswith("postgres://"):
        raw = "postgresql://" + raw[len("postgres://") :]
    if raw.startswith("postgresql://"):
        raw = "postgresql+psycopg://" + raw[len("postgresql://") :]
    try:
        url = make_url(raw)
    except ArgumentError:
        raise ConfigError("DATABASE_URL is not a database URL (postgres://... or sqlite:///...)") from None
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigError(f"DATABASE_URL must point at PostgreSQL or SQLite, got {url.get_backend_name()!r}")
    return raw


def _secret_key(reader: _Reader, production: bool, instance_path: Path) -> str:
    """SECRET_KEY from the environment; on a laptop, one generated once under instance/."""
    key = reader.text("SECRET_KEY")
    if key is not None:
        if len(key) < 16:
            raise ConfigError("SECRET_KEY must be at least 16 characters long")
        return key
    if production:
        raise ConfigError("SECRET_KEY must be set when DATABASE_URL points at PostgreSQL")
    path = instance_path / "secret_key"
    if not path.exists():
        instance_path.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def _encryption_keys(reader: _Reader, production: bool, instance_path: Path, needed: bool) -> list[str]:
    """Fernet keys, newest first (comma-separated): sessions are encrypted with the first and
    readable with any, so a key can be rotated without downtime."""
    from cryptography.fernet import Fernet

    raw = reader.text("FELIX_ENCRYPTION_KEY")
    if raw is None:
        if production and not needed:
            return []  # no Telegram accounts, so no sessions to encrypt
        if production:
            raise ConfigError(
                "FELIX_ENCRYPTION_KEY must be set when DATABASE_URL points at PostgreSQL "
                "(generate one with: flask felix generate-key)"
            )
        path = instance_path / "encryption_key"
        if not path.exists():
            instance_path.mkdir(parents=True, exist_ok=True)
            path.write_text(Fernet.generate_key().decode())
            path.chmod(0o600)
        raw = path.read_text().strip()
    keys = [k.strip() for k in raw.split(",") if k.strip()]
    try:
        for key in keys:
            Fernet(key)
    except (ValueError, TypeError):
        raise ConfigError(
            "FELIX_ENCRYPTION_KEY must be Fernet keys (flask felix generate-key), comma-separated"
        ) from None
    if not keys:
        raise ConfigError("FELIX_ENCRYPTION_KEY is empty")
    return keys


def _id_list(reader: _Reader, name: str) -> frozenset[int]:
    raw = reader.text(name) or ""
    try:
        return frozenset(int(part) for part in re.split(r"[,\s]+", raw) if part)
    except ValueError:
        raise ConfigError(f"{name} must be Telegram user ids separated by commas") from None


class Config:
    """Flask config object (upper-case attributes), built from the environment."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = _Reader(os.environ if environ is None else environ)
        self.INSTANCE_PATH = Path(env.text("FELIX_INSTANCE_PATH") or PROJECT_ROOT / "instance")

        self.SQLALCHEMY_DATABASE_URI = database_url(env.text("DATABASE_URL"), self.INSTANCE_PATH)
        production = not self.SQLALCHEMY_DATABASE_URI.startswith("sqlite")
        self.SECRET_KEY = _secret_key(env, production, self.INSTANCE_PATH)
        pool_size = env.integer("DATABASE_POOL_SIZE", 10, low=1, high=200)
        self.SQLALCHEMY_ENGINE_OPTIONS: dict[str, Any] = (
            {"pool_size": pool_size, "max_overflow": pool_size, "pool_pre_ping": True, "pool_recycle": 1800}
            if production
            else {}
        )

        self.TELEGRAM_BOT_TOKEN = env.text("TELEGRAM_BOT_TOKEN")
        if self.TELEGRAM_BOT_TOKEN and not _BOT_TOKEN.match(self.TELEGRAM_BOT_TOKEN):
            raise ConfigError("TELEGRAM_BOT_TOKEN does not look like a bot token (123456:ABC-...)")
        self.TELEGRAM_BOT_API_URL = env.url("TELEGRAM_BOT_API_URL", "https://api.telegram.org")
        self.PUBLIC_URL = env.url("PUBLIC_URL", https_only=True)
        self.TELEGRAM_WEBHOOK_SECRET = env.text("TELEGRAM_WEBHOOK_SECRET")
        if self.TELEGRAM_WEBHOOK_SECRET and not _WEBHOOK_SECRET.match(self.TELEGRAM_WEBHOOK_SECRET):
            raise ConfigError("TELEGRAM_WEBHOOK_SECRET must be 1-256 characters of A-Z, a-z, 0-9, _ and -")
        if self.PUBLIC_URL and self.TELEGRAM_BOT_TOKEN and not self.TELEGRAM_WEBHOOK_SECRET:
            raise ConfigError("TELEGRAM_WEBHOOK_SECRET must be set when PUBLIC_URL is set")
        self.TELEGRAM_WEBHOOK_MAX_CONNECTIONS = env.integer("TELEGRAM_WEBHOOK_MAX_CONNECTIONS", 40, low=1, high=100)
        self.WEBHOOK_MAX_BODY_BYTES = env.integer("WEBHOOK_MAX_BODY_BYTES", 1 << 20, low=1024, high=50 << 20)

        self.SENTRY_DSN = env.text("SENTRY_DSN")
        if self.SENTRY_DSN:
            _check_dsn(self.SENTRY_DSN)
        self.SENTRY_ENVIRONMENT = env.text("SENTRY_ENVIRONMENT", "production" if production else "development")

        self.PORT = env.integer("PORT", 5000, low=1, high=65535)
        self.WEB_CONCURRENCY = env.integer("WEB_CONCURRENCY", 2, low=1, high=64)
        self.LOG_LEVEL = (env.text("LOG_LEVEL") or "INFO").upper()
        if self.LOG_LEVEL not in _LOG_LEVELS:
            raise ConfigError(f"LOG_LEVEL must be one of {', '.join(_LOG_LEVELS)}, got {self.LOG_LEVEL!r}")

        # Users' Telegram accounts (Telethon) and what they follow.
        self.TELEGRAM_API_ID = env.integer("TELEGRAM_API_ID", 0, low=0, high=2**31 - 1) or None
        self.TELEGRAM_API_HASH = env.text("TELEGRAM_API_HASH")
        if self.TELEGRAM_API_HASH and not re.fullmatch(r"[0-9a-f]{32}", self.TELEGRAM_API_HASH):
            raise ConfigError("TELEGRAM_API_HASH must be the 32 hex characters from my.telegram.org")
        if bool(self.TELEGRAM_API_ID) != bool(self.TELEGRAM_API_HASH):
            raise ConfigError("TELEGRAM_API_ID and TELEGRAM_API_HASH must be set together")
        self.FELIX_ENCRYPTION_KEY = _encryption_keys(env, production, self.INSTANCE_PATH, bool(self.TELEGRAM_API_ID))
        self.FELIX_ADMINS = _id_list(env, "FELIX_ADMINS")
        self.FELIX_OPEN_REGISTRATION = env.flag("FELIX_OPEN_REGISTRATION")
        self.MAX_CHANNELS_PER_USER = env.integer("MAX_CHANNELS_PER_USER", 50, low=1, high=100_000)
        self.BACKFILL_POSTS = env.integer("BACKFILL_POSTS", 100, low=0, high=1_000_000)
        self.BACKFILL_DAYS = env.integer("BACKFILL_DAYS", 7, low=0, high=36_500)
        self.CATCHUP_MINUTES = env.integer("CATCHUP_MINUTES", 10, low=1, high=24 * 60)
        self.STATS_REFRESH_MINUTES = env.integer("STATS_REFRESH_MINUTES", 30, low=0, high=24 * 60)
        self.ACCOUNT_LEASE_SECONDS = env.integer("ACCOUNT_LEASE_SECONDS", 60, low=2, high=3600)

        # The engine and its inbox.
        self.ENGINE_THREADS = env.integer("ENGINE_THREADS", 8, low=1, high=64)
        self.INBOX_RETENTION_HOURS = env.integer("INBOX_RETENTION_HOURS", 48, low=1, high=24 * 365)
        self.INBOX_LEASE_SECONDS = env.integer("INBOX_LEASE_SECONDS", 60, low=5, high=3600)
        self.INBOX_MAX_ATTEMPTS = env.integer("INBOX_MAX_ATTEMPTS", 5, low=1, high=100)

    @property
    def bot_enabled(self) -> bool:
        return bool(self.TELEGRAM_BOT_TOKEN)

    @property
    def uses_webhook(self) -> bool:
        """A public URL means Telegram pushes updates; without one the engine long-polls."""
        return self.bot_enabled and bool(self.PUBLIC_URL)

    @property
    def webhook_url(self) -> str | None:
        return f"{self.PUBLIC_URL}/telegram/webhook" if self.PUBLIC_URL else None

    @property
    def accounts_enabled(self) -> bool:
        """Users can connect Telegram accounts only with the operator's API id and hash."""
        return bool(self.TELEGRAM_API_ID and self.TELEGRAM_API_HASH)

    def secrets(self) -> list[str]:
        """Values that must never appear in a log line or an error report."""
        values = [self.TELEGRAM_BOT_TOKEN, self.TELEGRAM_WEBHOOK_SECRET, self.SECRET_KEY, self.TELEGRAM_API_HASH,
                  *self.FELIX_ENCRYPTION_KEY]
        url = make_url(self.SQLALCHEMY_DATABASE_URI)
        values.append(url.password)
        return [v for v in values if v and len(v) >= 6]


def _check_dsn(dsn: str) -> None:
    from sentry_sdk.utils import BadDsn, Dsn

    try:
        Dsn(dsn)
    except BadDsn:
        raise ConfigError("SENTRY_DSN is not a Sentry DSN (https://key@host/project)") from None


def log_level(config: Config) -> int:
    return logging.getLevelName(config.LOG_LEVEL)
