"""The web UI's server side (cvat_lite/web): page shells and their static files. What the pages
do is tested in the browser (tests/e2e)."""

from __future__ import annotations

import json
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
    "/account": "account",
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


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/nowhere", "/tasks/abc", "/tasks/7/edit"])
def test_a_browser_gets_a_not_found_page(client, path):
    response = client.get(path, HTTP_ACCEPT="text/html,application/xhtml+xml,*/*;q=0.8")
    assert response.status_code == 404
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert "default-src 'self'" in response["Content-Security-Policy"]
    html = response.content.decode()
    assert "Page not found" in html and f'<code id="missing-path">{path}</code>' in html
    assert '<nav aria-label="Main">' in html


@pytest.mark.parametrize("path", ["/api/nowhere", "/api/tasks/abc", "/static/web/missing.js"])
def test_api_and_static_paths_stay_json_for_browsers(client, path):
    response = client.get(path, HTTP_ACCEPT="text/html")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def _login_next(client, query: str) -> str:
    html = client.get(f"/login?{query}").content.decode()
    match = re.search(r'<script id="login-next" type="application/json">(.*?)</script>', html)
    assert match, html
    return json.loads(match.group(1))


@pytest.mark.parametrize(
    "query",
    [
        "next=/%5Cevil.example",  # "/\evil.example": browsers read "\" as "/"
        "next=/%09/evil.example",  # browsers drop the tab: "//evil.example"
        "next=/%0A/evil.example",
        "next=/%0D/evil.example",
        "next=%20//evil.example",  # browsers strip leading blanks
        "next=%09//evil.example",
        "next=//evil.example",
        "next=///evil.example",
        "next=%5C%5Cevil.example",
        "next=/%5C/evil.example",
        "next=%5C/evil.example",
        "next=https://evil.example/",
        "next=https:evil.example",
        "next=http://testserver@evil.example/",
        "next=javascript:alert(1)",
        "next=data:text/html,x",
        "next=//testserver%40evil.example",
        "next=/%E2%80%AE//evil.example%09",
    ],
)
def test_login_next_never_leaves_the_site(client, query):
    assert _login_next(client, query) == "/"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", "/"),
        ("next=/tasks/7", "/tasks/7"),
        ("next=/requests%3Fpage%3D2", "/requests?page=2"),
        ("next=http://testserver/restore", "http://testserver/restore"),
    ],
)
def test_login_next_keeps_places_on_this_site(client, query, expected):
    assert _login_next(client, query) == expected
