"""Login throttling (docs/security.md): failed logins are counted per account
and per client address in Redis; past a limit, logins are refused with 429 and ``Retry-After``
until the window of the first counted failure ends.

An attempt reserves its place in both counters before the password is checked (atomic
``INCR``, so parallel attempts cannot overshoot the limit) and a successful login gives it back
(and clears the account's count): only failures count, and a refused attempt costs no password
hash. When Redis cannot be reached
logins are not throttled (logged): logging in never needed Redis, and still does not.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

import redis
from django.conf import settings
from django.contrib.auth import get_user_model
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rest_framework.throttling import BaseThrottle

logger = logging.getLogger("cvat_lite.api")

MSG_THROTTLED = "Too many failed logins. Try again in {wait} seconds."
_KEY_PREFIX = "cvat_lite:login-failures"
_clients: dict[str, redis.Redis] = {}


@dataclass(frozen=True)
class LoginAttempt:
    account: str
    address: str

    def _counters(self) -> list[tuple[str, int]]:
        return [
            (_key("account", self.account), settings.LOGIN_FAILURES_PER_ACCOUNT),
            (_key("address", self.address), settings.LOGIN_FAILURES_PER_ADDRESS),
        ]


def login_attempt(*, identifier: str, address: str) -> LoginAttempt:
    """The counters an attempt with this username or e-mail, from this address, falls under.
    An e-mail address that names exactly one user counts for that user's account."""
    account = identifier.strip().casefold()
    if "@" in account:
        names = list(
            get_user_model()
            .objects.filter(email__iexact=account)
            .values_list("username", flat=True)[:2]
        )
        if len(names) == 1:
            account = names[0].casefold()
    return LoginAttempt(account=account, address=address)


def login_attempt_reserve(attempt: LoginAttempt) -> int | None:
    """Count the attempt; ``None`` if it may go on, else the seconds until it may."""
    try:
        client = _client()
        window = settings.LOGIN_FAILURE_WINDOW
        reserved: list[str] = []
        for key, limit in attempt._counters():
            client.set(key, 0, ex=window, nx=True)
            count = client.incr(key)
            reserved.append(key)
            if count > limit:
                for done in reserved:
                    client.decr(done)
                ttl = client.ttl(key)
                return max(1, int(ttl) if ttl and ttl > 0 else window)
    except (RedisConnectionError, RedisTimeoutError):
        logger.warning("Login throttling skipped: Redis is unavailable")
    return None


def login_attempt_release(attempt: LoginAttempt) -> None:
    """The login succeeded: it does not count as a failure, and the account's earlier failures
    are forgotten (whoever gave the right password gains nothing by it). The address keeps its
    failures: logging in to an account of one's own must not reset them."""
    try:
        client = _client()
        (account_key, _), (address_key, _) = attempt._counters()
        client.delete(account_key)
        if client.decr(address_key) < 0:
            client.delete(address_key)
    except (RedisConnectionError, RedisTimeoutError):
        pass


def _key(scope: str, value: str) -> str:
    return f"{_KEY_PREFIX}:{scope}:{hashlib.sha256(value.encode()).hexdigest()}"


def _client() -> redis.Redis:
    url = settings.REDIS_URL
    if url not in _clients:
        _clients[url] = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    return _clients[url]


class LoginThrottle(BaseThrottle):
    """DRF's throttle hook for ``POST /api/auth/login`` (checked before the view, so before any
    password hash). The view releases the attempt when the login succeeds."""

    def allow_request(self, request, view) -> bool:
        data = request.data if isinstance(request.data, dict) else {}
        identifier = str(data.get("username") or data.get("email") or "")
        request.login_attempt = login_attempt(
            identifier=identifier, address=self.get_ident(request) or ""
        )
        self._wait = login_attempt_reserve(request.login_attempt)
        return self._wait is None

    def wait(self) -> float | None:
        return self._wait
