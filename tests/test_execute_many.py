"""execute_many writes what SQLAlchemy's own executemany writes, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from flask import Flask
from sqlalchemy import bindparam, insert, select, update

from felix_hub.backend.database import execute_many, write
from felix_hub.backend.models import Channel, Post, utcnow

_posts = Post.__table__


def _rows(channel_id: int, first: int) -> list[dict[str, Any]]:
    now = utcnow()  # one object shared by every row, as store_posts does
    media = [{"kind": "photo", "width": 800}]
    return [
        {
            "channel_id": channel_id, "message_id": first + n, "grouped_id": None if n % 3 else 10**15 + n,
            "album_ids": [n, n + 1] if n % 3 == 0 else None,
            "date": datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=n),
            "edit_date": datetime(2026, 6, 1, 12, tzinfo=timezone(timedelta(hours=3))) if n % 2 else None,
            "text": f"post {n} <b>&</b> 'quoted' 100%", "html": "", "views": n or None,
            "media": media if n % 2 else None,  # the same list in several rows
            "reactions": [{"emoji": "👍", "count": n}] if n % 4 == 0 else None,
            "stored_at": now, "updated_at": now,
        }
        for n in range(12)
    ]


def _stored(connection: Any, first: int) -> list[tuple[Any, ...]]:
    columns = [c for c in _posts.c if c.name not in ("id", "channel_id")]
    found = connection.execute(
        select(*columns).where(_posts.c.message_id.between(first, first + 99)).order_by(_posts.c.message_id)
    ).all()
    return [(row.message_id - first, *row[1:]) for row in found]


def test_rows_read_back_as_sqlalchemy_writes_them(app: Flask) -> None:
    with app.app_context(), write() as connection:
        channel_id = connection.execute(
            insert(Channel.__table__).values(telegram_id=1, title="Bench", created_at=utcnow()).returning(Channel.id)
        ).scalar_one()
        connection.execute(insert(_posts), _rows(channel_id, 100))
        assert execute_many(connection, insert(_posts), _rows(channel_id, 200)) == 12

        ours, theirs = _stored(connection, 200), _stored(connection, 100)
        # stored_at/updated_at differ (two calls of utcnow); everything else is the same
        assert [row[:-2] for row in ours] == [row[:-2] for row in theirs]
        assert ours[5][1:4] == (None, None, datetime(2026, 1, 1, 0, 5, tzinfo=UTC))
        assert ours[1][4] == datetime(2026, 6, 1, 9, tzinfo=UTC)
        assert ours[0][2] == [0, 1] and ours[1][-4] == [{"kind": "photo", "width": 800}]
        assert {row[-2] for row in ours} == {ours[0][-2]} and ours[0][-2].tzinfo is UTC


def test_updates_by_named_parameters(app: Flask) -> None:
    with app.app_context(), write() as connection:
        channel_id = connection.execute(
            insert(Channel.__table__).values(telegram_id=2, title="Bench", created_at=utcnow()).returning(Channel.id)
        ).scalar_one()
        execute_many(connection, insert(_posts), _rows(channel_id, 300))
        ids = connection.scalars(select(_posts.c.id).where(_posts.c.channel_id == channel_id)).all()
        statement = update(_posts).where(_posts.c.id == bindparam("post_id")).values(
            views=bindparam("v_views"), reactions=bindparam("v_reactions", type_=_posts.c.reactions.type))
        changed = execute_many(connection, statement, [
            {"post_id": post_id, "v_views": 7, "v_reactions": [{"emoji": "🔥", "count": 1}]} for post_id in ids[:5]
        ])
        assert changed in (5, -1)  # psycopg may not count an executemany's rows
        found = connection.execute(select(_posts.c.views, _posts.c.reactions).where(_posts.c.id.in_(ids[:6]))
                                   .order_by(_posts.c.id)).all()
        assert [tuple(row) for row in found[:5]] == [(7, [{"emoji": "🔥", "count": 1}])] * 5
        assert found[5].views == 5
        assert execute_many(connection, statement, []) == 0
