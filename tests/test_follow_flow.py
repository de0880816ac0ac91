"""Following channels through the bot, with a connected account on the fake Telegram.

/follow in every accepted form, the clear replies for what cannot be followed, the backfill
with progress in the chat, real-time posts, /channels and /unfollow.
"""

from __future__ import annotations

from tests.peers.telegram import FakeChannel, Person
from tests.support.felix import ANN, Felix, connect_by_phone

BOB = 4343  # not an admin: MAX_CHANNELS_PER_USER (2 in these tests) applies to him


def posts_of(felix: Felix, channel: FakeChannel) -> list[int]:
    return [r[0] for r in felix.sql(
        "SELECT p.message_id FROM posts p JOIN channels c ON c.id = p.channel_id "
        "WHERE c.telegram_id = :id ORDER BY p.message_id", id=channel.id)]


def connected_ann(felix: Felix) -> Person:
    ann = felix.world.person("+1 555 0100", "Ann")
    connect_by_phone(felix, ann)
    return ann


def test_follow_backfills_with_progress_then_keeps_up_in_real_time(felix: Felix) -> None:
    connected_ann(felix)
    news = felix.world.channel("World <News>", "worldnews")
    felix.world.history(news, 80)

    felix.say("/follow https://t.me/worldnews/42")
    felix.wait_reply("Following «World &lt;News&gt;». Fetching recent posts…")
    # BACKFILL_POSTS is 30 here: the newest 30 (and the 7 days they span) arrive, newest page first.
    assert felix.bot_api.wait_for(lambda: len(posts_of(felix, news)) >= 30)
    assert posts_of(felix, news)[-1] == 80
    assert felix.bot_api.wait_for(lambda: any(
        "ready" in str(c.params.get("text")) for c in felix.bot_api.calls_to("editMessageText")))

    live = felix.world.post(news, "breaking")
    assert felix.bot_api.wait_for(lambda: live.id in posts_of(felix, news))
    felix.world.edit(news, live.id, "breaking, updated")
    assert felix.bot_api.wait_for(lambda: felix.sql(
        "SELECT text FROM posts WHERE message_id = :m", m=live.id)[0][0] == "breaking, updated")

    felix.say("/channels")
    listing = felix.wait_reply("Your channels")
    assert "World &lt;News&gt; (@worldnews)" in listing and "posts" in listing
    unfollow_buttons = [c for c in felix.bot_api.calls_to("sendMessage") if "reply_markup" in c.params
                        and "unfollow:" in str(c.params["reply_markup"])]
    assert unfollow_buttons


def test_what_cannot_be_followed_gets_a_clear_reply(felix: Felix) -> None:
    connected_ann(felix)
    felix.world.person("+1 555 0101", "Zed", username="zed_person")
    secret = felix.world.channel("Secret", public=False)
    felix.world.channel("News", "news")

    felix.say("/follow @no_such_channel")
    felix.wait_reply("There is no channel @no_such_channel.")
    felix.say("/follow @zed_person")
    felix.wait_reply("@zed_person is not a channel.")
    felix.say(f"/follow https://t.me/c/{secret.id}/7")
    felix.wait_reply("That channel is private and your account is not in it.")
    felix.say("/follow hello world")
    felix.wait_reply("I can't read “hello world” as a channel.")
    felix.world.fail("JoinChannelRequest", "CHANNELS_TOO_MUCH", code=400)
    felix.say("/follow @news")
    felix.wait_reply("Your Telegram account is in too many channels to join another.")
    felix.say("/follow @news")
    felix.wait_reply("Following «News»")
    felix.say("/follow t.me/news")
    felix.wait_reply("You already follow «News».")
    felix.say("/follow https://t.me/+expiredHash")
    felix.wait_reply("This invite link has expired.")


def test_an_invite_link_joins_after_confirmation(felix: Felix) -> None:
    ann = connected_ann(felix)
    club = felix.world.channel("Private club", public=False, invite_hash="AbCdEf123")
    felix.world.history(club, 5)

    felix.say("/follow https://t.me/+AbCdEf123")
    felix.wait_reply("Join «Private club» (42 members) with your account and follow it?")
    assert club.id not in ann.channels  # nothing joined before the user says so
    felix.world.fail("ImportChatInviteRequest", "INVITE_REQUEST_SENT", code=400)  # the admins approve joins
    felix.press("join:AbCdEf123")
    felix.wait_reply("Your account asked to join; follow again once the channel admins approve it.")
    felix.press("join:AbCdEf123")
    felix.wait_reply("Following «Private club»")
    assert club.id in ann.channels
    assert felix.bot_api.wait_for(lambda: posts_of(felix, club) == [1, 2, 3, 4, 5])


def test_the_channel_limit_and_unfollow(felix: Felix) -> None:
    felix.say("/start", BOB)
    felix.wait_reply("Hi", BOB)
    bob = felix.world.person("+1 555 0102", "Bob")
    connect_by_phone(felix, bob, BOB)
    for name in ("one", "two", "three"):
        felix.world.channel(name.title(), f"channel_{name}")

    felix.say("/follow @channel_one", BOB)
    felix.wait_reply("Following «One»", BOB)
    felix.say("/follow @channel_two", BOB)
    felix.wait_reply("Following «Two»", BOB)
    felix.say("/follow @channel_three", BOB)
    felix.wait_reply("You follow 2 channels, the most allowed.", BOB)

    felix.say("/unfollow @channel_one", BOB)
    felix.wait_reply("Unfollowed «One».", BOB)
    felix.say("/unfollow @channel_one", BOB)
    felix.wait_reply("You don't follow that channel.", BOB)
    felix.say("/follow @channel_three", BOB)
    felix.wait_reply("Following «Three»", BOB)
    # Admins are exempt from the limit.
    connected_ann(felix)
    for name in ("one", "two", "three"):
        felix.say(f"/follow @channel_{name}")
    assert felix.bot_api.wait_for(lambda: sum("Following «" in r for r in felix.replies(ANN)) == 3)


def test_a_channel_that_fails_to_sync_shows_why_in_channels(felix: Felix) -> None:
    connected_ann(felix)
    odd = felix.world.channel("Odd", "odd_channel")
    felix.world.history(odd, 3)
    felix.world.fail("GetHistoryRequest", "MSG_ID_INVALID", code=400, times=1_000)
    felix.say("/follow @odd_channel")
    felix.wait_reply("Following «Odd»")
    assert felix.bot_api.wait_for(lambda: felix.sql(
        "SELECT sync_state FROM channels WHERE telegram_id = :id", id=odd.id)[0][0] == "error")
    felix.say("/channels")
    listing = felix.wait_reply("Your channels")
    assert "error: MsgIdInvalidError" in listing
