"""Run the real service under real gunicorn, as the Procfile does, on a loopback port."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
WEBHOOK_SECRET = "loopback-webhook-secret_0123"

# Variables from the developer's shell must not leak into the service under test.
_OURS = ("DATABASE_URL", "SECRET_KEY", "TELEGRAM_", "PUBLIC_URL", "SENTRY_", "PORT", "WEB_CONCURRENCY",
         "LOG_LEVEL", "INBOX_", "FELIX_", "GUNICORN_", "WEBHOOK_", "ENGINE_")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def service_env(database_url: str, instance: Path, **overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_OURS)}
    env.update(
        DATABASE_URL=database_url,
        SECRET_KEY="test-secret-key-0123456789",
        FELIX_ENCRYPTION_KEY="0Gq2m1zEwbFbk3qIPoMGz6GEUN1bE2DpCNR6pf7J8WQ=",
        FELIX_INSTANCE_PATH=str(instance),
        LOG_LEVEL="INFO",
        PYTHONUNBUFFERED="1",
    )
    env.update(overrides)
    return {k: v for k, v in env.items() if v is not None}


def flask(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """`flask ...` from the repository root, exactly as an operator types it."""
    return subprocess.run(
        [sys.executable, "-m", "flask", *args], cwd=ROOT, env=env, capture_output=True, text=True,
        check=check, timeout=120,
    )


class Server:
    """One gunicorn master with its workers; logs go to a file the test can read."""

    def __init__(self, env: dict[str, str], log_path: Path, *, workers: int = 2, preload: bool = True) -> None:
        self.port = free_port()
        self.env = {**env, "GUNICORN_BIND": f"127.0.0.1:{self.port}", "WEB_CONCURRENCY": str(workers)}
        self.log_path = log_path
        self.preload = preload
        self.process: subprocess.Popen[bytes] | None = None
        self.client = httpx.Client(base_url=self.url, timeout=10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, wait: bool = True) -> Server:
        command = [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "wsgi:app"]
        if self.preload:
            command.insert(-1, "--preload")
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 30.0, *, bot: bool = True) -> None:
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}:\n{self.log()}")
            try:
                response = self.client.get("/readyz")
                last = response.json()
                if response.status_code == 200 and (not bot or last["checks"].get("bot") == "ready"):
                    return
            except httpx.HTTPError as exc:
                last = exc
            time.sleep(0.1)
        raise TimeoutError(f"service not ready: {last}\n{self.log()}")

    def post_update(self, update: dict[str, Any], *, secret: str | None = WEBHOOK_SECRET,
                    client: httpx.Client | None = None) -> httpx.Response:
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
        return (client or self.client).post("/telegram/webhook", json=update, headers=headers)

    def terminate(self, timeout: float = 20.0) -> float:
        """SIGTERM the master, as the PaaS does; returns seconds until it exited."""
        assert self.process is not None
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=timeout)
        return time.monotonic() - started

    def kill(self) -> None:
        """SIGKILL master and workers at once: a crash, nothing gets to clean up.

        Returns once every process of the group has exited, so their sockets are closed.
        """
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        deadline = time.monotonic() + 10
        while _living_members(self.process.pid) and time.monotonic() < deadline:
            time.sleep(0.02)

    def close(self) -> None:
        self.client.close()
        if self.process is not None and self.process.poll() is None:
            try:
                self.terminate()
            except subprocess.TimeoutExpired:
                self.kill()
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)  # stray workers, if any

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def _living_members(group: int) -> list[int]:
    """Processes of a process group that have not exited (zombies have closed their files)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        state, pgrp = fields[0], int(fields[2])
        if pgrp == group and state != "Z":
            members.append(int(entry.name))
    return members
