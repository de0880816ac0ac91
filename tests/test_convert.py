"""Telethon messages to PostData, on real TL objects as Telegram sends them (no mocks)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from telethon.tl import types

from felix_hub.backend.posts.data import PostData
from felix_hub.backend.telegram.convert import group_albums, is_post, merge_album, post_from_message
from felix_hub.backend.telegram.markup import render_html, safe_url

CHANNEL = 1234567890
WHEN = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def message(id: int = 10, text: str = "", **fields: Any) -> types.Message:
    return types.Message(id=id, peer_id=types.PeerChannel(CHANNEL), date=fields.pop("date", WHEN), message=text,
                         post=True, **fields)


def convert(msg: types.Message, username: str | None = "felix") -> PostData:
    return post_from_message(msg, channel_id=CHANNEL, username=username)


def medium(media: types.TypeMessageMedia, **fields: Any) -> dict[str, Any]:
    post = convert(message(id=7, media=media, **fields))
    assert post.media is not None and len(post.media) == 1
    return post.media[0]


def document(*attributes: types.TypeDocumentAttribute, mime: str = "application/octet-stream",
             size: int = 1000) -> types.Document:
    return types.Document(id=1, access_hash=2, file_reference=b"ref", date=WHEN, mime_type=mime, size=size,
                          dc_id=2, attributes=list(attributes))


def photo(*sizes: types.TypePhotoSize) -> types.Photo:
    return types.Photo(id=1, access_hash=2, file_reference=b"ref", date=WHEN, sizes=list(sizes), dc_id=2)


def html(text: str, *entities: types.TypeMessageEntity) -> str:
    return convert(message(text=text, entities=list(entities))).html


# -- text and HTML -------------------------------------------------------------------------------


def test_plain_text_is_kept_and_escaped() -> None:
    post = convert(message(text='<script>alert("x")</script> Tom & Jerry\nline 2'))
    assert post.text == '<script>alert("x")</script> Tom & Jerry\nline 2'
    assert post.html == "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; Tom &amp; Jerry\nline 2"


def test_formatting_entities() -> None:
    text = "bold italic under strike code"
    assert html(text, types.MessageEntityBold(0, 4), types.MessageEntityItalic(5, 6),
                types.MessageEntityUnderline(12, 5), types.MessageEntityStrike(18, 6),
                types.MessageEntityCode(25, 4)) == (
        "<strong>bold</strong> <em>italic</em> <u>under</u> <del>strike</del> <code>code</code>")


def test_nested_entities_and_escaping_inside_them() -> None:
    assert html("a <b> & c", types.MessageEntityBold(0, 9), types.MessageEntityItalic(2, 3)) == (
        "<strong>a <em>&lt;b&gt;</em> &amp; c</strong>")


def test_quotes_emoji_and_mentions() -> None:
    assert html("quote", types.MessageEntityBlockquote(0, 5)) == "<blockquote>quote</blockquote>"
    assert html("long", types.MessageEntityBlockquote(0, 4, collapsed=True)) == (
        "<blockquote expandable>long</blockquote>")
    assert html("👍 ok", types.MessageEntityCustomEmoji(0, 2, document_id=5368324170671202286)) == (
        '<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji> ok')
    assert html("hi Ann", types.MessageEntityMentionName(3, 3, user_id=42)) == (
        'hi <a href="tg://user?id=42">Ann</a>')


def test_entities_without_markup_stay_plain_text() -> None:
    # Hashtags, @mentions and cashtags are plain text on the web too; a spoiler is hidden there.
    assert html("#news @felix $BTC secret", types.MessageEntityHashtag(0, 5), types.MessageEntityMention(6, 6),
                types.MessageEntityCashtag(13, 4), types.MessageEntitySpoiler(18, 6)) == (
        "#news @felix $BTC <tg-spoiler>secret</tg-spoiler>")


def test_pre_with_language_is_compact() -> None:
    # Telethon indents the code and leaves a literal "{}" before </code>; neither may reach the page.
    assert html("run:\nprint(1) {}", types.MessageEntityPre(5, 8, "python")) == (
        'run:\n<pre><code class="language-python">print(1)</code></pre> {}')
    assert html("x < 1", types.MessageEntityPre(0, 5, "")) == "<pre><code>x &lt; 1</code></pre>"
    assert html("f {}", types.MessageEntityPre(0, 4, "")) == "<pre><code>f {}</code></pre>"  # the user's {} stays


def test_pre_language_cannot_inject_markup() -> None:
    assert html("code", types.MessageEntityPre(0, 4, "c'><script>x</script>")) == (
        '<pre><code class="language-cscriptxscript">code</code></pre>')


def test_text_url_is_escaped() -> None:
    assert html("see this", types.MessageEntityTextUrl(4, 4, 'https://x.org/?a=1&b="<>"')) == (
        'see <a href="https://x.org/?a=1&amp;b=&quot;&lt;&gt;&quot;">this</a>')


@pytest.mark.parametrize("url", ["javascript:alert(1)", "JaVaScRiPt:alert(1)", " javascript:alert(1)",
                                 "java\tscript:alert(1)", "\x01javascript:alert(1)", "data:text/html,<b>x</b>",
                                 "vbscript:msgbox(1)"])
def test_unsafe_text_url_becomes_text(url: str) -> None:
    assert html("click <me> & go", types.MessageEntityTextUrl(0, 10, url)) == "click &lt;me&gt; &amp; go"


def test_url_and_email_entities_are_escaped_links() -> None:
    # unparse puts url and email text into href unescaped; these must not break out of the attribute.
    assert html('x.org/"onmouseover="alert(1)', types.MessageEntityUrl(0, 28)) == (
        '<a href="https://x.org/&quot;onmouseover=&quot;alert(1)">x.org/&quot;onmouseover=&quot;alert(1)</a>')
    assert html("go https://t.me/felix", types.MessageEntityUrl(3, 18)) == (
        'go <a href="https://t.me/felix">https://t.me/felix</a>')
    assert html("mail a@b.io", types.MessageEntityEmail(5, 6)) == 'mail <a href="mailto:a@b.io">a@b.io</a>'
    assert html("javascript:alert(1)", types.MessageEntityUrl(0, 19)) == "javascript:alert(1)"


def test_offsets_count_utf16_units() -> None:
    # Each of these emoji is two UTF-16 units (a surrogate pair), the flag is four.
    assert html("👍 bold", types.MessageEntityBold(3, 4)) == "👍 <strong>bold</strong>"
    assert html("🇺🇦😀 a & b", types.MessageEntityItalic(7, 5)) == "🇺🇦😀 <em>a &amp; b</em>"


def test_safe_url() -> None:
    assert safe_url("https://x.org") == "https://x.org"
    assert safe_url("tg://resolve?domain=felix") == "tg://resolve?domain=felix"
    assert safe_url("x.org/a") == "https://x.org/a"
    assert safe_url("localhost:8080/a") == "https://localhost:8080/a"
    assert safe_url("  \n ") is None
    assert safe_url("javascript\n:alert(1)") is None


# -- the message ---------------------------------------------------------------------------------


def test_a_post_with_everything_around_it() -> None:
    moscow = timezone(timedelta(hours=3))
    post = convert(message(
        id=501, text="hello", date=datetime(2025, 3, 1, 15, 0, tzinfo=moscow), views=1200, forwards=7,
        replies=types.MessageReplies(replies=5, replies_pts=1), grouped_id=None,
    ))
    assert post == PostData(message_id=501, date=WHEN, text="hello", html="hello", views=1200, forwards=7, replies=5,
                            link="https://t.me/felix/501")
    assert post.date.tzinfo is UTC


def test_edited_message() -> None:
    post = convert(message(text="v2", edit_date=datetime(2025, 3, 2, 9, 30, tzinfo=timezone(timedelta(hours=-5)))))
    assert post.edit_date == datetime(2025, 3, 2, 14, 30, tzinfo=UTC)
    assert post.edit_date.tzinfo is UTC
    assert convert(message(text="v1")).edit_date is None


def test_links_for_public_and_private_channels() -> None:
    assert convert(message(id=42, text="x"), username="felix").link == "https://t.me/felix/42"
    assert convert(message(id=42, text="x"), username=None).link == f"https://t.me/c/{CHANNEL}/42"


def test_reply_to() -> None:
    assert convert(message(text="x", reply_to=types.MessageReplyHeader(reply_to_msg_id=33))).reply_to_message_id == 33
    same = types.MessageReplyHeader(reply_to_msg_id=34, reply_to_peer_id=types.PeerChannel(CHANNEL))
    assert convert(message(text="x", reply_to=same)).reply_to_message_id == 34
    elsewhere = types.MessageReplyHeader(reply_to_msg_id=35, reply_to_peer_id=types.PeerChannel(999))
    assert convert(message(text="x", reply_to=elsewhere)).reply_to_message_id is None
    story = types.MessageReplyStoryHeader(peer=types.PeerChannel(CHANNEL), story_id=3)
    assert convert(message(text="x", reply_to=story)).reply_to_message_id is None
    assert convert(message(text="x")).reply_to_message_id is None


def test_reactions_of_each_kind() -> None:
    reactions = types.MessageReactions(results=[
        types.ReactionCount(reaction=types.ReactionEmoji("👍"), count=3),
        types.ReactionCount(reaction=types.ReactionCustomEmoji(document_id=5368324170671202286), count=2),
        types.ReactionCount(reaction=types.ReactionPaid(), count=50),
        types.ReactionCount(reaction=types.ReactionEmpty(), count=1),
    ])
    assert convert(message(text="x", reactions=reactions)).reactions == [
        {"emoji": "👍", "count": 3},
        {"custom_emoji_id": 5368324170671202286, "count": 2},
        {"paid": True, "count": 50},
    ]


def test_no_reactions() -> None:
    assert convert(message(text="x")).reactions is None
    # Telegram saying "no reactions" (all taken back) is known, unlike an edit event that carries none.
    assert convert(message(text="x", reactions=types.MessageReactions(results=[]))).reactions == []


def test_forward_from_channel() -> None:
    header = types.MessageFwdHeader(date=datetime(2025, 2, 1, 8, 0, tzinfo=UTC), from_id=types.PeerChannel(777),
                                    channel_post=91, post_author="Anna")
    assert convert(message(text="x", fwd_from=header)).forward_from == {
        "type": "channel", "id": 777, "name": "Anna", "message_id": 91, "date": "2025-02-01T08:00:00+00:00"}
    unsigned = types.MessageFwdHeader(date=WHEN, from_id=types.PeerChannel(777), channel_post=92)
    assert convert(message(text="x", fwd_from=unsigned)).forward_from == {
        "type": "channel", "id": 777, "name": None, "message_id": 92, "date": "2025-03-01T12:00:00+00:00"}


def test_forward_from_user() -> None:
    header = types.MessageFwdHeader(date=datetime(2025, 2, 1, 11, 0, tzinfo=timezone(timedelta(hours=3))),
                                    from_id=types.PeerUser(555))
    assert convert(message(text="x", fwd_from=header)).forward_from == {
        "type": "user", "id": 555, "name": None, "message_id": None, "date": "2025-02-01T08:00:00+00:00"}


def test_forward_from_hidden_account() -> None:
    header = types.MessageFwdHeader(date=WHEN, from_name="Secret Sam")
    assert convert(message(text="x", fwd_from=header)).forward_from == {
        "type": "hidden", "id": None, "name": "Secret Sam", "message_id": None, "date": "2025-03-01T12:00:00+00:00"}


def test_not_forwarded() -> None:
    assert convert(message(text="x")).forward_from is None


# -- what is a post --------------------------------------------------------------------------------


def test_service_and_empty_messages_are_not_posts() -> None:
    created = types.MessageService(id=1, peer_id=types.PeerChannel(CHANNEL), date=WHEN,
                                   action=types.MessageActionChannelCreate(title="Felix"))
    pinned = types.MessageService(id=2, peer_id=types.PeerChannel(CHANNEL), date=WHEN,
                                  action=types.MessageActionPinMessage(),
                                  reply_to=types.MessageReplyHeader(reply_to_msg_id=1))
    empty = types.MessageEmpty(id=3, peer_id=types.PeerChannel(CHANNEL))
    for other in (created, pinned, empty, None):
        assert not is_post(other)
    with pytest.raises(TypeError, match="MessageService"):
        post_from_message(created, channel_id=CHANNEL, username=None)  # type: ignore[arg-type]


def test_what_counts_as_a_post() -> None:
    assert is_post(message(text="hi"))
    assert is_post(message(media=types.MessageMediaPhoto(photo=photo())))
    assert not is_post(message(text=""))
    assert not is_post(message(text="", media=types.MessageMediaEmpty()))


def test_no_media() -> None:
    assert convert(message(text="x")).media is None
    assert convert(message(text="x", media=types.MessageMediaEmpty())).media is None


# -- media ---------------------------------------------------------------------------------------


def test_photo_takes_the_largest_size() -> None:
    sizes = (types.PhotoStrippedSize(type="i", bytes=b"\x01\x02"), types.PhotoSize(type="m", w=320, h=240, size=9000),
             types.PhotoSizeProgressive(type="y", w=1280, h=960, sizes=[10000, 40000, 95000]),
             types.PhotoSize(type="x", w=800, h=600, size=60000))
    assert medium(types.MessageMediaPhoto(photo=photo(*sizes))) == {
        "kind": "photo", "width": 1280, "height": 960, "size": 95000, "message_id": 7}
    cached = types.PhotoCachedSize(type="s", w=90, h=60, bytes=b"abcd")
    assert medium(types.MessageMediaPhoto(photo=photo(cached))) == {
        "kind": "photo", "width": 90, "height": 60, "size": 4, "message_id": 7}


def test_photo_without_a_photo() -> None:
    assert medium(types.MessageMediaPhoto(photo=types.PhotoEmpty(id=1))) == {"kind": "photo", "message_id": 7}
    assert medium(types.MessageMediaPhoto(ttl_seconds=10)) == {"kind": "photo", "message_id": 7}


def test_video() -> None:
    doc = document(types.DocumentAttributeVideo(duration=12.5, w=1920, h=1080, supports_streaming=True),
                   types.DocumentAttributeFilename("clip.mp4"), mime="video/mp4", size=4_000_000)
    assert medium(types.MessageMediaDocument(document=doc, video=True)) == {
        "kind": "video", "mime": "video/mp4", "size": 4_000_000, "file_name": "clip.mp4", "duration": 12.5,
        "width": 1920, "height": 1080, "supports_streaming": True, "message_id": 7}


def test_video_note() -> None:
    doc = document(types.DocumentAttributeVideo(duration=9, w=384, h=384, round_message=True), mime="video/mp4")
    assert medium(types.MessageMediaDocument(document=doc, round=True)) == {
        "kind": "video_note", "mime": "video/mp4", "size": 1000, "duration": 9, "width": 384, "height": 384,
        "message_id": 7}


def test_animation() -> None:
    doc = document(types.DocumentAttributeVideo(duration=3, w=480, h=270), types.DocumentAttributeAnimated(),
                   types.DocumentAttributeFilename("cat.gif.mp4"), mime="video/mp4", size=250_000)
    assert medium(types.MessageMediaDocument(document=doc)) == {
        "kind": "animation", "mime": "video/mp4", "size": 250_000, "file_name": "cat.gif.mp4", "duration": 3,
        "width": 480, "height": 270, "message_id": 7}


def test_audio() -> None:
    doc = document(types.DocumentAttributeAudio(duration=215, title="Song", performer="Band"),
                   types.DocumentAttributeFilename("song.mp3"), mime="audio/mpeg", size=5_000_000)
    assert medium(types.MessageMediaDocument(document=doc)) == {
        "kind": "audio", "mime": "audio/mpeg", "size": 5_000_000, "file_name": "song.mp3", "duration": 215,
        "title": "Song", "performer": "Band", "message_id": 7}


def test_voice() -> None:
    doc = document(types.DocumentAttributeAudio(duration=14, voice=True, waveform=b"\x00\x10"), mime="audio/ogg",
                   size=30_000)
    assert medium(types.MessageMediaDocument(document=doc, voice=True)) == {
        "kind": "voice", "mime": "audio/ogg", "size": 30_000, "duration": 14, "message_id": 7}


def test_stickers_static_and_video() -> None:
    pack = types.InputStickerSetShortName("felix_pack")
    static = document(types.DocumentAttributeImageSize(w=512, h=512), types.DocumentAttributeSticker("😺", pack),
                      types.DocumentAttributeFilename("sticker.webp"), mime="image/webp", size=20_000)
    assert medium(types.MessageMediaDocument(document=static)) == {
        "kind": "sticker", "mime": "image/webp", "size": 20_000, "file_name": "sticker.webp", "emoji": "😺",
        "message_id": 7}
    video = document(types.DocumentAttributeVideo(duration=2.9, w=512, h=512),
                     types.DocumentAttributeSticker("🔥", pack), mime="video/webm", size=60_000)
    assert medium(types.MessageMediaDocument(document=video)) == {
        "kind": "sticker", "mime": "video/webm", "size": 60_000, "emoji": "🔥", "message_id": 7}


def test_plain_document() -> None:
    doc = document(types.DocumentAttributeFilename("report.pdf"), mime="application/pdf", size=123_456)
    assert medium(types.MessageMediaDocument(document=doc)) == {
        "kind": "document", "mime": "application/pdf", "size": 123_456, "file_name": "report.pdf", "message_id": 7}
    assert medium(types.MessageMediaDocument(document=document(mime="text/plain", size=5))) == {
        "kind": "document", "mime": "text/plain", "size": 5, "message_id": 7}


def test_document_gone() -> None:
    assert medium(types.MessageMediaDocument(document=types.DocumentEmpty(id=1))) == {
        "kind": "other", "type": "DocumentEmpty", "message_id": 7}
    assert medium(types.MessageMediaDocument(ttl_seconds=5)) == {
        "kind": "other", "type": "MessageMediaDocument", "message_id": 7}


def test_poll() -> None:
    def text(value: str) -> types.TextWithEntities:
        return types.TextWithEntities(text=value, entities=[])

    poll = types.Poll(id=1, question=text("Tea or coffee?"), hash=0, closed=True, answers=[
        types.PollAnswer(text=text("Tea"), option=b"0"), types.PollAnswer(text=text("Coffee"), option=b"1")])
    results = types.PollResults(total_voters=31, results=[types.PollAnswerVoters(option=b"0", voters=20),
                                                          types.PollAnswerVoters(option=b"1", voters=11)])
    assert medium(types.MessageMediaPoll(poll=poll, results=results)) == {
        "kind": "poll", "question": "Tea or coffee?", "options": ["Tea", "Coffee"], "closed": True,
        "total_voters": 31, "message_id": 7}
    open_poll = types.Poll(id=2, question=text("?"), hash=0, answers=[])
    assert medium(types.MessageMediaPoll(poll=open_poll, results=types.PollResults())) == {
        "kind": "poll", "question": "?", "options": [], "closed": False, "total_voters": None, "message_id": 7}


def test_webpage_preview() -> None:
    page = types.WebPage(id=1, url="https://example.org/a", display_url="example.org/a", hash=0, type="article",
                         site_name="Example", title="A title", description="What it says")
    assert medium(types.MessageMediaWebPage(webpage=page), text="https://example.org/a") == {
        "kind": "webpage", "url": "https://example.org/a", "site_name": "Example", "title": "A title",
        "description": "What it says", "message_id": 7}
    pending = types.WebPagePending(id=2, date=WHEN, url="https://example.org/b")
    assert medium(types.MessageMediaWebPage(webpage=pending)) == {
        "kind": "webpage", "url": "https://example.org/b", "site_name": None, "title": None, "description": None,
        "message_id": 7}


def test_geo_and_venue() -> None:
    point = types.GeoPoint(long=37.6173, lat=55.7558, access_hash=1)
    assert medium(types.MessageMediaGeo(geo=point)) == {"kind": "geo", "lat": 55.7558, "long": 37.6173,
                                                        "message_id": 7}
    venue = types.MessageMediaVenue(geo=point, title="Red Square", address="Moscow", provider="foursquare",
                                    venue_id="v1", venue_type="")
    assert medium(venue) == {"kind": "geo", "lat": 55.7558, "long": 37.6173, "title": "Red Square",
                             "address": "Moscow", "message_id": 7}
    assert medium(types.MessageMediaGeo(geo=types.GeoPointEmpty())) == {"kind": "geo", "message_id": 7}


def test_contact_keeps_no_phone_number() -> None:
    contact = types.MessageMediaContact(phone_number="+79991234567", first_name="Ivan", last_name="Petrov",
                                        vcard="BEGIN:VCARD\nTEL:+79991234567\nEND:VCARD", user_id=55)
    item = medium(contact)
    assert item == {"kind": "contact", "first_name": "Ivan", "last_name": "Petrov", "message_id": 7}
    assert "9991234567" not in repr(convert(message(id=7, media=contact)))


def test_other_media() -> None:
    game = types.Game(id=1, access_hash=2, short_name="g", title="Game", description="", photo=types.PhotoEmpty(id=1))
    invoice = types.MessageMediaInvoice(title="Pay", description="", currency="XTR", total_amount=10, start_param="")
    for media, name in ((types.MessageMediaDice(value=4, emoticon="🎲"), "MessageMediaDice"),
                        (types.MessageMediaGame(game=game), "MessageMediaGame"), (invoice, "MessageMediaInvoice"),
                        (types.MessageMediaUnsupported(), "MessageMediaUnsupported")):
        assert medium(media) == {"kind": "other", "type": name, "message_id": 7}


# -- albums --------------------------------------------------------------------------------------


def album_part(id: int, caption: str = "", **fields: Any) -> PostData:
    doc = document(types.DocumentAttributeVideo(duration=1, w=2, h=2), mime="video/mp4")
    media = types.MessageMediaPhoto(photo=photo(types.PhotoSize("x", 800, 600, 50_000))) if id % 2 else (
        types.MessageMediaDocument(document=doc))
    return convert(message(id=id, text=caption, media=media, grouped_id=999, **fields))


def test_album_of_three_with_the_caption_on_the_middle_one() -> None:
    first = album_part(101, date=WHEN + timedelta(seconds=1))
    middle = album_part(102, "the <caption>", entities=[types.MessageEntityBold(4, 9)], views=300, forwards=4,
                        reactions=types.MessageReactions(results=[
                            types.ReactionCount(reaction=types.ReactionEmoji("❤"), count=9)]),
                        edit_date=WHEN + timedelta(hours=1))
    last = album_part(103, date=WHEN, edit_date=WHEN + timedelta(hours=2), views=299)
    album = merge_album([last, first, middle])
    assert album.message_id == 101
    assert album.album_ids == (101, 102, 103)
    assert album.message_ids == (101, 102, 103)
    assert album.grouped_id == 999
    assert (album.text, album.html) == ("the <caption>", "the <strong>&lt;caption&gt;</strong>")
    assert album.date == WHEN
    assert album.edit_date == WHEN + timedelta(hours=2)
    assert (album.views, album.forwards, album.reactions) == (300, 4, [{"emoji": "❤", "count": 9}])
    assert album.link == "https://t.me/felix/101"
    assert album.media is not None
    assert [(m["kind"], m["message_id"]) for m in album.media] == [("photo", 101), ("video", 102), ("photo", 103)]


def test_album_stats_without_a_caption_come_from_the_first_that_has_them() -> None:
    album = merge_album([album_part(12, views=50), album_part(11)])
    assert (album.text, album.views) == ("", 50)


def test_merge_album_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        merge_album([])
    other = convert(message(id=104, text="x", grouped_id=1000))
    with pytest.raises(ValueError):
        merge_album([album_part(101), other])


def test_group_albums() -> None:
    single = convert(message(id=100, text="before"))
    after = convert(message(id=105, text="after"))
    other_album = [convert(message(id=i, text="", grouped_id=5, media=types.MessageMediaPhoto(photo=photo())))
                   for i in (106, 107)]
    posts = group_albums([after, album_part(103), *other_album, album_part(101, "cap"), single, album_part(102)])
    assert [(p.message_id, p.album_ids) for p in posts] == [
        (100, None), (101, (101, 102, 103)), (105, None), (106, (106, 107))]
    assert posts[1].text == "cap"
    assert group_albums([]) == []


def test_render_html_without_entities() -> None:
    assert render_html("", None) == ""
    assert render_html("a & b", []) == "a &amp; b"
