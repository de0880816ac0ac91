"""A small Telegram in this process, for real `TelegramClient`s to talk to.

Only the network boundary is replaced: each client's MTProto sender becomes a `FakeSender`
that answers TL requests from a `FakeTelegram` world (people, channels, histories, logins,
2FA by real SRP) and pushes `Updates` into the client's own update queue. Everything above the
sender (sign-in, QR login, iterators, the update loop, events) is Telethon's real code, and
errors are Telethon's real RPC errors. Tests change the world from their own thread; the world
is locked and updates reach each client's loop thread-safely.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from telethon import TelegramClient, password
from telethon.crypto import AuthKey
from telethon.errors import rpc_message_to_error
from telethon.sessions import StringSession
from telethon.tl import functions, types

# The prime Telegram uses for SRP (Telethon knows it, so it skips the slow primality check).
_PRIME = int.from_bytes(bytes.fromhex(
    "C71CAEB9C6B1C9048E6C522F70F13F73980D40238E3E21C14934D037563D930F48198A0AA7C14058229493D22530F4DB"
    "FA336F6E0AC925139543AED44CCE7C3720FD51F69458705AC68CD4FE6B6B13ABDC9746512969328454F18FAF8C595F64"
    "2477FE96BB2A941D5BCD1D4AC8CC49880708FA9B378E3C4F3A9060BEE67CF9A4A4A695811051907E162753B56B0F6B41"
    "0DBA74D8A84B2A14B3144E0EF1284754FD17ED950D5965B4B9DD46582DB1178D169C6BC465B0D6FF9CA3928FEF5B9AE4"
    "E418FC15E83EBEA0F87FA9FF5EED70050DED2849F47BF959D956850CE929851F0D8115F635B105EE2E4E15D04B2454BF"
    "6F4FADF034B10403119CD8E3B92FCC5B"), "big")
_G = 3
_EPOCH = datetime(2026, 11, 1, tzinfo=UTC)


def _digits(phone: str) -> str:
    return "".join(c for c in phone if c.isdigit())


def _rpc_error(request: Any, code: int, message: str) -> Exception:
    return rpc_message_to_error(types.RpcError(code, message), request)


@dataclass
class Person:
    """Someone with a Telegram account (the user of Felix Hub, in most tests)."""

    id: int
    phone: str
    first_name: str
    password: str | None = None
    username: str | None = None
    access_hash: int = 0
    channels: set[int] = field(default_factory=set)  # ids of channels they are a member of

    def tl(self, *, is_self: bool = False) -> types.User:
        return types.User(id=self.id, is_self=is_self, access_hash=self.access_hash, first_name=self.first_name,
                          username=self.username, phone=self.phone)


@dataclass
class FakeChannel:
    id: int
    title: str
    username: str | None
    access_hash: int
    public: bool = True  # a private channel is readable by members only
    megagroup: bool = False
    invite_hash: str | None = None
    messages: dict[int, types.Message] = field(default_factory=dict)
    pts: int = 1
    last_id: int = 0

    def tl(self, *, left: bool = False) -> types.Channel:
        return types.Channel(id=self.id, title=self.title, photo=types.ChatPhotoEmpty(), date=_EPOCH,
                             broadcast=not self.megagroup, megagroup=self.megagroup, left=left,
                             access_hash=self.access_hash, username=self.username)


@dataclass
class _Authorization:
    person: Person | None = None  # None until a login on this key succeeds
    code_hashes: dict[str, str] = field(default_factory=dict)  # phone -> phone_code_hash
    waiting_password: Person | None = None  # code or QR accepted, 2FA pending
    srp: tuple[int, int, int] | None = None  # (srp_id, b, B) of the last GetPassword
    qr_token: bytes | None = None
    qr_scanned_by: Person | None = None


@dataclass
class Fault:
    """Make the next matching requests fail with a real Telegram error."""

    request: str  # the request's class name, e.g. "GetHistoryRequest"
    code: int
    message: str  # e.g. "FLOOD_WAIT_2"
    times: int = 1
    skip: int = 0  # let this many matching requests through first


class FakeTelegram:
    """The world: who exists, what was posted where, which keys are logged in as whom."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.people: dict[str, Person] = {}  # by phone
        self.channels: dict[int, FakeChannel] = {}
        self.keys: dict[bytes, _Authorization] = {}
        self.senders: list[FakeSender] = []
        self.faults: list[Fault] = []
        self.requests: list[tuple[int, str]] = []  # (key id, request name), in order
        self.codes: dict[str, str] = {}  # phone -> the last code "sent" to the Telegram app
        self.qr_seconds = 30.0  # how long a QR login token lives (Telegram: about 30 s)
        self._ids = itertools.count(1000)
        self._srp_ids = itertools.count(1)

    # -- building the world ---------------------------------------------------------------------

    def person(self, phone: str, first_name: str = "Ann", *, password: str | None = None,
               username: str | None = None) -> Person:
        phone = _digits(phone)  # Telethon sends the number without "+" or spaces
        with self.lock:
            person = Person(next(self._ids), phone, first_name, password, username, access_hash=next(self._ids))
            self.people[phone] = person
            return person

    def channel(self, title: str, username: str | None = None, *, public: bool = True,
                megagroup: bool = False, invite_hash: str | None = None,
                members: Iterable[Person] = ()) -> FakeChannel:
        with self.lock:
            channel = FakeChannel(next(self._ids), title, username, next(self._ids), public, megagroup, invite_hash)
            self.channels[channel.id] = channel
            for person in members:
                person.channels.add(channel.id)
            return channel

    def post(self, channel: FakeChannel, text: str = "", *, deliver: bool = True, date: datetime | None = None,
             **fields: Any) -> types.Message:
        """A new post; `deliver=False` is an update lost on the way (only history has it)."""
        with self.lock:
            channel.last_id += 1
            message = types.Message(id=channel.last_id, peer_id=types.PeerChannel(channel.id),
                                    date=date or datetime.now(UTC), message=text, post=True,
                                    views=fields.pop("views", 1), **fields)
            channel.messages[message.id] = message
            self._push(channel, types.UpdateNewChannelMessage(message, self._next_pts(channel), 1), deliver)
            return message

    def history(self, channel: FakeChannel, count: int, *, start: datetime | None = None,
                step: timedelta = timedelta(minutes=10)) -> list[types.Message]:
        """Posts written before anyone watched: in history, never as updates."""
        start = start or datetime.now(UTC) - step * count
        return [self.post(channel, f"post {n}", deliver=False, date=start + step * n) for n in range(count)]

    def edit(self, channel: FakeChannel, message_id: int, text: str, *, deliver: bool = True) -> types.Message:
        with self.lock:
            old = channel.messages[message_id]
            message = types.Message(id=old.id, peer_id=old.peer_id, date=old.date, message=text, post=True,
                                    views=old.views, edit_date=datetime.now(UTC), grouped_id=old.grouped_id,
                                    media=old.media)
            channel.messages[message_id] = message
            self._push(channel, types.UpdateEditChannelMessage(message, self._next_pts(channel), 1), deliver)
            return message

    def delete(self, channel: FakeChannel, *message_ids: int, deliver: bool = True) -> None:
        with self.lock:
            for message_id in message_ids:
                channel.messages.pop(message_id, None)
            pts = self._next_pts(channel, len(message_ids))
            self._push(channel, types.UpdateDeleteChannelMessages(channel.id, list(message_ids), pts,
                                                                  len(message_ids)), deliver)

    def fail(self, request: str, message: str, *, code: int = 420, times: int = 1, skip: int = 0) -> None:
        with self.lock:
            self.faults.append(Fault(request, code, message, times, skip))

    def scan_qr(self, person: Person) -> bool:
        """The person scans the QR code on screen with their phone; False when no QR is waiting."""
        with self.lock:
            for sender in self.senders:
                login = self.keys.get(sender.key)
                if login is not None and login.qr_token is not None and login.person is None:
                    login.qr_scanned_by = person
                    sender.push(types.UpdateShort(types.UpdateLoginToken(), datetime.now(UTC)))
                    return True
            return False

    def revoke(self, person: Person) -> None:
        """The person ends every session from Settings → Devices."""
        with self.lock:
            for key, login in list(self.keys.items()):
                if login.person is person:
                    del self.keys[key]

    def authorize(self, session: str, person: Person) -> None:
        """Accept a session logged in elsewhere (say, another process's world) as `person`'s.

        Each process has its own world, so a session string stored by one process is unknown
        to the world of another until its auth key is registered here.
        """
        key = StringSession(session).auth_key
        if key is None or not key.key:
            raise ValueError("the session has no auth key")
        with self.lock:
            self.keys[key.key] = _Authorization(person=person)

    def connected_keys(self) -> list[bytes]:
        """The auth key of every connected client, once per connection (a key may repeat)."""
        with self.lock:
            return [sender.key for sender in self.senders if sender.is_connected()]

    def authorized_keys(self, person: Person) -> list[bytes]:
        with self.lock:
            return [key for key, login in self.keys.items() if login.person is person]

    def count(self, request: str) -> int:
        with self.lock:
            return sum(1 for _, name in self.requests if name == request)

    def connected(self) -> int:
        with self.lock:
            return sum(1 for sender in self.senders if sender.is_connected())

    # -- answering -----------------------------------------------------------------------------

    def answer(self, sender: FakeSender, request: Any) -> Any:
        while isinstance(request, (functions.InvokeWithLayerRequest, functions.InitConnectionRequest,
                                   functions.InvokeWithoutUpdatesRequest)):
            request = request.query
        name = type(request).__name__
        with self.lock:
            self.requests.append((sender.key_id, name))
            for fault in self.faults:
                if fault.request == name and fault.times > 0:
                    if fault.skip > 0:
                        fault.skip -= 1
                        continue
                    fault.times -= 1
                    raise _rpc_error(request, fault.code, fault.message)
            handler = getattr(self, f"_{name}", None)
            if handler is None:
                raise NotImplementedError(f"the fake Telegram does not answer {name}")
            return handler(sender, request)

    def _login(self, sender: FakeSender) -> _Authorization:
        return self.keys.setdefault(sender.key, _Authorization())

    def _me(self, sender: FakeSender, request: Any) -> Person:
        login = self.keys.get(sender.key)
        if login is None or login.person is None:
            raise _rpc_error(request, 401, "AUTH_KEY_UNREGISTERED")
        return login.person

    def _GetConfigRequest(self, sender: FakeSender, request: Any) -> None:
        return None  # Telethon ignores the answer to its connection request

    def _GetUsersRequest(self, sender: FakeSender, request: functions.users.GetUsersRequest) -> list[types.User]:
        me = self._me(sender, request)
        return [me.tl(is_self=True) for _ in request.id]

    def _GetStateRequest(self, sender: FakeSender, request: Any) -> types.updates.State:
        self._me(sender, request)
        return types.updates.State(pts=1, qts=0, date=datetime.now(UTC), seq=0, unread_count=0)

    def _GetDifferenceRequest(self, sender: FakeSender, request: Any) -> types.updates.DifferenceEmpty:
        return types.updates.DifferenceEmpty(date=datetime.now(UTC), seq=0)

    def _GetChannelDifferenceRequest(self, sender: FakeSender, request: Any) -> types.updates.ChannelDifferenceEmpty:
        channel = self.channels[request.channel.channel_id]
        return types.updates.ChannelDifferenceEmpty(pts=channel.pts, final=True, timeout=30)

    # Phone login.

    def _SendCodeRequest(self, sender: FakeSender, request: functions.auth.SendCodeRequest) -> types.auth.SentCode:
        if request.phone_number not in self.people:
            raise _rpc_error(request, 400, "PHONE_NUMBER_INVALID")
        code_hash = os.urandom(8).hex()
        self._login(sender).code_hashes[request.phone_number] = code_hash
        self.codes[request.phone_number] = f"{int.from_bytes(os.urandom(3), 'big') % 100000:05d}"
        return types.auth.SentCode(type=types.auth.SentCodeTypeApp(length=5), phone_code_hash=code_hash)

    def _SignInRequest(self, sender: FakeSender, request: functions.auth.SignInRequest) -> types.auth.Authorization:
        login = self._login(sender)
        if login.code_hashes.get(request.phone_number) != request.phone_code_hash:
            raise _rpc_error(request, 400, "PHONE_CODE_EXPIRED")
        if request.phone_code != self.codes.get(request.phone_number):
            raise _rpc_error(request, 400, "PHONE_CODE_INVALID")
        return self._authorize(login, self.people[request.phone_number], request)

    def _authorize(self, login: _Authorization, person: Person, request: Any) -> types.auth.Authorization:
        if person.password is not None:
            login.waiting_password = person
            raise _rpc_error(request, 401, "SESSION_PASSWORD_NEEDED")
        login.person = person
        return types.auth.Authorization(user=person.tl(is_self=True))

    # 2FA by SRP, the server's half (https://core.telegram.org/api/srp).

    def _GetPasswordRequest(self, sender: FakeSender, request: Any) -> types.account.Password:
        login = self._login(sender)
        person = login.waiting_password or login.person
        if person is None or person.password is None:
            return types.account.Password(new_algo=types.PasswordKdfAlgoUnknown(),
                                          new_secure_algo=types.SecurePasswordKdfAlgoUnknown(),
                                          secure_random=os.urandom(32), has_password=False)
        algo = self._algo(person)
        v = pow(_G, int.from_bytes(password.compute_hash(algo, person.password), "big"), _PRIME)
        b = int.from_bytes(os.urandom(256), "big")
        k = int.from_bytes(password.sha256(algo.p, password.big_num_for_hash(_G)), "big")
        big_b = (k * v + pow(_G, b, _PRIME)) % _PRIME
        login.srp = (next(self._srp_ids), b, big_b)
        return types.account.Password(new_algo=types.PasswordKdfAlgoUnknown(),
                                      new_secure_algo=types.SecurePasswordKdfAlgoUnknown(),
                                      secure_random=os.urandom(32), has_password=True, current_algo=algo,
                                      srp_B=big_b.to_bytes(256, "big"), srp_id=login.srp[0], hint="pet")

    def _algo(self, person: Person) -> types.PasswordKdfAlgoSHA256SHA256PBKDF2HMACSHA512iter100000SHA256ModPow:
        salt = hashlib.sha256(f"salt-{person.id}".encode()).digest()
        return types.PasswordKdfAlgoSHA256SHA256PBKDF2HMACSHA512iter100000SHA256ModPow(
            salt1=salt[:16], salt2=salt[16:], g=_G, p=_PRIME.to_bytes(256, "big"))

    def _CheckPasswordRequest(self, sender: FakeSender, request: functions.auth.CheckPasswordRequest
                              ) -> types.auth.Authorization:
        login = self._login(sender)
        person, srp, check = login.waiting_password, login.srp, request.password
        if person is None or srp is None or person.password is None or check.srp_id != srp[0]:
            raise _rpc_error(request, 400, "SRP_ID_INVALID")
        _, b, big_b = srp
        algo = self._algo(person)
        v = pow(_G, int.from_bytes(password.compute_hash(algo, person.password), "big"), _PRIME)
        big_a = int.from_bytes(check.A, "big")
        a_for_hash, b_for_hash = password.big_num_for_hash(big_a), password.big_num_for_hash(big_b)
        u = int.from_bytes(password.sha256(a_for_hash, b_for_hash), "big")
        secret = pow(big_a * pow(v, u, _PRIME) % _PRIME, b, _PRIME)
        expected = password.sha256(
            password.xor(password.sha256(algo.p), password.sha256(password.big_num_for_hash(_G))),
            password.sha256(algo.salt1), password.sha256(algo.salt2), a_for_hash, b_for_hash,
            password.sha256(password.big_num_for_hash(secret)))
        login.srp = None  # every attempt needs a fresh GetPassword, as on Telegram
        if expected != check.M1:
            raise _rpc_error(request, 400, "PASSWORD_HASH_INVALID")
        login.person, login.waiting_password = person, None
        return types.auth.Authorization(user=person.tl(is_self=True))

    # QR login.

    def _ExportLoginTokenRequest(self, sender: FakeSender, request: Any) -> Any:
        login = self._login(sender)
        if login.qr_scanned_by is not None:
            person, login.qr_scanned_by, login.qr_token = login.qr_scanned_by, None, None
            return types.auth.LoginTokenSuccess(self._authorize(login, person, request))
        login.qr_token = os.urandom(16)
        expires = datetime.now(UTC) + timedelta(seconds=self.qr_seconds)
        return types.auth.LoginToken(expires=expires, token=login.qr_token)

    def _LogOutRequest(self, sender: FakeSender, request: Any) -> types.auth.LoggedOut:
        self.keys.pop(sender.key, None)
        return types.auth.LoggedOut()

    # Channels.

    def _visible(self, person: Person, channel: FakeChannel) -> bool:
        return channel.public or channel.id in person.channels

    def _ResolveUsernameRequest(self, sender: FakeSender, request: Any) -> types.contacts.ResolvedPeer:
        me = self._me(sender, request)
        for channel in self.channels.values():
            if channel.username and channel.username.lower() == request.username.lower():
                return types.contacts.ResolvedPeer(types.PeerChannel(channel.id),
                                                   [channel.tl(left=channel.id not in me.channels)], [])
        for person in self.people.values():
            if person.username and person.username.lower() == request.username.lower():
                return types.contacts.ResolvedPeer(types.PeerUser(person.id), [], [person.tl()])
        raise _rpc_error(request, 400, "USERNAME_NOT_OCCUPIED")

    def _channel(self, sender: FakeSender, request: Any, peer: Any) -> tuple[Person, FakeChannel]:
        me = self._me(sender, request)
        channel = self.channels.get(getattr(peer, "channel_id", None))
        if channel is None or channel.access_hash != peer.access_hash:
            raise _rpc_error(request, 400, "CHANNEL_INVALID")
        if not self._visible(me, channel):
            raise _rpc_error(request, 400, "CHANNEL_PRIVATE")
        return me, channel

    def _GetChannelsRequest(self, sender: FakeSender, request: Any) -> types.messages.Chats:
        chats = []
        for peer in request.id:
            me, channel = self._channel(sender, request, peer)
            chats.append(channel.tl(left=channel.id not in me.channels))
        return types.messages.Chats(chats)

    def _JoinChannelRequest(self, sender: FakeSender, request: Any) -> types.Updates:
        me, channel = self._channel(sender, request, request.channel)
        me.channels.add(channel.id)
        return types.Updates([], [], [channel.tl()], datetime.now(UTC), 0)

    def _invite(self, request: Any) -> FakeChannel:
        for channel in self.channels.values():
            if channel.invite_hash == request.hash:
                return channel
        raise _rpc_error(request, 400, "INVITE_HASH_EXPIRED")

    def _CheckChatInviteRequest(self, sender: FakeSender, request: Any) -> Any:
        me, channel = self._me(sender, request), self._invite(request)
        if channel.id in me.channels:
            return types.ChatInviteAlready(channel.tl())
        return types.ChatInvite(title=channel.title, photo=types.PhotoEmpty(id=0), participants_count=42, color=0,
                                channel=True, broadcast=not channel.megagroup, megagroup=channel.megagroup)

    def _ImportChatInviteRequest(self, sender: FakeSender, request: Any) -> types.Updates:
        me, channel = self._me(sender, request), self._invite(request)
        if channel.id in me.channels:
            raise _rpc_error(request, 400, "USER_ALREADY_PARTICIPANT")
        me.channels.add(channel.id)
        return types.Updates([], [], [channel.tl()], datetime.now(UTC), 0)

    def _GetDialogsRequest(self, sender: FakeSender, request: Any) -> types.messages.Dialogs:
        me = self._me(sender, request)
        joined = [self.channels[i] for i in sorted(me.channels) if i in self.channels]
        dialogs = [types.Dialog(types.PeerChannel(c.id), 0, 0, 0, 0, 0, 0, 0, types.PeerNotifySettings())
                   for c in joined]
        return types.messages.Dialogs(dialogs, [], [c.tl() for c in joined], [])

    # History.

    def _GetHistoryRequest(self, sender: FakeSender, request: functions.messages.GetHistoryRequest
                           ) -> types.messages.ChannelMessages:
        """Telegram's paging: newest first, from offset_id, shifted by add_offset, then limit."""
        _, channel = self._channel(sender, request, request.peer)
        newest_first = [channel.messages[i] for i in sorted(channel.messages, reverse=True)]
        index = 0
        if request.offset_id:
            index = next((n for n, m in enumerate(newest_first) if m.id < request.offset_id), len(newest_first))
        start = index + request.add_offset
        page = newest_first[max(start, 0):max(start + request.limit, 0)]
        page = [m for m in page if m.id > request.min_id and (not request.max_id or m.id < request.max_id)]
        return types.messages.ChannelMessages(pts=channel.pts, count=len(newest_first), messages=page, topics=[],
                                              chats=[channel.tl()], users=[])

    def _GetMessagesRequest(self, sender: FakeSender, request: functions.channels.GetMessagesRequest
                            ) -> types.messages.ChannelMessages:
        _, channel = self._channel(sender, request, request.channel)
        gone = types.PeerChannel(channel.id)
        found = [channel.messages.get(i.id) or types.MessageEmpty(i.id, gone) for i in request.id]
        return types.messages.ChannelMessages(pts=channel.pts, count=len(found), messages=found, topics=[],
                                              chats=[channel.tl()], users=[])

    # -- updates --------------------------------------------------------------------------------

    def _next_pts(self, channel: FakeChannel, count: int = 1) -> int:
        channel.pts += count
        return channel.pts

    def _push(self, channel: FakeChannel, update: Any, deliver: bool) -> None:
        if not deliver:
            return
        for sender in self.senders:
            login = self.keys.get(sender.key)
            if login is not None and login.person is not None and channel.id in login.person.channels:
                sender.push(types.Updates([update], [], [channel.tl()], datetime.now(UTC), 0))


class FakeSender:
    """Stands where Telethon's MTProtoSender stands: connect, send, disconnect, updates."""

    def __init__(self, world: FakeTelegram, auth_key: AuthKey | None, updates: asyncio.Queue[Any]) -> None:
        self.world = world
        self.auth_key = auth_key if auth_key is not None and auth_key.key else AuthKey(None)
        self._updates = updates
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connected = False
        self._disconnected: asyncio.Future[None] | None = None

    @property
    def key(self) -> bytes:
        return self.auth_key.key or b""

    @property
    def key_id(self) -> int:
        return self.auth_key.key_id or 0

    async def connect(self, connection: Any) -> bool:
        if self._connected:
            return False
        self._loop = asyncio.get_running_loop()
        if not self.auth_key.key:
            self.auth_key.key = os.urandom(256)  # a fresh key, as the DH exchange would give
        self._connected = True
        self._disconnected = self._loop.create_future()
        with self.world.lock:
            self.world.senders.append(self)
        return True

    def is_connected(self) -> bool:
        return self._connected

    def _transport_connected(self) -> bool:
        return self._connected

    def _keepalive_ping(self, ping_id: int) -> None:
        pass

    async def disconnect(self) -> None:
        self._connected = False
        with self.world.lock:
            if self in self.world.senders:
                self.world.senders.remove(self)
        if self._disconnected is not None and not self._disconnected.done():
            self._disconnected.set_result(None)

    @property
    def disconnected(self) -> asyncio.Future[None]:
        assert self._disconnected is not None
        return asyncio.shield(self._disconnected)

    def send(self, request: Any, ordered: bool = False) -> asyncio.Future[Any]:
        if not self._connected:
            raise ConnectionError("Cannot send requests while disconnected")
        assert self._loop is not None
        future = self._loop.create_future()
        try:
            future.set_result(self.world.answer(self, request))
        except Exception as error:
            future.set_exception(error)
        return future

    def push(self, updates: Any) -> None:
        """Deliver `updates` to this client's update loop, from any thread."""
        if self._connected and self._loop is not None:
            self._loop.call_soon_threadsafe(self._updates.put_nowait, updates)


class FakeTelegramClient(TelegramClient):
    """A real TelegramClient whose network is the fake world."""

    def __init__(self, world: FakeTelegram, session: str | None = None, **options: Any) -> None:
        super().__init__(StringSession(session), 12345, "0123456789abcdef0123456789abcdef",
                         flood_sleep_threshold=0, receive_updates=True, catch_up=False, **options)
        self._sender = FakeSender(world, self.session.auth_key, self._updates_queue)


def client_factory(world: FakeTelegram) -> Callable[[str | None], TelegramClient]:
    """What `serving.start(app, client_factory=...)` takes: sessions connect to `world`."""
    return lambda session: FakeTelegramClient(world, session)
