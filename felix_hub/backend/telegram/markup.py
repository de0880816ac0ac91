"""Message text with its formatting as safe HTML, shared by live posts and Desktop imports.

Live posts come as text plus entities whose offsets count UTF-16 code units. Telethon's
`html.unparse` finds those by rebuilding the text one character at a time (it took a third of
the time spent storing a post) and writes URLs and code languages into the markup unchecked;
here only characters outside the BMP are split, by one regex pass, and every URL is checked.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from html import escape

from telethon.tl import types

_SAFE_SCHEMES = frozenset({"http", "https", "tg", "ton", "mailto"})
# A scheme, unless the colon starts a port ("example.com:8080"); such URLs get "https://" in front.
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):(?!\d)")
_URL_NOISE = re.compile(r"[\t\n\r]")  # browsers drop these anywhere in a URL, so "java\tscript:" is javascript:
_URL_EDGES = "".join(map(chr, range(0x21)))  # ...and C0 controls and spaces at either end
_NOT_LANGUAGE = re.compile(r"[^\w+#.-]")
_ASTRAL = re.compile("[\U00010000-\U0010FFFF]")  # characters that take two UTF-16 units

TAGS = {
    "bold": ("<strong>", "</strong>"),
    "italic": ("<em>", "</em>"),
    "underline": ("<u>", "</u>"),
    "strikethrough": ("<del>", "</del>"),
    "code": ("<code>", "</code>"),
    "spoiler": ("<tg-spoiler>", "</tg-spoiler>"),
    "blockquote": ("<blockquote>", "</blockquote>"),
}
_KIND = {
    types.MessageEntityBold: "bold",
    types.MessageEntityItalic: "italic",
    types.MessageEntityUnderline: "underline",
    types.MessageEntityStrike: "strikethrough",
    types.MessageEntityCode: "code",
    types.MessageEntitySpoiler: "spoiler",
}


def safe_url(url: str, schemes: frozenset[str] = _SAFE_SCHEMES) -> str | None:
    """The URL as a link may carry it, or None when its scheme is not one of `schemes` (so never
    one that could run code: javascript:, data:...). No scheme means https."""
    url = _URL_NOISE.sub("", url).strip(_URL_EDGES)
    if not url:
        return None
    scheme = _SCHEME.match(url)
    if scheme is None:
        return f"https://{url}"
    return url if scheme.group(1).lower() in schemes else None


def pre_tags(language: str | None) -> tuple[str, str]:
    """A code block, with its language as a class when it names one."""
    language = _NOT_LANGUAGE.sub("", language or "")
    return (f'<pre><code class="language-{language}">' if language else "<pre><code>"), "</code></pre>"


def link_tags(url: str) -> tuple[str, str]:
    return f'<a href="{escape(url)}">', "</a>"


def render_html(text: str, entities: Sequence[types.TypeMessageEntity] | None) -> str:
    """The text with its entities as HTML; all text escaped, links only to safe URLs.

    Nested entities give nested tags, whatever order they come in: an entity opens before the
    ones it contains, and at one offset tags close (the latest opened first) before others open.
    """
    if not text or not entities:
        return escape(text)
    # One item per UTF-16 unit, as entity offsets count: characters outside the BMP are split.
    paired = len(text.encode("utf-16-le", "surrogatepass")) != 2 * len(text)
    units = _ASTRAL.sub(_surrogate_pair, text) if paired else text
    spans = []  # (start, -end, given order, entity): sorted plainly, outer entities come first
    for given, entity in enumerate(entities):
        start = min(max(entity.offset, 0), len(units))
        end = min(entity.offset + entity.length, len(units))
        if paired:
            start, end = _outside_pair(units, start), _outside_pair(units, end)
        if start < end:  # an empty entity formats nothing
            spans.append((start, -end, given, entity))
    spans.sort()
    marks: list[tuple[int, int, str]] = []  # (offset, order at that offset, tag); no two share an order
    for rank, (start, minus_end, _, entity) in enumerate(spans, start=1):
        end = -minus_end
        tags = _tags(entity, units[start:end])
        if tags is not None:
            marks += ((start, rank, tags[0]), (end, -rank, tags[1]))
    marks.sort()
    plain = escape if _has_markup(text) else str  # most posts have nothing to escape
    pieces: list[str] = []
    at = 0
    for offset, _, tag in marks:
        pieces += (plain(units[at:offset]), tag)
        at = offset
    pieces.append(plain(units[at:]))
    rendered = "".join(pieces)
    return _joined(rendered) if paired else rendered


def _has_markup(text: str) -> bool:
    # What escape() replaces; five substring searches beat one regex or a generator by far.
    return "&" in text or "<" in text or ">" in text or '"' in text or "'" in text


def _surrogate_pair(character: re.Match[str]) -> str:
    code = ord(character[0]) - 0x10000
    return chr(0xD800 + (code >> 10)) + chr(0xDC00 + (code & 0x3FF))


def _outside_pair(units: str, offset: int) -> int:
    """The offset, moved past the second half of a surrogate pair it would split."""
    return offset + 1 if 0 < offset < len(units) and "\udc00" <= units[offset] <= "\udfff" else offset


def _tags(entity: types.TypeMessageEntity, covered: str) -> tuple[str, str] | None:
    """The opening and closing tag of one entity that covers `covered` (as UTF-16 units)."""
    kind = _KIND.get(type(entity))
    if kind is not None:
        return TAGS[kind]
    if isinstance(entity, types.MessageEntityBlockquote):
        return ("<blockquote expandable>", "</blockquote>") if entity.collapsed else TAGS["blockquote"]
    if isinstance(entity, types.MessageEntityPre):
        return pre_tags(entity.language)
    if isinstance(entity, types.MessageEntityMentionName):
        return link_tags(f"tg://user?id={entity.user_id}")
    if isinstance(entity, types.MessageEntityCustomEmoji):
        return f'<tg-emoji emoji-id="{entity.document_id}">', "</tg-emoji>"
    if isinstance(entity, types.MessageEntityTextUrl):
        url = safe_url(entity.url)
    elif isinstance(entity, types.MessageEntityUrl):
        url = safe_url(_joined(covered))
    elif isinstance(entity, types.MessageEntityEmail):
        url = f"mailto:{_joined(covered)}"
    else:
        return None  # mentions, hashtags, cashtags...: plain text
    return link_tags(url) if url is not None else None  # an unsafe link stays plain text


def _joined(units: str) -> str:
    """Text of UTF-16 units as ordinary characters again."""
    return units.encode("utf-16", "surrogatepass").decode("utf-16")
