"""Storing posts against a real database: dedupe, edits, albums, stats, deletions."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask

from felix_hub.backend.database import write
from felix_hub.backend.extensions import db
from felix_hub.backend.models import Channel, Post, PostEdit
from felix_hub.backend.posts.data import PostData
from felix_hub.backend.posts.store import Stored, mark_deleted, store_posts

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def channel(app: Flask) -> Iterator[int]:
    with app.app_context():
        with write() as connection:
            channel_id = connection.execute(
                Channel.__table__.insert().values(telegram_id=1001, title="News", username="news")
                .returning(Channel.id)
            ).scalar_one()
        yield channel_id


def post(message_id: int, text: str = "", **fields: object) -> PostData:
    return PostData(message_id=message_id, date=fields.pop("date", T0 + timedelta(minutes=message_id)),  # type: ignore[arg-type]
                    text=text, html=text, **fields)  # type: ignore[arg-type]


def rows(channel_id: int) -> list[Post]:
    db.session.rollback()  # a fresh snapshot: the last read transaction may predate the write
    return list(db.session.scalars(db.select(Post).where(Post.channel_id == channel_id).order_by(Post.message_id)))


def test_a_batch_is_stored_once(channel: int) -> None:
    batch = [post(n, f"post {n}", views=n * 10) for n in range(1, 51)]
    assert store_posts(channel, batch).new == 50
    again = store_posts(channel, batch)
    assert (again.new, again.changed) == (0, 0)
    stored = rows(channel)
    assert len(stored) == 50 and stored[0].text == "post 1" and stored[-1].views == 500
    assert stored[0].date == T0 + timedelta(minutes=1)
    channel_row = db.session.get(Channel, channel)
    assert channel_row.watermark == 50 and channel_row.last_post_at == T0 + timedelta(minutes=50)


def test_an_edit_keeps_the_previous_version(channel: int) -> None:
    store_posts(channel, [post(7, "first words", views=3)])
    edited = post(7, "better words", edit_date=T0 + timedelta(hours=1))
    assert store_posts(channel, [edited]).changed == 1
    (stored,) = rows(channel)
    assert stored.text == "better words" and stored.edit_date == T0 + timedelta(hours=1)
    assert stored.views == 3  # the edit event carried no views: the known count stays
    history = db.session.scalars(db.select(PostEdit).where(PostEdit.post_id == stored.id)).all()
    assert [(h.text, h.edit_date) for h in history] == [("first words", None)]
    # An older copy (a history page fetched before the edit) does not undo it.
    store_posts(channel, [post(7, "first words", views=9)])
    (stored,) = rows(channel)
    assert stored.text == "better words" and stored.views == 9


def test_album_parts_become_one_post_across_batches(channel: int) -> None:
    photo = lambda n: [{"kind": "photo", "message_id": n, "width": 800, "height": 600}]  # noqa: E731
    store_posts(channel, [post(11, "", grouped_id=5, media=photo(11)), post(12, "caption", grouped_id=5,
                                                                              media=photo(12))])
    store_posts(channel, [post(10, "", grouped_id=5, media=photo(10))])  # the page boundary split it
    (album,) = rows(channel)
    assert album.message_id == 10 and album.album_ids == [10, 11, 12]
    assert [m["message_id"] for m in album.media] == [10, 11, 12]
    assert album.text == "caption"
    store_posts(channel, [post(12, "new caption", grouped_id=5, media=photo(12), edit_date=T0 + timedelta(days=1))])
    (album,) = rows(channel)
    assert album.text == "new caption" and len(album.media) == 3


def test_stats_refresh_and_deletion(channel: int) -> None:
    store_posts(channel, [post(1, "a", views=1), post(2, "b", views=2)])
    result = store_posts(channel, [post(1, "a", views=100, reactions=[{"emoji": "👍", "count": 4}])])
    assert result.changed == 1
    assert mark_deleted(channel, [2, 99]) == 1
    first, second = rows(channel)
    assert first.views == 100 and first.reactions == [{"emoji": "👍", "count": 4}]
    assert second.deleted_at is not None and first.deleted_at is None
    assert mark_deleted(channel, [2]) == 0  # already marked


def _photo(n: int) -> list[dict[str, object]]:
    return [{"kind": "photo", "message_id": n, "width": 800, "height": 600}]


def test_only_real_edits_enter_the_history(channel: int) -> None:
    store_posts(channel, [post(3, "plain words")])
    # The same text rendered differently (an export's HTML) with no newer edit date: not an edit.
    assert store_posts(channel, [replace(post(3, "plain words"), html="<b>plain</b> words")]).changed == 1
    # An album's caption arriving with a later part is not an edit either.
    store_posts(channel, [post(20, "", grouped_id=9, media=_photo(20))])
    store_posts(channel, [post(21, "the caption", grouped_id=9, media=_photo(21))])
    # A formatting edit (same text, newer edit date) is.
    store_posts(channel, [replace(post(3, "plain words", edit_date=T0 + timedelta(hours=2)), html="<i>plain</i>")])
    edits = db.session.scalars(db.select(PostEdit).order_by(PostEdit.id)).all()
    assert [(e.text, e.html) for e in edits] == [("plain words", "<b>plain</b> words")]


def test_exported_album_parts_merge_into_the_live_album(channel: int) -> None:
    # A Desktop export knows no albums: each part was stored alone.
    assert store_posts(channel, [post(30, "caption", media=_photo(30)), post(31, media=_photo(31)),
                                 post(32, media=_photo(32))], contiguous=False).new == 3
    live = [post(n, "caption" if n == 30 else "", grouped_id=77, media=_photo(n)) for n in (30, 31, 32)]
    assert store_posts(channel, live).new == 0
    (album,) = rows(channel)
    assert album.message_id == 30 and album.album_ids == [30, 31, 32] and len(album.media) == 3
    # An export read after the album is stored adds no lone parts and keeps the album whole.
    assert store_posts(channel, [post(31, media=_photo(31)), post(32, media=_photo(32))], contiguous=False).new == 0
    (album,) = rows(channel)
    assert album.album_ids == [30, 31, 32] and album.grouped_id == 77 and album.text == "caption"


def test_an_album_takes_over_the_id_of_a_lone_part_stored_before_it(channel: int) -> None:
    store_posts(channel, [post(40, "", media=_photo(40))], contiguous=False)  # from an export
    store_posts(channel, [post(41, "caption", grouped_id=88, media=_photo(41))])  # live, a later part first
    store_posts(channel, [post(40, "", grouped_id=88, media=_photo(40))])  # the album's first part
    (album,) = rows(channel)
    assert (album.message_id, album.album_ids, album.text) == (40, [40, 41], "caption")


def test_new_counts_only_rows_really_inserted(channel: int) -> None:
    first = store_posts(channel, [post(1, "a"), post(2, "b")])
    second = store_posts(channel, [post(2, "b"), post(3, "c")])
    assert (first.new, second.new, len(rows(channel))) == (2, 1, 3)


def test_a_scattered_batch_finds_each_album_and_each_stored_post(channel: int) -> None:
    # Far-apart ids are looked up as separate runs; each must still find what is stored near it.
    store_posts(channel, [post(n, f"album {n}", grouped_id=n, media=_photo(n)) for n in (100, 5_000, 90_000)],
                contiguous=False)
    store_posts(channel, [post(2_000, "old", views=1)], contiguous=False)
    later = [post(n + 1, grouped_id=n, media=_photo(n + 1)) for n in (100, 5_000, 90_000)]
    assert store_posts(channel, [*later, post(2_000, "old", views=5)], contiguous=False) == Stored(0, 4, 90_001)
    stored = rows(channel)
    assert [(p.message_id, p.album_ids, p.views) for p in stored] == [
        (100, [100, 101], None), (2_000, None, 5), (5_000, [5_000, 5_001], None), (90_000, [90_000, 90_001], None)]
