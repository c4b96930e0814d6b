"""Imports go one way: down the layers of ``LAYERS``, and never in a circle.

Every module of ``cvat_lite`` is parsed with ``ast`` (nothing is imported), and every import in
it counts: at module level, inside a function (a deferred import), under ``TYPE_CHECKING``,
relative or absolute, and a constant passed to ``import_module`` / ``import_string``. A module
belongs to the layer of its first name under ``cvat_lite`` (``cvat_lite.engine.models`` is in
``engine``, ``cvat_lite.cli`` in the entry points). It may import its own package and any
package of a *lower* layer; an import of a higher layer, or of another package of its own layer,
is a violation. Separately, the graph of modules (every import above) must have no cycle.

docs/code-layout.md draws the same layers and says why each package is where it is.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Highest first. A package may import the packages of the layers below its own.
LAYERS: tuple[frozenset[str], ...] = (
    # Entry points: the console script, the URL conf, the WSGI app, the RQ worker class, settings.
    frozenset({"cli", "urls", "wsgi", "worker", "settings"}),
    # Page shells; they answer a non-page URL as the API does (api.exception_handler).
    frozenset({"web"}),
    # HTTP: views, serializers, the exception handler.
    frozenset({"api"}),
    # Scheduled backups: runs backups and keeps retention.
    frozenset({"policies"}),
    # Archives: export, restore, verify.
    frozenset({"backup"}),
    # CVAT's TUS and multipart upload flows (read by backup restores).
    frozenset({"uploads"}),
    # The domain: models, services, selectors, task data and frames.
    frozenset({"engine"}),
    # Pure media (manifests, paths, images, frame selection, sources) beside background requests.
    frozenset({"media", "requests"}),
    # Where files shared between processes are kept (uploads, results, local media): a folder or
    # a bucket (branch store adds it; placed here so that it lands in a layer).
    frozenset({"store"}),
    # Providers, Django-free.
    frozenset({"cloud"}),
    # The error classes, and the embedded Redis binary's wrapper.
    frozenset({"errors", "embedded_redis"}),
)

# Known violations being removed; each entry names the import (importer, imported
# module) and why it is still here. The test fails when an entry is no longer needed, so that
# the list only shrinks: delete the entry then.
ALLOWED: dict[tuple[str, str], str] = {}


# Packages that import no Django and no DRF at all (they take configuration as arguments).
DJANGO_FREE = (
    "cvat_lite.errors",
    "cvat_lite.embedded_redis",
    "cvat_lite.cloud",
    "cvat_lite.media",
    "cvat_lite.backup.archive",
    "cvat_lite.backup.format",
)
FRAMEWORKS = ("django", "rest_framework", "drf_spectacular", "django_rq", "rq")


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    line: int
    deferred: bool

    def __str__(self) -> str:
        where = "in a function" if self.deferred else "at module level"
        return f"{self.importer}:{self.line} imports {self.imported} ({where})"


def modules(root: Path, package: str = "cvat_lite") -> dict[str, Path]:
    """``{dotted name: file}`` of every module of ``package`` under ``root``."""
    found = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _resolve(name: str, known: dict[str, Path]) -> str | None:
    """The longest prefix of ``name`` that is a module of the package (``a.b.func`` → ``a.b``)."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in known:
            return candidate
        parts.pop()
    return None


def imports(root: Path, package: str = "cvat_lite") -> Iterator[Import]:
    """Every import of a module of ``package`` by a module of ``package``."""
    known = modules(root, package)
    for name, path in known.items():
        is_package = path.name == "__init__.py"
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        seen = set()
        for imp in _imports_of(tree, name, is_package, known):
            if (imp.imported, imp.line) not in seen:
                seen.add((imp.imported, imp.line))
                yield imp


def _imports_of(tree: ast.AST, name: str, is_package: bool, known: dict[str, Path]):
    def visit(node: ast.AST, deferred: bool) -> Iterator[Import]:
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = name.split(".")[: None if is_package else -1]
                parent = parent[: len(parent) - node.level + 1]
                base = ".".join([*parent, *([node.module] if node.module else [])])
            # ``from a.b import c`` imports the module a.b.c when there is one.
            targets = [f"{base}.{alias.name}" for alias in node.names]
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", None))
            in ("import_module", "import_string", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            targets = [node.args[0].value]
        for target in targets:
            module = _resolve(target, known)
            if module is not None and module != name:
                yield Import(name, module, node.lineno, deferred)  # type: ignore[attr-defined]
        inner = deferred or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        for child in ast.iter_child_nodes(node):
            yield from visit(child, inner)

    yield from visit(tree, False)


def layer_of(module: str, layers=LAYERS) -> int:
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else "__init__"
    for rank, layer in enumerate(layers):
        if top in layer:
            return rank
    raise LookupError(f"{module}: its package {top!r} is in no layer of LAYERS")


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def violations(found: list[Import], layers=LAYERS) -> list[Import]:
    """The imports of a higher layer, or of another package of the same layer."""
    bad = []
    for imp in found:
        if _package(imp.imported) in ("", _package(imp.importer)):
            continue  # the package's own modules; cvat_lite/__init__.py is empty
        if layer_of(imp.imported, layers) <= layer_of(imp.importer, layers):
            bad.append(imp)
    return bad


def cycles(found: list[Import]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    graph: dict[str, set[str]] = {}
    for imp in found:
        graph.setdefault(imp.importer, set()).add(imp.imported)
        graph.setdefault(imp.imported, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10_000))
    try:
        for node in sorted(graph):
            if node not in index:
                connect(node)
    finally:
        sys.setrecursionlimit(limit)
    return components


# --- the package -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def package_imports() -> list[Import]:
    return list(imports(ROOT))


def test_every_package_is_in_a_layer():
    tops = {_package(name) for name in modules(ROOT)} - {""}
    placed = set().union(*LAYERS)
    assert sorted(tops - placed) == []


def test_imports_go_down_the_layers(package_imports):
    bad = [
        str(imp)
        for imp in violations(package_imports)
        if (imp.importer, imp.imported) not in ALLOWED
    ]
    assert not bad, "imports against the layers:\n" + "\n".join(bad)


def test_every_allowance_is_still_needed(package_imports):
    present = {(imp.importer, imp.imported) for imp in violations(package_imports)}
    assert sorted(set(ALLOWED) - present) == [], "remove these entries from ALLOWED"


def framework_imports(root: Path, prefixes=DJANGO_FREE) -> list[str]:
    """``module:line name`` of every import of a framework by a module under ``prefixes``."""
    found = []
    for name, path in modules(root).items():
        if not any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                names = [node.module]
            else:
                continue
            found += [
                f"{name}:{node.lineno} {imported}"
                for imported in names
                if imported.split(".")[0] in FRAMEWORKS
            ]
    return found


def test_pure_packages_import_no_framework():
    assert framework_imports(ROOT) == []


def test_framework_check_sees_a_deferred_import(tmp_path):
    text = "def f():\n    from rest_framework.fields import DateTimeField\n"
    _tree(tmp_path, {**DOWNWARD, "cvat_lite/media/frames.py": text})
    found = framework_imports(tmp_path, ("cvat_lite.media",))
    assert found == ["cvat_lite.media.frames:2 rest_framework.fields"]


def test_no_import_cycle(package_imports):
    found = cycles(package_imports)
    assert not found, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in found)


# --- the checker itself, on synthetic module trees ---------------------------------------------

SYNTHETIC_LAYERS = (frozenset({"api"}), frozenset({"engine", "requests"}), frozenset({"media"}))


def _tree(root: Path, files: dict[str, str]) -> list[Import]:
    for name, text in {"cvat_lite/__init__.py": "", **files}.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        for folder in path.relative_to(root).parents:
            if str(folder) != "." and not (root / folder / "__init__.py").exists():
                (root / folder / "__init__.py").write_text("")
        path.write_text(text)
    return list(imports(root))


def _bad(root: Path, files: dict[str, str]) -> list[str]:
    found = _tree(root, files)
    return [f"{imp.importer} -> {imp.imported}" for imp in violations(found, SYNTHETIC_LAYERS)]


DOWNWARD = {
    "cvat_lite/api/views.py": "from cvat_lite.engine import services\n",
    "cvat_lite/engine/services.py": "from cvat_lite.media.frames import read\n",
    "cvat_lite/media/frames.py": "def read():\n    return 1\n",
}


def test_checker_accepts_downward_imports(tmp_path):
    assert _bad(tmp_path, DOWNWARD) == []
    assert cycles(_tree(tmp_path, DOWNWARD)) == []


@pytest.mark.parametrize(
    "text",
    [
        "from cvat_lite.engine.services import x\n",
        "import cvat_lite.engine.services\n",
        "from cvat_lite.engine import services\n",
        "from ..engine import services\n",
        "def f():\n    from cvat_lite.engine.services import x\n",
        "class C:\n    def m(self):\n        import cvat_lite.engine.services as s\n",
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from cvat_lite.engine.services import x\n",
        "from importlib import import_module\nm = import_module('cvat_lite.engine.services')\n",
        "def f():\n    from django.utils.module_loading import import_string\n"
        "    return import_string('cvat_lite.engine.services.x')\n",
    ],
    ids=[
        "from-module",
        "import",
        "from-package",
        "relative",
        "deferred",
        "method",
        "type-checking",
        "import-module",
        "import-string",
    ],
)
def test_checker_refuses_an_upward_import(tmp_path, text):
    files = {**DOWNWARD, "cvat_lite/media/frames.py": text}
    assert _bad(tmp_path, files) == ["cvat_lite.media.frames -> cvat_lite.engine.services"]


def test_checker_refuses_a_sideways_import(tmp_path):
    files = {**DOWNWARD, "cvat_lite/requests/jobs.py": "from cvat_lite.engine import services\n"}
    assert _bad(tmp_path, files) == ["cvat_lite.requests.jobs -> cvat_lite.engine.services"]


def test_checker_refuses_a_package_outside_the_layers(tmp_path):
    found = _tree(tmp_path, {**DOWNWARD, "cvat_lite/extra/x.py": "from cvat_lite import media\n"})
    with pytest.raises(LookupError, match="'extra'"):
        violations(found, SYNTHETIC_LAYERS)


def test_checker_finds_a_cycle_hidden_by_a_deferred_import(tmp_path):
    files = {
        **DOWNWARD,
        "cvat_lite/engine/projects.py": "from cvat_lite.engine.tasks import task_delete\n",
        "cvat_lite/engine/tasks.py": "def f():\n    from cvat_lite.engine import projects\n",
    }
    found = _tree(tmp_path, files)
    assert _bad(tmp_path, files) == []
    assert cycles(found) == [["cvat_lite.engine.projects", "cvat_lite.engine.tasks"]]
