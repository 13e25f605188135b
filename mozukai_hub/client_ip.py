"""The one place that decides which address a request comes from.

`X-Forwarded-For` is written by whoever sends the request, so only the entries appended by
our own proxies can be believed: with `TRUSTED_PROXY_COUNT = N`, the client is the address
the outermost of our N proxies saw, i.e. the N-th entry counted from the right. With N = 0
(the default: nothing in front of the app) the header is ignored and the socket address is
the client. Throttles, allauth and free credits all call this function.
"""

from ipaddress import IPv6Address, ip_address

from django.conf import settings


def _valid_ip(value: str) -> str | None:
    value = value.strip()
    if value.startswith("[") and "]" in value:  # "[::1]:1234"
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # "1.2.3.4:5678"
        value = value.split(":", 1)[0]
    try:
        return str(ip_address(value))
    except ValueError:
        return None


def client_ip_from(*, remote_addr: str | None, forwarded_for: str | None) -> str | None:
    trusted = settings.TRUSTED_PROXY_COUNT
    if trusted and forwarded_for:
        hops = [hop for hop in (h.strip() for h in forwarded_for.split(",")) if hop]
        if len(hops) >= trusted:
            return _valid_ip(hops[-trusted])
    # No proxy chain to believe: the socket peer is the only address nobody can forge.
    return _valid_ip(remote_addr or "")


def client_ip(request) -> str | None:
    """Client address of a Django `HttpRequest`."""
    return client_ip_from(
        remote_addr=request.META.get("REMOTE_ADDR"),
        forwarded_for=request.META.get("HTTP_X_FORWARDED_FOR"),
    )


def client_ip_for_scope(scope: dict) -> str | None:
    """Client address of an ASGI (websocket) connection scope."""
    headers = dict(scope.get("headers") or [])
    forwarded = headers.get(b"x-forwarded-for", b"").decode("latin-1") or None
    client = scope.get("client") or (None, None)
    return client_ip_from(remote_addr=client[0], forwarded_for=forwarded)


def client_ip_subject(ip: str) -> str:
    """Whom an address stands for, where an address becomes an owner (free credits, a
    visitor's jobs): an IPv4 address as is; an IPv6 address as its /64 network, written as the
    network's address ("2001:db8:1:2::", a valid address a GenericIPAddressField stores), since
    one subscriber is routinely given a whole /64; an IPv4-mapped IPv6 address as the IPv4 one.
    """
    address = ip_address(str(ip).strip())
    if address.version == 6:
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(IPv6Address(int(address) >> 64 << 64))  # the /64 network (any zone id dropped)
    return str(address)
