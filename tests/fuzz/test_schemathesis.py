"""schemathesis against the committed schema.yml on a live server (contract 8): no operation answers
5xx, whatever it is sent, and answers match the schema.

Every operation of the schema is fuzzed as a normal user authenticated by a Token, with real
objects behind the ids in its path (see ``world.py``), in these passes:

- positive: valid requests (schemathesis' positive mode);
- negative: requests that break the schema in the query or body (negative mode);
- poisoned: valid requests with one value (path, query or body) replaced by a NUL character, a
  5000-character string or an integer outside 64 bits (what databases refuse);
- made-up ids: the path parameters generated too (positive and negative).

(An unpaired surrogate cannot be sent this way: the client encodes JSON as UTF-8. Those, and
each 5xx this run found, have plain tests in ``test_regressions.py``.)

Deterministic: Hypothesis is derandomized and each pass draws a fixed number of examples.
Operations that delete objects run after the others, logout (it deletes the token) last.

    .venv/bin/pytest tests/fuzz/test_schemathesis.py -q
"""

from __future__ import annotations

import functools
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.fixtures.emulators import LOOPBACK_ALLOWLIST, REPO_ROOT
from tests.fuzz import fuzz_schema
from tests.fuzz.world import World, build_world

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
REQUEST_TIMEOUT = 60.0
# For deeper runs by hand: more examples per pass, another (fixed) seed.
SCALE = int(os.environ.get("CVAT_LITE_FUZZ_SCALE") or 1)
SEED = int(os.environ["CVAT_LITE_FUZZ_SEED"]) if os.environ.get("CVAT_LITE_FUZZ_SEED") else None
NASTY_STRINGS = ("\x00", "nul\x00inside", "ü" * 5000)
NASTY_INTEGERS = (2**63, -(2**63) - 1, 10**20)


@dataclass(frozen=True)
class Pass:
    name: str
    mode: GenerationMode
    real_ids: bool
    examples: int
    poison: bool = False


PASSES = (
    Pass("positive", GenerationMode.POSITIVE, real_ids=True, examples=8),
    Pass("negative", GenerationMode.NEGATIVE, real_ids=True, examples=6),
    Pass("poisoned", GenerationMode.POSITIVE, real_ids=True, examples=7, poison=True),
    Pass("made-up ids", GenerationMode.POSITIVE, real_ids=False, examples=1),
    Pass("made-up ids", GenerationMode.NEGATIVE, real_ids=False, examples=1),
)


@schemathesis.serializer("application/offset+octet-stream")
def _tus_chunk(ctx, value) -> dict:
    """TUS chunks are raw bytes, as application/octet-stream."""
    if isinstance(value, str):
        value = value.encode()
    return {"data": value if isinstance(value, bytes) else b""}


def _order(operation) -> int:
    """Deletes after everything else, logout (it deletes the fuzz user's token) last."""
    if operation.path.rstrip("/").endswith("logout"):
        return 2
    return 1 if operation.method.upper() == "DELETE" else 0


@functools.cache
def operations() -> list:
    schema = fuzz_schema.load(REPO_ROOT / "schema.yml")
    ops = [result.ok() for result in schema.get_all_operations()]
    return sorted(ops, key=_order)  # stable: schema order otherwise


# --- poisoning ---------------------------------------------------------------------------------


def _slots(container) -> Iterator[tuple[object, object, object]]:
    """(container, key, value) of each scalar string or integer in a JSON-like value."""
    items = container.items() if isinstance(container, dict) else enumerate(container)
    for key, value in list(items):
        if isinstance(value, (dict, list)):
            yield from _slots(value)
        elif isinstance(value, (str, int)) and not isinstance(value, bool):
            yield container, key, value


def _poison(case, which: int, pick: int):
    slots = []
    for container in (case.path_parameters, case.query, case.body):
        if isinstance(container, (dict, list)):
            slots.extend(_slots(container))
    if slots:
        container, key, value = slots[which % len(slots)]
        pool = NASTY_STRINGS if isinstance(value, str) else NASTY_INTEGERS
        container[key] = pool[pick % len(pool)]
    return case


def _poisoned(strategy):
    picks = st.integers(min_value=0, max_value=1000)
    return st.tuples(strategy, picks, picks).map(lambda drawn: _poison(*drawn))


# --- passes ------------------------------------------------------------------------------------


def _negatable(operation, fixed: set[str]) -> bool:
    """Whether the negative mode has anything to break (not the security headers and cookies,
    nor a free-form string in the path, nor what is fixed)."""
    if len(operation.body):
        return True
    params = [p for p in operation.query if p.name not in fixed]
    params += [
        p
        for p in operation.path_parameters
        if p.name not in fixed and p.definition.get("schema", {}).get("type") != "string"
    ]
    return bool(params)


def _strategy(operation, world: World, run: Pass):
    query = world.query_values({p.name for p in operation.query})
    if not run.real_ids and not len(operation.path_parameters):
        return None  # nothing to make up: the passes with real ids cover it
    real = world.path_values(operation.path) if run.real_ids else []
    fixed = set(query) | (set(real[0]) if real else set())
    if run.mode == GenerationMode.NEGATIVE and not _negatable(operation, fixed):
        return None

    def cases(path_parameters):
        return operation.as_strategy(
            generation_mode=run.mode, path_parameters=path_parameters, query=query or None
        )

    # One strategy per choice, built once (a flatmap would rebuild one for every example).
    strategy = st.one_of([cases(params) for params in real]) if real else cases(None)
    return _poisoned(strategy) if run.poison else strategy


def _run(strategy, examples: int, call: Callable) -> None:
    @settings(
        max_examples=examples * SCALE,
        derandomize=SEED is None,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def fuzz(case):
        call(case)

    if SEED is not None:
        fuzz = seed(SEED)(fuzz)
    fuzz()


# --- the test ----------------------------------------------------------------------------------


def _checks_for(case, response) -> list:
    """CVAT's Upload-Start answers 202 with no body, where the schema (one 202 per operation)
    shows the {rq_id} of the other 202s: the body is not checked then."""
    if "Upload-Start" in (case.headers or {}) and response.status_code == 202:
        return [not_a_server_error, status_code_conformance]
    return CHECKS


@dataclass
class Report:
    examples: Counter = field(default_factory=Counter)
    failures: dict[tuple[str, str], str] = field(default_factory=dict)
    unsent: Counter = field(default_factory=Counter)

    def failed(self, label: str, group: FailureGroup) -> None:
        for failure in group.exceptions:
            self.failures.setdefault((label, failure.title), str(group))

    def summary(self) -> str:
        lines = [f"{len(self.failures)} failing (operation, check) pairs:"]
        for (label, title), message in sorted(self.failures.items()):
            lines.append(f"--- {label}: {title}\n{message[:3000]}")
        return "\n".join(lines)


@pytest.mark.django_db(transaction=True)
def test_no_operation_answers_5xx(
    live_server, api, user, s3_emulator, s3_bucket, drain, settings, record_property
):
    settings.CLOUD_ENDPOINT_ALLOWLIST = list(LOOPBACK_ALLOWLIST)
    world = build_world(api, user, s3_emulator, s3_bucket, drain)
    report = Report()
    started = time.monotonic()

    for operation in operations():
        label = operation.label

        def call(case, label=label):
            try:
                response = case.call(
                    base_url=live_server.url,
                    # A new connection each time: keep-alive with the live server costs ~0.1 s.
                    headers={**world.headers, "Connection": "close"},
                    timeout=REQUEST_TIMEOUT,
                )
            except UnicodeEncodeError:  # a lone surrogate where HTTP has no escape for it
                report.unsent[label] += 1
                return
            report.examples[label] += 1
            try:
                case.validate_response(response, checks=_checks_for(case, response))
            except FailureGroup as group:
                report.failed(label, group)

        for run in PASSES:
            strategy = _strategy(operation, world, run)
            if strategy is None:
                continue
            try:
                _run(strategy, run.examples, call)
            except Unsatisfiable:
                report.unsent[f"{label} ({run.name}: unsatisfiable)"] += 1

    elapsed = time.monotonic() - started
    total = sum(report.examples.values())
    record_property("fuzz_operations", len(report.examples))
    record_property("fuzz_requests", total)
    counts = report.examples.values()
    print(  # the numbers for the README
        f"\nschemathesis: {len(report.examples)} operations, {total} requests "
        f"({min(counts)}-{max(counts)} per operation), {elapsed:.1f} s; "
        f"not sent: {dict(report.unsent)}"
    )
    assert len(report.examples) == len(operations())
    assert not report.failures, report.summary()
