"""contract 3: who may call what. Every route of the API times {anonymous, owner, other user,
superuser} with real objects (``tests.security.world``), the expected status of each
(``tests.security.matrix``), and:

- the matrix is complete: every route and method the URL resolver serves, and every operation
  of ``schema.yml``, has a case (a new endpoint without one fails here);
- the other user's and the anonymous responses never carry the owner's data (names, bucket);
- their unsafe requests change nothing of the owner's (rows and files);
- naming another user's object in a body or a query is refused like naming a missing one.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.urls import URLResolver, get_resolver, resolve

from tests.security.matrix import CASES, FOREIGN, Case, Foreign
from tests.security.world import ROLES, World, build_world, destroy_world, owner_state, state_of

SCHEMA = Path(settings.BASE_DIR) / "schema.yml"
HTTP_METHODS = ("get", "post", "put", "patch", "delete", "head")
OUTSIDERS = ("anonymous", "other")
# Every test here uses the world, so all of them are database tests: pytest-django then runs
# them together (it moves tests without the mark to the end), and the world is built once.
pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, s3_emulator, redis_url, tmp_path_factory):
    with django_db_blocker.unblock():
        try:
            yield build_world(s3_emulator, tmp_path_factory.mktemp("world"))
        finally:
            destroy_world()


@pytest.fixture(autouse=True)
def _data_dir(world: World, settings):
    """The world's files, for every test of this module (overrides the suite's per-test dir)."""
    settings.DATA_DIR = world.data_dir
    settings.SHARE_ROOT = world.share_root


def send(world: World, case: Case, role: str):
    client = world.client(role, bearer=case.bearer)
    url = world.url(case.url)
    headers = case.headers(world) if case.headers else {}
    body = case.body(world, role) if callable(case.body) else case.body
    method = getattr(client, case.method)
    if case.content_type is not None:
        return method(url, data=body, content_type=case.content_type, **headers)
    if body is None:
        return method(url, **headers)
    return method(url, body, format=case.fmt, **headers)


def content_of(response) -> bytes:
    if getattr(response, "streaming", False):
        try:
            return b"".join(response.streaming_content)
        finally:
            response.close()
    return response.content


def assert_nothing_of_the_owner(world: World, response, content: bytes) -> None:
    text = (content.decode("latin-1") + json.dumps(dict(response.items()))).lower()
    for marker in world.markers:
        assert marker.lower() not in text, f"the response reveals {marker!r}"


def assert_error_body(response, content: bytes) -> None:
    body = json.loads(content)
    assert set(body) == {"code", "message", "extra"}, body


# --- completeness ------------------------------------------------------------------------------


def _walk(patterns, prefix: str = ""):
    """(route, callback) of every pattern, routes joined as ``ResolverMatch.route`` does."""
    for pattern in patterns:
        route = prefix + str(pattern.pattern).removeprefix("^")
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, route)
        else:
            yield route, pattern.callback


def _methods(callback) -> set[str]:
    actions = getattr(callback, "actions", None)
    if actions:  # a viewset answers HEAD with its GET action: not a method of its own
        return {m for m, action in actions.items() if m != "head" or action != actions.get("get")}
    view = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    return {method for method in HTTP_METHODS if hasattr(view, method)}


def served_routes() -> set[tuple[str, str]]:
    """(route, method) for every API route the resolver knows."""
    return {
        (route, method)
        for route, callback in _walk(get_resolver().url_patterns)
        if route.startswith("api/")
        for method in _methods(callback)
    }


def test_cases_are_unique():
    duplicates = [key for key, n in Counter((str(c.method), c.url) for c in CASES).items() if n > 1]
    assert duplicates == []


def test_every_served_route_and_method_has_a_case():
    covered = set()
    for case in CASES:
        path = case.url.split("?", 1)[0].format_map(_AnyId())
        for spelling in (path.rstrip("/"), path.rstrip("/") + "/"):
            match = resolve(spelling)
            covered.add((match.route, case.method))
    assert served_routes() - covered == set(), "routes without a permission case"
    assert covered - served_routes() == set(), "cases for routes that do not exist"


def test_every_schema_operation_has_a_case():
    schema = yaml.load(SCHEMA.read_text(), Loader=yaml.CSafeLoader)
    operations = {
        (path, method)
        for path, item in schema["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }
    cases = {(case.schema_path, case.method) for case in CASES if case.in_schema}
    assert operations - cases == set(), "schema operations without a permission case"
    assert cases - operations == set(), "cases for operations the schema does not have"


class _AnyId(dict):
    """Fills every placeholder with a well-formed id (uploads are UUIDs, requests strings)."""

    def __missing__(self, key: str) -> str:
        if key.endswith("_upload"):
            return "0b3c8a0e-5f6d-4e2a-9c1b-7d8e9f0a1b2c"
        return "export-task-1-backup-full-u1-local" if key.endswith("_rq") else "1"


# --- the matrix --------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("case", CASES, ids=str)
def test_permission(world: World, case: Case, role: str):
    outsider = role in OUTSIDERS
    unsafe = case.method not in ("get", "head")
    if case.before is not None:
        case.before(world)
    before = owner_state(world) if outsider and unsafe else None

    response = send(world, case, role)
    content = content_of(response)

    expected = case.expected(role)
    assert response.status_code == expected, content[:300]
    if expected >= 400 and case.method != "head":
        assert_error_body(response, content)
    if expected == 401:
        assert response["WWW-Authenticate"]
    if outsider:
        assert_nothing_of_the_owner(world, response, content)
    if before is not None:
        after = owner_state(world)
        assert after.rows == before.rows, "the owner's rows changed"
        changed = {
            path: stat for path, stat in before.files.items() if after.files.get(path) != stat
        }
        assert changed == {}, "the owner's files changed"
        if case.scoped:  # about the owner's object: nothing at all may appear either
            assert after.counts == before.counts, "rows were added"
            assert after.files.keys() == before.files.keys(), "files were added"


UNSAFE = [case for case in CASES if case.method not in ("get", "head") and case.anonymous == 401]


@pytest.mark.parametrize("case", UNSAFE, ids=str)
def test_a_read_only_access_token_changes_nothing(world: World, case: Case):
    """The owner's personal access tokens are read-only by default: every unsafe request
    made with one is a 403, and nothing of the owner's changes."""
    if case.before is not None:
        case.before(world)
    before = owner_state(world)
    response = send(world, dataclasses.replace(case, bearer=True), "owner")
    assert response.status_code == 403, response.content[:300]
    assert response.json()["code"] in ("read_only_token", "permission_denied")
    assert owner_state(world) == before


@pytest.mark.parametrize("case", FOREIGN, ids=str)
def test_another_users_object_named_in_the_request(world: World, case: Foreign):
    client = world.client("other")
    before = (owner_state(world), state_of(world, "other"))

    url = world.url(case.url)
    method = getattr(client, case.method)
    body = case.body(world) if case.body else None
    response = method(url, body, format="json", **(case.headers or {}))

    assert response.status_code == case.status, response.content[:300]
    assert_nothing_of_the_owner(world, response, response.content)
    if case.status >= 400:
        payload = response.json()
        assert_error_body(response, response.content)
        if case.code:
            assert payload["code"] == case.code
        if case.names_storage:
            storage_id = world.ids["storage"]
            assert f"#{storage_id} " in payload["message"]
            assert payload["extra"] == {"cloud_storage_id": storage_id}
    if case.empty_list:
        assert response.json()["count"] == 0
    assert (owner_state(world), state_of(world, "other")) == before
