"""The engine: the process's one asyncio loop, running forever on its own thread.

Every async object lives on this loop and only on it: the python-telegram-bot Application and
its HTTP client, Telethon clients, the inbox dispatcher, periodic jobs. Flask threads never
await; they hand coroutines over with `submit()` / `call()`. Blocking work (SQL, embeddings)
leaves the loop through `run_sync()`, a bounded thread pool that also provides the Flask app
context the models need.

Shutdown is ordered and bounded: services stop in reverse start order (intake first), then
every remaining task is cancelled and awaited, then the loop stops and the thread is joined.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import functools
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol, TypeVar

from flask import Flask

from felix_hub.backend.observability import enable_asyncio_reporting

log = logging.getLogger(__name__)

T = TypeVar("T")


class Service(Protocol):
    """Something that runs on the engine between boot and shutdown."""

    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class EngineNotRunning(RuntimeError):
    """Work was handed to an engine that is not (or no longer) running."""


class Engine:
    LAG_PROBE_SECONDS = 0.5

    # Services get `stop_budget` to stop in; with the waits around it (1 s more for the loop,
    # 2 s for its thread) a stop is over within 10 s even when the loop is stuck.
    def __init__(self, app: Flask, *, threads: int = 8, stop_budget: float = 7.0) -> None:
        self.app = app
        self.stop_budget = stop_budget
        self.services: list[Service] = []
        self.lag_ms = 0.0
        self._threads = threads
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._stopped = threading.Event()

    # -- lifecycle (called from the serving thread) -------------------------------------------

    def start(self, services: list[Service], *, timeout: float = 30.0) -> None:
        """Start the loop thread, then each service in order. Never called at import."""
        if self._thread is not None:
            raise RuntimeError("engine already started")
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), name="felix-engine", daemon=True)
        self._thread.start()
        ready.wait()
        self.services = list(services)
        self.call(self._start_services(), timeout=timeout)
        atexit.register(self.stop)
        log.info("engine started: %s", ", ".join(s.name for s in self.services) or "no services")

    def stop(self) -> None:
        """Ordered, bounded shutdown; safe to call twice and from atexit."""
        if self._loop is None:
            return
        if self._stopping:  # another thread is stopping it: wait for that instead
            self._stopped.wait(self.stop_budget + 2)
            return
        self._stopping = True
        started = time.monotonic()
        future = asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop)
        try:
            future.result(timeout=self.stop_budget + 1)
        except Exception:
            log.exception("engine shutdown did not finish cleanly")
        assert self._thread is not None
        self._thread.join(timeout=2)
        self._stopped.set()
        log.info("engine stopped in %.2f s", time.monotonic() - started)

    @property
    def alive(self) -> bool:
        return (
            not self._stopping
            and self._thread is not None
            and self._thread.is_alive()
            and self._loop is not None
            and self._loop.is_running()
        )

    # -- handing work to the loop (any thread) ------------------------------------------------

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        if not self.alive:
            coro.close()  # never leave an un-awaited coroutine behind
            raise EngineNotRunning("the engine is not running")
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    def call(self, coro: Coroutine[Any, Any, T], *, timeout: float) -> T:
        """Run `coro` on the engine and wait for its result from a non-engine thread."""
        future = self.submit(coro)
        try:
            return future.result(timeout=timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise

    def call_soon(self, callback: Callable[..., object], *args: object) -> None:
        """Schedule a plain callback on the loop; silently dropped once shutdown began."""
        if self.alive:
            assert self._loop is not None
            with contextlib.suppress(RuntimeError):  # closed between the check and the call
                self._loop.call_soon_threadsafe(callback, *args)

    # -- blocking work (from the loop) --------------------------------------------------------

    async def run_sync(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run blocking `fn` in the engine's thread pool, inside the Flask app context."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, functools.partial(self._in_app_context, fn, *args, **kwargs))

    def _in_app_context(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        with self.app.app_context():
            return fn(*args, **kwargs)

    # -- on the engine thread -----------------------------------------------------------------

    def _run(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        loop.set_default_executor(
            concurrent.futures.ThreadPoolExecutor(max_workers=self._threads, thread_name_prefix="felix-io")
        )
        loop.set_exception_handler(_report_loop_exception)
        loop.call_soon(ready.set)
        try:
            loop.run_forever()
        finally:
            loop.close()

    async def _start_services(self) -> None:
        enable_asyncio_reporting()
        asyncio.get_running_loop().create_task(self._measure_lag(), name="engine-lag")
        for service in self.services:
            await service.start()

    async def _measure_lag(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(self.LAG_PROBE_SECONDS)
            self.lag_ms = max(0.0, (loop.time() - before - self.LAG_PROBE_SECONDS) * 1000)

    async def _shutdown(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.stop_budget
        for service in reversed(self.services):
            try:
                await asyncio.wait_for(service.stop(), timeout=max(0.1, deadline - loop.time()))
            except Exception:
                log.exception("stopping %s failed", service.name)
        await _cancel_remaining_tasks(max(0.1, deadline - loop.time()))
        await loop.shutdown_asyncgens()
        try:
            await asyncio.wait_for(loop.shutdown_default_executor(), timeout=max(0.1, deadline - loop.time()))
        except TimeoutError:
            log.warning("blocking work still running at shutdown; not waiting for it")
        loop.call_soon(loop.stop)


async def _cancel_remaining_tasks(timeout: float) -> None:
    current = asyncio.current_task()
    tasks = [task for task in asyncio.all_tasks() if task is not current]
    for task in tasks:
        task.cancel()
    if tasks:
        _, pending = await asyncio.wait(tasks, timeout=timeout)
        for task in pending:
            log.warning("task %s ignored cancellation at shutdown", task.get_name())


def _report_loop_exception(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    exc = context.get("exception")
    log.error("engine: %s", context.get("message", "unhandled error"), exc_info=exc)


def spawn(coro: Awaitable[None] | Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
    """Start a background task on the running engine loop, keeping a reference to it."""
    task = asyncio.ensure_future(coro)
    task.set_name(name)
    _background.add(task)
    task.add_done_callback(_background.discard)
    return task


# Tasks are only weakly referenced by the loop; this keeps background work alive until done.
_background: set[asyncio.Task[None]] = set()
