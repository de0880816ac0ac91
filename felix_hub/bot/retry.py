"""Lets the error handler ask for an update to be run again later.

The inbox opens a slot around each update it processes; the error handler, awaited inside
that same task, drops a delay into it when the failure was transient (Telegram unreachable,
flood control). Outside the inbox (no slot) a retry request is simply declined.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_slot: ContextVar[list[float] | None] = ContextVar("felix_retry_slot", default=None)


def request_retry(after_seconds: float) -> bool:
    slot = _slot.get()
    if slot is None:
        return False
    slot.append(after_seconds)
    return True


@contextmanager
def retry_slot() -> Iterator[list[float]]:
    slot: list[float] = []
    token = _slot.set(slot)
    try:
        yield slot
    finally:
        _slot.reset(token)
