"""GET /healthz (is this process alive?) and GET /readyz (can it do its job?)."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory
from flask import Blueprint, Response, current_app, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from felix_hub.backend import serving
from felix_hub.backend.extensions import db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    runtime = serving.current(current_app)
    engine = runtime.engine if runtime else None
    alive = bool(engine and engine.alive)
    body = {
        "status": "ok" if alive else "engine not running",
        "pid": os.getpid(),
        "engine": {"alive": alive, "loop_lag_ms": round(engine.lag_ms, 2) if engine else None},
    }
    return jsonify(body), 200 if alive else 503


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    checks: dict[str, object] = {"database": "ok", "migrations": "ok"}
    try:
        with db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            try:
                current = set(connection.scalars(text("SELECT version_num FROM alembic_version")))
            except SQLAlchemyError:
                current = set()
        if current != _script_heads():
            checks["migrations"] = "not at head: run flask db upgrade"
    except SQLAlchemyError as exc:
        checks["database"] = f"unreachable: {type(exc).__name__}"
        checks["migrations"] = "unknown"
    runtime = serving.current(current_app)
    checks["engine"] = "ok" if runtime and runtime.engine.alive else "not running"
    if runtime and runtime.bot:
        checks["bot"] = runtime.bot.state
    ready = all(checks[name] == "ok" for name in ("database", "migrations", "engine"))
    return jsonify(status="ready" if ready else "not ready", checks=checks), 200 if ready else 503


@cache
def _script_heads() -> set[str]:
    directory = Path(current_app.extensions["migrate"].directory)
    config = AlembicConfig()
    config.set_main_option("script_location", str(directory))
    return set(ScriptDirectory.from_config(config).get_heads())
