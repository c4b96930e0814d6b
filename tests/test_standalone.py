"""The repository stands alone: a fresh ``git clone`` of the committed HEAD, with nothing beside
it, has every document its README, docs, code and tests point to.

The clone is made into a temporary folder, so no sibling folder of the checkout (where the
project's working notes and the real-CVAT corpus live on a developer's machine) can make a link
resolve. Checked in the clone:

- every relative link (and image) in the Markdown files resolves to a file of the clone, and a
  ``#fragment`` to a heading of its target, by GitHub's slug rules;
- every ``contract n.n`` citation, in any tracked text file, names a section of
  ``docs/contract.md``, and nothing cites the old working document by section any more;
- no file names that document or the sibling folder, except the tests that read the real-CVAT
  corpus from it (they say where it is expected);
- every repository path the documents quote in backticks (``cvat_lite/...``, ``tests/...``,
  ``bench/...``, ``docs/...``) exists;
- nothing refers to "issue N" of a tracker a reader of the clone cannot see.
"""

from __future__ import annotations

import re
import subprocess
import unicodedata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONTRACT = "docs/contract.md"

# Spelled in pieces so that this file does not match what it looks for.
SIBLING = "../" + "shared"
OLD_DOCUMENT = "SPEC" + ".md"
OLD_CITATION = re.compile(r"\b" + "SPEC" + r"[ \u00a7]*\d")

# A citation: "contract 7.4", "contract 5.1, 5.3", "contract 7.1-7.3", "contract 4.1 / 4.4".
SECTION = r"\d+(?:\.\d+)*"
CITATION = re.compile(
    rf"\bcontract\s+(?P<first>{SECTION})(?P<more>(?:\s*(?:,|/|-|\u2013|and)\s*{SECTION}\b)*)"
)
SECTION_RE = re.compile(SECTION)
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
SECTION_HEADING = re.compile(rf"^({SECTION})\.?\s")
FENCE = re.compile(r"^\s*(```|~~~)")
INLINE_CODE = re.compile(r"(`+)(.+?)\1")
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REPO_PATH = re.compile(r"^(?:cvat_lite|tests|bench|docs)/[A-Za-z0-9_./-]*$")
TEXT_SUFFIXES = {
    ".py",
    ".md",
    ".html",
    ".js",
    ".css",
    ".toml",
    ".yml",
    ".yaml",
    ".txt",
    ".cfg",
    ".ini",
    "",
}


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> Path:
    """A clone of the committed HEAD of this checkout, alone in an empty folder."""
    top = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--show-toplevel"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    target = tmp_path_factory.mktemp("standalone") / "cvat_lite"
    subprocess.run(
        ["git", "clone", "--quiet", "--no-hardlinks", top, str(target)],
        check=True,
        capture_output=True,
        text=True,
    )
    assert sorted(p.name for p in target.parent.iterdir()) == ["cvat_lite"]
    assert (target / "README.md").is_file()
    return target


def _tracked(clone: Path) -> list[Path]:
    names = subprocess.run(
        ["git", "-C", str(clone), "ls-files", "-z"], check=True, capture_output=True, text=True
    ).stdout.split("\0")
    return [clone / name for name in names if name]


def _text_files(clone: Path) -> list[Path]:
    files = []
    for path in _tracked(clone):
        if path.suffix not in TEXT_SUFFIXES or not path.is_file():
            continue
        try:
            path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        files.append(path)
    return files


def _documents(clone: Path) -> list[Path]:
    """The Markdown a reader follows: the README and everything under docs/."""
    return [clone / "README.md", *sorted((clone / "docs").rglob("*.md"))]


def _prose_lines(text: str) -> list[tuple[int, str]]:
    """The lines outside fenced code blocks, with their 1-based numbers."""
    lines, fenced = [], False
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            lines.append((number, line))
    return lines


def github_slug(heading: str) -> str:
    """GitHub's anchor for a heading: the rendered text (code marks, emphasis marks and link
    targets dropped; code spans kept as they are), lower-cased, punctuation other than '-' and
    '_' removed, spaces → '-'."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = re.sub(r"<[^>]+>", "", text)
    parts = re.split(r"(`+[^`]*`+)", text)
    for index, part in enumerate(parts):
        if part.startswith("`"):
            parts[index] = part.strip("`")
        else:  # **strong**, *emphasis*, _emphasis_ (not snake_case)
            parts[index] = re.sub(r"(?<!\w)_+|_+(?!\w)", "", part.replace("*", ""))
    text = unicodedata.normalize("NFC", "".join(parts)).strip().lower()
    text = "".join(ch for ch in text if ch.isalnum() or ch in " -_")
    return text.replace(" ", "-")


def anchors(markdown: str) -> set[str]:
    """Every heading anchor of a document; repeated slugs get -1, -2, ... as on GitHub."""
    seen: dict[str, int] = {}
    result = set()
    for _, line in _prose_lines(markdown):
        match = HEADING.match(line)
        if not match:
            continue
        slug = github_slug(match.group(2))
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        result.add(slug if count == 0 else f"{slug}-{count}")
    return result


def contract_sections(clone: Path) -> set[str]:
    """The section numbers of docs/contract.md: headings that start with a number."""
    sections = set()
    for _, line in _prose_lines((clone / CONTRACT).read_text(encoding="utf-8")):
        heading = HEADING.match(line)
        if heading and (number := SECTION_HEADING.match(heading.group(2))):
            sections.add(number.group(1))
    return sections


def _reads_interop_corpus(clone: Path, path: Path, text: str) -> bool:
    """A test (or its helper) that reads the real-CVAT corpus from beside the checkout."""
    relative = path.relative_to(clone).as_posix()
    return relative.startswith("tests/") and "interop" in text


# --- the tests ---------------------------------------------------------------------------------


def test_slugs_follow_github():
    assert github_slug("7.4 Import") == "74-import"
    assert github_slug("Backups, lightweight backups and relinking") == (
        "backups-lightweight-backups-and-relinking"
    )
    assert (
        github_slug("The media manifest (`manifest.jsonl`)") == "the-media-manifest-manifestjsonl"
    )
    assert github_slug("Where things go: a new *cloud provider*") == (
        "where-things-go-a-new-cloud-provider"
    )
    assert github_slug("`task_id` and [links](x.md)") == "task_id-and-links"
    assert github_slug("`_private` and _emphasis_") == "_private-and-emphasis"
    assert anchors("# A\n## A\n```\n# not a heading\n```\n### A\n") == {"a", "a-1", "a-2"}


def test_relative_links_resolve_in_the_clone(clone):
    broken = []
    for document in _documents(clone):
        text = document.read_text(encoding="utf-8")
        for number, line in _prose_lines(text):
            for target in LINK.findall(INLINE_CODE.sub("", line)):
                if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # http:, https:, mailto:
                    continue
                where = f"{document.relative_to(clone)}:{number}: {target}"
                path_part, _, fragment = target.partition("#")
                resolved = (document.parent / path_part).resolve() if path_part else document
                if not resolved.is_relative_to(clone.resolve()) or not resolved.exists():
                    broken.append(f"{where} (no such file in a clone)")
                    continue
                if (
                    fragment
                    and resolved.suffix == ".md"
                    and fragment not in anchors(resolved.read_text(encoding="utf-8"))
                ):
                    broken.append(f"{where} (no heading with that anchor)")
    assert broken == []


def test_the_contract_is_in_the_repository(clone):
    sections = contract_sections(clone)
    # The section numbers every citation relies on.
    for number in ("1", "2", "3", "4", "4.1", "4.4", "5.2", "5.3", "6", "7.1", "7.5", "8", "9"):
        assert number in sections, number
    readme = (clone / "README.md").read_text(encoding="utf-8")
    assert "](docs/contract.md)" in readme
    assert "](docs/code-layout.md)" in readme
    for document in sorted((clone / "docs").glob("*.md")):
        assert f"](docs/{document.name})" in readme, f"README does not list docs/{document.name}"


def test_every_contract_citation_names_a_section(clone):
    sections = contract_sections(clone)
    unknown, old = [], []
    cited = 0
    for path in _text_files(clone):
        relative = path.relative_to(clone).as_posix()
        if relative == "tests/test_standalone.py":
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if OLD_CITATION.search(line):
                old.append(f"{relative}:{number}: {line.strip()}")
            for match in CITATION.finditer(line):
                for section in SECTION_RE.findall(match.group(0)):
                    cited += 1
                    if section not in sections:
                        unknown.append(f"{relative}:{number}: contract {section}")
    assert old == []
    assert unknown == []
    assert cited > 50  # the code does cite the contract


def test_nothing_points_outside_the_repository(clone):
    offenders = []
    for path in _text_files(clone):
        text = path.read_text(encoding="utf-8")
        if path.relative_to(clone).as_posix() == "tests/test_standalone.py":
            continue
        if _reads_interop_corpus(clone, path, text):
            continue
        for needle in (SIBLING, OLD_DOCUMENT):
            if needle in text:
                offenders.append(f"{path.relative_to(clone)}: {needle}")
    assert offenders == []


def test_paths_quoted_in_the_documents_exist(clone):
    missing, quoted = [], 0
    for document in _documents(clone):
        text = document.read_text(encoding="utf-8")
        for number, line in _prose_lines(text):
            for _, code in INLINE_CODE.findall(line):
                candidate = code.strip()
                # "cvat_lite/media/manifest.py:42" and "tests/e2e/" name a file and a folder.
                candidate = re.sub(r":\d+$", "", candidate).rstrip("/")
                if not REPO_PATH.match(candidate + "/"):
                    continue
                quoted += 1
                if not (clone / candidate).exists():
                    missing.append(f"{document.relative_to(clone)}:{number}: {code}")
    assert missing == []
    assert quoted > 10


def test_no_references_to_an_unlinked_tracker(clone):
    """ "issue 4" means nothing to a reader of a clone: say what was meant, or link a document.
    (changelog.d/ fragments are named after issues by design; towncrier's config names them.)"""
    issue = re.compile(r"\bissues?\s+#?\d+", re.IGNORECASE)
    offenders = []
    for path in _text_files(clone):
        relative = path.relative_to(clone).as_posix()
        if relative.startswith("changelog.d/") or relative in {
            "pyproject.toml",
            "tests/test_standalone.py",
        }:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if issue.search(line):
                offenders.append(f"{relative}:{number}: {line.strip()}")
    assert offenders == []
