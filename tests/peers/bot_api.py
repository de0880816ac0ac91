"""A loopback server speaking the Telegram Bot API wire protocol, recording every call.

It answers `POST /bot<token>/<method>` with `{"ok": true, "result": ...}` like the real server,
parses form-encoded, multipart and JSON bodies the way python-telegram-bot sends them, serves
getUpdates long polling from a queue, and can be told to fail calls for a chat or to hold
every request (to model Telegram being unreachable while our side crashes).
"""

from __future__ import annotations

import itertools
import json
import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl

from tests.peers.loopback import LoopbackServer, QuietHandler

BOT_ID = 7000000001
TOKEN = f"{BOT_ID}:AAFakeLoopbackTokenForTests_0123456789"


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float = field(default_factory=time.monotonic)
    files: dict[str, bytes] = field(default_factory=dict)
    ok: bool = True
    result: Any = None  # what the fake answered, e.g. the sent message with its message_id


def _decode(value: str) -> Any:
    """PTB sends non-string parameters JSON-encoded inside form fields."""
    try:
        return json.loads(value)
    except ValueError:
        return value


class FakeBotApi:
    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.calls: list[Call] = []
        self.failures: dict[int, list[Any]] = {}  # chat_id -> [error_code, description, times left]
        self.webhook: dict[str, Any] = {}
        self.delay = 0.0  # seconds each answer takes, like a slow network
        self.on_call: Callable[[Call], None] | None = None  # e.g. to report calls to another process
        self._updates: list[dict[str, Any]] = []
        self._confirmed = 0
        self._message_ids = itertools.count(1)
        self._lock = threading.Condition()
        self._open = threading.Event()
        self._open.set()
        self.polling_now = 0
        self.max_concurrent_polls = 0
        self._http = LoopbackServer(self._handler_class(), "fake-bot-api")

    # -- control --------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{self._http.address}"

    def start(self) -> FakeBotApi:
        self._http.start()
        return self

    def close(self) -> None:
        self._open.set()
        self._http.close()

    def hold(self) -> None:
        """Accept requests but answer none until `release()`; dropped clients are not recorded."""
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    def fail_chat(self, chat_id: int, code: int = 400, description: str = "Bad Request: chat not found",
                  times: int = 1_000_000) -> None:
        """Answer the next `times` calls about `chat_id` with this error."""
        self.failures[chat_id] = [code, description, times]

    def push_update(self, update: dict[str, Any]) -> None:
        """Queue an update for getUpdates (long polling)."""
        with self._lock:
            self._updates.append(update)
            self._lock.notify_all()

    # -- reading what happened -----------------------------------------------------------

    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def sent_messages(self, chat_id: int | None = None) -> list[Call]:
        """Messages that were delivered (failed calls are in `calls` only)."""
        return [c for c in self.calls_to("sendMessage")
                if c.ok and (chat_id is None or int(c.params["chat_id"]) == chat_id)]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 20.0, interval: float = 0.05) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(interval)
        return predicate()

    # -- the protocol ---------------------------------------------------------------------

    def _answer(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        chat_id = params.get("chat_id")
        failure = self.failures.get(int(chat_id)) if chat_id is not None else None
        if failure and failure[2] > 0:
            failure[2] -= 1
            code, description = failure[0], failure[1]
            return code, {"ok": False, "error_code": code, "description": description}
        handler = getattr(self, f"_m_{method}", None)
        result = handler(params) if handler else True
        return 200, {"ok": True, "result": result}

    def _bot_user(self) -> dict[str, Any]:
        return {"id": BOT_ID, "is_bot": True, "first_name": "Felix", "username": "felix_test_bot",
                "can_join_groups": False, "can_read_all_group_messages": False,
                "supports_inline_queries": False}

    def _m_getMe(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._bot_user()

    def _message(self, params: dict[str, Any], **extra: Any) -> dict[str, Any]:
        chat_id = int(params["chat_id"])
        return {"message_id": next(self._message_ids), "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"},
                "from": self._bot_user(), **extra}

    def _m_sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._message(params, text=params.get("text", ""))

    def _m_sendPhoto(self, params: dict[str, Any]) -> dict[str, Any]:
        photo = [{"file_id": "photo-1", "file_unique_id": "u1", "width": 512, "height": 512}]
        return self._message(params, photo=photo, caption=params.get("caption"))

    def _m_editMessageText(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._message(params, text=params.get("text", ""))

    def _m_setWebhook(self, params: dict[str, Any]) -> bool:
        self.webhook = dict(params)
        return True

    def _m_deleteWebhook(self, params: dict[str, Any]) -> bool:
        self.webhook = {}
        return True

    def _m_getWebhookInfo(self, params: dict[str, Any]) -> dict[str, Any]:
        info: dict[str, Any] = {"url": self.webhook.get("url", ""), "has_custom_certificate": False,
                                "pending_update_count": 3}
        if self.webhook:
            info.update(max_connections=self.webhook.get("max_connections", 40),
                        allowed_updates=self.webhook.get("allowed_updates", []),
                        last_error_date=1700000000, last_error_message="Connection timed out")
        return info

    def _poll(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        timeout = float(params.get("timeout") or 0)
        deadline = time.monotonic() + timeout
        with self._lock:
            self.polling_now += 1
            self.max_concurrent_polls = max(self.max_concurrent_polls, self.polling_now)
            try:
                if offset:
                    self._updates = [u for u in self._updates if u["update_id"] >= offset]
                while not self._updates and time.monotonic() < deadline:
                    self._lock.wait(min(0.2, max(0.0, deadline - time.monotonic())))
                return list(self._updates)
            finally:
                self.polling_now -= 1

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                self._serve()

            def do_GET(self) -> None:
                self._serve()

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                prefix, _, method = self.path.lstrip("/").partition("/")
                if prefix != f"bot{api.token}":
                    self._reply(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
                    return
                params, files = self._params(body)
                if not api._open.is_set():
                    api._open.wait()
                    if not self._client_alive():
                        self.close_connection = True
                        return
                if method == "getUpdates":
                    self._reply(200, {"ok": True, "result": api._poll(params)})
                    return
                if api.delay:
                    time.sleep(api.delay)
                with api._lock:
                    status, payload = api._answer(method, params)
                    call = Call(method, params, files=files, ok=status == 200, result=payload.get("result"))
                    api.calls.append(call)
                if api.on_call is not None:
                    api.on_call(call)
                self._reply(status, payload)

            def _client_alive(self) -> bool:
                """False when the client went away (a killed process) while we held its request.

                A live client sends nothing while it waits for our answer; a dead one's FIN can
                take a moment to arrive even on loopback, hence the short wait.
                """
                sock: socket.socket = self.connection
                readable, _, _ = select.select([sock], [], [], 0.5)
                if not readable:
                    return True
                try:
                    return sock.recv(1, socket.MSG_PEEK) != b""
                except OSError:
                    return False

            def _params(self, body: bytes) -> tuple[dict[str, Any], dict[str, bytes]]:
                ctype = self.headers.get("Content-Type", "")
                if ctype.startswith("application/json"):
                    return (json.loads(body) if body else {}), {}
                if ctype.startswith("multipart/form-data"):
                    message = BytesParser(policy=HTTP).parsebytes(
                        b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + body
                    )
                    params: dict[str, Any] = {}
                    files: dict[str, bytes] = {}
                    for part in message.iter_parts():
                        name = part.get_param("name", header="content-disposition")
                        payload = part.get_payload(decode=True) or b""
                        if part.get_filename():
                            files[name] = payload
                        else:
                            params[name] = _decode(payload.decode())
                    return params, files
                pairs = parse_qsl(body.decode(), keep_blank_values=True)
                return {k: _decode(v) for k, v in pairs}, {}

            def _reply(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    self.close_connection = True

        return Handler


def text_update(update_id: int, chat_id: int, text: str, *, language: str = "en",
                first_name: str = "Ann") -> dict[str, Any]:
    """A private-chat message update as Telegram sends it (commands carry an entity)."""
    message: dict[str, Any] = {
        "message_id": update_id,
        "date": int(time.time()),
        "chat": {"id": chat_id, "type": "private", "first_name": first_name},
        "from": {"id": chat_id, "is_bot": False, "first_name": first_name, "language_code": language},
        "text": text,
    }
    if text.startswith("/"):
        command = text.split()[0]
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
    return {"update_id": update_id, "message": message}


def callback_update(update_id: int, chat_id: int, data: str, *, message_id: int = 1,
                    language: str = "en", first_name: str = "Ann") -> dict[str, Any]:
    """A press on an inline button under one of the bot's messages."""
    user = {"id": chat_id, "is_bot": False, "first_name": first_name, "language_code": language}
    message = {"message_id": message_id, "date": int(time.time()), "text": "…",
               "chat": {"id": chat_id, "type": "private", "first_name": first_name},
               "from": {"id": BOT_ID, "is_bot": True, "first_name": "Felix"}}
    return {"update_id": update_id, "callback_query": {
        "id": f"cb-{update_id}", "from": user, "chat_instance": str(chat_id), "data": data, "message": message}}


def contact_update(update_id: int, chat_id: int, phone: str, *, user_id: int | None = None,
                   language: str = "en", first_name: str = "Ann") -> dict[str, Any]:
    """A shared contact (the "send my phone number" keyboard button shares the user's own)."""
    update = text_update(update_id, chat_id, "", language=language, first_name=first_name)
    message = update["message"]
    del message["text"]
    message["contact"] = {"phone_number": phone, "first_name": first_name,
                          "user_id": chat_id if user_id is None else user_id}
    return update
