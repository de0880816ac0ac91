"""The redactor that guards logs and Sentry events."""

from __future__ import annotations

import logging

from felix_hub.backend.observability import REDACTED, RedactingFormatter, Redactor

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
SESSION = "1" + "BVtsOK4Bu" * 40  # the shape of a Telethon StringSession


def test_known_secrets_and_secret_shapes_are_replaced() -> None:
    redact = Redactor(["my-webhook-secret"])
    text = f"url=/bot{TOKEN}/sendMessage secret=my-webhook-secret session={SESSION} phone +7 (999) 123-45-67"
    cleaned = redact(text)
    for leaked in (TOKEN, "my-webhook-secret", SESSION, "123-45-67"):
        assert leaked not in cleaned
    assert cleaned.count(REDACTED) == 4


def test_ordinary_text_is_left_alone() -> None:
    text = "update 123456789 from chat -1001234567890 at 2026-11-22 16:00:00"
    assert Redactor()(text) == text


def test_events_are_scrubbed_by_key_and_by_value() -> None:
    event = {"extra": {"phone_number": "79991234567", "password": "hunter2", "note": f"token {TOKEN}"},
             "breadcrumbs": {"values": [{"data": {"url": f"https://api.telegram.org/bot{TOKEN}/getMe"}}]},
             "language_code": "ru"}
    scrubbed = Redactor().scrub(event)
    assert scrubbed["extra"]["phone_number"] == REDACTED
    assert scrubbed["extra"]["password"] == REDACTED
    assert TOKEN not in str(scrubbed)
    assert scrubbed["language_code"] == "ru"


def test_scrubbing_never_changes_what_it_was_given() -> None:
    # A breadcrumb's data can be the parameters of a query about to run: they must reach the
    # database as they were (a user's phone number typed to log in, say).
    params = {"payload": '{"text": "+1 555 0100"}', "update_id": 7}
    crumb = {"category": "query", "data": {"db.params": params}}
    scrubbed = Redactor().scrub(crumb)
    assert "+1 555 0100" not in str(scrubbed)
    assert params == {"payload": '{"text": "+1 555 0100"}', "update_id": 7}


def test_tracebacks_in_logs_are_redacted() -> None:
    formatter = RedactingFormatter(Redactor(), "%(message)s")
    try:
        raise ValueError(f"request to /bot{TOKEN}/getMe failed")
    except ValueError as exc:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "boom", None, (type(exc), exc, None))
    output = formatter.format(record)
    assert "ValueError" in output and TOKEN not in output
