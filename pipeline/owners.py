"""Who a job belongs to: a signed-in user, or an anonymous visitor known by client IP and a token.

A visitor's job is charged to the free credits of the visitor's address; reading it needs the
token handed out (once) when it was created. Only a hash of the token is stored. Where the
address becomes the owner (admission, `Job.visitor_ip`, the free credits) it is taken as its
subject, `mozukai_hub.client_ip.client_ip_subject`: an IPv6 address stands for its /64.
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from mozukai_hub.client_ip import client_ip as request_client_ip


@dataclass(frozen=True)
class JobOwner:
    user: object | None  # accounts.User; None for an anonymous visitor
    client_ip: str | None

    def __post_init__(self):
        if self.user is None and not self.client_ip:
            raise ValueError("An anonymous job owner needs a client IP.")

    @classmethod
    def for_user(cls, user, client_ip: str | None = None) -> "JobOwner":
        return cls(user=user, client_ip=client_ip)

    @classmethod
    def from_request(cls, request) -> "JobOwner":
        user = request.user if getattr(request.user, "is_authenticated", False) else None
        return cls(user=user, client_ip=request_client_ip(request))

    @property
    def is_visitor(self) -> bool:
        return self.user is None


def visitor_token_new() -> str:
    return secrets.token_urlsafe(32)


def visitor_token_hash(token: str) -> str:
    # The token has 256 random bits: a plain SHA-256 cannot be reversed by guessing.
    return hashlib.sha256((token or "").encode()).hexdigest()


def visitor_token_matches(token: str, stored_hash: str) -> bool:
    return bool(token and stored_hash) and hmac.compare_digest(visitor_token_hash(token), stored_hash)
