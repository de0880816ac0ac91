"""Telegram Desktop exports into a real database: both layouts, text and HTML, media, skipping,
idempotence, live posts left alone, --user, the CLI command, and broken exports."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from felix_hub.backend import channels, users
from felix_hub.backend.cli.imports import import_command
from felix_hub.backend.extensions import db
from felix_hub.backend.imports import ExportError, SkippedChat, desktop, import_export, post_from_export
from felix_hub.backend.models import Channel, Post, PostEdit, Subscription, User
from felix_hub.backend.posts.data import PostData
from felix_hub.backend.posts.store import store_posts
from tests.support.server import flask, service_env

SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "telegram-export"
NEWS, SCIENCE, WEATHER = 1000000001, 1000000002, 1000000003
T0 = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def ctx(app: Flask) -> Iterator[Flask]:
    with app.app_context():
        yield app


# -- building exports ----------------------------------------------------------------------------


def message(message_id: int, text: Any = "", **fields: Any) -> dict[str, Any]:
    moment = T0 + timedelta(minutes=message_id)
    local = (moment + timedelta(hours=3)).replace(tzinfo=None).isoformat()
    return {"id": message_id, "type": "message", "date": local, "date_unixtime": str(int(moment.timestamp())),
            "from": "Demo", "from_id": "channel1", "text": text, **fields}


def chat(chat_id: int, *messages: Any, name: str = "Demo Channel",
         kind: str = "public_channel") -> dict[str, Any]:
    return {"name": name, "type": kind, "id": chat_id, "messages": list(messages)}


def write_export(folder: Path, data: Any) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "result.json").write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    return folder


def full(*chats: dict[str, Any], left: tuple[dict[str, Any], ...] = ()) -> dict[str, Any]:
    data: dict[str, Any] = {"about": "x", "personal_information": {"user_id": 42, "first_name": "Ada"},
                            "contacts": {"about": "x", "list": []}, "chats": {"about": "x", "list": list(chats)}}
    if left:
        data["left_chats"] = {"about": "x", "list": list(left)}
    return data


def stored(telegram_id: int) -> dict[int, Post]:
    db.session.rollback()  # a fresh snapshot: the import wrote through other connections
    channel_id = db.session.scalar(db.select(Channel.id).where(Channel.telegram_id == telegram_id))
    found = db.session.scalars(db.select(Post).where(Post.channel_id == channel_id).order_by(Post.message_id))
    return {post.message_id: post for post in found}


def one_post(tmp_path: Path, *messages: dict[str, Any]) -> dict[int, Post]:
    import_export(write_export(tmp_path / "export", chat(777, *messages)))
    return stored(777)


def count(model: type) -> int:
    db.session.rollback()
    return db.session.scalar(db.select(db.func.count()).select_from(model))


# -- the samples: both layouts -------------------------------------------------------------------


def test_the_full_sample_imports_both_channels_and_skips_the_personal_chat(ctx: Flask) -> None:
    lines: list[str] = []
    report = import_export(SAMPLES, progress=lines.append)

    assert [(c.title, c.telegram_id, c.messages, c.new_posts, c.skipped) for c in report.channels] == [
        ("Felix Hub Demo News", NEWS, 40, 38, 2), ("Felix Hub Demo Science", SCIENCE, 40, 38, 2)]
    assert report.skipped_chats == (SkippedChat("Demo Friend", "personal_chat", 100000002, "not a channel"),)
    assert report.new_posts == 76 and report.subscriptions == 0
    assert 'Skipped personal_chat "Demo Friend": not a channel' in lines
    assert "Felix Hub Demo News: 40 messages, 38 new posts, 2 not posts" in lines

    rows = {c.telegram_id: c for c in db.session.scalars(db.select(Channel))}
    assert set(rows) == {NEWS, SCIENCE}
    assert (rows[NEWS].title, rows[NEWS].sync_state, rows[NEWS].watermark, rows[NEWS].fetch_account_id) == (
        "Felix Hub Demo News", "imported", 0, None)
    # Not synced yet: a follower's backfill will come down to the newest imported post.
    assert (rows[NEWS].backfill_done, rows[NEWS].imported_up_to) == (False, max(stored(NEWS)))

    news = stored(NEWS)
    assert 1 not in news and 17 not in news  # service messages
    welcome = news[2]
    # date_unixtime is the moment; the "date" string (09:42) is the exporting computer's local time
    assert welcome.date == datetime(2024, 3, 1, 6, 42, tzinfo=UTC)
    assert welcome.text == welcome.html == "Welcome to the Felix Hub demo news channel. Everything here is invented."
    assert welcome.link == "https://t.me/c/1000000001/2"
    assert (welcome.views, welcome.grouped_id, welcome.media, welcome.forward_from) == (None, None, None, None)
    assert news[3].html == ("<strong>Morning briefing</strong>\nThe town council of Exampleville opened a new "
                            "library. #local")
    assert news[7].media == [{"kind": "photo", "width": 1280, "height": 853, "size": 184512,
                              "path": "photos/photo_7@01-03-2024_13-19-00.jpg", "message_id": 7}]
    assert news[10].text == "" and news[10].media == [{
        "kind": "poll", "question": "Which new service should the library add?",
        "options": ["Evening hours", "Repair café", "Board games"], "closed": True, "total_voters": 214,
        "message_id": 10}]
    assert news[12].forward_from == {"type": "channel", "id": WEATHER, "name": "Felix Hub Demo Weather",
                                     "message_id": None, "date": None}
    assert news[13].edit_date == news[13].date + timedelta(minutes=12)
    assert news[14].reply_to_message_id == 13
    assert news[16].html == "Quiz answer: <tg-spoiler>the bridge is 340 m long</tg-spoiler>."
    assert news[16].reactions == [{"emoji": "👍", "count": 15}, {"emoji": "🔥", "count": 3}]
    assert news[21].media == [{"kind": "contact", "first_name": "Press", "last_name": "Office", "message_id": 21}]
    assert news[33].html == "Be careful: this link is not a real link."
    assert stored(SCIENCE)[14].reactions == [{"emoji": "🤯", "count": 9},
                                             {"custom_emoji_id": 5368324170671202286, "count": 2}]


def test_the_single_chat_layout(ctx: Flask) -> None:
    report = import_export(SAMPLES / "single-chat" / "result.json")  # the file itself works as well as its folder

    ((weather,),) = (report.channels,)
    assert (weather.title, weather.telegram_id, weather.new_posts, weather.skipped) == (
        "Felix Hub Demo Weather", WEATHER, 9, 1)
    assert report.skipped_chats == ()
    posts = stored(WEATHER)
    assert sorted(posts) == [2, 3, 4, 5, 6, 7, 8, 9, 10]
    assert posts[3].html == "Прогноз на <strong>вторник</strong>: облачно, +2 °C, <em>без осадков</em>."
    assert posts[3].text == "Прогноз на вторник: облачно, +2 °C, без осадков."
    assert posts[5].edit_date == posts[5].date + timedelta(minutes=20)
    assert posts[7].reply_to_message_id == 5
    assert posts[8].html == ('Monthly report: <a href="https://example.com/weather/march">climate table</a>')


def test_importing_the_same_export_again_adds_nothing(ctx: Flask) -> None:
    import_export(SAMPLES, telegram_user_id=100000001)
    again = import_export(SAMPLES, telegram_user_id=100000001)

    assert again.new_posts == 0 and again.subscriptions == 0
    assert [(c.new_posts, c.updated_posts, c.already_stored) for c in again.channels] == [(0, 0, 38), (0, 0, 38)]
    assert (count(Channel), count(Post), count(PostEdit), count(Subscription), count(User)) == (2, 76, 0, 2, 1)


def test_batches_report_progress(ctx: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(desktop, "BATCH_SIZE", 3)
    lines: list[str] = []
    export = write_export(tmp_path, chat(5, *(message(n, f"post {n}") for n in range(1, 8)), name="Small"))
    report = import_export(export, progress=lines.append)

    assert report.new_posts == 7 and sorted(stored(5)) == list(range(1, 8))
    assert lines == ["Small: 3 messages read, 3 new posts", "Small: 6 messages read, 6 new posts",
                     "Small: 7 messages, 7 new posts, 0 not posts"]


# -- text and HTML -------------------------------------------------------------------------------


def test_text_as_a_string_as_a_list_and_as_text_entities(ctx: Flask, tmp_path: Path) -> None:
    posts = one_post(
        tmp_path,
        message(1, "plain & simple"),
        message(2, ["Hello ", {"type": "bold", "text": "world"}, "!"]),
        # text_entities wins over text when both are there
        message(3, "stale text", text_entities=[{"type": "plain", "text": "fresh "},
                                                {"type": "italic", "text": "text"}]),
        message(4, "only text", text_entities=[]),
    )
    assert (posts[1].text, posts[1].html) == ("plain & simple", "plain &amp; simple")
    assert (posts[2].text, posts[2].html) == ("Hello world!", "Hello <strong>world</strong>!")
    assert (posts[3].text, posts[3].html) == ("fresh text", "fresh <em>text</em>")
    assert (posts[4].text, posts[4].html) == ("only text", "only text")


def test_every_entity_renders_as_safe_html(ctx: Flask, tmp_path: Path) -> None:
    parts = [
        "<script>alert(1)</script> ",
        {"type": "bold", "text": "b"}, {"type": "italic", "text": "i"}, {"type": "underline", "text": "u"},
        {"type": "strikethrough", "text": "s"}, {"type": "code", "text": "a<b"},
        {"type": "pre", "text": "x = 1", "language": "py\"><script>thon"}, {"type": "pre", "text": "y"},
        {"type": "spoiler", "text": "secret"}, {"type": "blockquote", "text": "quoted"},
        {"type": "text_link", "text": "ok", "href": "https://example.com/?a=1&b=\"2\""},
        {"type": "text_link", "text": "tg", "href": "tg://resolve?domain=demo"},
        {"type": "text_link", "text": "js", "href": "javascript:alert(1)"},
        {"type": "text_link", "text": "tab", "href": "java\tscript:alert(1)"},
        {"type": "text_link", "text": "data", "href": " data:text/html,<b>x</b>"},
        {"type": "text_link", "text": "bare", "href": "example.org/page"},
        {"type": "link", "text": "https://example.net/x?y=1&z=2"},
        {"type": "link", "text": "example.com:8080/p"},
        {"type": "link", "text": "vbscript:msgbox(1)"},
        {"type": "mention", "text": "@demo_channel"}, {"type": "mention", "text": "@bad\"name"},
        {"type": "hashtag", "text": "#tag"}, {"type": "email", "text": "a@example.com"},
        {"type": "phone", "text": "+000 1"}, {"type": "custom_emoji", "text": "👍", "document_id": "12"},
        {"type": "mention_name", "text": "Ada", "user_id": 42}, {"type": "bank_card", "text": "0000"},
        {"type": "cashtag", "text": "$DEMO"}, {"type": "bot_command", "text": "/start"},
        {"type": "plain", "text": "<i>"}, {"type": "something_new", "text": "<new>"}, {"type": "bold", "text": ""},
    ]
    (post,) = one_post(tmp_path, message(1, parts)).values()
    assert post.html == (
        "&lt;script&gt;alert(1)&lt;/script&gt; "
        "<strong>b</strong><em>i</em><u>u</u><del>s</del><code>a&lt;b</code>"
        '<pre><code class="language-pyscriptthon">x = 1</code></pre><pre><code>y</code></pre>'
        "<tg-spoiler>secret</tg-spoiler><blockquote>quoted</blockquote>"
        '<a href="https://example.com/?a=1&amp;b=&quot;2&quot;">ok</a>'
        '<a href="tg://resolve?domain=demo">tg</a>'
        "jstabdata"
        '<a href="https://example.org/page">bare</a>'
        '<a href="https://example.net/x?y=1&amp;z=2">https://example.net/x?y=1&amp;z=2</a>'
        '<a href="https://example.com:8080/p">example.com:8080/p</a>'
        "vbscript:msgbox(1)"
        '<a href="https://t.me/demo_channel">@demo_channel</a>@bad&quot;name'
        "#taga@example.com+000 1👍Ada0000$DEMO/start&lt;i&gt;&lt;new&gt;"
    )
    assert post.text.startswith("<script>alert(1)</script> biusa<bx = 1ysecretquoted")


# -- media ---------------------------------------------------------------------------------------


def test_every_media_kind(ctx: Flask, tmp_path: Path) -> None:
    not_included = "(File not included. Change data exporting settings to download.)"
    posts = one_post(
        tmp_path,
        message(1, photo="photos/p1.jpg", width=10, height=20, photo_file_size=300),
        message(2, file="video_files/v.mp4", media_type="video_file", mime_type="video/mp4", duration_seconds=5,
                width=640, height=360, file_size=1000, thumbnail="video_files/v.mp4_thumb.jpg"),
        message(3, file="voice_messages/a.ogg", media_type="voice_message", mime_type="audio/ogg",
                duration_seconds=3, file_size=99),
        message(4, file="files/s.mp3", media_type="audio_file", mime_type="audio/mpeg", duration_seconds=200,
                performer="Band", title="Song", file_size=5000),
        message(5, file="files/g.mp4", media_type="animation", mime_type="video/mp4", width=1, height=2),
        message(6, file="round_video_messages/r.mp4", media_type="video_message", mime_type="video/mp4",
                duration_seconds=7, width=240, height=240),
        message(7, file="stickers/s.webp", media_type="sticker", sticker_emoji="😀", width=512, height=512),
        message(8, "report", file=not_included, file_name="r.pdf", mime_type="application/pdf", file_size=12),
        message(9, poll={"question": "Q?", "closed": False, "total_voters": 3,
                         "answers": [{"text": "yes", "voters": 2, "chosen": True},
                                     {"text": "no", "voters": 1, "chosen": False}]}),
        message(10, location_information={"latitude": 1.5, "longitude": -2.25}),
        message(11, place_name="Hall", address="1 Road", location_information={"latitude": 3.0, "longitude": 4.0}),
        message(12, contact_information={"first_name": "Bo", "last_name": "", "phone_number": "+000 123"},
                contact_vcard="contacts/contact_1.vcard"),
        message(13, photo=not_included),
        message(14, game_title="Demo Game", game_description="x"),
    )
    media = {message_id: post.media for message_id, post in posts.items()}
    assert media == {
        1: [{"kind": "photo", "width": 10, "height": 20, "size": 300, "path": "photos/p1.jpg", "message_id": 1}],
        2: [{"kind": "video", "path": "video_files/v.mp4", "mime": "video/mp4", "size": 1000, "duration": 5,
             "width": 640, "height": 360, "message_id": 2}],
        3: [{"kind": "voice", "path": "voice_messages/a.ogg", "mime": "audio/ogg", "size": 99, "duration": 3,
             "message_id": 3}],
        4: [{"kind": "audio", "path": "files/s.mp3", "mime": "audio/mpeg", "size": 5000, "duration": 200,
             "title": "Song", "performer": "Band", "message_id": 4}],
        5: [{"kind": "animation", "path": "files/g.mp4", "mime": "video/mp4", "width": 1, "height": 2,
             "message_id": 5}],
        6: [{"kind": "video_note", "path": "round_video_messages/r.mp4", "mime": "video/mp4", "duration": 7,
             "width": 240, "height": 240, "message_id": 6}],
        7: [{"kind": "sticker", "path": "stickers/s.webp", "width": 512, "height": 512, "emoji": "😀",
             "message_id": 7}],
        8: [{"kind": "document", "mime": "application/pdf", "size": 12, "file_name": "r.pdf", "message_id": 8}],
        9: [{"kind": "poll", "question": "Q?", "options": ["yes", "no"], "closed": False, "total_voters": 3,
             "message_id": 9}],
        10: [{"kind": "geo", "lat": 1.5, "long": -2.25, "message_id": 10}],
        11: [{"kind": "geo", "title": "Hall", "address": "1 Road", "lat": 3.0, "long": 4.0, "message_id": 11}],
        12: [{"kind": "contact", "first_name": "Bo", "last_name": "", "message_id": 12}],
        13: [{"kind": "photo", "message_id": 13}],
        14: [{"kind": "other", "type": "game", "title": "Demo Game", "message_id": 14}],
    }
    assert "+000" not in json.dumps(media)  # phone numbers are never kept


# -- what is skipped -----------------------------------------------------------------------------


def test_service_unsupported_and_empty_messages_are_not_posts(ctx: Flask, tmp_path: Path) -> None:
    service = {**message(2), "type": "service", "action": "pin_message", "message_id": 1}
    unsupported = {"id": 3, "type": "unsupported"}
    no_date = {**message(5, "x"), "date": "yesterday"}
    del no_date["date_unixtime"]
    export = write_export(tmp_path, chat(9, message(1, "kept"), service, unsupported, message(4, ""), no_date,
                                         "not a message", {**message(7, "bad id"), "id": "seven"}))
    report = import_export(export)

    ((channel,),) = (report.channels,)
    assert (channel.messages, channel.new_posts, channel.skipped) == (7, 1, 6)
    assert list(stored(9)) == [1]


def test_only_channels_and_supergroups_are_imported(ctx: Flask, tmp_path: Path) -> None:
    saved = {"type": "saved_messages", "id": 42, "messages": [message(1, "note to self")]}
    export = write_export(tmp_path, full(
        chat(42000, message(1, "hi"), name="Ada Friend", kind="personal_chat"),
        chat(43000, message(1, "/start"), name="Demo Bot", kind="bot_chat"),
        chat(44000, message(1, "group talk"), name="Old Group", kind="private_group"),
        saved,
        chat(1000000021, message(1, "supergroup talk"), name="Demo Supergroup", kind="public_supergroup"),
        chat(1000000022, message(1, "private news"), name="Private Demo", kind="private_channel"),
        chat(1000000024, message(1, "no id"), name="Broken", kind="public_channel") | {"id": "n/a"},
        left=(chat(1000000023, message(1, "old news"), name="Left Demo", kind="public_channel"),),
    ))
    lines: list[str] = []
    report = import_export(export, progress=lines.append)

    assert [c.title for c in report.channels] == ["Demo Supergroup", "Private Demo", "Left Demo"]
    assert [(s.name, s.type, s.telegram_id, s.reason) for s in report.skipped_chats] == [
        ("Ada Friend", "personal_chat", 42000, "not a channel"),
        ("Demo Bot", "bot_chat", 43000, "not a channel"),
        ("Old Group", "private_group", 44000, "not a channel"),
        (None, "saved_messages", 42, "not a channel"),
        ("Broken", "public_channel", None, "the chat has no valid id"),
    ]
    assert "Skipped saved_messages (no name): not a channel" in lines
    assert {c.telegram_id for c in db.session.scalars(db.select(Channel))} == {1000000021, 1000000022, 1000000023}
    assert count(Post) == 3


# -- dates, ids, forwards, replies, reactions ----------------------------------------------------


def test_dates_without_unixtime_are_read_as_utc_and_bot_api_ids_lose_their_prefix(ctx: Flask,
                                                                                  tmp_path: Path) -> None:
    old_style = {"id": 1, "type": "message", "date": "2019-05-06T07:08:09", "edited": "2019-05-06T08:00:00",
                 "text": "from an old Desktop"}
    export = write_export(tmp_path, chat(-1001234567890, old_style, message(2, "new", edited_unixtime="1746100000",
                                                                             edited="ignored")))
    (channel,) = import_export(export).channels

    assert channel.telegram_id == 1234567890
    posts = stored(1234567890)
    assert posts[1].date == datetime(2019, 5, 6, 7, 8, 9, tzinfo=UTC)
    assert posts[1].edit_date == datetime(2019, 5, 6, 8, 0, tzinfo=UTC)
    assert posts[2].date == T0 + timedelta(minutes=2)
    assert posts[2].edit_date == datetime.fromtimestamp(1746100000, UTC)
    assert posts[2].link == "https://t.me/c/1234567890/2"


def test_forwards_replies_and_reactions() -> None:
    def convert(**fields: Any) -> PostData:
        post = post_from_export(message(5, "text", **fields), 777)
        assert post is not None
        return post

    hidden = {"type": "hidden", "id": None, "name": "Someone", "message_id": None, "date": None}
    assert convert(forwarded_from="Someone").forward_from == hidden
    assert convert(forwarded_from=None).forward_from == {**hidden, "name": None}
    assert convert(forwarded_from="Ada", forwarded_from_id="user42").forward_from == {
        **hidden, "type": "user", "id": 42, "name": "Ada"}
    assert convert(forwarded_from="Group", forwarded_from_id="chat7").forward_from == {**hidden, "name": "Group"}
    assert convert().forward_from is None

    assert convert(reply_to_message_id=4).reply_to_message_id == 4
    assert convert(reply_to_message_id=4, reply_to_peer_id="channel777").reply_to_message_id == 4
    assert convert(reply_to_message_id=4, reply_to_peer_id="channel999").reply_to_message_id is None

    reactions = [{"type": "emoji", "count": 3, "emoji": "❤", "recent": [{"from": "Ada", "from_id": "user42"}]},
                 {"type": "custom_emoji", "count": 2, "document_id": "5000"},
                 {"type": "custom_emoji", "count": 1, "document_id": "stickers/emoji.webp"},
                 {"type": "paid", "count": 7}, {"type": "emoji", "emoji": "👍"}]
    assert convert(reactions=reactions).reactions == [
        {"emoji": "❤", "count": 3}, {"custom_emoji_id": 5000, "count": 2}, {"paid": True, "count": 7}]
    assert convert().reactions is None and convert(reactions=[]).reactions == []


# -- posts Felix already has ---------------------------------------------------------------------


def test_posts_already_stored_keep_their_live_version(ctx: Flask, tmp_path: Path) -> None:
    channel_id = channels.remember_imported(777, "Live Channel")
    live_date = T0 + timedelta(minutes=1)
    store_posts(channel_id, [
        PostData(message_id=1, date=live_date, text="live", html="<strong>live</strong>", views=500),
        PostData(message_id=3, date=live_date, grouped_id=99, album_ids=(3, 4, 5), text="album",
                 media=[{"kind": "photo", "message_id": n} for n in (3, 4, 5)]),
        PostData(message_id=6, date=live_date, text="before the edit", html="before the edit"),
    ])
    edited = str(int((T0 + timedelta(hours=1)).timestamp()))
    export = write_export(tmp_path, chat(777, message(1, "exported"), message(2, "missing from live"),
                                         message(3, "album caption", photo="p3.jpg"), message(4, photo="p4.jpg"),
                                         message(5, photo="p5.jpg"),
                                         message(6, "after the edit", edited_unixtime=edited)))
    (channel,) = import_export(export).channels

    assert (channel.new_posts, channel.updated_posts, channel.already_stored) == (1, 1, 4)
    posts = stored(777)
    assert sorted(posts) == [1, 2, 3, 6]  # album parts 4 and 5 stay inside the live album
    assert (posts[1].text, posts[1].html, posts[1].views) == ("live", "<strong>live</strong>", 500)
    assert posts[3].album_ids == [3, 4, 5] and len(posts[3].media or ()) == 3
    assert (posts[6].text, posts[6].edit_date) == ("after the edit", T0 + timedelta(hours=1))
    history = db.session.scalars(db.select(PostEdit)).all()
    assert [(h.text, h.edit_date) for h in history] == [("before the edit", None)]


# -- --user --------------------------------------------------------------------------------------


def test_the_user_is_created_from_the_export_and_follows_every_channel(ctx: Flask) -> None:
    report = import_export(SAMPLES, telegram_user_id=100000001)

    assert report.subscriptions == 2
    user = db.session.scalar(db.select(User).where(User.telegram_id == 100000001))
    assert user.first_name == "Demo"  # from personal_information
    followed = db.session.scalars(db.select(Channel.telegram_id).join(Subscription).where(
        Subscription.user_id == user.id).order_by(Channel.telegram_id)).all()
    assert followed == [NEWS, SCIENCE]


def test_a_known_user_keeps_their_names_and_a_stranger_is_called_user(ctx: Flask) -> None:
    users.register(users.Profile(100000001, "Real", last_name="Name", username="real_name", language_code="ru"))
    import_export(SAMPLES, telegram_user_id=100000001)
    import_export(SAMPLES / "single-chat", telegram_user_id=555)  # not the export owner's id

    db.session.rollback()
    known = db.session.scalar(db.select(User).where(User.telegram_id == 100000001))
    assert (known.first_name, known.last_name, known.username, known.language) == ("Real", "Name", "real_name", "ru")
    stranger = db.session.scalar(db.select(User).where(User.telegram_id == 555))
    assert stranger.first_name == "User"
    assert count(Subscription) == 3


# -- the command ---------------------------------------------------------------------------------


def test_the_import_command_prints_progress_and_a_summary(ctx: Flask) -> None:
    result = ctx.test_cli_runner().invoke(import_command, [str(SAMPLES), "--user", "100000001"])

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[:3] == ["Felix Hub Demo News: 40 messages, 38 new posts, 2 not posts",
                         'Skipped personal_chat "Demo Friend": not a channel',
                         "Felix Hub Demo Science: 40 messages, 38 new posts, 2 not posts"]
    assert lines[3].startswith("Imported 2 channels: 76 new posts in ")
    assert lines[4:] == [
        "  Felix Hub Demo News (id 1000000001): 38 new, 0 updated, 0 already stored, 2 skipped",
        "  Felix Hub Demo Science (id 1000000002): 38 new, 0 updated, 0 already stored, 2 skipped",
        "Skipped 1 chat:",
        "  Demo Friend (personal_chat): not a channel",
        "User 100000001 follows 2 more channels",
    ]
    assert count(Post) == 76


def test_the_import_command_fails_with_one_line(ctx: Flask, tmp_path: Path) -> None:
    result = ctx.test_cli_runner().invoke(import_command, [str(tmp_path / "nowhere")])

    assert result.exit_code == 1
    assert result.output == f"Error: {tmp_path / 'nowhere'} does not exist\n"


def test_flask_felix_import_from_the_shell(app: Flask, database_url: str, tmp_path: Path) -> None:
    env = service_env(database_url, tmp_path / "instance")
    result = flask(env, "felix", "import", str(SAMPLES / "single-chat"), "--user", "100000001")
    assert "Imported 1 channel: 9 new posts" in result.stdout
    broken = flask(env, "felix", "import", str(tmp_path), check=False)
    assert broken.returncode == 1 and broken.stderr.strip().endswith("holds no result.json (export in the JSON "
                                                                     "format from Telegram Desktop)")
    with app.app_context():
        assert count(Post) == 9 and count(Subscription) == 1


def test_flask_felix_demo_imports_the_sample_once(app: Flask, database_url: str, tmp_path: Path) -> None:
    env = service_env(database_url, tmp_path / "instance")
    first = flask(env, "felix", "demo")
    assert "Demo data: 3 sample channels with " in first.stdout
    with app.app_context():
        stored = count(Post)
    assert stored > 0 and f"with {stored} posts imported" in first.stdout
    assert "already has posts, nothing imported" in flask(env, "felix", "demo").stdout
    with app.app_context():
        assert count(Post) == stored


# -- broken exports ------------------------------------------------------------------------------


def test_what_is_not_an_export_is_refused_clearly(ctx: Flask, tmp_path: Path) -> None:
    def refused(content: str | bytes, name: str) -> str:
        folder = tmp_path / name
        folder.mkdir()
        target = folder / "result.json"
        target.write_bytes(content if isinstance(content, bytes) else content.encode())
        with pytest.raises(ExportError) as error:
            import_export(folder)
        assert "\n" not in str(error.value)
        return str(error.value)

    with pytest.raises(ExportError, match="does not exist"):
        import_export(tmp_path / "missing")
    with pytest.raises(ExportError, match=r"holds no result\.json"):
        import_export(tmp_path)
    assert refused('{"chats": {"list": [', "truncated") == (
        "result.json is not valid JSON: Expecting value (line 1, column 21)")
    assert refused('{\n "name": "x",\n "type": "public_channel" "id": 1}', "comma").startswith(
        "result.json is not valid JSON: Expecting ',' or '}' (line 3, column 27)")
    assert refused("[1, 2]", "list") == (
        "result.json is not a Telegram Desktop export: the top level is not an object (line 1, column 1)")
    assert refused('{"hello": "world"}', "other").startswith(
        "result.json is not a Telegram Desktop export: neither chats nor messages")
    assert refused('{"chats": [1]}', "chats").startswith(
        "result.json is not a Telegram Desktop export: chats is not an object")
    assert refused('{"type": "public_channel", "id": 1, "messages": {}}', "messages").startswith(
        "result.json is not a Telegram Desktop export: messages is not an array")
    assert refused(b'{"name": "\xff"}', "binary") == "result.json is not UTF-8 text"
    assert refused('{"messages": []} {}', "extra").startswith("result.json is not valid JSON: Extra data")
    assert count(Channel) == 0


def test_a_broken_export_keeps_what_came_before_the_break(ctx: Flask, tmp_path: Path) -> None:
    data = full(chat(11, message(1, "one"), message(2, "two")), chat(12, message(1, "three")))
    text = json.dumps(data, indent=1)
    write_export(tmp_path, data)
    (tmp_path / "result.json").write_text(text[: text.index('"three"')])
    with pytest.raises(ExportError, match="not valid JSON"):
        import_export(tmp_path)
    assert count(Post) == 2

    write_export(tmp_path, data)
    assert import_export(tmp_path).new_posts == 1


# -- reading the stream --------------------------------------------------------------------------


def read_all(text: str, chunk: int) -> tuple[list[tuple[Any, ...]], dict[str, Any] | None]:
    reader = desktop._ExportReader(desktop._JsonStream(io.StringIO(text), "result.json", chunk=chunk))
    found = [(c.name, c.type, c.telegram_id, list(c.messages)) for c in reader.chats()]
    return found, reader.owner


@pytest.mark.parametrize("chunk", [1, 2, 7, 64, 1 << 20])
def test_the_stream_reads_the_same_whatever_the_chunk_size(chunk: int) -> None:
    long_text = "жёлтый " * 500 + "1234567890"
    data = full(chat(1, message(1, long_text), message(2, ["a", {"type": "bold", "text": "b"}]), name="A"),
                chat(2, message(3, "x", views=12345678901234567890), kind="personal_chat", name="B"),
                left=(chat(3, name="C"),))
    data["other_data"] = {"deep": [[[{"x": [1.5e10, None, True, False, "\"\\"]}]]]}
    text = json.dumps(data, ensure_ascii=False, indent=1)

    found, owner = read_all(text, chunk)
    assert found == [("A", "public_channel", 1, data["chats"]["list"][0]["messages"]),
                     ("B", "personal_chat", 2, data["chats"]["list"][1]["messages"]),
                     ("C", "public_channel", 3, [])]
    assert owner == {"user_id": 42, "first_name": "Ada"}


def test_the_stream_takes_messages_before_the_chat_header_and_desktop_escapes() -> None:
    # Desktop writes control characters as \xHH (not JSON); an escaped backslash before "x" is text.
    text = ('{"messages": [{"id": 1, "type": "message", "date": "2024-01-01T00:00:00", '
            '"text": "bell\\x07 and \\\\x41"}], "id": 5, "type": "public_channel", "name": "Late"}')
    for chunk in (3, 1 << 20):
        ((name, kind, chat_id, messages),), _ = read_all(text, chunk)
        assert (name, kind, chat_id) == ("Late", "public_channel", 5)
        assert messages[0]["text"] == "bell\x07 and \\x41"


@pytest.mark.parametrize("chunk", [1, 4, 1 << 20])
def test_errors_name_the_same_place_whatever_the_chunk_size(chunk: int) -> None:
    text = '{\n "chats": {\n  "list": [{"name": "A", "type": "public_channel", "id": 1, "messages": [1 2]}]}}'
    with pytest.raises(ExportError) as error:
        read_all(text, chunk)
    assert str(error.value) == "result.json is not valid JSON: Expecting ',' or ']' (line 3, column 76)"
