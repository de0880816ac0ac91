"""The engine: one loop thread, work handed in from other threads, ordered bounded shutdown."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import warnings
from collections.abc import Iterator

import pytest
from flask import Flask, current_app

from felix_hub.backend.engine import Engine, EngineNotRunning, spawn


class Recorder:
    """A service that notes when it starts and stops, optionally refusing to stop in time."""

    def __init__(self, name: str, log: list[str], *, stop_takes: float = 0.0) -> None:
        self.name = name
        self.log = log
        self.stop_takes = stop_takes

    async def start(self) -> None:
        self.log.append(f"start {self.name}")

    async def stop(self) -> None:
        self.log.append(f"stop {self.name}")
        await asyncio.sleep(self.stop_takes)


@pytest.fixture
def engine(app: Flask) -> Iterator[Engine]:
    engine = Engine(app, threads=4, stop_budget=2.0)
    engine.start([])
    yield engine
    engine.stop()


def test_coroutines_from_other_threads_run_on_the_one_engine_thread(engine: Engine) -> None:
    async def where() -> tuple[str, int]:
        return threading.current_thread().name, id(asyncio.get_running_loop())

    results = []
    threads = [threading.Thread(target=lambda: results.append(engine.call(where(), timeout=5))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {name for name, _ in results} == {"felix-engine"}
    assert len({loop for _, loop in results}) == 1


def test_blocking_work_leaves_the_loop_and_sees_the_app(engine: Engine, app: Flask) -> None:
    def blocking() -> str:
        time.sleep(0.5)
        return current_app.name

    async def scenario() -> tuple[str, int]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        task = asyncio.ensure_future(ticker())
        name = await engine.run_sync(blocking)
        task.cancel()
        return name, ticks

    name, ticks = engine.call(scenario(), timeout=5)
    assert name == app.name
    assert ticks >= 20  # the loop kept turning while the blocking call ran


def test_submit_after_stop_is_refused_without_leaking_a_coroutine(app: Flask) -> None:
    engine = Engine(app)
    engine.start([])
    engine.stop()

    async def nothing() -> None:
        return None

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(EngineNotRunning):
            engine.submit(nothing())


def test_services_stop_in_reverse_order_and_leftover_tasks_are_cancelled(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    log: list[str] = []
    engine = Engine(app, stop_budget=2.0)
    engine.start([Recorder("bot", log), Recorder("parsers", log), Recorder("inbox", log)])
    cancelled = threading.Event()

    async def forever() -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            cancelled.set()

    engine.call(_spawn(forever()), timeout=5)
    with caplog.at_level(logging.WARNING):
        engine.stop()
    assert log == ["start bot", "start parsers", "start inbox", "stop inbox", "stop parsers", "stop bot"]
    assert cancelled.is_set()
    assert not engine.alive
    assert "Task was destroyed" not in caplog.text


def test_a_service_that_hangs_cannot_hold_shutdown_past_the_budget(app: Flask) -> None:
    log: list[str] = []
    engine = Engine(app, stop_budget=1.0)
    engine.start([Recorder("first", log), Recorder("stuck", log, stop_takes=60)])
    started = time.monotonic()
    engine.stop()
    assert time.monotonic() - started < 3
    assert log[-1] == "stop first"  # the next service still got its turn


def test_stop_is_idempotent(engine: Engine) -> None:
    engine.stop()
    engine.stop()
    assert not engine.alive


def test_unhandled_task_errors_are_logged(engine: Engine, caplog: pytest.LogCaptureFixture) -> None:
    async def broken() -> None:
        raise ZeroDivisionError("in a task")

    async def launch_and_forget() -> None:
        asyncio.get_running_loop().create_task(broken())
        await asyncio.sleep(0.05)

    with caplog.at_level(logging.ERROR, logger="felix_hub.backend.engine"):
        engine.call(launch_and_forget(), timeout=5)
        engine.stop()  # the never-retrieved exception is reported when the task is collected
        import gc

        gc.collect()
    assert "ZeroDivisionError" in caplog.text


def test_loop_lag_is_measured(engine: Engine) -> None:
    async def hog() -> None:
        time.sleep(1.2)  # blocks the loop on purpose, for longer than one lag probe

    assert engine.lag_ms < 1000
    engine.call(hog(), timeout=5)
    seen = []
    for _ in range(40):
        seen.append(engine.lag_ms)
        time.sleep(0.01)
    assert max(seen) >= 500, seen


async def _spawn(coro: object) -> None:
    spawn(coro, "forever")  # type: ignore[arg-type]
