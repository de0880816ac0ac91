"""Acceptance: two OS processes against PostgreSQL never hold the same account; killing the owner
hands the account to the other within the lease time.

Each process is `tests.support.account_holder`: the real app and engine (`serving.start`) with
only the parsers enabled and Telegram replaced by a fake world in that process. Accounts are
created with the real service functions, their sessions logged in by a real `TelegramClient`
against a fake Telegram. Each process reports, every ~100 ms and read on its engine loop, which
accounts its parsers hold and, as ground truth, which accounts have a client connected to
Telegram. Timestamps are CLOCK_MONOTONIC, shared by every process of the machine, so the
reports of both processes and the test's own instants (a kill, a database read) form one
timeline.

Between samples a process is taken to be in the state of its latest sample: "never both" is
checked at every instant either process sampled, so a double connection shorter than the
sampling period could slip through, but the ones a lease bug produces last a supervision tick
or more.
"""

from __future__ import annotations

import bisect
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from felix_hub.backend import accounts, leases, users
from felix_hub.backend.database import rows
from felix_hub.backend.engine import Engine
from felix_hub.backend.models import Lease, utcnow
from felix_hub.backend.telegram.clients import session_string
from tests.peers.telegram import FakeTelegram, FakeTelegramClient, Person
from tests.support.server import ROOT, service_env

pytestmark = pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL", "").startswith(("postgresql://", "postgres://")),
    reason="account leases across OS processes are an acceptance test on PostgreSQL (set TEST_DATABASE_URL)",
)

LEASE_SECONDS = 3
# The acceptance bound is the lease time plus one supervision tick (the survivor notices the lapse
# at its next round). The slack covers what follows the takeover: connecting the client, the
# survivor's next sample (100 ms apart) and a few database round trips.
SLACK_SECONDS = 1.0
# Guards against a hung process; never a measure of speed.
GUARD_SECONDS = 60.0
FIRST_TELEGRAM_ID = 500


# -- the processes ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """One instant in one process: accounts its parsers hold, accounts with a connected client."""

    t: float
    held: frozenset[int]
    connected: tuple[int, ...]  # once per connected client, so a repeat is a duplicate connection


class Holder:
    """One `account_holder` process, its report file and its log."""

    def __init__(self, name: str, env: dict[str, str], directory: Path) -> None:
        self.name = name
        self.env = env
        self.report = directory / f"holder-{name}.jsonl"
        self.log_path = directory / f"holder-{name}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.died_at: float | None = None  # monotonic instant by which it was dead (SIGKILL)

    def start(self) -> Holder:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tests.support.account_holder", str(self.report)],
                cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        return self

    def _lines(self) -> list[dict[str, Any]]:
        if not self.report.exists():
            return []
        text = self.report.read_text()
        complete = text[: text.rfind("\n") + 1]  # the last line may be half written
        return [json.loads(line) for line in complete.splitlines() if line]

    @property
    def header(self) -> dict[str, Any]:
        lines = self._lines()
        if not lines:
            raise AssertionError(f"holder {self.name} has not reported yet:\n{self.log()}")
        return lines[0]

    @property
    def owner(self) -> str:
        """Its lease owner id, as the `leases` table names it."""
        return str(self.header["owner"])

    @property
    def tick_seconds(self) -> float:
        return float(self.header["tick_seconds"])

    def samples(self) -> list[Sample]:
        return [Sample(line["t"], frozenset(line["held"]), tuple(line["connected"]))
                for line in self._lines()[1:]]

    def latest(self) -> Sample | None:
        samples = self.samples()
        return samples[-1] if samples else None

    def connected_now(self) -> set[int]:
        latest = self.latest()
        return set(latest.connected) if latest else set()

    def check_alive(self) -> None:
        assert self.process is not None
        if self.process.poll() is not None and self.died_at is None:
            raise AssertionError(f"holder {self.name} exited with {self.process.returncode}:\n{self.log()}")

    def kill(self) -> float:
        """SIGKILL, a crash: nothing is released. Returns the instant just before the signal."""
        assert self.process is not None
        signalled_at = time.monotonic()
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self.died_at = time.monotonic()  # its sockets, database and Telegram alike, are closed
        return signalled_at

    def pause(self) -> None:
        """SIGSTOP: a process frozen (a long GC, a stalled VM) that will come back."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGCONT)

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:] if self.log_path.exists() else ""


@pytest.fixture
def holder_env(database_url: str, tmp_path: Path) -> dict[str, str]:
    """The service's environment with accounts enabled, a short lease and no bot."""
    return service_env(
        database_url, tmp_path / "instance",
        TELEGRAM_API_ID="12345", TELEGRAM_API_HASH="0123456789abcdef0123456789abcdef",
        ACCOUNT_LEASE_SECONDS=str(LEASE_SECONDS),
    )


@pytest.fixture
def holders(holder_env: dict[str, str], tmp_path: Path) -> Iterator[Callable[[str], Holder]]:
    """Start holder processes; every one is SIGKILLed at teardown, whatever happened."""
    started: list[Holder] = []

    def start(name: str) -> Holder:
        holder = Holder(name, holder_env, tmp_path)
        started.append(holder)
        return holder.start()

    yield start
    for holder in started:
        holder.close()


# -- the data ---------------------------------------------------------------------------------


def connect_accounts(app: Flask, count: int) -> dict[int, int]:
    """`count` users with a connected account each; returns {account id: owner's Telegram id}.

    Each session is a real Telethon StringSession, logged in with a code against a fake Telegram
    (a world the holder processes never see: they authorise the stored session's key in theirs).
    """
    world = FakeTelegram()
    people = [world.person(f"+1555010{n}", f"Person {n}") for n in range(count)]
    engine = Engine(app, threads=2)
    engine.start([])
    try:
        sessions = [engine.call(_log_in(world, person), timeout=30) for person in people]
    finally:
        engine.stop()
    made: dict[int, int] = {}
    with app.app_context():
        for n, (person, session) in enumerate(zip(people, sessions, strict=True)):
            user = users.register(users.Profile(FIRST_TELEGRAM_ID + n, person.first_name))
            account_id = accounts.save_login(user.id, person.id, person.first_name, None, session)
            made[account_id] = user.telegram_id
    return made


async def _log_in(world: FakeTelegram, person: Person) -> str:
    client = FakeTelegramClient(world)
    await client.connect()
    try:
        await client.send_code_request(person.phone)
        await client.sign_in(person.phone, world.codes[person.phone])
        return session_string(client)
    finally:
        await client.disconnect()


@dataclass(frozen=True)
class LeaseRow:
    owner: str
    expires_at: datetime
    read_at: datetime

    @property
    def live(self) -> bool:
        return self.expires_at >= self.read_at


def lease_rows(app: Flask) -> dict[str, LeaseRow]:
    with app.app_context():
        now = utcnow()
        return {name: LeaseRow(owner, expires_at, now)
                for name, owner, expires_at in rows(select(Lease.name, Lease.owner, Lease.expires_at))}


# -- reading the timeline ---------------------------------------------------------------------


def state_at(holder: Holder, samples: list[Sample], t: float) -> Sample | None:
    """The holder's state at instant t: its latest sample, or None if it is dead or not reporting yet."""
    if holder.died_at is not None and t > holder.died_at:
        return None
    index = bisect.bisect_right([s.t for s in samples], t)
    return samples[index - 1] if index else None


def instants(everyone: list[Holder], since: float = 0.0, until: float = float("inf")
             ) -> Iterator[tuple[float, list[Sample | None]]]:
    """Every instant at which some process sampled, with every process's state then."""
    samples = [h.samples() for h in everyone]
    times = sorted({s.t for ss in samples for s in ss if since <= s.t <= until})
    for t in times:
        yield t, [state_at(h, ss, t) for h, ss in zip(everyone, samples, strict=True)]


def assert_never_twice(everyone: list[Holder]) -> int:
    """No account was connected twice at any sampled instant, in one process or across them;
    and no two processes' parsers held the same account. Returns the instants checked."""
    checked = 0
    for t, states in instants(everyone):
        connected: list[int] = [a for s in states if s for a in s.connected]
        duplicated = {a for a in connected if connected.count(a) > 1}
        assert not duplicated, f"accounts {duplicated} connected twice at t={t:.3f}: {_describe(everyone, states)}"
        held: list[int] = [a for s in states if s for a in s.held]
        assert len(held) == len(set(held)), f"two processes hold the same account at t={t:.3f}: " \
                                            f"{_describe(everyone, states)}"
        checked += 1
    return checked


def assert_each_exactly_once(everyone: list[Holder], account_ids: set[int], since: float, until: float) -> int:
    """At every sampled instant in [since, until], every account was connected in exactly one process,
    the one whose parsers hold it."""
    checked = 0
    for t, states in instants(everyone, since, until):
        connected = sorted(a for s in states if s for a in s.connected)
        assert connected == sorted(account_ids), \
            f"at t={t:.3f} accounts connected {connected}, wanted each of {sorted(account_ids)} once: " \
            f"{_describe(everyone, states)}"
        held = sorted(a for s in states if s for a in s.held)
        assert held == connected, f"at t={t:.3f} the parsers hold {held} but {connected} are connected"
        checked += 1
    return checked


def _describe(everyone: list[Holder], states: list[Sample | None]) -> str:
    return ", ".join(f"{h.name}={sorted(s.connected) if s else None}" for h, s in zip(everyone, states, strict=True))


def wait_until(what: str, predicate: Callable[[], bool], everyone: list[Holder]) -> None:
    deadline = time.monotonic() + GUARD_SECONDS
    while not predicate():
        for holder in everyone:
            holder.check_alive()
        if time.monotonic() > deadline:
            logs = "\n".join(f"--- {h.name}\n{h.log()}" for h in everyone)
            raise AssertionError(f"gave up waiting: {what}\n{logs}")
        time.sleep(0.05)


def watch_leases(app: Flask, everyone: list[Holder], chats: dict[int, int], seconds: float) -> None:
    """For `seconds`, read the `leases` table every ~200 ms: each account's lease (and its owner's
    chat lease) is live and belongs to the process that reports the account connected."""
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        table = lease_rows(app)
        for holder in everyone:
            holder.check_alive()
        for account_id, telegram_id in chats.items():
            reporting = [h for h in everyone if account_id in h.connected_now()]
            assert len(reporting) == 1, f"account {account_id} connected in {[h.name for h in reporting]}"
            for name in (leases.account(account_id), leases.chat(telegram_id)):
                row = table.get(name)
                assert row is not None and row.live, f"lease {name} is not live: {row}"
                assert row.owner == reporting[0].owner, \
                    f"lease {name} belongs to {row.owner}, but {reporting[0].name} ({reporting[0].owner}) " \
                    f"has the account connected"
        time.sleep(0.2)


# -- the acceptance ---------------------------------------------------------------------------


def two_holders_then_kill_the_owner(app: Flask, holders: Callable[[str], Holder], count: int) -> None:
    """Two processes share `count` accounts without ever holding one twice; the survivor of the
    one holding most of them takes every account over within the lease bound."""
    chats = connect_accounts(app, count)
    account_ids = set(chats)
    a, b = holders("a"), holders("b")
    everyone = [a, b]
    wait_until("both processes report and every account is connected somewhere",
               lambda: all(h.latest() for h in everyone)
               and account_ids <= a.connected_now() | b.connected_now(), everyone)

    # Steady state: two lease periods, so several renewals by the owner and as many failed
    # takeovers by the other process happen while we watch.
    steady_from = time.monotonic()
    watch_leases(app, everyone, chats, 2 * LEASE_SECONDS)
    steady_until = time.monotonic()
    exactly_once = assert_each_exactly_once(everyone, account_ids, steady_from, steady_until)
    owned = {h.name: sorted(h.connected_now()) for h in everyone}
    print(f"\n{count} account(s) over {steady_until - steady_from:.1f} s: {owned}, "
          f"each connected exactly once at all {exactly_once} sampled instants")

    owner = max(everyone, key=lambda h: len(h.connected_now()))
    survivor = b if owner is a else a
    moving = owner.connected_now()
    killed_at = owner.kill()
    bound = LEASE_SECONDS + survivor.tick_seconds + SLACK_SECONDS
    wait_until("the survivor connects every account", lambda: account_ids <= survivor.connected_now(), everyone)

    for account_id in sorted(moving):
        taken_at = next((s.t for s in survivor.samples() if s.t > killed_at and account_id in s.connected), None)
        assert taken_at is not None
        handover = taken_at - killed_at
        print(f"account {account_id}: handed over {handover:.2f} s after SIGKILL of its owner "
              f"(lease {LEASE_SECONDS} s, tick {survivor.tick_seconds:.1f} s, bound {bound:.1f} s)")
        assert handover <= bound, f"account {account_id} was handed over after {handover:.2f} s (> {bound:.1f} s)"

    watch_leases(app, [survivor], chats, 1.0)  # the table agrees: the survivor holds them all
    checked = assert_never_twice(everyone)
    print(f"never connected twice at any of {checked} sampled instants")


def test_two_processes_never_hold_the_same_account_and_a_killed_owners_moves_within_the_lease(
        app: Flask, holders: Callable[[str], Holder]) -> None:
    """Proves, for one account and two live processes on PostgreSQL: at every sampled instant
    exactly one process has it connected and its parsers alone hold it; the `leases` table names
    that process as the live owner of the account's and the owner's chat leases; after SIGKILL
    of the owner the other process has it connected within lease + one tick (+ slack)."""
    two_holders_then_kill_the_owner(app, holders, 1)


def test_two_processes_share_three_accounts_each_held_once(
        app: Flask, holders: Callable[[str], Holder]) -> None:
    """Proves, for three accounts: both processes together hold all of them, none twice, at
    every sampled instant, in agreement with the `leases` table; when the process holding most
    of them is killed the other one ends up with all three, each within the lease bound."""
    two_holders_then_kill_the_owner(app, holders, 3)


def test_an_owner_paused_past_its_lease_never_shares_the_account(
        app: Flask, holders: Callable[[str], Holder]) -> None:
    """Proves: a process frozen past its lease (a long GC, a stalled VM) that comes back with no
    one having taken the account meanwhile either renews the lease or lets the account go: it
    never keeps the client connected on a lapsed lease, which a second process would then
    take over while that client is still connected."""
    chats = connect_accounts(app, 1)
    (account_id,) = chats
    a = holders("a")
    wait_until("the account is connected", lambda: account_id in a.connected_now(), [a])
    a.pause()
    time.sleep(LEASE_SECONDS + a.tick_seconds)  # the lease lapses while nobody else is there
    lapsed = lease_rows(app)[leases.account(account_id)]
    assert not lapsed.live and lapsed.owner == a.owner
    a.resume()
    resumed_at = time.monotonic()
    # Two rounds of supervision after coming back: by then it has renewed or given up.
    wait_until("two samples after two ticks",
               lambda: sum(s.t > resumed_at + 2 * a.tick_seconds for s in a.samples()) >= 2, [a])
    row = lease_rows(app).get(leases.account(account_id))
    if account_id in a.connected_now():
        assert row is not None and row.live and row.owner == a.owner, \
            f"account {account_id} still connected in {a.name} on a lapsed lease: {row}"

    b = holders("b")
    wait_until("b reports", lambda: b.latest() is not None, [a, b])
    watch_from = time.monotonic()
    while time.monotonic() < watch_from + 2 * LEASE_SECONDS:
        a.check_alive()
        b.check_alive()
        time.sleep(0.2)
    checked = assert_never_twice([a, b])
    assert_each_exactly_once([a, b], {account_id}, watch_from, time.monotonic())
    print(f"\npaused owner: never connected twice at any of {checked} sampled instants")
