"""The Flask application: `create_app()` builds it from the environment."""

from __future__ import annotations

from dotenv import load_dotenv
from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from felix_hub.backend import database
from felix_hub.backend.config import PROJECT_ROOT, Config
from felix_hub.backend.extensions import db, migrate
from felix_hub.backend.observability import Redactor, configure_logging, init_sentry


def create_app(config: Config | None = None) -> Flask:
    if config is None:
        load_dotenv(PROJECT_ROOT / ".env", override=False)
        config = Config()
    redactor = Redactor(config.secrets())
    configure_logging(config, redactor)
    init_sentry(config, redactor)

    app = Flask(__name__, instance_path=str(config.INSTANCE_PATH))
    app.config.from_object(config)
    app.extensions["felix_config"] = config
    # The PaaS router terminates TLS and forwards one hop.
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)  # type: ignore[method-assign]

    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"))
    with app.app_context():
        database.configure(db.engine)

    from felix_hub.backend import cli, health, webhook

    app.register_blueprint(webhook.bp)
    app.register_blueprint(health.bp)
    cli.register(app)
    return app
