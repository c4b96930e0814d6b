"""Which errors become which status (contract 8): a value the database refuses is bad input, not a
server fault, on either database — a NUL character (PostgreSQL text cannot hold one) or an
integer past 64 bits in a path or a filter: 400, or 404/200 where the lookup finds nothing."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

HUGE = "9" * 25
PATHS = [
    "/api/requests/%00",
    "/api/requests/a%00b/cancel",
    f"/api/requests?task_id={HUGE}",
    "/api/tasks?name=%00",
    "/api/cloudstorages?resource=a%00",
    f"/api/jobs?task_id={HUGE}",
    f"/api/tasks/{HUGE}",
    "/api/tasks/1/backup/download?rq_id=%00",
]


@pytest.mark.parametrize("path", PATHS)
def test_a_value_the_database_refuses_is_not_a_server_error(api, path):
    response = api.post(path) if path.endswith("/cancel") else api.get(path)

    assert response.status_code in (200, 400, 404), (response.status_code, response.content)
    if response.status_code != 200:
        assert set(response.json()) == {"code", "message", "extra"}
