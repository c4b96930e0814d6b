"""Outbound safety (contract 4.4): may a storage talk to this user-supplied endpoint?

Patterns are ``host:port``; ``*`` stands for any port or for any one host label
(``127.0.0.1:*``, ``localhost:*``, ``minio.internal:9000``, ``*.internal:9000``, ``[::1]:*``).
A URL is allowed only if it is a plain ``http``/``https`` URL (no user info, no whitespace or
backslashes) whose host and port (the scheme's default when absent) match a pattern. Hosts are
compared case-insensitively, IP literals by value. Pure: no DNS, no network.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from urllib.parse import urlsplit

from cvat_lite.errors import EndpointNotAllowed

MSG_NOT_ALLOWED = "The cloud storage endpoint '{host_port}' is not in the allowed list."
MSG_INVALID_URL = (
    "The cloud storage endpoint must be an http:// or https:// URL with a host and no user info."
)

DEFAULT_PORTS = {"http": 80, "https": 443}
_ANY_PORT = -1


def endpoint_allowed(url: str, patterns: Sequence[str]) -> bool:
    target = _host_port(url)
    if target is None:
        return False
    host, port = target
    for pattern in patterns:
        parsed = _parse_pattern(pattern)
        if parsed is None:
            continue
        pattern_host, pattern_port = parsed
        if pattern_port in (_ANY_PORT, port) and _host_matches(host, pattern_host):
            return True
    return False


def check_endpoint(url: str, patterns: Sequence[str]) -> None:
    """Raise EndpointNotAllowed unless ``url`` matches one of ``patterns``."""
    target = _host_port(url)
    if target is None:
        raise EndpointNotAllowed(MSG_INVALID_URL)
    if not endpoint_allowed(url, patterns):
        host, port = target
        shown = f"[{host}]" if ":" in host else host
        raise EndpointNotAllowed(MSG_NOT_ALLOWED.format(host_port=f"{shown}:{port}"))


def is_public(url: str, public_hosts: Sequence[str]) -> bool:
    """Is ``url`` one of a provider's own public hosts on its scheme's default port? An entry
    starting with ``.`` is a domain suffix (``.blob.core.windows.net``), any other an exact host.
    Such hosts need no allowlist entry: they are the provider's cloud, never an internal host."""
    target = _host_port(url)
    if target is None:
        return False
    host, port = target
    scheme = urlsplit(url).scheme.lower()
    if port != DEFAULT_PORTS[scheme] or _ip(host) is not None:
        return False
    return any(
        host.endswith(entry) if entry.startswith(".") else host == entry for entry in public_hosts
    )


def parse_allowlist(text: str) -> tuple[str, ...]:
    """Split a comma-separated allowlist (the settings value) and validate each pattern;
    raises ValueError naming a malformed pattern so a bad setting fails at startup."""
    patterns = tuple(p.strip() for p in text.split(",") if p.strip())
    for pattern in patterns:
        if _parse_pattern(pattern) is None:
            raise ValueError(f"Malformed cloud endpoint allowlist pattern: {pattern!r}")
    return patterns


def allowlist_entry(url: str) -> str | None:
    """The allowlist pattern that allows exactly ``url``'s host and port (None: not a URL the
    allowlist could allow)."""
    found = _host_port(url)
    if found is None:
        return None
    host, port = found
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _host_port(url: str) -> tuple[str, int] | None:
    if not url or any(c.isspace() or not c.isprintable() or c == "\\" for c in url):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or "@" in parts.netloc or not parts.hostname:
        return None
    return parts.hostname.lower(), DEFAULT_PORTS[scheme] if port is None else port


def _parse_pattern(pattern: str) -> tuple[str, int] | None:
    pattern = pattern.strip().lower()
    if pattern.startswith("["):
        host, bracket, rest = pattern[1:].partition("]")
        if not bracket or not rest.startswith(":") or _ip(host) is None:
            return None
        port_text = rest[1:]
    else:
        host, colon, port_text = pattern.rpartition(":")
        if not colon or not all(host.split(".")) or ":" in host:
            return None
    if port_text == "*":
        return host, _ANY_PORT
    if not port_text.isdecimal() or not 0 < int(port_text) < 65536:
        return None
    return host, int(port_text)


def _host_matches(host: str, pattern: str) -> bool:
    host_ip, pattern_ip = _ip(host), _ip(pattern)
    if host_ip is not None and pattern_ip is not None:
        return host_ip == pattern_ip
    if ":" in host or ":" in pattern:  # IPv6 on one side only: no wildcard matching
        return False
    host_labels, pattern_labels = host.split("."), pattern.split(".")
    return len(host_labels) == len(pattern_labels) and all(
        p == h or (p == "*" and h) for h, p in zip(host_labels, pattern_labels, strict=True)
    )


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None
