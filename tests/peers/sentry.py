"""A loopback server speaking Sentry's envelope ingestion protocol, keeping what it receives."""

from __future__ import annotations

import gzip
import json
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.peers.loopback import LoopbackServer, QuietHandler


class FakeSentry:
    def __init__(self) -> None:
        self.raw: list[bytes] = []  # every decompressed envelope, byte for byte
        self.events: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._http = LoopbackServer(self._handler_class(), "fake-sentry")

    @property
    def dsn(self) -> str:
        return f"http://publickey@{self._http.address}/42"

    def start(self) -> FakeSentry:
        self._http.start()
        return self

    def close(self) -> None:
        self._http.close()

    def wait_for_event(self, timeout: float = 20.0) -> dict[str, Any] | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self.events:
                    return self.events[0]
            time.sleep(0.05)
        return None

    def _store(self, body: bytes) -> None:
        events = [payload for kind, payload in parse_envelope(body) if kind == "event"]
        with self._lock:
            self.raw.append(body)
            self.events.extend(json.loads(p) for p in events)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        sentry = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                encoding = self.headers.get("Content-Encoding", "")
                if encoding == "gzip":
                    body = gzip.decompress(body)
                elif encoding == "deflate":
                    body = zlib.decompress(body)
                sentry._store(body)
                data = b'{"id":"0"}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler


def parse_envelope(body: bytes) -> list[tuple[str, bytes]]:
    """(item type, payload) pairs of a Sentry envelope: header line, then header/payload items."""
    items = []
    _, _, rest = body.partition(b"\n")
    while rest.strip():
        header_line, _, rest = rest.partition(b"\n")
        header = json.loads(header_line)
        if "length" in header:
            payload, rest = rest[: header["length"]], rest[header["length"] :]
            rest = rest[1:] if rest.startswith(b"\n") else rest
        else:
            payload, _, rest = rest.partition(b"\n")
        items.append((header.get("type", ""), payload))
    return items
