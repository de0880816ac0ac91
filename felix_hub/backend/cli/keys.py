"""`flask felix generate-key` and `flask felix rotate-key`: the key that encrypts sessions."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from felix_hub.backend import accounts
from felix_hub.backend.crypto import SessionUnreadable, generate_key


@click.command("generate-key")
def generate_key_command() -> None:
    """Print a new key for FELIX_ENCRYPTION_KEY."""
    click.echo(generate_key())


@click.command("rotate-key")
@with_appcontext
def rotate_key_command() -> None:
    """Re-encrypt every session with the first key of FELIX_ENCRYPTION_KEY.

    To rotate: put the new key first and keep the old one after it (FELIX_ENCRYPTION_KEY=new,old),
    deploy, run this, then drop the old key.
    """
    try:
        count = accounts.rotate_sessions()
    except SessionUnreadable as error:
        raise click.ClickException(f"{error}: add the old key after the new one and run this again") from None
    click.echo(f"Re-encrypted {count} sessions with the first key")
