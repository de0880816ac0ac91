"""Webhook benchmark: end-to-end updates/s and ack latency, ours against two baselines.

    python -m bench.webhook [--updates 2000] [--rate 200] [--seconds 10] [--users N] [--bot-api-delay-ms MS]
                            [--database-url URL]

Every variant runs the same /start handler (register the user, reply) against the same
loopback Bot API, in its own process, on a fresh database:

  (a) ours: gunicorn + Flask webhook + durable inbox + the engine   (1, 2 and 3 workers)
  (b) python-telegram-bot's own `run_webhook` server (tornado)       (default, and concurrent_updates)
  (c) the old way: a new thread running asyncio.run(process_update) per request, under gunicorn

Two runs per variant: a burst of --updates sent by 16 connections as fast as they go
(throughput: updates whose reply arrived, per second), and a steady --rate for --seconds (ack
and end-to-end latency p50/p99, measured from each update's scheduled send time). Every update
comes from a new user, or with --users N from N users who keep coming back. The loopback Bot
API answers at once; --bot-api-delay-ms makes each call take as long as a round trip to
api.telegram.org would.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.support import BotApiProcess, Load, Sent, cpu_seconds, percentile, start_update
from tests.peers.bot_api import TOKEN
from tests.support.databases import fresh_database
from tests.support.server import ROOT, WEBHOOK_SECRET, Server, flask, free_port, service_env

SECRET_HEADER = {"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET}


@dataclass
class Result:
    variant: str
    burst_updates_per_s: float
    burst_answered: int
    burst_ack_p50_ms: float
    burst_ack_p99_ms: float
    burst_cpu_ms_per_update: float  # the server's processes, all cores together
    steady_rate: float
    steady_answered: int
    steady_ack_p50_ms: float
    steady_ack_p99_ms: float
    steady_e2e_p50_ms: float
    steady_e2e_p99_ms: float
    durable: bool


@contextmanager
def ours(env: dict[str, str], workdir: Path, workers: int) -> Iterator[Load]:
    flask(env, "db", "upgrade")
    server = Server(env, workdir / f"ours-{workers}.log", workers=workers).start()
    try:
        assert server.process is not None
        yield Load("127.0.0.1", server.port, "/telegram/webhook", SECRET_HEADER, pid=server.process.pid)
    finally:
        server.close()


@contextmanager
def subprocess_server(command: list[str], env: dict[str, str], port: int, path: str, log: Path) -> Iterator[Load]:
    flask(env, "db", "upgrade")
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        import socket

        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        time.sleep(1.0)  # let it finish initialize() / setWebhook
        yield Load("127.0.0.1", port, path, SECRET_HEADER, pid=process.pid)
    finally:
        process.terminate()
        process.wait(timeout=20)


def ptb(env: dict[str, str], workdir: Path, concurrent: bool) -> Callable[[], object]:
    port = free_port()
    command = [sys.executable, "-m", "bench.baselines.ptb_run_webhook", str(port)]
    if concurrent:
        command.append("concurrent")
    return lambda: subprocess_server(command, env, port, "/telegram/webhook", workdir / f"ptb-{concurrent}.log")


def old_way(env: dict[str, str], workdir: Path) -> Callable[[], object]:
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "--worker-class", "gthread", "--threads", "8", "--workers", "1",
               "--bind", f"127.0.0.1:{port}", "--no-control-socket", "bench.baselines.old_way:app"]
    return lambda: subprocess_server(command, env, port, "/old/webhook", workdir / "old-way.log")


def measure(variant: str, load: Load, api: BotApiProcess, updates: int, rate: float, seconds: float,
            first_id: int, durable: bool, users: int) -> Result:
    def batch(start: int, count: int) -> list[tuple[int, bytes]]:
        # One chat per user; replies are matched to updates by chat, in each chat's order.
        chats = [5_000_000 + (start + i if users == 0 else first_id + i % users) for i in range(count)]
        return [(chat, start_update(start + i, chat)) for i, chat in enumerate(chats)]

    api.drain()
    burst = batch(first_id, updates)
    cpu_before = cpu_seconds(load.pid)
    sent = load.fire(burst, rate=None, concurrency=16)
    replies = api.collect(Counter(chat for chat, _ in burst), timeout=120)
    answered = sum(len(times) for times in replies.values())
    cpu = cpu_seconds(load.pid) - cpu_before
    began = min(s.scheduled for s in sent)
    ended = max((max(times) for times in replies.values()), default=time.time())
    burst_acks = [(s.acked - s.scheduled) * 1000 for s in sent if s.status == 200]

    steady = batch(first_id + updates, int(rate * seconds))
    sent = load.fire(steady, rate=rate, concurrency=32)
    replies_steady = api.collect(Counter(chat for chat, _ in steady), timeout=120)
    acks = [(s.acked - s.scheduled) * 1000 for s in sent if s.status == 200]
    e2e = [(reply - s.scheduled) * 1000 for s, reply in _matched(sent, replies_steady)]
    return Result(
        variant=variant,
        burst_updates_per_s=round(answered / (ended - began), 1),
        burst_answered=answered,
        burst_ack_p50_ms=round(percentile(burst_acks, 50), 2),
        burst_ack_p99_ms=round(percentile(burst_acks, 99), 2),
        burst_cpu_ms_per_update=round(cpu * 1000 / max(answered, 1), 2),
        steady_rate=rate,
        steady_answered=sum(len(times) for times in replies_steady.values()),
        steady_ack_p50_ms=round(percentile(acks, 50), 2),
        steady_ack_p99_ms=round(percentile(acks, 99), 2),
        steady_e2e_p50_ms=round(percentile(e2e, 50), 2),
        steady_e2e_p99_ms=round(percentile(e2e, 99), 2),
        durable=durable,
    )


def _matched(sent: list[Sent], replies: dict[int, list[float]]) -> Iterator[tuple[Sent, float]]:
    """Each sent update with its reply: a chat's replies come in the order its updates were sent."""
    seen: Counter[int] = Counter()
    for item in sent:
        times = replies.get(item.chat, [])
        if seen[item.chat] < len(times):
            yield item, times[seen[item.chat]]
        seen[item.chat] += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--updates", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--database-url", help="a PostgreSQL URL to create benchmark databases next to")
    parser.add_argument("--only", help="comma-separated variant names to run")
    parser.add_argument("--repeat", type=int, default=1, help="runs per variant; the median run is reported")
    parser.add_argument("--users", type=int, default=0,
                        help="send as this many returning users (default: every update from a new user)")
    parser.add_argument("--bot-api-delay-ms", type=float, default=0.0,
                        help="how long each Bot API call takes to answer (default: at once)")
    args = parser.parse_args()
    if args.database_url:
        os.environ["TEST_DATABASE_URL"] = args.database_url

    with tempfile.TemporaryDirectory(prefix="felix-bench-") as tmp, BotApiProcess(args.bot_api_delay_ms / 1000) as api:
        workdir = Path(tmp)
        variants: list[tuple[str, bool, Callable[[dict[str, str]], object]]] = [
            ("(a) ours, gunicorn 1 worker", True, lambda env: lambda: ours(env, workdir, 1)),
            ("(a) ours, gunicorn 2 workers", True, lambda env: lambda: ours(env, workdir, 2)),
            ("(a) ours, gunicorn 3 workers", True, lambda env: lambda: ours(env, workdir, 3)),
            ("(b) PTB run_webhook", False, lambda env: ptb(env, workdir, concurrent=False)),
            ("(b) PTB run_webhook, concurrent_updates", False, lambda env: ptb(env, workdir, concurrent=True)),
            ("(c) old way: thread + asyncio.run per request", False, lambda env: old_way(env, workdir)),
        ]
        if args.only:
            wanted = [w.strip() for w in args.only.split(",")]
            variants = [v for v in variants if any(w in v[0] for w in wanted)]
        # Variants take turns, so a slow minute on this machine does not fall on one of them alone.
        runs: dict[str, list[Result]] = {name: [] for name, _, _ in variants}
        for attempt in range(args.repeat):
            for n, (name, durable, make) in enumerate(variants):
                db_dir = workdir / f"db{n}-{attempt}"
                with fresh_database(db_dir) as url:
                    db_dir.mkdir(exist_ok=True)
                    env = service_env(url, workdir / "instance", TELEGRAM_BOT_TOKEN=TOKEN,
                                      TELEGRAM_BOT_API_URL=api.url, TELEGRAM_WEBHOOK_SECRET=WEBHOOK_SECRET,
                                      PUBLIC_URL="https://felix.example.test", LOG_LEVEL="WARNING",
                                      FELIX_OPEN_REGISTRATION="1")  # /start registers and greets
                    with make(env)() as load:  # type: ignore[operator]
                        run = measure(name, load, api, args.updates, args.rate, args.seconds,
                                      first_id=(n + 1) * 100_000_000 + attempt * 10_000_000, durable=durable,
                                      users=args.users)
                print(json.dumps(asdict(run)), flush=True)
                runs[name].append(run)
        # The median by burst throughput, so one noisy run does not decide.
        results = [sorted(done, key=lambda r: r.burst_updates_per_s)[len(done) // 2] for done in runs.values()]

    print()
    header = ("variant", "burst upd/s", "answered", "ack p50/p99 ms", "CPU ms/update",
              f"steady {args.rate:g}/s ack p50/p99 ms", "e2e p50/p99 ms", "durable")
    print(" | ".join(header))
    print(" | ".join("---" for _ in header))
    for r in results:
        total = int(args.rate * args.seconds)
        print(f"{r.variant} | {r.burst_updates_per_s} | {r.burst_answered}/{args.updates} + "
              f"{r.steady_answered}/{total} | {r.burst_ack_p50_ms}/{r.burst_ack_p99_ms} | "
              f"{r.burst_cpu_ms_per_update} | "
              f"{r.steady_ack_p50_ms}/{r.steady_ack_p99_ms} | {r.steady_e2e_p50_ms}/{r.steady_e2e_p99_ms} | "
              f"{'yes' if r.durable else 'no'}")


if __name__ == "__main__":
    main()
