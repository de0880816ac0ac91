"""Telegram Desktop exports (JSON) into the posts store: read as a stream, stored in batches.

Desktop writes one of two layouts to `result.json`. "Export chat history" makes the chat the
whole document (`name`, `type`, `id`, `messages`); "Export Telegram data" puts every chat under
`chats.list` and the channels the user left under `left_chats.list`, beside sections we ignore
(`personal_information`, `contacts`, `sessions`...). Channels and supergroups are imported;
personal, bot, group and saved-messages chats are skipped and reported.

How an exported message becomes a PostData:

* Chat ids are bare ids: Desktop writes PeerToBareId, so a channel is 1234567890, as in
  PeerChannel and in our `channels.telegram_id`. A Bot API id (-1001234567890) loses its -100.
* `date` is the exporting computer's local time with no zone; `date_unixtime` (epoch seconds,
  written as a string) is the true moment and wins. Without it the string is read as UTC.
* `text` is a string, or a list of strings and entity objects; `text_entities` always lists
  entity objects and wins when present. The HTML escapes everything and uses the live parser's
  tags (<strong>, <em>, <u>, <del>, <code>, <pre><code>, <blockquote>), <tg-spoiler> for spoilers,
  and links only to http(s) and tg: URLs; every other entity is plain escaped text.
* Exports carry no views and no album marks (grouped_id stays None), and no username, so a
  post's link is https://t.me/c/{channel id}/{message id}.
* Media keep their metadata and the export's relative file path; no file is ever opened.
  A shared contact loses its phone number: we keep none.

The import only adds. A post Felix already stores (parsed live, or imported before) is left
alone unless the export holds a newer edit of it: the live version has views and the live
rendering, and a live album holds several exported messages in one post.
"""

from __future__ import annotations

import html
import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO, TypeGuard

from felix_hub.backend import channels, users
from felix_hub.backend.channels import Followed
from felix_hub.backend.database import read
from felix_hub.backend.posts.data import PostData, link_prefix
from felix_hub.backend.posts.store import store_posts, stored_near
from felix_hub.backend.telegram.markup import TAGS, link_tags, pre_tags, safe_url

BATCH_SIZE = 2000
CHANNEL_TYPES = frozenset({"public_channel", "private_channel", "public_supergroup", "private_supergroup"})

Progress = Callable[[str], None]


class ExportError(ValueError):
    """The path is no readable Telegram Desktop export; the message says why, in one line."""


@dataclass(frozen=True)
class ImportedChannel:
    channel_id: int
    telegram_id: int
    title: str
    messages: int  # read from the export
    new_posts: int
    updated_posts: int  # stored posts the export holds a newer edit of
    skipped: int  # service, unsupported and empty messages: not posts

    @property
    def already_stored(self) -> int:
        return self.messages - self.skipped - self.new_posts - self.updated_posts


@dataclass(frozen=True)
class SkippedChat:
    name: str | None
    type: str | None
    telegram_id: int | None
    reason: str


@dataclass(frozen=True)
class ImportReport:
    channels: tuple[ImportedChannel, ...]
    skipped_chats: tuple[SkippedChat, ...]
    seconds: float
    subscriptions: int = 0  # channels the --user started to follow

    @property
    def new_posts(self) -> int:
        return sum(channel.new_posts for channel in self.channels)


# -- importing -----------------------------------------------------------------------------------


def import_export(path: Path, *, telegram_user_id: int | None = None,
                  progress: Progress | None = None) -> ImportReport:
    """Import every channel of the Desktop export at `path` (its folder or its result.json).

    Blocking; needs an app context. With `telegram_user_id`, that user (created if they never
    talked to the bot) follows every imported channel. Each batch is its own transaction: an
    export found broken halfway keeps what came before the break, and importing it again adds
    only the rest.
    """
    started = time.perf_counter()
    say = progress or _quiet
    source = _result_json(Path(path))
    imported: list[ImportedChannel] = []
    skipped: list[SkippedChat] = []
    with _open(source) as file:
        reader = _ExportReader(_JsonStream(file, source.name))
        for chat in reader.chats():
            reason = _not_importable(chat)
            if reason is None:
                imported.append(_import_channel(chat, say))
            else:
                skipped.append(SkippedChat(chat.name, chat.type, chat.telegram_id, reason))
                say(f"Skipped {_describe(chat)}: {reason}")
    subscriptions = 0
    if telegram_user_id is not None:
        subscriptions = _subscribe(telegram_user_id, reader.owner, imported)
    return ImportReport(tuple(imported), tuple(skipped), time.perf_counter() - started, subscriptions)


def _quiet(_line: str) -> None:
    pass


def _result_json(path: Path) -> Path:
    if not path.exists():
        raise ExportError(f"{path} does not exist")
    if not path.is_dir():
        return path
    if not (path / "result.json").is_file():
        raise ExportError(f"{path} holds no result.json (export in the JSON format from Telegram Desktop)")
    return path / "result.json"


def _open(source: Path) -> TextIO:
    try:
        # utf-8-sig: Desktop writes no BOM, but a file that passed through an editor may have one.
        return source.open(encoding="utf-8-sig")
    except OSError as error:
        raise ExportError(f"{source} cannot be read: {error.strerror}") from None


def _not_importable(chat: _Chat) -> str | None:
    if chat.type not in CHANNEL_TYPES:
        return "not a channel"
    if chat.telegram_id is None:
        return "the chat has no valid id"
    return None


def _describe(chat: _Chat) -> str:
    name = f'"{chat.name}"' if chat.name else "(no name)"
    return f"{chat.type or 'chat'} {name}"


@dataclass
class _Tally:
    messages: int = 0
    new_posts: int = 0
    updated_posts: int = 0
    skipped: int = 0
    newest: int = 0  # the highest message id read


def _import_channel(chat: _Chat, say: Progress) -> ImportedChannel:
    assert chat.telegram_id is not None
    title = chat.name or str(chat.telegram_id)
    channel_id = channels.remember_imported(chat.telegram_id, title)
    tally = _Tally()
    batch: list[PostData] = []
    for message in chat.messages:
        tally.messages += 1
        post = post_from_export(message, chat.telegram_id)
        if post is None:
            tally.skipped += 1
            continue
        batch.append(post)
        tally.newest = max(tally.newest, post.message_id)
        if len(batch) == BATCH_SIZE:
            _store(channel_id, batch, tally)
            batch = []
            say(f"{title}: {tally.messages} messages read, {tally.new_posts} new posts")
    if batch:
        _store(channel_id, batch, tally)
    if tally.newest:
        channels.record_imported(channel_id, tally.newest)
    say(f"{title}: {tally.messages} messages, {tally.new_posts} new posts, {tally.skipped} not posts")
    return ImportedChannel(channel_id, chat.telegram_id, title, tally.messages, tally.new_posts,
                           tally.updated_posts, tally.skipped)


def _store(channel_id: int, batch: list[PostData], tally: _Tally) -> None:
    wanted = _not_yet_stored(channel_id, batch)
    if wanted:
        # Not contiguous: an export may be cut by date or type, so the watermark stays where live
        # parsing left it, and catch-up still reads whatever the export lacks.
        stored = store_posts(channel_id, wanted, contiguous=False)
        tally.new_posts += stored.new
        tally.updated_posts += stored.changed


def _not_yet_stored(channel_id: int, batch: list[PostData]) -> list[PostData]:
    """The posts of `batch` worth storing: the new ones, and newer edits of stored single posts."""
    ids = {post.message_id for post in batch}
    with read() as connection:
        found = stored_near(connection, channel_id, ids, "message_id", "edit_date", "album_ids")
    in_albums: set[int] = set()
    edited: dict[int, datetime | None] = {}
    for row in found:
        if row.album_ids:
            in_albums.update(row.album_ids)
        elif row.message_id in ids:
            edited[row.message_id] = row.edit_date
    return [post for post in batch if post.message_id not in in_albums
            and (post.message_id not in edited or _newer(post.edit_date, edited[post.message_id]))]


def _newer(edit: datetime | None, stored: datetime | None) -> bool:
    return edit is not None and (stored is None or edit > stored)


def _subscribe(telegram_user_id: int, owner: dict[str, Any] | None, imported: list[ImportedChannel]) -> int:
    """Make the user follow every imported channel; how many they did not follow yet."""
    # find first: register() would overwrite a known user's names with the export's.
    user = users.find(telegram_user_id) or users.register(
        users.Profile(telegram_user_id, _owner_name(owner, telegram_user_id)))
    return sum(channels.subscribe(user.id, channel.channel_id, limit=None) is Followed.OK for channel in imported)


def _owner_name(owner: dict[str, Any] | None, telegram_user_id: int) -> str:
    """The export owner's first name, if the export is that user's own."""
    if not owner or owner.get("user_id") not in (None, telegram_user_id):
        return "User"
    name = owner.get("first_name")
    return name[:255] if isinstance(name, str) and name.strip() else "User"


# -- reading result.json as a stream -------------------------------------------------------------

_WHITESPACE = re.compile(r"[ \t\n\r]*")
# Desktop writes control characters as \xHH, which JSON lacks; \\ pairs are matched so that an
# escaped backslash followed by "x" stays as it is.
_DESKTOP_ESCAPE = re.compile(r"(\\\\)|\\x([0-9A-Fa-f]{2})")


class _JsonStream:
    """One JSON document read piece by piece: objects and arrays step by step, each value the
    caller wants decoded whole by the C decoder. Memory holds a chunk and one value, not the file."""

    def __init__(self, file: TextIO, name: str, chunk: int = 1 << 20) -> None:
        self._file = file
        self._name = name
        self._chunk = chunk
        self._buffer = ""
        self._pos = 0
        self._eof = False
        # Where the buffer starts in the file, and what the dropped text held, for error positions.
        self._offset = 0
        self._lines_dropped = 0
        self._last_newline = -1
        self._decoder = json.JSONDecoder()

    def peek(self) -> str:
        """The next character that is not whitespace, left unread; "" at the end."""
        while True:
            self._pos = _WHITESPACE.match(self._buffer, self._pos).end()  # type: ignore[union-attr]
            if self._pos < len(self._buffer):
                return self._buffer[self._pos]
            if self._eof:
                return ""
            self._read_more()

    def value(self) -> Any:
        """The whole value starting here, decoded."""
        self.peek()
        while True:
            try:
                value, end = self._decoder.raw_decode(self._buffer, self._pos)
            except json.JSONDecodeError as error:
                if error.msg.startswith("Invalid \\escape") and self._repair_escapes():
                    continue
                if self._eof:
                    raise self._invalid(error.msg, error.pos) from None
                self._read_more()  # most likely the value goes on in the next chunk
                continue
            if end < len(self._buffer) or self._eof:  # a number at the very end may go on too
                self._pos = end
                return value
            self._read_more()

    def skip(self) -> None:
        self.value()

    def members(self) -> Iterator[str]:
        """The keys of the object starting here; the caller reads or skips each value."""
        self._take("{")
        if self.peek() == "}":
            self._pos += 1
            return
        while True:
            key = self.value()
            if not isinstance(key, str):
                raise self._invalid("Expecting property name enclosed in double quotes", self._pos)
            self._take(":")
            yield key
            if self._take(",}") == "}":
                return

    def items(self) -> Iterator[None]:
        """One step per item of the array starting here; the caller reads or skips each item."""
        self._take("[")
        if self.peek() == "]":
            self._pos += 1
            return
        while True:
            yield None
            if self._take(",]") == "]":
                return

    def values(self) -> Iterator[Any]:
        """The items of the array starting here, decoded one at a time."""
        for _ in self.items():
            yield self.value()

    def require(self, opening: str, what: str) -> None:
        """The next value must be an object ("{") or an array ("["), or this is no export."""
        if self.peek() != opening:
            kind = "an object" if opening == "{" else "an array"
            raise self.not_an_export(f"{what} is not {kind}")

    def finish(self) -> None:
        if self.peek():
            raise self._invalid("Extra data", self._pos)

    def not_an_export(self, why: str) -> ExportError:
        return ExportError(f"{self._name} is not a Telegram Desktop export: {why} ({self._where(self._pos)})")

    def _take(self, expected: str) -> str:
        char = self.peek()
        if not char or char not in expected:
            wanted = " or ".join(repr(c) for c in expected)
            raise self._invalid(f"Expecting {wanted}", self._pos)
        self._pos += 1
        return char

    def _read_more(self) -> None:
        unread = self._buffer[self._pos:]
        self._lines_dropped += self._buffer.count("\n", 0, self._pos)
        newline = self._buffer.rfind("\n", 0, self._pos)
        if newline >= 0:
            self._last_newline = self._offset + newline
        self._offset += self._pos
        try:
            # At least as much as is unread: a value bigger than a chunk costs O(n), not O(n²).
            more = self._file.read(max(self._chunk, len(unread)))
        except UnicodeDecodeError:
            raise ExportError(f"{self._name} is not UTF-8 text") from None
        self._eof = not more
        self._buffer, self._pos = unread + more, 0

    def _repair_escapes(self) -> bool:
        unread = self._buffer[self._pos:]
        repaired = _DESKTOP_ESCAPE.sub(lambda m: m[1] or f"\\u00{m[2]}", unread)
        if repaired == unread:
            return False
        self._buffer = self._buffer[:self._pos] + repaired
        return True

    def _invalid(self, message: str, pos: int) -> ExportError:
        return ExportError(f"{self._name} is not valid JSON: {message} ({self._where(pos)})")

    def _where(self, pos: int) -> str:
        line = self._lines_dropped + self._buffer.count("\n", 0, pos) + 1
        newline = self._buffer.rfind("\n", 0, pos)
        column = pos - newline if newline >= 0 else self._offset + pos - self._last_newline
        return f"line {line}, column {column}"


@dataclass
class _Chat:
    name: str | None
    type: str | None
    telegram_id: int | None
    messages: Iterator[Any] = field(repr=False)


_HEADER_KEYS = ("name", "type", "id")
_CHAT_LISTS = ("chats", "left_chats")


class _ExportReader:
    """Walks result.json and yields each chat once. Its messages are read while the caller
    iterates them, so a chat must be done with before the next one is asked for."""

    def __init__(self, stream: _JsonStream) -> None:
        self._stream = stream
        self._export_found = False
        self.owner: dict[str, Any] | None = None  # personal_information, in a full export

    def chats(self) -> Iterator[_Chat]:
        self._stream.require("{", "the top level")
        yield from self._chat_object(top=True)
        self._stream.finish()
        if not self._export_found:
            raise self._stream.not_an_export("neither chats nor messages")

    def _chat_object(self, *, top: bool) -> Iterator[_Chat]:
        """A chat's members; at the top level also the sections of a full export."""
        stream = self._stream
        header: dict[str, Any] = {}
        early: list[Any] | None = None  # messages that came before the chat's type and id
        streamed = False
        for key in stream.members():
            if key in _HEADER_KEYS:
                header[key] = stream.value()
            elif key == "messages" and not streamed and early is None:
                self._export_found |= top
                stream.require("[", "messages")
                if "type" in header and "id" in header:  # as Desktop writes it
                    streamed = True
                    yield from self._streamed(header)
                else:
                    early = list(stream.values())
            elif top and key in _CHAT_LISTS:
                self._export_found = True
                yield from self._chat_list(key)
            elif top and key == "personal_information":
                owner = stream.value()
                self.owner = owner if isinstance(owner, dict) else None
            else:
                stream.skip()
        if early is not None:
            yield _chat(header, iter(early))

    def _streamed(self, header: dict[str, Any]) -> Iterator[_Chat]:
        messages = self._stream.values()
        yield _chat(header, messages)
        for _ in messages:  # whatever the caller left unread (all of a skipped chat)
            pass

    def _chat_list(self, section: str) -> Iterator[_Chat]:
        stream = self._stream
        stream.require("{", section)
        for key in stream.members():
            if key != "list":
                stream.skip()
                continue
            stream.require("[", f"{section}.list")
            for _ in stream.items():
                if stream.peek() == "{":
                    yield from self._chat_object(top=False)
                else:
                    stream.skip()


def _chat(header: dict[str, Any], messages: Iterator[Any]) -> _Chat:
    name, kind = header.get("name"), header.get("type")
    return _Chat(name if isinstance(name, str) else None, kind if isinstance(kind, str) else None,
                 _bare_id(header.get("id")), messages)


_MARKED_CHANNEL = 10**12  # a Bot API channel id is -(10**12 + bare id), printed as -100...


def _bare_id(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    try:
        number = int(value)
    except ValueError:
        return None
    if number <= -_MARKED_CHANNEL:
        number = -number - _MARKED_CHANNEL
    return number if number > 0 else None


# -- one message ---------------------------------------------------------------------------------


def post_from_export(message: Any, channel_id: int) -> PostData | None:
    """One exported message of a channel as PostData; None for what is not a post (service
    messages, unsupported or empty ones). `channel_id` is the bare Telegram id."""
    if not isinstance(message, dict) or message.get("type") != "message":
        return None
    message_id = message.get("id")
    date = _moment(message.get("date_unixtime"), message.get("date"))
    if not _is_id(message_id) or date is None:
        return None
    text, markup = _render(_text_parts(message))
    medium = _medium(message)
    if not text and medium is None:
        return None
    return PostData(
        message_id=message_id,
        date=date,
        text=text,
        html=markup,
        edit_date=_moment(message.get("edited_unixtime"), message.get("edited")),
        reactions=_reactions(message.get("reactions")),
        forward_from=_forward(message),
        reply_to_message_id=_reply_to(message, channel_id),
        link=f"{link_prefix(channel_id, None)}{message_id}",
        media=[{**medium, "message_id": message_id}] if medium else None,
    )


def _is_id(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _moment(unixtime: Any, local: Any) -> datetime | None:
    """UTC from epoch seconds when the export has them; else the zoneless string, read as UTC."""
    if isinstance(unixtime, int | str) and not isinstance(unixtime, bool):
        try:
            return datetime.fromtimestamp(int(unixtime), UTC)
        except (ValueError, OverflowError, OSError):
            pass
    if not isinstance(local, str):
        return None
    try:
        moment = datetime.fromisoformat(local)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _reply_to(message: dict[str, Any], channel_id: int) -> int | None:
    target = message.get("reply_to_message_id")
    elsewhere = message.get("reply_to_peer_id")
    if not _is_id(target) or (elsewhere is not None and elsewhere != f"channel{channel_id}"):
        return None  # a reply to another chat's message: that id means nothing in this channel
    return target


_PEER = re.compile(r"(user|channel|chat)(\d+)")


def _forward(message: dict[str, Any]) -> dict[str, Any] | None:
    """Desktop names the origin; newer versions add its id ("channel123", "user456")."""
    if "forwarded_from" not in message and "forwarded_from_id" not in message:
        return None
    name = message.get("forwarded_from")
    origin = message.get("forwarded_from_id")
    peer = _PEER.fullmatch(origin) if isinstance(origin, str) else None
    kind, origin_id = (peer[1], int(peer[2])) if peer and peer[1] != "chat" else ("hidden", None)
    return {"type": kind, "id": origin_id, "name": name if isinstance(name, str) and name else None,
            "message_id": None, "date": None}


def _reactions(value: Any) -> list[dict[str, Any]] | None:
    """PostData's reactions; the export's lists of who reacted are left out."""
    if not isinstance(value, list):
        return None
    found: list[dict[str, Any]] = []
    for reaction in value:
        if not isinstance(reaction, dict) or not _is_count(reaction.get("count")):
            continue
        kind, count = reaction.get("type"), reaction["count"]
        if kind == "emoji" and isinstance(reaction.get("emoji"), str):
            found.append({"emoji": reaction["emoji"], "count": count})
        elif kind == "custom_emoji" and str(reaction.get("document_id", "")).isdigit():
            found.append({"custom_emoji_id": int(reaction["document_id"]), "count": count})
        elif kind == "paid":
            found.append({"paid": True, "count": count})
    return found


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


# -- text and HTML -------------------------------------------------------------------------------

_LINK_SCHEMES = frozenset({"http", "https", "tg"})
_USERNAME = re.compile(r"[A-Za-z0-9_]{1,32}")


def _text_parts(message: dict[str, Any]) -> list[Any]:
    entities = message.get("text_entities")
    if isinstance(entities, list) and entities:
        return entities
    text = message.get("text")
    if isinstance(text, list):
        return text
    return [text] if isinstance(text, str) and text else []


def _render(parts: list[Any]) -> tuple[str, str]:
    """Plain text and safe HTML of a message's text parts."""
    plain: list[str] = []
    markup: list[str] = []
    for part in parts:
        if isinstance(part, str):
            plain.append(part)
            markup.append(html.escape(part))
        elif isinstance(part, dict) and isinstance(part.get("text"), str):
            plain.append(part["text"])
            markup.append(_part_html(part))
    return "".join(plain), "".join(markup)


def _part_html(part: dict[str, Any]) -> str:
    text, kind = part["text"], part.get("type")
    if not text:
        return ""
    escaped = html.escape(text)
    if isinstance(kind, str) and kind in TAGS:
        opening, closing = TAGS[kind]
    elif kind == "pre":
        opening, closing = pre_tags(str(part.get("language") or ""))
    elif href := _href(kind, text, part):
        opening, closing = link_tags(href)
    else:
        return escaped
    return f"{opening}{escaped}{closing}"


def _href(kind: Any, text: str, part: dict[str, Any]) -> str | None:
    if kind == "text_link":
        return _safe_url(part.get("href"))
    if kind == "link":
        return _safe_url(text)
    if kind == "mention" and _USERNAME.fullmatch(text.removeprefix("@")):
        return f"https://t.me/{text.removeprefix('@')}"
    return None  # hashtags, emails, phones, custom emoji...: text


def _safe_url(url: Any) -> str | None:
    """The URL if a link may carry it (http, https, tg; no scheme means https), else None."""
    return safe_url(url, _LINK_SCHEMES) if isinstance(url, str) else None


def _plain(value: Any) -> str:
    """Text that may come as a string or as a list of parts (poll questions in newer exports)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(p if isinstance(p, str) else str(p.get("text", "")) for p in value if isinstance(p, str | dict))
    return ""


# -- media ---------------------------------------------------------------------------------------

_FILE_KINDS = {
    "video_file": "video",
    "voice_message": "voice",
    "audio_file": "audio",
    "animation": "animation",
    "video_message": "video_note",
    "sticker": "sticker",
}
# The export's names of file metadata, and ours (as the live parser stores them).
_FILE_FIELDS = (
    ("mime_type", "mime"), ("file_size", "size"), ("duration_seconds", "duration"), ("width", "width"),
    ("height", "height"), ("file_name", "file_name"), ("title", "title"), ("performer", "performer"),
    ("sticker_emoji", "emoji"),
)


def _medium(message: dict[str, Any]) -> dict[str, Any] | None:
    for medium_of in (_photo, _file, _poll, _geo, _contact, _other):
        item = medium_of(message)
        if item is not None:
            return item
    return None


def _photo(message: dict[str, Any]) -> dict[str, Any] | None:
    if "photo" not in message:
        return None
    return _known({"kind": "photo", "width": message.get("width"), "height": message.get("height"),
                   "size": message.get("photo_file_size"), "path": _path(message["photo"])})


def _file(message: dict[str, Any]) -> dict[str, Any] | None:
    media_type = message.get("media_type")
    media_type = media_type if isinstance(media_type, str) else None
    if "file" not in message and media_type not in _FILE_KINDS:
        return None
    item = {"kind": _FILE_KINDS.get(media_type or "", "document"), "path": _path(message.get("file"))}
    item.update((ours, message.get(theirs)) for theirs, ours in _FILE_FIELDS)
    return _known(item)


def _poll(message: dict[str, Any]) -> dict[str, Any] | None:
    poll = message.get("poll")
    if not isinstance(poll, dict):
        return None
    return {"kind": "poll", "question": _plain(poll.get("question")), "options": _options(poll),
            "closed": bool(poll.get("closed")), "total_voters": poll.get("total_voters")}


def _options(poll: dict[str, Any]) -> list[str]:
    """The answers' texts (Desktop writes answers with their votes; we keep only the texts)."""
    answers = poll.get("answers", poll.get("options"))
    if not isinstance(answers, list):
        return []
    return [_plain(answer.get("text") if isinstance(answer, dict) else answer) for answer in answers]


def _geo(message: dict[str, Any]) -> dict[str, Any] | None:
    if "location_information" not in message and "place_name" not in message:
        return None
    point = message.get("location_information")
    item: dict[str, Any] = {"kind": "geo", "title": message.get("place_name"), "address": message.get("address")}
    if isinstance(point, dict):
        item.update(lat=point.get("latitude"), long=point.get("longitude"))
    return _known(item)


def _contact(message: dict[str, Any]) -> dict[str, Any] | None:
    contact = message.get("contact_information")
    if not isinstance(contact, dict):
        return None
    # Never the phone number, nor the vCard file (it holds the number too).
    return {"kind": "contact", "first_name": contact.get("first_name", ""), "last_name": contact.get("last_name", "")}


def _other(message: dict[str, Any]) -> dict[str, Any] | None:
    if "game_title" in message:
        return {"kind": "other", "type": "game", "title": message["game_title"]}
    invoice = message.get("invoice_information")
    if isinstance(invoice, dict):
        return {"kind": "other", "type": "invoice", "title": invoice.get("title")}
    return None


def _path(value: Any) -> str | None:
    """The file's path inside the export; Desktop writes "(File not included...)" and the
    like for files it left out."""
    return value if isinstance(value, str) and value and not value.startswith("(") else None


def _known(item: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in item.items() if value is not None}
