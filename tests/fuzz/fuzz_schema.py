"""The committed schema.yml, loaded for fuzzing.

One change, to request bodies only: arrays get ``maxItems: 2`` where the schema sets no bound.
The annotation and label bodies nest arrays of objects four deep; unbounded, Hypothesis spends
seconds drawing each of them. Responses are left as they are, so conformance is checked against
the schema as committed.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import schemathesis
import yaml

MAX_ITEMS = 2


def _refs(node: Any, found: set[str]) -> set[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            found.add(node["$ref"].rsplit("/", 1)[1])
        for value in node.values():
            _refs(value, found)
    elif isinstance(node, list):
        for value in node:
            _refs(value, found)
    return found


def _closure(names: set[str], components: dict[str, Any]) -> set[str]:
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(_refs(components[name], set()) - seen)
    return seen


def _cap_arrays(node: Any) -> None:
    if isinstance(node, dict):
        if node.get("type") == "array" and "maxItems" not in node:
            node["maxItems"] = MAX_ITEMS
        for value in node.values():
            _cap_arrays(value)
    elif isinstance(node, list):
        for value in node:
            _cap_arrays(value)


def with_small_request_arrays(spec: dict[str, Any]) -> dict[str, Any]:
    spec = copy.deepcopy(spec)
    components = spec["components"]["schemas"]
    operations = [op for path in spec["paths"].values() for op in path.values()]
    in_requests = _closure(_refs([op.get("requestBody") for op in operations], set()), components)
    in_responses = _closure(_refs([op.get("responses") for op in operations], set()), components)
    for name in in_requests - in_responses:
        _cap_arrays(components[name])
    for op in operations:
        _cap_arrays(op.get("requestBody"))
    return spec


def load(path: Path) -> schemathesis.BaseSchema:
    spec = yaml.safe_load(path.read_text())
    return schemathesis.openapi.from_dict(
        with_small_request_arrays(spec), config=schemathesis.Config()
    )
