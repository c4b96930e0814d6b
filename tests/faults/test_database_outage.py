"""The database failing under a request (faults): 503 with the error body, not 500,
and everything works again once it is back. Real faults: another session holds a lock the
request needs and the request's wait is bounded (SQLite: the write lock and a short busy
timeout; PostgreSQL: a table lock and ``lock_timeout``), and on PostgreSQL the server ends the
request's connection (``pg_terminate_backend``, as in a restart or a fail-over)."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator

import psycopg
import pytest
from django.db import close_old_connections, connection

from cvat_lite.engine.models import Task
from tests.conftest import PASSWORD
from tests.faults.helpers import assert_unavailable
from tests.faults.workers import database_url

pytestmark = pytest.mark.django_db(transaction=True)

BUSY_MS = 200


@contextlib.contextmanager
def database_locked() -> Iterator[None]:
    """Another session holds the lock a write of a task needs (PostgreSQL: any access to the
    task table), and this process waits for locks BUSY_MS at most."""
    if connection.vendor == "sqlite":
        holder = sqlite3.connect(connection.settings_dict["NAME"], timeout=5)
        holder.execute("BEGIN IMMEDIATE")  # the write lock; WAL readers go on
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA busy_timeout = {BUSY_MS}")
        try:
            yield
        finally:
            holder.rollback()
            holder.close()
            connection.close()  # the next connection has the configured busy timeout
        return
    with psycopg.connect(database_url(), autocommit=False) as holder:
        holder.execute(f'LOCK TABLE "{Task._meta.db_table}" IN ACCESS EXCLUSIVE MODE')
        with connection.cursor() as cursor:
            cursor.execute(f"SET lock_timeout = {BUSY_MS}")
        try:
            yield
        finally:
            holder.rollback()
            connection.close()  # the next connection has no lock_timeout


def _create_task(api):
    return api.post("/api/tasks", {"name": "t", "labels": [{"name": "cat"}]}, format="json")


def _login(client, user):
    return client.post(
        "/api/auth/login", {"username": user.username, "password": PASSWORD}, format="json"
    )


def test_a_locked_database_is_a_503_then_recovers(api, anon_api, user):
    with database_locked():
        assert_unavailable(_create_task(api))
        if connection.vendor == "postgresql":
            assert_unavailable(api.get("/api/tasks"))
            assert _login(anon_api, user).status_code == 200  # no task table involved
        else:
            assert api.get("/api/tasks").status_code == 200  # WAL: readers are not blocked
            assert_unavailable(_login(anon_api, user))  # the session and the token are writes
    assert Task.objects.count() == 0

    assert _create_task(api).status_code == 201
    assert api.get("/api/tasks").json()["count"] == 1
    assert _login(anon_api, user).status_code == 200


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the server ends a session: PostgreSQL"
)
def test_a_connection_ended_by_the_server_is_a_503_then_recovers(api):
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    with psycopg.connect(database_url(), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])

    assert_unavailable(api.get("/api/tasks"))
    close_old_connections()  # what Django does when a request ends: drop the broken connection
    assert api.get("/api/tasks").status_code == 200
    assert _create_task(api).status_code == 201
