"""Who may talk to the web server: signed browser tokens, Twilio signatures, origins, rates.

Pure functions and small classes (no I/O), tested with tables.

**Browser tokens.** The embedding application mints a short-lived token for each page it
serves (:func:`mint_token`, with the secret the web server was given) and the page
presents it in its ``hello``. A token is ``base64url(claims) "." base64url(HMAC-SHA256)``;
the claims are JSON ``{"exp": unix seconds, "sub": "who"}``. Verification is
constant-time and checks the expiry; the token is never logged.

**Twilio.** :func:`twilio_signature` is ``X-Twilio-Signature`` as Twilio computes it:
base64 of HMAC-SHA1, keyed with the account's auth token, over the full URL followed by
each POST parameter's name and value in sorted name order.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from realtime_agent.redact import Secret

__all__ = [
    "Origins",
    "RateLimit",
    "TokenError",
    "mint_token",
    "twilio_signature",
    "verify_token",
    "verify_twilio_signature",
]


class TokenError(ValueError):
    """A browser token that cannot be accepted; the message says why (never the token)."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _key(secret: str | Secret) -> bytes:
    value = secret.reveal() if isinstance(secret, Secret) else secret
    if not value:
        raise ValueError("the token secret is empty")
    return value.encode()


def mint_token(
    secret: str | Secret,
    *,
    ttl: float = 300.0,
    subject: str = "",
    now: Callable[[], float] = time.time,
) -> str:
    """A browser token valid for ``ttl`` seconds, signed with ``secret``.

    Mint one per page view in your own backend, with the secret the web server runs with
    (``REALTIME_AGENT_WEB_SECRET``), and hand it to the page: it goes in the ``hello``.
    ``subject`` names the caller in the server's logs and metrics (keep it short).
    """
    if ttl <= 0:
        raise ValueError("ttl must be positive")
    claims = json.dumps({"exp": int(now() + ttl), "sub": subject}, separators=(",", ":"))
    body = _b64(claims.encode())
    signature = hmac.new(_key(secret), body.encode(), hashlib.sha256).digest()
    return f"{body}.{_b64(signature)}"


def verify_token(
    secret: str | Secret, token: object, *, now: Callable[[], float] = time.time
) -> str:
    """The token's subject; raises :class:`TokenError` if it is malformed, forged or expired."""
    if not isinstance(token, str) or not token:
        raise TokenError("a token is required")
    if len(token) > 2048 or token.count(".") != 1:
        raise TokenError("malformed token")
    body, _, signature = token.partition(".")
    expected = hmac.new(_key(secret), body.encode(), hashlib.sha256).digest()
    try:
        given = _unb64(signature)
        claims = json.loads(_unb64(body))
    except (ValueError, UnicodeDecodeError):
        raise TokenError("malformed token") from None
    if not hmac.compare_digest(given, expected):
        raise TokenError("bad token signature")
    if not isinstance(claims, dict) or not isinstance(claims.get("exp"), int):
        raise TokenError("malformed token")
    if claims["exp"] <= now():
        raise TokenError("expired token")
    subject = claims.get("sub", "")
    return subject if isinstance(subject, str) else ""


def twilio_signature(
    auth_token: str | Secret, url: str, params: Mapping[str, str] | Iterable[tuple[str, str]] = ()
) -> str:
    """``X-Twilio-Signature`` for a request to ``url`` with these POST parameters."""
    pairs = sorted(params.items() if isinstance(params, Mapping) else params)
    data = url + "".join(name + value for name, value in pairs)
    digest = hmac.new(_key(auth_token), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_twilio_signature(
    auth_token: str | Secret,
    signature: str | None,
    url: str,
    params: Mapping[str, str] | Iterable[tuple[str, str]] = (),
) -> bool:
    """True if ``signature`` is Twilio's for this URL and parameters (constant-time)."""
    if not signature:
        return False
    expected = twilio_signature(auth_token, url, params)
    return hmac.compare_digest(signature.encode(), expected.encode())


@dataclass(frozen=True)
class Origins:
    """The Origin allow-list of browser connections.

    A request without ``Origin`` is not from a browser page (a server, a test client, a
    phone bridge) and is let through (the token decides). With an empty list, only the
    page's own origin is allowed: the Origin whose host is the request's Host.
    """

    allowed: tuple[str, ...] = ()

    def permits(self, origin: str | None, host: str | None) -> bool:
        """True if a request from ``origin`` to ``host`` may go on."""
        if origin is None:
            return True
        origin = origin.rstrip("/").lower()
        if "*" in self.allowed or origin in (o.rstrip("/").lower() for o in self.allowed):
            return True
        if host is None:
            return False
        scheme, _, rest = origin.partition("://")
        return scheme in ("http", "https") and rest == host.lower()


class RateLimit:
    """A token bucket: ``rate`` units per second, bursts up to ``burst``.

    ``take(n)`` is False once the client has spent more than it earned: the caller cuts
    the client off. The clock is a parameter, so tests decide the time.
    """

    def __init__(
        self, rate: float, burst: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate <= 0 or burst <= 0:
            raise ValueError("rate and burst must be positive")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._level = burst
        self._since = clock()

    def take(self, amount: float = 1.0) -> bool:
        """Spend ``amount``; False if the bucket does not hold it (nothing is spent then)."""
        now = self._clock()
        self._level = min(self.burst, self._level + (now - self._since) * self.rate)
        self._since = now
        if amount > self._level:
            return False
        self._level -= amount
        return True
