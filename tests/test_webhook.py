"""POST /telegram/webhook answers, checked with Flask's client against a real database."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import event

from felix_hub.backend import create_app
from felix_hub.backend.config import Config
from felix_hub.backend.extensions import db
from felix_hub.backend.models import Update
from tests.peers.bot_api import TOKEN, text_update
from tests.support.server import WEBHOOK_SECRET, free_port, service_env

HEADERS = {"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET}


def stored(app: Flask) -> list[int]:
    with app.app_context():
        return list(db.session.scalars(db.select(Update.update_id).order_by(Update.update_id)))


def test_an_update_is_stored_before_the_200(app: Flask) -> None:
    response = app.test_client().post("/telegram/webhook", json=text_update(5, 42, "/start"), headers=HEADERS)
    assert response.status_code == 200
    assert stored(app) == [5]
    with app.app_context():
        row = db.session.get(Update, 5)
        assert row.chat_key == 42 and row.status == "pending"
        assert json.loads(row.payload)["message"]["text"] == "/start"


def test_duplicates_answer_200_and_are_stored_once(app: Flask) -> None:
    client = app.test_client()
    for _ in range(3):
        assert client.post("/telegram/webhook", json=text_update(6, 42, "hi"), headers=HEADERS).status_code == 200
    assert stored(app) == [6]


def test_refusals(app: Flask) -> None:
    client = app.test_client()
    update = text_update(7, 42, "hi")
    assert client.post("/telegram/webhook", json=update).status_code == 403
    assert client.post("/telegram/webhook", json=update,
                       headers={"X-Telegram-Bot-Api-Secret-Token": "nope"}).status_code == 403
    assert client.post("/telegram/webhook", data="update_id=7", headers=HEADERS).status_code == 415
    assert client.post("/telegram/webhook", data="{", content_type="application/json",
                       headers=HEADERS).status_code == 400
    assert client.post("/telegram/webhook", json=[1, 2], headers=HEADERS).status_code == 400
    assert client.post("/telegram/webhook", json={"update_id": "7"}, headers=HEADERS).status_code == 400
    assert client.post("/telegram/webhook", json={"update_id": -1}, headers=HEADERS).status_code == 400
    assert client.post("/telegram/webhook", json={"update_id": 8, "message": "not an object"},
                       headers=HEADERS).status_code == 400
    huge = {"update_id": 9, "message": {**update["message"], "text": "x" * (2 << 20)}}
    response = client.post("/telegram/webhook", json=huge, headers=HEADERS)
    assert response.status_code == 413
    assert response.is_json and "error" in response.json
    assert stored(app) == []


def test_503_when_the_update_cannot_be_stored(tmp_path: Path) -> None:
    """Telegram retries a 5xx, so an update we could not keep is not lost."""
    dead = f"postgresql://postgres@127.0.0.1:{free_port()}/felix"
    env = service_env(dead, tmp_path / "instance", TELEGRAM_BOT_TOKEN=TOKEN,
                      TELEGRAM_WEBHOOK_SECRET=WEBHOOK_SECRET)
    app = create_app(Config(env))
    response = app.test_client().post("/telegram/webhook", json=text_update(1, 2, "hi"), headers=HEADERS)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"


def test_404_when_no_bot_is_configured(database_url: str, tmp_path: Path) -> None:
    app = create_app(Config(service_env(database_url, tmp_path / "instance")))
    assert app.test_client().post("/telegram/webhook", json=text_update(1, 2, "hi")).status_code == 404


def test_health_without_an_engine_says_so(app: Flask) -> None:
    client = app.test_client()
    health = client.get("/healthz")
    assert health.status_code == 503 and health.json["engine"]["alive"] is False
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json["checks"] == {"database": "ok", "migrations": "ok", "engine": "not running"}


def test_readyz_reports_a_database_that_was_not_migrated(database_url: str, tmp_path: Path) -> None:
    app = create_app(Config(service_env(database_url, tmp_path / "instance")))
    ready = app.test_client().get("/readyz")
    assert ready.status_code == 503
    assert ready.json["checks"]["migrations"] == "not at head: run flask db upgrade"


def test_503_when_sqlite_stays_locked(app: Flask) -> None:
    """Another program (a migration, an sqlite3 shell) holds SQLite's write lock past the busy
    timeout: the update is answered 503, so Telegram delivers it again."""
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("PostgreSQL has no database-wide write lock")
        # Our connect listener sets a 10 s busy timeout; this one runs after it.
        event.listen(db.engine, "connect", lambda connection, _: connection.execute("PRAGMA busy_timeout=50"))
        db.engine.dispose()
        holder = sqlite3.connect(db.engine.url.database, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        response = app.test_client().post("/telegram/webhook", json=text_update(1, 2, "hi"), headers=HEADERS)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert stored(app) == []
