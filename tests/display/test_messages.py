"""Display messages: what a post in the display channel means, who may post, and that
the message survives a restart."""

from __future__ import annotations

import pytest

from hub.config import ConfigError, load_config
from hub.display.messages import Clear, MessageBoard, MessageSettings, Post, parse_post
from hub.display.view import DisplayMessage

NO_EXPIRY = MessageSettings()


def test_plain_text_is_shown_until_cleared():
    request = parse_post("  Dinner   at six! ", "Åse", 1000.0, NO_EXPIRY)
    assert request == Post(DisplayMessage(text="Dinner at six!", author="Åse",
                                          posted_at=1000.0, expires_at=None))


@pytest.mark.parametrize(("prefix", "seconds"), [
    ("[30m]", 1800), ("[2h]", 7200), ("[45s]", 45), ("[1d]", 86_400), ("[ 10 M ]", 600)])
def test_a_bracketed_duration_sets_the_expiry(prefix, seconds):
    request = parse_post(f"{prefix} Back soon", "ola", 1000.0, NO_EXPIRY)
    assert isinstance(request, Post)
    assert request.message.text == "Back soon"
    assert request.message.expires_at == 1000.0 + seconds


def test_the_configured_expiry_applies_when_the_post_names_none():
    request = parse_post("Hello", "ola", 1000.0, MessageSettings(expire_minutes=15))
    assert isinstance(request, Post) and request.message.expires_at == 1000.0 + 900


@pytest.mark.parametrize("word", ["clear", "CLEAR ", "tøm", "Fjern"])
def test_clear_words_remove_the_message(word):
    assert parse_post(word, "ola", 0.0, NO_EXPIRY) == Clear()


def test_an_empty_post_asks_for_nothing():
    assert parse_post("   ", "ola", 0.0, NO_EXPIRY) is None
    assert parse_post("[5m]   ", "ola", 0.0, NO_EXPIRY) is None


def test_long_posts_are_cut_to_what_the_display_can_page_through():
    request = parse_post("x" * 1000, "y" * 100, 0.0, NO_EXPIRY)
    assert isinstance(request, Post)
    assert len(request.message.text) == 240 and len(request.message.author) == 32


def test_only_listed_users_or_roles_may_post():
    settings = MessageSettings(allowed_users=frozenset({11}), allowed_roles=frozenset({77}))
    assert settings.allows(11, [])
    assert settings.allows(12, [5, 77])
    assert not settings.allows(12, [5])
    assert not NO_EXPIRY.allows(11, [77])  # nothing configured: nobody


def test_the_message_survives_a_restart_and_expires_on_time(tmp_path):
    board = MessageBoard(tmp_path)
    post = parse_post("[10m] Pizza", "ola", 1000.0, NO_EXPIRY)
    assert isinstance(post, Post)
    board.apply(post)
    again = MessageBoard(tmp_path)
    assert again.current(1000.0) == post.message
    assert again.current(1599.0) == post.message
    assert again.current(1600.0) is None


def test_clear_survives_a_restart_too(tmp_path):
    board = MessageBoard(tmp_path)
    board.apply(Post(DisplayMessage("Hi", "ola", 0.0)))
    board.apply(Clear())
    assert MessageBoard(tmp_path).current(1.0) is None


@pytest.mark.parametrize("content", ["{not json", '{"text": "x"}', '["a"]', '"text"'])
def test_a_damaged_saved_message_is_ignored_with_a_warning(tmp_path, caplog, content):
    (tmp_path / "display-message.json").write_text(content, encoding="utf-8")
    assert MessageBoard(tmp_path).current(0.0) is None
    assert "ignoring the saved display message" in caplog.text


def test_messages_section_is_read_from_the_config(tmp_path):
    path = tmp_path / "hub.toml"
    path.write_text("[messages]\nallowed_users = [123456789012345678, '42']\n"
                    "allowed_roles = [7]\nexpire_minutes = 90\n", encoding="utf-8")
    settings = load_config(path).messages
    assert settings == MessageSettings(allowed_users=frozenset({123456789012345678, 42}),
                                       allowed_roles=frozenset({7}), expire_minutes=90.0)


@pytest.mark.parametrize(("line", "key"), [
    ("allowed_users = 'me'", "allowed_users"),
    ("allowed_roles = [-1]", "allowed_roles"),
    ("expire_minutes = -5", "expire_minutes"),
    ("allowed = [1]", "allowed"),
])
def test_bad_messages_keys_name_file_and_key(tmp_path, line, key):
    path = tmp_path / "hub.toml"
    path.write_text(f"[messages]\n{line}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert str(path) in str(raised.value) and f"[messages] {key}:" in str(raised.value)


def channel(tmp_path, **settings):
    from hub.display.messages import DisplayChannel

    board = MessageBoard(tmp_path)
    return DisplayChannel(555, board, MessageSettings(**settings)), board


def test_display_channel_shows_posts_from_allowed_people(tmp_path):
    desk, board = channel(tmp_path, allowed_users=frozenset({1}))
    answer = desk.on_message(555, 1, [], "ola", "[30m] Pizza!", 100.0)
    assert answer == "✅ On the display for 30 min."
    assert board.current(100.0) == DisplayMessage("Pizza!", "ola", 100.0, 1900.0)
    assert desk.on_message(555, 1, [], "ola", "clear", 200.0) == "🧹 Cleared from the display."
    assert board.current(200.0) is None


def test_display_channel_refuses_others_and_ignores_other_channels(tmp_path):
    desk, board = channel(tmp_path, allowed_roles=frozenset({9}))
    refused = desk.on_message(555, 2, [8], "eve", "hello", 0.0)
    assert refused is not None and refused.startswith("🚫")
    assert desk.on_message(556, 2, [9], "eve", "hello", 0.0) is None
    assert board.current(0.0) is None
    assert desk.on_message(555, 2, [9], "eve", "hello", 0.0) == "✅ On the display until cleared."
