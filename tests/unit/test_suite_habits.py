"""The test suite's own rules, checked on its source: tests wait for a state with
tests.helpers.wait_until, never with a deadline loop of their own or a bare sleep."""

from __future__ import annotations

import re

from tests.helpers import REPO

TESTS = REPO / "tests"
SLEEP_STATEMENT = re.compile(r"^\s*(time\.)?sleep\(")
DEADLINE = re.compile(r"monotonic\(\) \+")


def test_no_deadline_loops_or_bare_sleeps_outside_helpers():
    found = []
    for path in sorted(TESTS.rglob("*.py")):
        if path == TESTS / "helpers.py":
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            where = f"{path.relative_to(REPO)}:{n}: {line.strip()}"
            if DEADLINE.search(code):
                found.append(where)  # a deadline: use wait_until
            elif SLEEP_STATEMENT.match(line) and "#" not in line:
                found.append(where)  # a sleep must say why it is not a wait
    assert not found, "\n".join(found)


def test_no_test_fakes_ship_in_the_package():
    """Fakes live under tests/ (tests/tui/fakes.py): the package has none to import."""
    import memlab.tui.source as source

    assert not [n for n in vars(source) if n.startswith("Fake")]
    found = [f"{p.relative_to(REPO)}:{n}" for p in sorted((REPO / "memlab").rglob("*.py"))
             for n, line in enumerate(p.read_text().splitlines(), 1)
             if re.match(r"\s*class Fake", line)]
    assert not found, found
