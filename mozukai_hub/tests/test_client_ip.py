import pytest

from mozukai_hub.client_ip import client_ip_for_scope, client_ip_from


@pytest.mark.parametrize(
    "trusted, remote, forwarded, expected",
    [
        (0, "10.0.0.5", "203.0.113.1", "10.0.0.5"),  # no proxy: the header is ignored
        (0, "10.0.0.5", None, "10.0.0.5"),
        (1, "10.0.0.5", "203.0.113.1", "203.0.113.1"),  # one proxy: the entry it appended
        (1, "10.0.0.5", "6.6.6.6, 203.0.113.1", "203.0.113.1"),  # a spoofed first entry is ignored
        (2, "10.0.0.5", "6.6.6.6, 203.0.113.1, 10.0.0.9", "203.0.113.1"),
        (2, "10.0.0.5", "203.0.113.1", "10.0.0.5"),  # fewer hops than proxies: only the peer is certain
        (1, "10.0.0.5", "not-an-ip", None),
        (0, "[2001:db8::1]:443", None, "2001:db8::1"),
        (0, "192.0.2.1:5555", None, "192.0.2.1"),
    ],
)
def test_client_ip_believes_only_trusted_proxies(settings, trusted, remote, forwarded, expected):
    settings.TRUSTED_PROXY_COUNT = trusted
    assert client_ip_from(remote_addr=remote, forwarded_for=forwarded) == expected


def test_websocket_scopes_use_the_same_rule(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    scope = {"client": ("10.0.0.5", 1234), "headers": [(b"x-forwarded-for", b"6.6.6.6, 198.51.100.4")]}
    assert client_ip_for_scope(scope) == "198.51.100.4"
