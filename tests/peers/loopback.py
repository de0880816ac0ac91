"""What every loopback peer shares: a threaded HTTP server on 127.0.0.1 and a quiet handler."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class QuietHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the real services speak
    disable_nagle_algorithm = True  # else Nagle + delayed ACK add 40 ms to each answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


class LoopbackServer:
    """Serves `handler` on a free loopback port from a daemon thread."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], name: str) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name=name, daemon=True)

    @property
    def address(self) -> str:
        """host:port"""
        host, port = self._server.server_address[:2]
        return f"{host}:{port}"

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
