"""Telethon messages as PostData: text with safe HTML, media metadata, forwards, reactions, links.

Pure functions: no network, no database. Album merging lives with PostData (the store uses it
too) and is re-exported here so the parsers find everything in one place.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from telethon.tl import types

from felix_hub.backend.posts.data import PostData, group_albums, link_prefix, merge_album
from felix_hub.backend.telegram.markup import render_html

__all__ = ["group_albums", "is_post", "merge_album", "post_from_message"]


def is_post(message: object) -> bool:
    """A real message with something in it (not a service message, not an empty or deleted one)."""
    return isinstance(message, types.Message) and bool(message.message or _has_media(message))


def post_from_message(message: types.Message, *, channel_id: int, username: str | None) -> PostData:
    """One channel message as PostData. `channel_id` is the bare id (as in PeerChannel)."""
    if not isinstance(message, types.Message):
        raise TypeError(f"not a channel post: {type(message).__name__}")
    text = message.message or ""
    return PostData(
        message_id=message.id,
        date=_utc(message.date),
        text=text,
        html=render_html(text, message.entities),
        edit_date=_utc(message.edit_date) if message.edit_date else None,
        grouped_id=message.grouped_id,
        views=message.views,
        forwards=message.forwards,
        replies=message.replies.replies if message.replies else None,
        reactions=_reactions(message.reactions),
        forward_from=_forward(message.fwd_from),
        reply_to_message_id=_reply_to(message.reply_to, channel_id),
        link=f"{link_prefix(channel_id, username)}{message.id}",
        media=[{**_media(message.media), "message_id": message.id}] if _has_media(message) else None,
    )


def _utc(moment: datetime) -> datetime:
    # Telethon's datetimes are aware; a naive one can only mean UTC, not the host's zone.
    if moment.tzinfo is UTC:  # as Telethon sends them
        return moment
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _has_media(message: types.Message) -> bool:
    return message.media is not None and not isinstance(message.media, types.MessageMediaEmpty)


def _reply_to(header: types.TypeMessageReplyHeader | None, channel_id: int) -> int | None:
    if not isinstance(header, types.MessageReplyHeader):  # a story reply has no message id
        return None
    elsewhere = header.reply_to_peer_id
    if elsewhere is not None and elsewhere != types.PeerChannel(channel_id):
        return None  # a reply to another chat's message: that id means nothing in this channel
    return header.reply_to_msg_id


def _reactions(reactions: types.TypeMessageReactions | None) -> list[dict[str, Any]] | None:
    """None when Telegram sent no reactions; a list (empty when all were taken back) otherwise."""
    if reactions is None:
        return None
    found = []
    for result in reactions.results:
        reaction = result.reaction
        if isinstance(reaction, types.ReactionEmoji):
            found.append({"emoji": reaction.emoticon, "count": result.count})
        elif isinstance(reaction, types.ReactionCustomEmoji):
            found.append({"custom_emoji_id": reaction.document_id, "count": result.count})
        elif isinstance(reaction, types.ReactionPaid):
            found.append({"paid": True, "count": result.count})
    return found


def _forward(header: types.TypeMessageFwdHeader | None) -> dict[str, Any] | None:
    if header is None:
        return None
    origin = header.from_id
    if isinstance(origin, types.PeerChannel):
        kind, origin_id, name = "channel", origin.channel_id, header.post_author
    elif isinstance(origin, types.PeerUser):
        kind, origin_id, name = "user", origin.user_id, header.from_name
    else:  # the sender hides their account: only the name they go by is known
        kind, origin_id, name = "hidden", None, header.from_name
    return {"type": kind, "id": origin_id, "name": name or None, "message_id": header.channel_post,
            "date": _utc(header.date).isoformat() if header.date else None}


# -- media ---------------------------------------------------------------------------------------


def _media(media: types.TypeMessageMedia) -> dict[str, Any]:
    """What is worth keeping about a message's media (metadata only; files are not downloaded)."""
    if isinstance(media, types.MessageMediaPhoto):
        return _photo(media.photo)
    if isinstance(media, types.MessageMediaDocument):
        return _document(media)
    if isinstance(media, types.MessageMediaPoll):
        return _poll(media)
    if isinstance(media, types.MessageMediaWebPage):
        page = media.webpage  # WebPageEmpty and WebPagePending carry at most the url
        return {"kind": "webpage", "url": getattr(page, "url", None), "site_name": getattr(page, "site_name", None),
                "title": getattr(page, "title", None), "description": getattr(page, "description", None)}
    if isinstance(media, types.MessageMediaGeo | types.MessageMediaGeoLive | types.MessageMediaVenue):
        return _geo(media)
    if isinstance(media, types.MessageMediaContact):
        # Never the phone number or vcard (it holds the number too): personal data we do not keep.
        return {"kind": "contact", "first_name": media.first_name, "last_name": media.last_name}
    return _other(media)


def _other(tl_object: object) -> dict[str, Any]:
    return {"kind": "other", "type": type(tl_object).__name__}


def _photo(photo: types.TypePhoto | None) -> dict[str, Any]:
    item: dict[str, Any] = {"kind": "photo"}
    if not isinstance(photo, types.Photo):  # PhotoEmpty, or gone (a self-destructing photo)
        return item
    sized = [s for s in photo.sizes
             if isinstance(s, types.PhotoSize | types.PhotoSizeProgressive | types.PhotoCachedSize)]
    if sized:
        largest = max(sized, key=lambda s: s.w * s.h)
        item.update(width=largest.w, height=largest.h, size=_photo_bytes(largest))
    return item


def _photo_bytes(size: types.PhotoSize | types.PhotoSizeProgressive | types.PhotoCachedSize) -> int:
    if isinstance(size, types.PhotoSizeProgressive):
        return max(size.sizes)  # the sizes of each progressive step; the last is the full image
    if isinstance(size, types.PhotoCachedSize):
        return len(size.bytes)
    return size.size


def _document(media: types.MessageMediaDocument) -> dict[str, Any]:
    document = media.document
    if not isinstance(document, types.Document):
        return _other(document if document is not None else media)
    attributes = {type(a): a for a in document.attributes}
    item: dict[str, Any] = {"kind": "document", "mime": document.mime_type, "size": document.size}
    if name := attributes.get(types.DocumentAttributeFilename):
        item["file_name"] = name.file_name
    return item | _document_kind(media, attributes)


def _document_kind(media: types.MessageMediaDocument, attributes: dict[type, Any]) -> dict[str, Any]:
    """The kind and its metadata; order matters: video stickers and GIFs carry a video attribute too."""
    sticker = attributes.get(types.DocumentAttributeSticker) or attributes.get(types.DocumentAttributeCustomEmoji)
    video = attributes.get(types.DocumentAttributeVideo)
    audio = attributes.get(types.DocumentAttributeAudio)
    if sticker:
        return {"kind": "sticker", "emoji": sticker.alt}
    if types.DocumentAttributeAnimated in attributes:
        return {"kind": "animation", **(_dimensions(video) if video else {})}
    if video:
        if video.round_message or media.round:
            return {"kind": "video_note", **_dimensions(video)}
        return {"kind": "video", **_dimensions(video), "supports_streaming": bool(video.supports_streaming)}
    if audio:
        if audio.voice or media.voice:
            return {"kind": "voice", "duration": audio.duration}
        return {"kind": "audio", "duration": audio.duration, "title": audio.title, "performer": audio.performer}
    return {}


def _dimensions(video: types.DocumentAttributeVideo) -> dict[str, Any]:
    return {"duration": video.duration, "width": video.w, "height": video.h}


def _poll(media: types.MessageMediaPoll) -> dict[str, Any]:
    poll = media.poll
    return {"kind": "poll", "question": _plain(poll.question), "options": [_plain(a.text) for a in poll.answers],
            "closed": bool(poll.closed), "total_voters": media.results.total_voters}


def _plain(text: types.TypeTextWithEntities | str) -> str:
    # Poll texts are TextWithEntities in this layer, plain strings in older ones.
    return text.text if isinstance(text, types.TextWithEntities) else text


def _geo(media: types.MessageMediaGeo | types.MessageMediaGeoLive | types.MessageMediaVenue) -> dict[str, Any]:
    item: dict[str, Any] = {"kind": "geo"}
    if isinstance(media.geo, types.GeoPoint):
        item.update(lat=media.geo.lat, long=media.geo.long)
    if isinstance(media, types.MessageMediaVenue):
        item.update(title=media.title, address=media.address)
    return item
