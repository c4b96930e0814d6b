"""The web UI's server side (cvat_lite/web): page shells and their static files. What the pages
do is tested in the browser (tests/e2e)."""

from __future__ import annotations

import re

import pytest
from django.urls import get_resolver

from cvat_lite.web.views import PAGES, STATIC_DIR

PAGE_PATHS = {
    "/": "index",
    "/login": "login",
    "/tasks/7": "task",
    "/tasks/7/": "task",
    "/cloudstorages": "cloudstorages",
    "/requests/": "requests",
    "/restore": "restore",
    "/backup-policies": "backuppolicies",
}


@pytest.mark.django_db
@pytest.mark.parametrize(("path", "name"), PAGE_PATHS.items())
def test_pages_are_shells_that_read_nothing(client, django_assert_num_queries, path, name):
    with django_assert_num_queries(0):  # every read is the page's own API call
        response = client.get(path)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert response["Cache-Control"] == "no-store"
    assert "default-src 'self'" in response["Content-Security-Policy"]
    html = response.content.decode()
    assert f'<body data-page="{name}">' in html
    assert f'src="/static/web/pages/{name}.js"' in html
    assert "csrftoken" in response.cookies  # for the API calls the page makes


def test_every_page_has_its_script():
    for name in PAGES:
        assert (STATIC_DIR / "web" / "pages" / f"{name}.js").is_file()


def test_task_page_passes_its_id_to_the_script(client):
    html = client.get("/tasks/42").content.decode()
    assert re.search(
        r'<script id="page-ids" type="application/json">\{"task_id": "42"\}</script>', html
    )


@pytest.mark.parametrize(
    ("path", "content_type"),
    [("/static/web/app.css", "text/css"), ("/static/web/pages/task.js", "javascript")],
)
def test_static_files_are_served_by_the_service(client, path, content_type):
    response = client.get(path)
    assert response.status_code == 200
    assert content_type in response["Content-Type"]
    assert response["Cache-Control"] == "no-cache"
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    "path", ["/static/web/missing.js", "/static/../settings.py", "/nowhere", "/tasks/abc"]
)
def test_unknown_paths_answer_the_api_404_body(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response.json() == {
        "code": "not_found",
        "message": response.json()["message"],
        "extra": {},
    }


@pytest.mark.parametrize("path", ["/", "/tasks/1", "/static/web/app.css"])
def test_pages_refuse_unsafe_methods(client, path):
    assert client.post(path).status_code == 405


def test_web_routes_stay_outside_the_api():
    routes = [str(p.pattern) for p in get_resolver().url_patterns]
    web = get_resolver().url_patterns[-1]
    assert "cvat_lite.web.urls" in repr(web)
    assert not any(str(p.pattern).startswith(("^api", "api")) for p in web.url_patterns)
    assert routes.index("api/") < routes.index("")  # the API resolves first
