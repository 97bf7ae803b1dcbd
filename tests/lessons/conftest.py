"""Fixtures for lesson tests: small lesson files written into a temporary directory."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

GOOD = """\
[lesson]
title = "A tiny lesson"
goal = "Check that a launched sample's env block is in [stack]."
minutes = 1

[[step]]
text = "Launch."
[[step.action]]
do = "launch"
env = ["A=1"]
save = "p"
[[step.check]]
name = "equals"
value = "$p.env.entries"
expected = ["A=1"]

[[quiz]]
question = "How many variables?"
answer = 1
answer_from = "$p.env.count"
"""


@pytest.fixture
def lesson_dir(tmp_path: Path):
    """write(name, text) puts a lesson file in a fresh directory and returns its path."""
    def write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text))
        return path
    write.dir = tmp_path
    return write
