"""Fixtures: fresh databases, loopback Bot API and Sentry peers, the app, real gunicorn."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sentry_sdk
from flask import Flask
from flask_migrate import upgrade

from felix_hub.backend import create_app, serving
from felix_hub.backend.config import Config
from felix_hub.backend.extensions import db
from tests.peers.bot_api import TOKEN, FakeBotApi
from tests.peers.sentry import FakeSentry
from tests.peers.telegram import FakeTelegram, client_factory
from tests.support.databases import fresh_database
from tests.support.felix import ANN, Felix
from tests.support.server import WEBHOOK_SECRET, Server, flask, service_env


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    with fresh_database(tmp_path) as url:
        yield url


@pytest.fixture
def bot_api() -> Iterator[FakeBotApi]:
    api = FakeBotApi().start()
    yield api
    api.close()


@pytest.fixture
def sentry() -> Iterator[FakeSentry]:
    server = FakeSentry().start()
    yield server
    server.close()


@pytest.fixture
def bot_env(database_url: str, bot_api: FakeBotApi, tmp_path: Path) -> dict[str, str]:
    """Environment of a webhook-mode service talking to the loopback Bot API (open to everyone)."""
    return service_env(
        database_url, tmp_path / "instance",
        FELIX_OPEN_REGISTRATION="1",
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_BOT_API_URL=bot_api.url,
        TELEGRAM_WEBHOOK_SECRET=WEBHOOK_SECRET,
        PUBLIC_URL="https://felix.example.test",
    )


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Build gunicorn servers (migrating their database first); all are stopped afterwards."""
    servers: list[Server] = []

    def make(env: dict[str, str], **options: object) -> Server:
        if not servers or servers[-1].env.get("DATABASE_URL") != env["DATABASE_URL"]:
            flask(env, "db", "upgrade")
        server = Server(env, tmp_path / f"gunicorn-{len(servers)}.log", **options)  # type: ignore[arg-type]
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.close()


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    """The app in this process (no engine), on a migrated database."""
    env = service_env(database_url, tmp_path / "instance", TELEGRAM_BOT_TOKEN=TOKEN,
                      TELEGRAM_WEBHOOK_SECRET=WEBHOOK_SECRET)
    application = create_app(Config(env))
    with application.app_context():
        upgrade()
    yield application
    with application.app_context():
        from felix_hub.backend.extensions import db

        db.engine.dispose()


@pytest.fixture
def world() -> FakeTelegram:
    return FakeTelegram()


@pytest.fixture
def felix(request: pytest.FixtureRequest, database_url: str, bot_api: FakeBotApi, sentry: FakeSentry,
          world: FakeTelegram, tmp_path: Path) -> Iterator[Felix]:
    """The service in this process with its engine; `@pytest.mark.felix_env(NAME=value)` overrides."""
    marker = request.node.get_closest_marker("felix_env")
    env = service_env(
        database_url, tmp_path / "instance",
        TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_BOT_API_URL=bot_api.url, TELEGRAM_WEBHOOK_SECRET=WEBHOOK_SECRET,
        PUBLIC_URL="https://felix.example.test", TELEGRAM_API_ID="12345",
        TELEGRAM_API_HASH="0123456789abcdef0123456789abcdef",
        FELIX_ADMINS=str(ANN), FELIX_OPEN_REGISTRATION="1", MAX_CHANNELS_PER_USER="2", BACKFILL_POSTS="30",
        SENTRY_DSN=sentry.dsn, LOG_LEVEL="DEBUG", **(marker.kwargs if marker else {}),
    )
    app = create_app(Config(env))
    with app.app_context():
        upgrade()
    serving.start(app, client_factory=client_factory(world))
    felix = Felix(app, bot_api, world)  # Ann (an admin) and anyone else may use the bot
    felix.say("/start")
    felix.wait_reply("Hi")
    yield felix
    serving.stop(app)
    sentry_sdk.get_client().close()
    sentry_sdk.init()  # later tests in this process report nowhere
    with app.app_context():
        db.engine.dispose()
