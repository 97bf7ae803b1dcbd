"""The README is the front door: its runnable commands run as written, it stays short,
its links lead somewhere, and the repository cites only documents it holds.

A README block is runnable when its info string is `sh runnable` (docs/development.md,
"README commands that must run"): each line is run with `bash -c` from the repository's
root with this interpreter's bin directory first on PATH, and must exit 0, or N when the
line ends with `# exit N`.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"

_BLOCK = re.compile(r"^```sh runnable\n(.*?)^```", re.M | re.S)
_EXIT = re.compile(r"#\s*exit\s+(\d+)\s*$")


def runnable_commands() -> list[tuple[str, int]]:
    out = []
    for block in _BLOCK.findall(README.read_text(encoding="utf-8")):
        for line in block.splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            m = _EXIT.search(line)
            out.append((line, int(m.group(1)) if m else 0))
    return out


def test_readme_has_runnable_blocks_and_stays_short():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 250, len(lines)
    commands = [c for c, _ in runnable_commands()]
    assert len(commands) >= 10, commands
    assert not any(c.startswith("make") for c in commands)  # make run opens the TUI


@pytest.mark.parametrize("command,code", runnable_commands(),
                         ids=[c for c, _ in runnable_commands()])
def test_readme_command_runs_as_written(command, code):
    env = dict(os.environ)
    env.pop("MEMLAB_DEBUG", None)
    bins = [str(Path(sys.executable).parent), str(ROOT / ".venv" / "bin")]
    env["PATH"] = os.pathsep.join(bins + [env.get("PATH", "/usr/bin:/bin")])
    p = subprocess.run(["bash", "-c", command], cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == code, (
        f"{command!r} exited {p.returncode}, README says {code}\n"
        f"stdout (tail): {p.stdout[-1500:]}\nstderr: {p.stderr[-1500:]}")
    if code:
        assert p.stderr.startswith("memlab: ") and p.stderr.count("\n") == 1, p.stderr


_LINK = re.compile(r"\]\(([^)#\s]+)(#[^)\s]*)?\)")


def _anchors(md: Path) -> set[str]:
    """GitHub's anchors for the headings of a markdown file."""
    out = set()
    for line in md.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^#{1,6}\s+(.*)$", line)
        if m:
            text = m.group(1).strip().lower()
            text = re.sub(r"[^\w\- ]", "", text)
            out.add("#" + text.replace(" ", "-"))
    return out


@pytest.mark.parametrize("md", [README, ROOT / "SECURITY.md", *sorted(DOCS.glob("*.md"))],
                         ids=lambda p: p.name)
def test_markdown_links_lead_somewhere(md):
    for target, anchor in _LINK.findall(md.read_text(encoding="utf-8")):
        if re.match(r"^[a-z]+:", target):
            continue  # http(s), mailto
        path = (md.parent / target).resolve()
        assert path.exists(), f"{md.name}: {target} does not exist"
        if anchor and path.suffix == ".md":
            assert anchor in _anchors(path), f"{md.name}: {target}{anchor}: no such heading"


# docs/FILE.md#anchor cited from code, tests, samples and lessons
_CITE = re.compile(r"docs/([a-z-]+\.md)(#[a-z0-9_-]+)?")
_SOURCES = ("memlab", "tests", "c_samples")
_SUFFIXES = {".py", ".c", ".toml", ".md", ".yaml"}


def _source_files():
    for top in _SOURCES:
        for p in sorted((ROOT / top).rglob("*")):
            if p.suffix in _SUFFIXES and p.is_file() and "__pycache__" not in p.parts:
                yield p


def test_docs_cited_in_the_code_exist():
    for p in _source_files():
        for name, anchor in _CITE.findall(p.read_text(encoding="utf-8", errors="replace")):
            doc = DOCS / name
            assert doc.exists(), f"{p.relative_to(ROOT)} cites docs/{name}"
            if anchor:
                where = p.relative_to(ROOT)
                assert anchor in _anchors(doc), f"{where} cites docs/{name}{anchor}"


def test_no_reference_to_documents_outside_the_repository():
    # Spelled in pieces so this file does not match itself.
    outside = re.compile("|".join(["kernel-facts" + " [0-9]", "kernel-facts" + " section",
                                   "issue" + " [0-9]", "seed" + "-guide", "chapter" + " [0-9]",
                                   "DESIGN" + r"\.md", "/work/" + "shared"]))
    found = []
    for p in [*_source_files(), ROOT / "Makefile", ROOT / "README.md", ROOT / "SECURITY.md",
              *DOCS.glob("*.md")]:
        text = p.read_text(encoding="utf-8", errors="replace")
        for n, line in enumerate(text.splitlines(), 1):
            if outside.search(line):
                found.append(f"{p.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not found, "\n".join(found)


def test_article_page_lists_what_the_lessons_cite():
    """A lesson's `corrects` ids are the headings of docs/article.md's corrections, and its
    `chapters` are the sections numbered there."""
    from memlab.lessons.engine import discover

    text = (DOCS / "article.md").read_text(encoding="utf-8")
    ids = set(re.findall(r"^### `([^`]+)`$", text, re.M))
    sections = {int(n) for n in re.findall(r"^\| (\d+) \|", text, re.M)}
    cat = discover()
    assert {c for lesson in cat.lessons for c in lesson.corrects} == ids
    assert {c for lesson in cat.lessons for c in lesson.chapters} == sections == set(range(1, 13))
