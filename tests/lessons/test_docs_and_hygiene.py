"""FORMAT.md documents every action and check a teacher can use; the lesson engine and
its CLI stay headless (no textual)."""

from __future__ import annotations

from pathlib import Path

import pytest

from memlab.lessons.actions import ACTIONS
from memlab.lessons.checks import CHECKS
from tests.helpers import loaded_after

FORMAT = (Path(__file__).resolve().parents[2] / "memlab" / "lessons" / "FORMAT.md").read_text()


@pytest.mark.parametrize("name", sorted(ACTIONS))
def test_every_action_is_documented(name):
    assert f"| `{name}` |" in FORMAT


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_every_check_is_documented(name):
    assert f"`{name}`" in FORMAT


def test_lesson_engine_and_cli_do_not_import_textual():
    loaded = loaded_after("import memlab.lessons.engine, memlab.cli.lesson_cmds, "
                          "memlab.lessons.actions; from memlab.lessons.engine import "
                          "discover; discover()")
    assert "memlab" in loaded and "textual" not in loaded
