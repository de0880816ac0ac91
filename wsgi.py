"""Entry point for gunicorn (`wsgi:app`) and for the `flask` command, which finds this file."""

import sys

from felix_hub.backend import create_app
from felix_hub.backend.config import ConfigError

try:
    app = create_app()
except ConfigError as error:
    sys.exit(f"felix-hub: configuration error: {error}")
