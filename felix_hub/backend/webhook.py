"""POST /telegram/webhook: check, store, answer. Processing happens later, on the engine."""

from __future__ import annotations

import hmac
import logging

from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException

from felix_hub.backend import serving
from felix_hub.backend.config import Config
from felix_hub.backend.inbox import store
from felix_hub.backend.inbox.intake import MalformedUpdate, parse

log = logging.getLogger(__name__)

bp = Blueprint("webhook", __name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def _error(status: int, message: str) -> tuple[Response, int]:
    return jsonify(error=message), status


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> tuple[Response, int]:
    return _error(exc.code or 500, exc.description or exc.name)


@bp.post("/telegram/webhook")
def receive() -> tuple[Response | str, int] | tuple[Response, int, dict[str, str]]:
    config: Config = current_app.extensions["felix_config"]
    if not config.bot_enabled:
        return _error(404, "the bot is not configured")
    expected = config.TELEGRAM_WEBHOOK_SECRET
    given = request.headers.get(SECRET_HEADER, "")
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        return _error(403, "wrong or missing secret token")
    if request.mimetype != "application/json":
        return _error(415, "updates are JSON")
    request.max_content_length = config.WEBHOOK_MAX_BODY_BYTES
    body = request.get_data(cache=False)  # raises 413 past the limit
    try:
        incoming = parse(body)
    except MalformedUpdate as exc:
        return _error(400, str(exc))
    try:
        stored = store.save(incoming.update_id, incoming.chat_key, incoming.payload)
    except SQLAlchemyError:
        log.exception("webhook: could not store update %d; Telegram will retry", incoming.update_id)
        return jsonify(error="temporarily unavailable"), 503, {"Retry-After": "5"}
    runtime = serving.current(current_app)
    if stored and runtime is not None:
        runtime.notify_inbox()
    return "", 200
