"""`flask felix import PATH [--user ID]`: a Telegram Desktop export into the database, offline."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlalchemy import exists, select

from felix_hub.backend.database import scalar
from felix_hub.backend.imports import ExportError, ImportReport, import_export
from felix_hub.backend.models import Post

DEMO_EXPORT = Path(__file__).resolve().parents[3] / "samples" / "telegram-export"


@click.command("import")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--user", "telegram_user_id", type=int, metavar="TELEGRAM_USER_ID",
              help="Make this Telegram user follow every imported channel (created if new).")
@with_appcontext
def import_command(path: Path, telegram_user_id: int | None) -> None:
    """Import the channels of a Telegram Desktop export (its folder, or its result.json).

    Export with "Machine-readable JSON" in Telegram Desktop. Importing the same export again
    adds nothing; posts Felix already has keep their live version.
    """
    try:
        report = import_export(path, telegram_user_id=telegram_user_id, progress=click.echo)
    except ExportError as error:
        raise click.ClickException(str(error)) from None
    for line in summary(report, telegram_user_id):
        click.echo(line)


@click.command("demo")
@with_appcontext
def demo_command() -> None:
    """Import the synthetic sample export, once, into a database with no posts yet."""
    if scalar(select(exists().where(Post.id.is_not(None)))):
        click.echo("Demo data: the database already has posts, nothing imported.")
        return
    reports = [import_export(DEMO_EXPORT), import_export(DEMO_EXPORT / "single-chat")]
    click.echo(f"Demo data: {sum(len(r.channels) for r in reports)} sample channels with "
               f"{sum(r.new_posts for r in reports)} posts imported from samples/telegram-export "
               "(made up; see its README).")


def summary(report: ImportReport, telegram_user_id: int | None = None) -> list[str]:
    """What the import did, a few lines for the operator."""
    lines = [f"Imported {_many(len(report.channels), 'channel')}: {_many(report.new_posts, 'new post')} "
             f"in {report.seconds:.1f} s"]
    for channel in report.channels:
        lines.append(f"  {channel.title} (id {channel.telegram_id}): {channel.new_posts} new, "
                     f"{channel.updated_posts} updated, {channel.already_stored} already stored, "
                     f"{channel.skipped} skipped")
    if report.skipped_chats:
        lines.append(f"Skipped {_many(len(report.skipped_chats), 'chat')}:")
        lines.extend(f"  {chat.name or '(no name)'} ({chat.type or 'unknown type'}): {chat.reason}"
                     for chat in report.skipped_chats)
    if telegram_user_id is not None:
        lines.append(f"User {telegram_user_id} follows {_many(report.subscriptions, 'more channel')}")
    return lines


def _many(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
