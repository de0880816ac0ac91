"""Accounts (encrypted sessions, login failures), invites and channel bookkeeping on a real database."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from flask import Flask

from felix_hub.backend import access, accounts, channels, users
from felix_hub.backend.channels import ChannelInfo, Followed
from felix_hub.backend.extensions import db
from felix_hub.backend.models import Account, Channel, Invite, User, utcnow
from tests.support.server import flask, service_env

SESSION = "1" + "BQAbCdEf" * 44  # the shape of a Telethon StringSession


@pytest.fixture(autouse=True)
def context(app: Flask) -> Iterator[None]:
    with app.app_context():
        yield


def new_user(telegram_id: int) -> int:
    return users.register(users.Profile(telegram_id, f"User {telegram_id}")).id


def seen(telegram_id: int) -> tuple[str, object]:
    db.session.rollback()  # a fresh snapshot
    user = db.session.scalars(db.select(User).where(User.telegram_id == telegram_id)).one()
    return user.first_name, user.last_seen_at


def test_a_known_user_costs_a_write_only_when_something_changed() -> None:
    ann = users.Profile(5, "Ann", username="ann", language_code="en")
    users.register(ann)
    _, first_seen = seen(5)
    assert users.register(ann).first_name == "Ann"
    assert seen(5) == ("Ann", first_seen)  # the same names a moment later: nothing written
    users.register(users.Profile(5, "Anna", username="ann", language_code="en"))
    name, renamed_at = seen(5)
    assert name == "Anna" and renamed_at > first_seen
    with db.engine.begin() as connection:  # as if her last update came a while ago
        connection.execute(db.update(User).where(User.telegram_id == 5).values(
            last_seen_at=renamed_at - users.SEEN_PRECISION))
    users.register(users.Profile(5, "Anna", username="ann", language_code="en"))
    assert seen(5)[1] > renamed_at


def test_sessions_are_stored_encrypted_and_read_back() -> None:
    user_id = new_user(1)
    account_id = accounts.save_login(user_id, 777, "Ann", "ann", SESSION)
    stored = db.session.get(Account, account_id).session
    assert SESSION not in stored and stored.startswith("gAAAA")  # a Fernet token
    assert accounts.session_of(account_id) == SESSION
    # Logging in again replaces the account rather than adding one.
    assert accounts.save_login(user_id, 777, "Ann B", None, SESSION + "x") == account_id
    assert accounts.of_user(user_id).display_name == "Ann B"


def test_a_dead_session_is_forgotten_and_its_channels_freed() -> None:
    user_id = new_user(2)
    account_id = accounts.save_login(user_id, 778, "Bob", None, SESSION)
    channel_id = channels.remember(ChannelInfo(5001, "News", "news", False, 42), account_id)
    accounts.mark_needs_login(account_id, "AuthKeyUnregisteredError")
    view = accounts.of_user(user_id)
    assert (view.status, view.status_reason) == ("needs_login", "AuthKeyUnregisteredError")
    assert accounts.session_of(account_id) is None
    assert db.session.get(Channel, channel_id).fetch_account_id is None


def test_five_wrong_codes_block_logins_for_an_hour() -> None:
    user_id = new_user(3)
    for n in range(1, 5):
        assert accounts.record_login_failure(user_id) == (n, None)
    failures, until = accounts.record_login_failure(user_id)
    assert failures == 5 and until is not None
    assert timedelta(minutes=59) < until - utcnow() <= timedelta(hours=1)
    assert accounts.login_blocked_until(user_id) == until
    accounts.save_login(user_id, 779, "Cid", None, SESSION)  # a successful login clears the count
    assert accounts.record_login_failure(user_id) == (1, None)


def test_invites_grant_access_a_limited_number_of_times() -> None:
    admin_id, first, second = new_user(10), new_user(11), new_user(12)
    invite = access.create_invite(admin_id, uses=1, days=7)
    assert len(invite.code) >= 16
    assert access.redeem(first, invite.code) == access.Redeemed.OK
    assert access.redeem(second, invite.code) == access.Redeemed.USED_UP
    assert access.redeem(second, "nope") == access.Redeemed.UNKNOWN
    old = access.create_invite(admin_id, uses=5, days=1)
    db.session.execute(db.update(Invite).where(Invite.code == old.code).values(expires_at=utcnow() - timedelta(1)))
    db.session.commit()
    assert access.redeem(second, old.code) == access.Redeemed.EXPIRED
    assert users.find(11).has_access and not users.find(12).has_access


def test_following_once_per_user_within_the_limit() -> None:
    user_id = new_user(20)
    account_id = accounts.save_login(user_id, 780, "Dee", None, SESSION)
    ids = [channels.remember(ChannelInfo(6000 + n, f"C{n}", None, False, n), account_id) for n in range(3)]
    assert channels.remember(ChannelInfo(6000, "C0 renamed", "c0", False, 99), account_id) == ids[0]
    assert channels.subscribe(user_id, ids[0], limit=2) == Followed.OK
    assert channels.subscribe(user_id, ids[0], limit=2) == Followed.ALREADY
    assert channels.subscribe(user_id, ids[1], limit=2) == Followed.OK
    assert channels.subscribe(user_id, ids[2], limit=2) == Followed.LIMIT
    assert channels.subscribe(user_id, ids[2], limit=None) == Followed.OK  # admins have no limit
    titles = [c.title for c in channels.of_user(user_id)]
    assert titles == ["C0 renamed", "C1", "C2"]
    assert channels.unsubscribe(user_id, ids[2]) and not channels.unsubscribe(user_id, ids[2])


def test_a_channel_is_fetched_once_and_handed_on_when_its_fetcher_leaves() -> None:
    ann, bob = new_user(30), new_user(31)
    ann_account = accounts.save_login(ann, 781, "Ann", None, SESSION)
    bob_account = accounts.save_login(bob, 782, "Bob", None, SESSION)
    channel_id = channels.remember(ChannelInfo(7000, "Shared", "shared", False, 1), ann_account)
    assert channels.remember(ChannelInfo(7000, "Shared", "shared", False, 2), bob_account) == channel_id
    row = db.session.get(Channel, channel_id)
    assert (row.fetch_account_id, row.access_hash) == (ann_account, 1)  # Bob's hash is not Ann's
    channels.subscribe(ann, channel_id, limit=None)
    channels.subscribe(bob, channel_id, limit=None)
    assert [w.id for w in channels.for_account(ann_account)] == [channel_id]
    accounts.remove(ann_account)
    assert channels.assign_orphans() == 1
    db.session.rollback()
    assert db.session.get(Channel, channel_id).fetch_account_id == bob_account


def test_rotate_key_re_encrypts_every_session(database_url: str, tmp_path: Path) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    env = service_env(database_url, tmp_path / "instance", FELIX_ENCRYPTION_KEY=old)
    flask(env, "db", "upgrade")
    script = ("from felix_hub.backend import users, accounts; import wsgi\n"
              "with wsgi.app.app_context():\n"
              "    u = users.register(users.Profile(1, 'A'))\n"
              f"    accounts.save_login(u.id, 5, 'A', None, {SESSION!r})\n")
    import subprocess
    import sys

    subprocess.run([sys.executable, "-c", script], cwd=Path(__file__).parents[1], env=env, check=True)
    missing = flask({**env, "FELIX_ENCRYPTION_KEY": new}, "felix", "rotate-key", check=False)
    assert missing.returncode != 0 and "add the old key" in missing.stderr
    assert "Re-encrypted 1 sessions" in flask({**env, "FELIX_ENCRYPTION_KEY": f"{new},{old}"},
                                              "felix", "rotate-key").stdout
    check = ("from felix_hub.backend import accounts; import wsgi\n"
             "with wsgi.app.app_context():\n    print(accounts.session_of(1))\n")
    result = subprocess.run([sys.executable, "-c", check], cwd=Path(__file__).parents[1],
                            env={**env, "FELIX_ENCRYPTION_KEY": new}, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == SESSION
    assert len(flask(env, "felix", "generate-key").stdout.strip()) == 44
