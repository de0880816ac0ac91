"""gunicorn settings. Each worker starts its own engine after the fork (works with --preload)."""

import os
import sys

from dotenv import load_dotenv

from felix_hub.backend.config import PROJECT_ROOT, Config, ConfigError

load_dotenv(PROJECT_ROOT / ".env", override=False)
try:
    _config = Config()
except ConfigError as error:
    sys.exit(f"felix-hub: configuration error: {error}")

bind = os.environ.get("GUNICORN_BIND") or f"0.0.0.0:{_config.PORT}"
workers = _config.WEB_CONCURRENCY
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# The PaaS sends SIGKILL 30 s after SIGTERM: drain requests, then the engine's bounded stop.
graceful_timeout = 15
timeout = 30
keepalive = 5
errorlog = "-"
control_socket_disable = True  # one fixed socket path would clash between instances
loglevel = _config.LOG_LEVEL.lower()


def post_worker_init(worker):
    from felix_hub.backend import serving

    serving.start(worker.wsgi)


def worker_exit(server, worker):
    from felix_hub.backend import serving

    app = getattr(worker, "wsgi", None)
    if app is not None:
        serving.stop(app)
