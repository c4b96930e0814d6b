"""The endpoint allowlist (contract 4.4): pure matching, no network."""

from __future__ import annotations

import pytest

from cvat_lite.cloud.endpoints import (
    MSG_INVALID_URL,
    MSG_NOT_ALLOWED,
    check_endpoint,
    endpoint_allowed,
    is_public,
    parse_allowlist,
)
from cvat_lite.cloud.outbound import OutboundPolicy, OutboundRefused
from cvat_lite.errors import EndpointNotAllowed

DEV = ["127.0.0.1:*", "localhost:*", "[::1]:*"]
PROD = ["minio.internal:9000", "*.storage.internal:443"]


@pytest.mark.parametrize(
    ("url", "patterns", "allowed"),
    [
        # loopback with any port
        ("http://127.0.0.1:9000", DEV, True),
        ("http://127.0.0.1", DEV, True),
        ("https://LOCALHOST:10000/devstoreaccount1", DEV, True),
        ("http://[::1]:4443/x", DEV, True),
        ("http://[0:0:0:0:0:0:0:1]:4443", DEV, True),  # IP literals compare by value
        ("http://127.0.0.2:9000", DEV, False),
        ("http://127.1:9000", DEV, False),  # not the literal in the list: refused
        ("http://localhost.evil.com:80", DEV, False),
        ("http://evil.localhost:80", DEV, False),
        # fixed port; default port from the scheme
        ("http://minio.internal:9000", PROD, True),
        ("http://MinIO.Internal:9000/bucket", PROD, True),
        ("http://minio.internal:9001", PROD, False),
        ("http://minio.internal", PROD, False),  # port 80
        ("https://a.storage.internal", PROD, True),  # port 443
        ("https://a.storage.internal:443", PROD, True),
        ("http://a.storage.internal", PROD, False),  # port 80
        ("https://a.b.storage.internal", PROD, False),  # '*' is one label
        ("https://storage.internal", PROD, False),
        # tricks
        ("http://minio.internal:9000@evil.com:9000", PROD, False),
        ("http://user:pass@minio.internal:9000", PROD, False),  # no user info at all
        ("http://evil.com#@minio.internal:9000", PROD, False),
        ("http://evil.com?@minio.internal:9000", PROD, False),
        ("http://minio.internal:9000\\@evil.com", PROD, False),
        ("http://minio.internal:9000\n.evil.com", PROD, False),
        ("http://minio.internal :9000", PROD, False),
        ("ftp://minio.internal:9000", PROD, False),
        ("file:///etc/passwd", DEV, False),
        ("minio.internal:9000", PROD, False),  # no scheme
        ("//minio.internal:9000", PROD, False),
        ("http://minio.internal:99999", PROD, False),
        ("http://[::1:9000", DEV, False),
        ("", DEV, False),
        ("http://127.0.0.1:9000", [], False),  # production default: nothing
        ("http://127.0.0.1:9000", ["not a pattern", "127.0.0.1"], False),  # malformed ignored
    ],
)
def test_endpoint_allowed(url, patterns, allowed):
    assert endpoint_allowed(url, patterns) is allowed


def test_check_endpoint_names_the_host_and_port():
    check_endpoint("http://localhost:9000", DEV)
    with pytest.raises(EndpointNotAllowed) as raised:
        check_endpoint("https://Evil.example/path?x=1", DEV)
    assert raised.value.message == MSG_NOT_ALLOWED.format(host_port="evil.example:443")
    assert raised.value.status == 400
    assert raised.value.code == "endpoint_not_allowed"
    with pytest.raises(EndpointNotAllowed) as raised:
        check_endpoint("http://[::2]:81", DEV)
    assert raised.value.message == MSG_NOT_ALLOWED.format(host_port="[::2]:81")


def test_check_endpoint_never_echoes_user_info():
    with pytest.raises(EndpointNotAllowed) as raised:
        check_endpoint("http://user:S3cr3t@localhost:9000", DEV)
    assert raised.value.message == MSG_INVALID_URL
    assert "S3cr3t" not in str(raised.value)


def test_parse_allowlist():
    text = " 127.0.0.1:*, localhost:*,,[::1]:*, minio.internal:9000 ,*.internal:9000"
    assert parse_allowlist(text) == (
        "127.0.0.1:*",
        "localhost:*",
        "[::1]:*",
        "minio.internal:9000",
        "*.internal:9000",
    )
    assert parse_allowlist("") == ()


@pytest.mark.parametrize(
    "bad", ["localhost", "localhost:", "localhost:x", "a..b:1", "[::1]", ":80"]
)
def test_parse_allowlist_refuses_malformed_patterns(bad):
    with pytest.raises(ValueError, match="allowlist"):
        parse_allowlist(f"127.0.0.1:*,{bad}")


# --- public hosts and the transport guard's policy ---------------------------------------------

AZURE_PUBLIC = (".blob.core.windows.net",)
GCS_PUBLIC = ("storage.googleapis.com",)


@pytest.mark.parametrize(
    ("url", "public_hosts", "public"),
    [
        ("https://acct.blob.core.windows.net/c", AZURE_PUBLIC, True),
        ("http://acct.blob.core.windows.net", AZURE_PUBLIC, True),
        ("https://acct.blob.core.windows.net:9100", AZURE_PUBLIC, False),  # not the default port
        ("https://blob.core.windows.net.evil.com", AZURE_PUBLIC, False),
        ("https://x@acct.blob.core.windows.net", AZURE_PUBLIC, False),
        ("https://storage.googleapis.com/upload/x", GCS_PUBLIC, True),
        ("https://evil-storage.googleapis.com", GCS_PUBLIC, False),  # exact host only
        ("http://127.0.0.1:9100/?x=://acct.blob.core.windows.net", AZURE_PUBLIC, False),
    ],
)
def test_is_public(url, public_hosts, public):
    assert is_public(url, public_hosts) is public


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://127.0.0.1:19000/b/o", True),
        ("https://acct.blob.core.windows.net/c", True),
        ("http://127.0.0.1:9100/", False),
        ("http://127.0.0.1:19000@127.0.0.1:9100/", False),  # user info
        ("http://127.0.0.1:19000\\@127.0.0.1:9100/", False),  # parsers may disagree
        ("http://127.0.0.1:19000#@127.0.0.1:9100/", True),  # both read 127.0.0.1:19000
        ("ftp://127.0.0.1:19000/", False),
        ("", False),
    ],
)
def test_outbound_policy(url, allowed):
    policy = OutboundPolicy(("127.0.0.1:19000",), AZURE_PUBLIC)
    assert policy.allows(url) is allowed
    if not allowed:
        with pytest.raises(OutboundRefused):
            policy.check(url)


@pytest.mark.parametrize(
    ("url", "entry"),
    [
        ("http://127.0.0.1:9000", "127.0.0.1:9000"),
        ("https://S3.Example.com/bucket", "s3.example.com:443"),
        ("http://[::1]:10000/devstoreaccount1", "[::1]:10000"),
        ("http://user@host:9000", None),
        ("ftp://host", None),
    ],
)
def test_allowlist_entry_allows_exactly_that_endpoint(url, entry):
    from cvat_lite.cloud.endpoints import allowlist_entry

    assert allowlist_entry(url) == entry
    if entry is not None:
        assert endpoint_allowed(url, [entry])
        assert not endpoint_allowed(
            url.replace(url.split("//")[1].split("/")[0], "other:1"), [entry]
        )
