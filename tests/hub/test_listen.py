"""`[hub] http_listen`: one parser, so the config, `check` and the server agree on it."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.config import ConfigError, check_http_access, load_config
from hub.listen import Listen, parse_listen
from hub.status.model import HubStatus
from hub.web.server import StatusServer, StatusServerError

#: Addresses a person might write, good and bad: each is accepted by all or by none.
ADDRESSES = ["127.0.0.1:8787", "0.0.0.0:0", "[::1]:8787", "::1:8787", "localhost:80",
             "pi.lan:65535", "pi.lan:65536", "pi:\u00b2", "pi:", ":8787", "[]:8787",
             "[::1]x:80", "a b:80", "localhost", "127.0.0.1:-1", "127.0.0.1:123456"]


@pytest.mark.parametrize(("text", "address"), [
    ("127.0.0.1:8787", Listen("127.0.0.1", 8787)),
    ("[::1]:8787", Listen("::1", 8787)),
    ("::1:0", Listen("::1", 0)),
    ("pi.lan:80", Listen("pi.lan", 80)),
    ("pi:\u00b2", None),  # a digit to `str.isdigit`, not to `int`
    ("[]:80", None),
    ("pi.lan", None),
])
def test_an_address_is_host_and_port(text, address):
    assert parse_listen(text) == address


@pytest.mark.parametrize(("text", "is_loopback"), [
    ("127.0.0.1:1", True), ("127.8.9.10:1", True), ("[::1]:1", True), ("localhost:1", True),
    ("0.0.0.0:1", False), ("[::]:1", False), ("192.168.1.5:1", False),
    ("pi.lan:1", False),  # a name may resolve to anything
])
def test_only_a_loopback_address_is_reached_from_this_machine_only(text, is_loopback):
    address = parse_listen(text)
    assert address is not None and address.is_loopback is is_loopback


def status() -> HubStatus:
    return HubStatus(hub_name="test-hub", at=0.0, started_at=0.0, machines=(), delivery=None,
                     outbox_depth=0)


@pytest.mark.parametrize("text", ADDRESSES)
def test_the_config_and_the_server_accept_the_same_addresses(tmp_path: Path, text):
    path = tmp_path / "hub.toml"
    path.write_text(f"[hub]\nhttp_listen = '{text}'\n", encoding="utf-8")
    try:
        load_config(path)
    except ConfigError:
        config_accepts = False
    else:
        config_accepts = True
    try:
        StatusServer(text, status, token="secret")
    except StatusServerError as err:
        assert str(err) == f"http_listen: expected 'host:port' such as '127.0.0.1:8787', " \
                           f"got {text!r}"
        server_accepts = False
    else:
        server_accepts = True
    assert config_accepts is server_accepts


@pytest.mark.parametrize("text", [a for a in ADDRESSES if parse_listen(a) is not None])
def test_the_config_and_the_server_refuse_the_same_addresses_without_a_token(tmp_path, text):
    path = tmp_path / "hub.toml"
    path.write_text(f"[hub]\nhttp_listen = '{text}'\n", encoding="utf-8")
    try:
        check_http_access(load_config(path), has_token=False)
    except ConfigError:
        config_refuses = True
    else:
        config_refuses = False
    try:
        StatusServer(text, status)
    except StatusServerError:
        server_refuses = True
    else:
        server_refuses = False
    assert config_refuses is server_refuses
