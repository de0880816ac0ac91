"""Entities to HTML: Telethon's own unparser is the reference wherever its output is safe."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from telethon.extensions import html as telethon_html
from telethon.tl import types

from felix_hub.backend.telegram.markup import render_html

# Characters that matter: markup, quotes, Cyrillic, and emoji outside the BMP (two UTF-16 units).
_TEXT = st.text(alphabet=st.sampled_from([*"ab <>&\"'\nя", "👍", "🇺", "🇦", "𝕏"]), min_size=1, max_size=40)
# Entities whose markup Telethon writes safely (not url/email/pre: those it writes unchecked).
_KINDS = st.sampled_from([
    lambda o, n: types.MessageEntityBold(o, n),
    lambda o, n: types.MessageEntityItalic(o, n),
    lambda o, n: types.MessageEntityCode(o, n),
    lambda o, n: types.MessageEntityUnderline(o, n),
    lambda o, n: types.MessageEntityStrike(o, n),
    lambda o, n: types.MessageEntityBlockquote(o, n),
    lambda o, n: types.MessageEntityMentionName(o, n, user_id=42),
    lambda o, n: types.MessageEntityCustomEmoji(o, n, document_id=7),
    lambda o, n: types.MessageEntityTextUrl(o, n, url="https://x.org/?a=1&b=2"),
])


def utf16_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-16-le")) // 2


@st.composite
def formatted(draw: st.DrawFn) -> tuple[str, list[types.TypeMessageEntity]]:
    text = draw(_TEXT)
    entities = []
    for make in draw(st.lists(_KINDS, max_size=5)):
        start = draw(st.integers(0, len(text) - 1))
        end = draw(st.integers(start + 1, len(text)))  # Telegram's entities cover whole characters
        offset = utf16_offset(text, start)
        entities.append(make(offset, utf16_offset(text, end) - offset))
    # As Telegram sends them: by offset, an outer entity before the ones inside it.
    entities.sort(key=lambda e: (e.offset, -e.length))
    return text, entities


@settings(max_examples=500, deadline=None)
@given(formatted())
def test_the_same_html_as_telethon(case: tuple[str, list[types.TypeMessageEntity]]) -> None:
    text, entities = case
    assert render_html(text, entities) == telethon_html.unparse(text, entities)


def test_nested_entities_nest_whatever_their_order() -> None:
    inner_first = [types.MessageEntityItalic(0, 2), types.MessageEntityBold(0, 5)]
    assert render_html("ab cd", inner_first) == "<strong><em>ab</em> cd</strong>"


def test_spoilers_and_code_blocks() -> None:
    assert render_html("hide me", [types.MessageEntitySpoiler(0, 4)]) == "<tg-spoiler>hide</tg-spoiler> me"
    assert render_html("x<y", [types.MessageEntityPre(0, 3, "py thon")]) == (
        '<pre><code class="language-python">x&lt;y</code></pre>'
    )


def test_entities_past_the_text_or_empty_are_ignored() -> None:
    assert render_html("ab", [types.MessageEntityBold(1, 10)]) == "a<strong>b</strong>"
    assert render_html("ab", [types.MessageEntityBold(1, 0), types.MessageEntityItalic(5, 2)]) == "ab"


def test_an_entity_never_splits_an_emoji() -> None:
    # An offset inside a surrogate pair moves past it, so the emoji stays whole.
    assert render_html("👍x", [types.MessageEntityBold(1, 2)]) == "👍<strong>x</strong>"
