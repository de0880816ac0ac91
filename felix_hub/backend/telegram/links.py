"""Reading what a user types to name a channel: @name, t.me links, private and invite links."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

_USERNAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{3,31}$")
_INVITE_HASH = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
_HOSTS = ("t.me", "telegram.me", "telegram.dog", "www.t.me")
# t.me paths that are features, not usernames.
_RESERVED = {"joinchat", "c", "s", "addstickers", "addemoji", "share", "proxy", "socks", "setlanguage", "login",
             "invoice", "addtheme", "bg", "boost", "contact", "m", "nft"}


@dataclass(frozen=True)
class ChannelRef:
    """Exactly one of the fields is set."""

    username: str | None = None
    channel_id: int | None = None  # from t.me/c/<id>/...: private, the account must already be in it
    invite_hash: str | None = None  # from t.me/+<hash> or t.me/joinchat/<hash>


class NotAChannelLink(ValueError):
    """The text is not something that names a channel."""


def parse(text: str) -> ChannelRef:
    text = text.strip()
    if text.startswith("@"):
        return _username(text[1:])
    if text.startswith("tg://"):
        query = parse_qs(urlsplit(text).query)
        if "domain" in query:
            return _username(query["domain"][0])
        raise NotAChannelLink(text)
    if "/" not in text and "." not in text:
        return _username(text)
    url = urlsplit(text if "://" in text else f"https://{text}")
    if url.hostname not in _HOSTS:
        raise NotAChannelLink(text)
    parts = [p for p in url.path.split("/") if p]
    if not parts:
        raise NotAChannelLink(text)
    head = parts[0]
    if head.startswith("+"):
        return _invite(head[1:])
    if head == "joinchat" and len(parts) > 1:
        return _invite(parts[1])
    if head == "c" and len(parts) > 1:
        if not parts[1].isdigit():
            raise NotAChannelLink(text)
        return ChannelRef(channel_id=int(parts[1]))
    if head == "s" and len(parts) > 1:  # the web preview: t.me/s/<name>
        return _username(parts[1])
    if head.lower() in _RESERVED:
        raise NotAChannelLink(text)
    return _username(head)


def _username(name: str) -> ChannelRef:
    if not _USERNAME.match(name):
        raise NotAChannelLink(name)
    return ChannelRef(username=name.lower())


def _invite(invite_hash: str) -> ChannelRef:
    if not _INVITE_HASH.match(invite_hash):
        raise NotAChannelLink(invite_hash)
    return ChannelRef(invite_hash=invite_hash)
