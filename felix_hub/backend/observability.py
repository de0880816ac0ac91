"""Logs and error reports, with secrets scrubbed before anything leaves the process."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable
from typing import Any

from felix_hub.backend.config import Config, log_level

_BOT_TOKEN = re.compile(r"(?<!\d)\d{3,20}:[A-Za-z0-9_-]{30,100}")  # also inside /bot<token>/ URLs
# Telethon StringSessions, Fernet tokens, auth keys: long base64 runs are never worth keeping.
_BLOB = re.compile(r"[A-Za-z0-9+/_=-]{160,}")
_PHONE = re.compile(r"\+\d[\d ().-]{6,18}\d")
_SENSITIVE_KEYS = re.compile(
    r"phone|password|passwd|session|secret|token|api_hash|auth_key|authorization|cookie|dsn",
    re.IGNORECASE,
)
REDACTED = "[redacted]"


class Redactor:
    """Replaces known secret values and secret-shaped strings in text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        text = _BOT_TOKEN.sub(REDACTED, text)
        text = _BLOB.sub(REDACTED, text)
        return _PHONE.sub(REDACTED, text)

    def scrub(self, value: Any, key: str = "") -> Any:
        """A redacted copy of a JSON-like structure (a Sentry event or breadcrumb).

        Never in place: a breadcrumb's data can be the very parameters of a query about to run.
        """
        if isinstance(value, str):
            return REDACTED if key and _SENSITIVE_KEYS.search(key) else self(value)
        if isinstance(value, dict):
            return {k: self.scrub(v, str(k)) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.scrub(item, key) for item in value]
        return value


class RedactingFormatter(logging.Formatter):
    """Formats the whole record, traceback included, then redacts it."""

    def __init__(self, redactor: Redactor, fmt: str) -> None:
        super().__init__(fmt)
        self.redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        return self.redactor(super().format(record))


LOG_FORMAT = "%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s"


def configure_logging(config: Config, redactor: Redactor) -> None:
    root = logging.getLogger()
    root.setLevel(log_level(config))
    for handler in list(root.handlers):
        if getattr(handler, "felix", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.felix = True  # type: ignore[attr-defined]
    handler.setFormatter(RedactingFormatter(redactor, LOG_FORMAT))
    root.addHandler(handler)
    # httpx logs every request URL at INFO, and Bot API URLs contain the token.
    for noisy in ("httpx", "httpcore", "telethon", "apscheduler"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, log_level(config)))


def init_sentry(config: Config, redactor: Redactor) -> bool:
    """Report errors to Sentry when SENTRY_DSN is set; returns whether it is on."""
    if not config.SENTRY_DSN:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.flask import FlaskIntegration
    from sentry_sdk.integrations.logging import LoggingIntegration

    def before_send(event: dict[str, Any], _hint: dict[str, Any]) -> dict[str, Any]:
        return redactor.scrub(event)

    def before_breadcrumb(crumb: dict[str, Any], _hint: dict[str, Any]) -> dict[str, Any]:
        return redactor.scrub(crumb)

    sentry_sdk.init(
        dsn=config.SENTRY_DSN,
        environment=config.SENTRY_ENVIRONMENT,
        integrations=[
            FlaskIntegration(),
            LoggingIntegration(level=logging.INFO, event_level=logging.ERROR),
        ],
        before_send=before_send,
        before_breadcrumb=before_breadcrumb,
        # Users type login codes and 2FA passwords into the chat: never ship bodies or locals.
        data_collection={"user_info": False, "http_bodies": [], "stack_frame_variables": False,
                         "database_query_data": False},
        max_request_body_size="never",
        traces_sample_rate=0.0,
    )
    return True


def enable_asyncio_reporting() -> None:
    """Capture exceptions of engine tasks; must run on the engine's loop."""
    import sentry_sdk
    from sentry_sdk.integrations.asyncio import enable_asyncio_integration

    if sentry_sdk.get_client().is_active():
        enable_asyncio_integration()
