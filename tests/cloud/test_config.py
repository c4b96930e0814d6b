"""Config types, attribute parsing and the registry's checks: pure, no network."""

from __future__ import annotations

import pytest

from cvat_lite.cloud.azure import AzureProvider
from cvat_lite.cloud.base import (
    DATA_TIMEOUTS,
    STATUS_TIMEOUTS,
    Credentials,
    CredentialsType,
    ProviderType,
    StorageConfig,
    parse_specific_attributes,
)
from cvat_lite.cloud.gcs import GcsProvider
from cvat_lite.cloud.registry import custom_endpoint, get_provider, validate_config
from cvat_lite.cloud.s3 import S3Provider, md5_from_etag
from cvat_lite.errors import BadRequest, EndpointNotAllowed

S3, AZ, GCS = ProviderType
KEY_PAIR = CredentialsType.KEY_SECRET_KEY_PAIR
SAS = CredentialsType.ACCOUNT_NAME_TOKEN_PAIR
CONN = CredentialsType.CONNECTION_STRING
KEY_FILE = CredentialsType.KEY_FILE_PATH
ANON = CredentialsType.ANONYMOUS_ACCESS
ALLOW = ["127.0.0.1:*"]
SECRETS = Credentials(
    key="AKIAKEYVALUE",
    secret_key="secret-value-1",
    session_token="token-value-2",
    account_name="acct",
    connection_string="AccountName=acct;AccountKey=connstr-value-3",
    key_file_path="/srv/keys/path-value-4.json",
)


def _config(provider, creds_type, creds=None, resource="bucket", **attributes):
    return StorageConfig(provider, resource, creds_type, creds or Credentials(), attributes)


def _conn(text: str) -> Credentials:
    return Credentials(connection_string=text)


# --- types ----------------------------------------------------------------------------------


def test_credentials_repr_reveals_no_value():
    config = _config(S3, KEY_PAIR, SECRETS, endpoint_url="http://127.0.0.1:1")
    for text in (repr(SECRETS), str(SECRETS), repr(config), str(config)):
        for value in ("AKIAKEYVALUE", "value-1", "value-2", "acct", "value-3", "value-4"):
            assert value not in text
    assert repr(SECRETS).startswith("Credentials(key=<set>, secret_key=<set>")
    assert repr(Credentials()) == "Credentials()"


def test_timeout_presets():
    assert (STATUS_TIMEOUTS.connect, STATUS_TIMEOUTS.read, STATUS_TIMEOUTS.attempts) == (2, 5, 1)
    assert (DATA_TIMEOUTS.connect, DATA_TIMEOUTS.read, DATA_TIMEOUTS.attempts) == (5, 60, 3)
    assert DATA_TIMEOUTS.at_most(STATUS_TIMEOUTS) == STATUS_TIMEOUTS


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", {}),
        ("region=eu-west-1", {"region": "eu-west-1"}),
        (
            "endpoint_url=http%3A%2F%2F127.0.0.1%3A9000&prefix=a%2Fb+c%2F&project=p",
            {"endpoint_url": "http://127.0.0.1:9000", "prefix": "a/b+c/", "project": "p"},
        ),
        ("prefix=&location=us&", {"location": "us"}),  # empty values dropped
        ("prefix=x=y", {"prefix": "x=y"}),
    ],
)
def test_parse_specific_attributes(text, expected):
    assert parse_specific_attributes(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("colour=red", "Unknown specific attribute 'colour'"),
        ("region", "must look like"),
        ("=x", "must look like"),
        ("region=a&region=b", "more than once"),
    ],
)
def test_parse_specific_attributes_refuses(text, message):
    with pytest.raises(BadRequest, match=message):
        parse_specific_attributes(text)


@pytest.mark.parametrize(
    ("etag", "md5"),
    [
        ('"0CC175B9C0F1B6A831C399E269772661"', "0cc175b9c0f1b6a831c399e269772661"),
        ('"0cc175b9c0f1b6a831c399e269772661-2"', None),  # multipart
        ("", None),
        (None, None),
    ],
)
def test_md5_from_s3_etag(etag, md5):
    assert md5_from_etag(etag) == md5


# --- validate_config ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (_config(S3, KEY_PAIR, Credentials(key="k")), "require 'secret_key'"),
        (_config(S3, KEY_PAIR, Credentials(secret_key="s")), "require 'key'"),
        (_config(S3, CONN, Credentials(connection_string="x=y")), "does not support"),
        (_config(S3, ANON, region="eu-west-1/../x"), "not a valid region"),
        (_config(S3, ANON, resource=""), "resource"),
        (_config(AZ, SAS, Credentials(account_name="acct")), "require 'session_token'"),
        (_config(AZ, KEY_PAIR, Credentials(key="k", secret_key="s")), "does not support"),
        (_config(AZ, ANON, Credentials(account_name="evil.com#")), "account name"),
        (_config(AZ, CONN, Credentials(connection_string="nonsense")), "malformed"),
        (_config(AZ, CONN, Credentials(connection_string="AccountKey=abc")), "account name"),
        (_config(GCS, KEY_FILE), "require 'key_file_path'"),
        (_config(GCS, SAS, Credentials(account_name="a", session_token="t")), "does not support"),
    ],
)
def test_validate_config_refuses(config, message):
    with pytest.raises(BadRequest, match=message) as raised:
        validate_config(config, allowlist=ALLOW)
    assert type(raised.value) is BadRequest


@pytest.mark.parametrize(
    "config",
    [
        _config(S3, KEY_PAIR, Credentials(key="k", secret_key="s"), region="eu-west-1"),
        _config(S3, ANON),
        _config(AZ, CONN, Credentials(connection_string="AccountName=acct;AccountKey=a2V5")),
        _config(AZ, SAS, Credentials(account_name="acct", session_token="sv=1&sig=x")),
        _config(AZ, ANON, Credentials(account_name="acct")),
        _config(GCS, KEY_FILE, Credentials(key_file_path="/keys/k.json")),
        _config(GCS, ANON, project="p"),
    ],
)
def test_validate_config_accepts_public_defaults_with_an_empty_allowlist(config):
    validate_config(config, allowlist=[])


# --- endpoints ------------------------------------------------------------------------------

BLOB = "http://127.0.0.1:10000/devstoreaccount1"
DEVELOPMENT_STORAGE_URL = BLOB  # what azure-storage-blob connects to for UseDevelopmentStorage


@pytest.mark.parametrize(
    ("config", "endpoint"),
    [
        (_config(S3, ANON), None),
        (_config(S3, ANON, endpoint_url="http://minio:9000"), "http://minio:9000"),
        (_config(GCS, ANON, endpoint_url="http://127.0.0.1:9023"), "http://127.0.0.1:9023"),
        (_config(AZ, CONN, _conn(f"AccountName=a;BlobEndpoint={BLOB}")), BLOB),
        (_config(AZ, CONN, _conn("UseDevelopmentStorage=true")), DEVELOPMENT_STORAGE_URL),
        (_config(AZ, CONN, _conn("AccountName=acct;EndpointSuffix=core.windows.net")), None),
        (
            _config(
                AZ,
                CONN,
                _conn("DefaultEndpointsProtocol=http;AccountName=acct;EndpointSuffix=evil.com"),
            ),
            "http://acct.blob.evil.com",
        ),
        (_config(AZ, SAS, Credentials(account_name="acct", session_token="t")), None),
        (_config(AZ, ANON, Credentials(account_name="acct"), endpoint_url=BLOB), BLOB),
    ],
)
def test_custom_endpoint(config, endpoint):
    assert custom_endpoint(config) == endpoint


@pytest.mark.parametrize(
    "config",
    [
        _config(S3, ANON, endpoint_url="http://169.254.169.254:80"),
        _config(GCS, ANON, endpoint_url="http://10.0.0.1:9023"),
        _config(AZ, CONN, _conn("AccountName=a;BlobEndpoint=http://evil:1")),
        _config(AZ, CONN, _conn("AccountName=acct;EndpointSuffix=evil.com")),
        _config(
            AZ, SAS, Credentials(account_name="acct", session_token="t"), endpoint_url="http://x:1"
        ),
    ],
)
def test_custom_endpoint_outside_the_allowlist_is_refused(config):
    with pytest.raises(EndpointNotAllowed):
        validate_config(config, allowlist=ALLOW)
    with pytest.raises(EndpointNotAllowed):
        get_provider(config, allowlist=ALLOW)


@pytest.mark.parametrize(
    ("config", "provider"),
    [
        (_config(S3, ANON), S3Provider),
        (_config(AZ, ANON, Credentials(account_name="acct")), AzureProvider),
        (_config(GCS, ANON), GcsProvider),
    ],
)
def test_get_provider_picks_the_module(config, provider):
    instance = get_provider(config, allowlist=[], timeouts=STATUS_TIMEOUTS)
    assert type(instance) is provider
    assert instance.timeouts == STATUS_TIMEOUTS
    assert get_provider(config, allowlist=[]).timeouts == DATA_TIMEOUTS
