"""FORMAT.md documents every action and check a teacher can use; the lesson engine and
its CLI stay headless (no textual)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from memlab.lessons.actions import ACTIONS
from memlab.lessons.checks import CHECKS

FORMAT = (Path(__file__).resolve().parents[2] / "memlab" / "lessons" / "FORMAT.md").read_text()


@pytest.mark.parametrize("name", sorted(ACTIONS))
def test_every_action_is_documented(name):
    assert f"| `{name}` |" in FORMAT


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_every_check_is_documented(name):
    assert f"`{name}`" in FORMAT


def test_lesson_engine_and_cli_do_not_import_textual():
    code = ("import sys, memlab.lessons.engine, memlab.cli.lesson_cmds, memlab.lessons.actions;"
            "from memlab.lessons.engine import discover; discover();"
            "print('textual' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
