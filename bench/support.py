"""Shared parts of the benchmarks: the loopback Bot API in its own process, a load generator."""

from __future__ import annotations

import asyncio
import functools
import http.client
import json
import multiprocessing
import os
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask

from tests.peers.bot_api import Call, FakeBotApi


class ThreadRuntime:
    """run_sync for handlers outside our engine (the baselines): a pool with the app context."""

    def __init__(self, app: Flask, threads: int = 8) -> None:
        self.app = app
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="bench-io")

    async def run_sync(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        call = functools.partial(self._in_app, fn, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self.pool, call)

    def _in_app(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        with self.app.app_context():
            return fn(*args, **kwargs)


def _serve_bot_api(port: Any, replies: Any, delay: float) -> None:
    api = FakeBotApi()
    api.delay = delay

    def report(call: Call) -> None:
        if call.method == "sendMessage" and call.ok:
            replies.put((int(call.params["chat_id"]), time.time()))

    api.on_call = report
    api.start()
    port.value = int(api.url.rsplit(":", 1)[1])
    threading.Event().wait()


class BotApiProcess:
    """The loopback Bot API in a process of its own, so it does not share a GIL with the load.

    `delay` is how long each call takes to answer: 0 is loopback, a few tens of milliseconds
    is what a server sees from api.telegram.org.
    """

    def __init__(self, delay: float = 0.0) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._port = ctx.Value("i", 0)
        self.replies = ctx.Queue()
        self._process = ctx.Process(target=_serve_bot_api, args=(self._port, self.replies, delay), daemon=True)

    def __enter__(self) -> BotApiProcess:
        self._process.start()
        while not self._port.value:
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self._process.terminate()
        self._process.join()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port.value}"

    def collect(self, expected: Counter[int], timeout: float) -> dict[int, list[float]]:
        """Wait for `expected[chat]` replies in each chat; returns chat -> wall-clock times they arrived."""
        got: dict[int, list[float]] = {}
        missing = sum(expected.values())
        deadline = time.monotonic() + timeout
        while missing and time.monotonic() < deadline:
            try:
                chat, at = self.replies.get(timeout=0.5)
            except Exception:
                continue
            arrived = got.setdefault(chat, [])
            if len(arrived) < expected[chat]:
                arrived.append(at)
                missing -= 1
        return got

    def drain(self) -> None:
        while True:
            try:
                self.replies.get_nowait()
            except Exception:
                return


@dataclass
class Sent:
    chat: int
    scheduled: float  # wall clock the update was due to be sent
    acked: float = 0.0
    status: int = 0


@dataclass
class Load:
    host: str
    port: int
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    pid: int = 0  # the server's first process, for cpu_seconds()

    def fire(self, updates: list[tuple[int, bytes]], *, rate: float | None, concurrency: int) -> list[Sent]:
        """POST every update; at `rate` per second on a fixed schedule, or as fast as possible."""
        start = time.time() + 0.2
        sent = [Sent(chat, start + (i / rate if rate else 0.0)) for i, (chat, _) in enumerate(updates)]
        cursor = iter(range(len(updates)))
        lock = threading.Lock()

        def worker() -> None:
            connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
            while True:
                with lock:
                    index = next(cursor, None)
                if index is None:
                    break
                item = sent[index]
                delay = item.scheduled - time.time()
                if delay > 0:
                    time.sleep(delay)
                elif not rate:
                    item.scheduled = time.time()
                headers = {"Content-Type": "application/json", **self.headers}
                try:
                    connection.request("POST", self.path, body=updates[index][1], headers=headers)
                    response = connection.getresponse()
                    response.read()
                    item.status = response.status
                except (OSError, http.client.HTTPException):
                    connection.close()
                    item.status = 599
                item.acked = time.time()
            connection.close()

        threads = [threading.Thread(target=worker) for _ in range(concurrency)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return sent


def cpu_seconds(root: int) -> float:
    """CPU time (user + system) used so far by a process and every process below it, from /proc."""
    parents: dict[int, int] = {}
    used: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()  # after "pid (command)"
        except OSError:
            continue  # exited meanwhile
        pid = int(stat.parent.name)
        parents[pid], used[pid] = int(fields[1]), int(fields[11]) + int(fields[12])
    tree, grew = {root}, True
    while grew:
        below = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= below
        grew = bool(below)
    return sum(used.get(pid, 0) for pid in tree) / os.sysconf("SC_CLK_TCK")


def start_update(update_id: int, chat: int) -> bytes:
    return json.dumps({
        "update_id": update_id,
        "message": {"message_id": 1, "date": int(time.time()), "text": "/start",
                    "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
                    "chat": {"id": chat, "type": "private", "first_name": "Bench"},
                    "from": {"id": chat, "is_bot": False, "first_name": "Bench", "language_code": "en"}},
    }).encode()


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]
