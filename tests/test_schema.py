"""The committed ``schema.yml`` is what drf-spectacular generates now, without warnings."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

COMMITTED = Path(settings.BASE_DIR) / "schema.yml"
REGENERATE = "Regenerate it: .venv/bin/cvat-lite spectacular --file schema.yml"


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> str:
    target = tmp_path_factory.mktemp("schema") / "schema.yml"
    # --fail-on-warn: every view declares its responses (STYLE 7).
    call_command("spectacular", "--file", str(target), "--validate", "--fail-on-warn")
    return target.read_text()


def test_committed_schema_is_up_to_date(generated):
    assert COMMITTED.exists(), f"schema.yml is missing. {REGENERATE}"
    assert COMMITTED.read_text() == generated, f"schema.yml is out of date. {REGENERATE}"


def test_every_operation_with_query_parameters_documents_400(generated):
    """Any query value no database can store (a NUL, say) is refused with 400 by the middleware
    before the view (contract 8), so an operation that takes query parameters can answer 400."""
    import yaml

    from cvat_lite.api.parsers import UnstorableValue

    assert UnstorableValue.status == 400
    schema = yaml.safe_load(generated)
    missing = [
        f"{method.upper()} {path}"
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if any(p.get("in") == "query" for p in operation.get("parameters", []))
        and "400" not in operation["responses"]
    ]
    assert missing == []
