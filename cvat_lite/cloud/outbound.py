"""The transport guard: every HTTP request a provider's SDK makes is checked before it connects.

The check at storage creation (``registry.validate_config``) looks at the endpoint the SDK client
is built for. SDKs also go to URLs that no configuration names: a GCS resumable upload PUTs to the
``Location`` its session POST answered, a key file names a ``token_uri``, a redirect names a host.
So each provider sends its requests through a guard that refuses, before any socket is opened,
a URL whose host and port are neither allowed by the allowlist nor one of the provider's public
hosts. The URL is judged as the HTTP client will connect: Python's ``urlsplit`` and urllib3's
``parse_url`` must agree on the host and port, and user info, whitespace and backslashes are
refused (see ``endpoints``).

- requests (Azure's and Google's transports): ``guarded_session`` mounts an adapter that checks
  each prepared request in ``send``, the last step before a connection is taken from the pool.
- botocore: ``guard_boto_client`` checks each request in the ``before-send`` event.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util import parse_url

from cvat_lite.cloud.endpoints import DEFAULT_PORTS, endpoint_allowed, is_public

_S = TypeVar("_S", bound=requests.Session)


class OutboundRefused(Exception):
    """A request to a host outside the allowlist was stopped before it connected. Carries no
    URL: the text of SDK exceptions may reach logs."""


@dataclass(frozen=True)
class OutboundPolicy:
    allowlist: tuple[str, ...]
    public_hosts: tuple[str, ...]

    def allows(self, url: str) -> bool:
        if not _parsers_agree(url):
            return False
        return is_public(url, self.public_hosts) or endpoint_allowed(url, self.allowlist)

    def check(self, url: str) -> None:
        if not self.allows(url):
            raise OutboundRefused


def _parsers_agree(url: str) -> bool:
    """Do urllib3 (which connects) and urlsplit (which the allowlist uses) see the same host
    and port? A URL they read differently is refused rather than judged by one of them."""
    try:
        ours = urlsplit(url)
        theirs = parse_url(url)
        our_port = ours.port
    except ValueError:
        return False
    scheme = (theirs.scheme or "").lower()
    if scheme not in DEFAULT_PORTS or scheme != ours.scheme.lower():
        return False
    their_host = (theirs.host or "").strip("[]").lower()
    our_host = (ours.hostname or "").lower()
    default = DEFAULT_PORTS[scheme]
    return bool(our_host) and (their_host, theirs.port or default) == (
        our_host,
        our_port or default,
    )


class GuardedAdapter(HTTPAdapter):
    """A requests adapter that checks each request against ``policy`` before sending it.
    requests never lets urllib3 follow a redirect; a redirect requests itself follows is a new
    request through ``send``, so it is checked too."""

    def __init__(self, policy: OutboundPolicy, **kwargs: Any) -> None:
        self.policy = policy
        super().__init__(**kwargs)

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        self.policy.check(request.url or "")
        return super().send(request, *args, **kwargs)


def guard_session(session: _S, policy: OutboundPolicy) -> _S:
    """Mount the guard on ``session`` for every URL (the longest prefix wins in requests, so
    both schemes are replaced) and return it."""
    adapter = GuardedAdapter(policy)
    session.adapters.clear()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def guarded_session(policy: OutboundPolicy) -> requests.Session:
    return guard_session(requests.Session(), policy)


def guard_boto_client(client: Any, policy: OutboundPolicy) -> None:
    """Check every request of a botocore client (``before-send`` runs right before it is put
    on the wire, after endpoint resolution and any region redirect)."""

    def before_send(request: Any = None, **kwargs: Any) -> None:
        policy.check(request.url)

    client.meta.events.register_first("before-send", before_send)


def policy_for(allowlist: Sequence[str], public_hosts: Sequence[str]) -> OutboundPolicy:
    return OutboundPolicy(tuple(allowlist), tuple(public_hosts))
