"""Checking an incoming update before it is stored (webhook and long polling alike)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from felix_hub.backend.inbox.store import MAX_UPDATE_ID, chat_key


class MalformedUpdate(ValueError):
    """The body is not a Bot API update."""


@dataclass(frozen=True)
class Incoming:
    update_id: int
    chat_key: int | None
    payload: str


def parse(body: bytes | str) -> Incoming:
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise MalformedUpdate("body is not JSON") from None
    if not isinstance(data, dict):
        raise MalformedUpdate("an update is a JSON object")
    update_id = data.get("update_id")
    if isinstance(update_id, bool) or not isinstance(update_id, int) or not 0 <= update_id <= MAX_UPDATE_ID:
        raise MalformedUpdate("update_id must be a non-negative integer")
    # Every field of a Bot API Update besides update_id is an object. Parsing it fully is left
    # to the engine (a row that fails there is marked failed): the ack path stays cheap.
    if not all(isinstance(value, dict) for key, value in data.items() if key != "update_id"):
        raise MalformedUpdate("update fields must be objects")
    payload = body if isinstance(body, str) else body.decode()
    return Incoming(update_id, chat_key(data), payload)
