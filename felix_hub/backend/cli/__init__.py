"""`flask felix ...`: operator commands. None of them starts the serving engine."""

from __future__ import annotations

from flask import Flask
from flask.cli import AppGroup

from felix_hub.backend.cli import imports, keys, webhook

felix = AppGroup("felix", help="Felix Hub operations.")
felix.add_command(webhook.group)
felix.add_command(keys.generate_key_command)
felix.add_command(keys.rotate_key_command)
felix.add_command(imports.import_command)
felix.add_command(imports.demo_command)


def register(app: Flask) -> None:
    app.cli.add_command(felix)
