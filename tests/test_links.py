"""Channel names and links as users type them."""

from __future__ import annotations

import pytest

from felix_hub.backend.telegram.links import ChannelRef, NotAChannelLink, parse


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("@durov", ChannelRef(username="durov")),
        ("Durov", ChannelRef(username="durov")),
        ("t.me/durov", ChannelRef(username="durov")),
        ("https://t.me/durov", ChannelRef(username="durov")),
        ("https://t.me/durov/123", ChannelRef(username="durov")),
        ("http://telegram.me/durov/", ChannelRef(username="durov")),
        ("https://t.me/s/durov", ChannelRef(username="durov")),
        ("tg://resolve?domain=durov&post=5", ChannelRef(username="durov")),
        ("https://t.me/c/1234567890/55", ChannelRef(channel_id=1234567890)),
        ("t.me/c/1234567890", ChannelRef(channel_id=1234567890)),
        ("https://t.me/+AbCdEfGh1234", ChannelRef(invite_hash="AbCdEfGh1234")),
        ("https://t.me/joinchat/AbCdEfGh1234", ChannelRef(invite_hash="AbCdEfGh1234")),
        ("  @with_spaces_ok  ", ChannelRef(username="with_spaces_ok")),
    ],
)
def test_links(text: str, expected: ChannelRef) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "@", "@ab", "@1digitfirst", "https://example.com/durov", "https://t.me/", "t.me/c/notanumber/1",
     "t.me/+short", "hello world", "@bad-name", "tg://settings", "https://t.me/joinchat/"],
)
def test_not_links(text: str) -> None:
    with pytest.raises(NotAChannelLink):
        parse(text)
