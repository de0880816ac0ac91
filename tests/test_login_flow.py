"""Connecting an account end to end: webhook → inbox → engine → bot → Telethon → fake Telegram.

The service runs in this process with its real engine; updates go in through the real webhook
route, replies come out through the loopback Bot API, and the Telegram side is real Telethon
talking to the in-process fake Telegram (tests/peers/telegram.py).
"""

from __future__ import annotations

import io
import logging

import pytest
import zxingcpp
from PIL import Image
from sqlalchemy import inspect

from felix_hub.backend.accounts import session_of
from felix_hub.backend.extensions import db
from tests.peers.bot_api import Call
from tests.peers.sentry import FakeSentry
from tests.support.felix import ANN, Felix, connect_by_phone, wait_connected


def qr_url(call: Call) -> str:
    """Read the QR code the bot sent, as a phone camera would."""
    (photo,) = call.files.values()
    (code,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(photo)))
    return code.text


def test_qr_login_without_2fa(felix: Felix) -> None:
    ann = felix.world.person("+1 555 0001", "Ann", username="ann")
    felix.say("/connect")
    felix.wait_reply("How do you want to log in?")
    felix.press("login:qr")
    assert felix.bot_api.wait_for(lambda: felix.bot_api.calls_to("sendPhoto"))
    shown = felix.bot_api.calls_to("sendPhoto")[0]
    assert qr_url(shown).startswith("tg://login?token=")
    assert "Link Desktop Device" in shown.params["caption"]

    assert felix.world.scan_qr(ann)
    assert "Ann (@ann)" in felix.wait_reply("Connected as")
    wait_connected(felix, ann)
    assert shown.result["message_id"] in felix.deleted()  # the QR is gone once used
    felix.say("/account")
    assert "Ann (@ann)" in felix.wait_reply("Ann (@ann)", timeout=10)


def test_qr_login_with_2fa_deletes_the_password_messages(felix: Felix) -> None:
    bob = felix.world.person("+1 555 0002", "Bob", password="correct horse")
    felix.say("/connect")
    felix.wait_reply("How do you want to log in?")
    felix.press("login:qr")
    assert felix.bot_api.wait_for(lambda: felix.bot_api.calls_to("sendPhoto"))
    assert felix.world.scan_qr(bob)
    felix.wait_reply("two-step verification")

    wrong = felix.say("wrong horse")
    felix.wait_reply("Wrong password. Attempts left before a 1-hour block: 4")
    right = felix.say("correct horse")
    wait_connected(felix, bob)
    assert {wrong, right} <= felix.deleted()


def test_phone_login_with_a_wrong_then_the_right_code(felix: Felix) -> None:
    cleo = felix.world.person("+44 7700 900123", "Cleo", password="s3cret")
    felix.say("/connect")
    felix.wait_reply("How do you want to log in?")
    felix.press("login:phone")
    asked = felix.wait_reply("phone number")
    assert "+7" in asked
    contact = felix.share_contact("+447700900123")
    felix.wait_reply("with spaces or dashes")
    code = felix.world.codes["447700900123"]

    plain_wrong = felix.say("1 1 1 1 1" if code != "11111" else "2 2 2 2 2")
    felix.wait_reply("Wrong code. Attempts left before a 1-hour block: 4")
    not_a_code = felix.say("hello")
    felix.wait_reply("A login code is 5 or 6 digits")
    right = felix.say("-".join(code))  # typed with dashes, as the bot asked
    felix.wait_reply("two-step verification")
    password = felix.say("s3cret")
    wait_connected(felix, cleo)
    assert {contact, plain_wrong, not_a_code, right, password} <= felix.deleted()
    # The sign-in used the code Telegram sent, on the client that asked for it.
    assert felix.world.count("SendCodeRequest") == 1 and felix.world.count("CheckPasswordRequest") == 1


def test_five_failures_block_logins_for_an_hour(felix: Felix) -> None:
    felix.world.person("+1 555 0003", "Dan")
    felix.say("/connect")
    felix.wait_reply("How do you want to log in?")
    felix.press("login:phone")
    felix.wait_reply("phone number")
    felix.say("+1 (555) 0003")
    felix.wait_reply("with spaces or dashes")
    wrong = "0 0 0 0 0" if felix.world.codes["15550003"] != "00000" else "9 9 9 9 9"
    for left in (4, 3, 2, 1):
        felix.say(wrong)
        felix.wait_reply(f"Attempts left before a 1-hour block: {left}")
    felix.say(wrong)
    felix.wait_reply("fifth wrong attempt")
    felix.say("/connect")
    felix.wait_reply("Logins are blocked until")
    # The block holds even for a code that would now be right.
    assert felix.sql("SELECT count(*) FROM accounts")[0][0] == 0
    assert felix.sql("SELECT logins_blocked_until FROM users WHERE telegram_id = :id", id=ANN)[0][0] is not None


def test_a_full_login_leaves_no_session_string_anywhere(felix: Felix, sentry: FakeSentry,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    eve = felix.world.person("+1 555 0004", "Eve", password="hunter2")
    felix.say("/connect")
    felix.wait_reply("How do you want to log in?")
    felix.press("login:phone")
    felix.wait_reply("phone number")
    felix.say("+15550004")
    felix.wait_reply("with spaces or dashes")
    felix.say(" ".join(felix.world.codes["15550004"]))
    felix.wait_reply("two-step verification")
    felix.say("hunter2")
    wait_connected(felix, eve)
    # An error after the login: Sentry gets an event carrying the breadcrumbs of all of it.
    felix.bot_api.fail_chat(ANN, 400, "Bad Request: message is too long", times=1)
    felix.say("/account")
    assert sentry.wait_for_event(timeout=20) is not None

    with felix.app.app_context():
        session = session_of(account_rows_id(felix))
    assert session and len(session) > 300
    secrets = [session, session[1:60], "hunter2", "15550004", felix.world.codes["15550004"]]
    everything_logged = "\n".join(r.getMessage() + str(r.exc_info or "") for r in caplog.records)
    assert everything_logged  # the login did log (DEBUG is on)
    sentry_raw = b"".join(sentry.raw).decode(errors="replace")
    database = database_dump(felix)
    for secret in secrets[:2]:
        assert secret not in everything_logged
        assert secret not in sentry_raw
        assert secret not in database
    for secret in secrets[2:]:
        assert secret not in sentry_raw
        assert secret not in database
        assert secret not in everything_logged


def account_rows_id(felix: Felix) -> int:
    return int(felix.sql("SELECT id FROM accounts")[0][0])


def database_dump(felix: Felix) -> str:
    """Every value of every table, as text."""
    with felix.app.app_context():
        tables = inspect(db.engine).get_table_names()
    return "\n".join(repr(tuple(row)) for table in tables for row in felix.sql(f'SELECT * FROM "{table}"'))


def test_the_qr_code_is_refreshed_before_it_expires(felix: Felix) -> None:
    felix.world.qr_seconds = 4  # the bot shows the next code ~2 s before a token expires
    fay = felix.world.person("+1 555 0005", "Fay")
    felix.say("/connect")
    felix.wait_reply("How do you want to log in?")
    felix.press("login:qr")
    assert felix.bot_api.wait_for(lambda: felix.bot_api.calls_to("sendPhoto"))
    first = qr_url(felix.bot_api.calls_to("sendPhoto")[0])
    assert felix.bot_api.wait_for(lambda: len(felix.bot_api.calls_to("editMessageMedia")) >= 2, timeout=15)
    refreshed = [qr_url(call) for call in felix.bot_api.calls_to("editMessageMedia")]
    assert len({first, *refreshed}) == 1 + len(refreshed)  # a new token each time
    assert felix.world.scan_qr(fay)  # scanning the code on screen now still works
    wait_connected(felix, fay)


def test_disconnect_logs_the_session_out_and_forgets_it(felix: Felix) -> None:
    gus = felix.world.person("+1 555 0006", "Gus")
    account_id = connect_by_phone(felix, gus)
    assert felix.world.authorized_keys(gus)
    felix.say("/disconnect")
    felix.wait_reply("out of Felix Hub?")
    felix.press("logout:no")
    felix.wait_reply("Cancelled.")
    felix.press(f"logout:{account_id}")
    felix.wait_reply("Logged out; the session is deleted.")
    assert felix.world.count("LogOutRequest") == 1 and felix.world.authorized_keys(gus) == []
    assert felix.sql("SELECT count(*) FROM accounts")[0][0] == 0
    assert felix.bot_api.wait_for(lambda: felix.world.connected() == 0)
    felix.say("/account")
    felix.wait_reply("No account connected.")


def test_a_revoked_session_asks_the_user_to_reconnect(felix: Felix) -> None:
    hal = felix.world.person("+1 555 0007", "Hal")
    connect_by_phone(felix, hal)
    felix.world.revoke(hal)  # "terminate all other sessions" on the phone
    felix.say("/follow @some_channel")  # the account's next request to Telegram fails
    lost = felix.wait_reply("Telegram ended the session of your account")
    assert "Hal" in lost
    (notice,) = [c for c in felix.bot_api.sent_messages(ANN) if c.params.get("text") == lost]
    assert notice.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "connect"  # "Reconnect"
    assert felix.bot_api.wait_for(lambda: felix.sql("SELECT status FROM accounts")[0][0] == "needs_login")
    felix.say("/account")
    felix.wait_reply("needs to log in again")
    felix.press("connect")  # the Reconnect button starts a new login
    assert felix.bot_api.wait_for(lambda: sum("How do you want to log in?" in r for r in felix.replies()) == 2)
