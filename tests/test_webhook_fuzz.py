"""Generated garbage at the webhook under real gunicorn: never a 5xx, never a dead process."""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.peers.bot_api import FakeBotApi, text_update
from tests.support.server import WEBHOOK_SECRET, Server

EXAMPLES = 1000
LIMIT = 4096

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=12), inner, max_size=4), max_leaves=12)
update_ids = st.one_of(st.integers(min_value=-(2**70), max_value=2**70), json_values)
update_kinds = st.sampled_from(["message", "edited_message", "callback_query", "my_chat_member", "poll",
                                "channel_post", "inline_query", "unknown_kind"])
update_like = st.builds(lambda uid, kind, body: {"update_id": uid, kind: body}, update_ids, update_kinds,
                        json_values)
well_formed = st.builds(text_update, st.integers(1, 2**40), st.integers(1, 2**40), st.text(max_size=200),
                        language=st.sampled_from(["en", "ru", "xx"]), first_name=st.text(max_size=20))
bodies = st.one_of(
    well_formed.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=300),
    json_values.map(lambda v: json.dumps(v).encode()),
    update_like.map(lambda v: json.dumps(v).encode()),
    st.binary(min_size=LIMIT + 1, max_size=LIMIT + 50),  # over the body limit
)
printable = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40)


def mostly(good: st.SearchStrategy[object], bad: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    """`good` four times in five, so most cases get past the first check and test the deeper ones."""
    return st.sampled_from([good, good, good, good, bad]).flatmap(lambda chosen: chosen)


secrets = mostly(st.just(WEBHOOK_SECRET), st.none() | printable | st.just(WEBHOOK_SECRET + "x"))
content_types = mostly(
    st.sampled_from(["application/json", "application/json; charset=utf-8"]),
    st.sampled_from(["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""])
    | printable,
)


def test_malformed_bodies_and_headers_never_get_a_5xx(bot_env: dict[str, str], bot_api: FakeBotApi,
                                                       make_server: Callable[..., Server]) -> None:
    server = make_server({**bot_env, "WEBHOOK_MAX_BODY_BYTES": str(LIMIT)}).start()
    seen: dict[int, int] = {}

    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:

        @settings(max_examples=EXAMPLES, deadline=None, database=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
        @given(body=bodies, secret=secrets, content_type=content_types)
        def post(body: bytes, secret: str | None, content_type: str) -> None:
            headers = {"Content-Type": content_type}
            if secret is not None:
                headers["X-Telegram-Bot-Api-Secret-Token"] = secret
            # http.client, not httpx: it sends header values h11 would refuse to put on the wire.
            connection.request("POST", "/telegram/webhook", body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            if response.will_close:
                connection.close()
            status = response.status
            seen[status] = seen.get(status, 0) + 1
            assert status < 500, f"{status} for {body[:200]!r} {headers}"

        post()
    finally:
        connection.close()

    assert sum(seen.values()) >= EXAMPLES
    assert {200, 400, 403, 413, 415} <= set(seen), seen  # every outcome was exercised
    assert server.client.get("/healthz").status_code == 200
    assert server.process is not None and server.process.poll() is None
    # And it still does its job.
    assert server.post_update(text_update(2**41, 4242, "/start")).status_code == 200
    assert bot_api.wait_for(lambda: bot_api.sent_messages(4242), timeout=30)
