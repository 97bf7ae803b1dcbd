"""Headless modules never import textual; the fast CLI paths never import the heavy
libraries (DESIGN.md: textual, elftools, yaml are imported lazily, where needed).

Each check runs in a fresh interpreter and inspects its sys.modules.
"""

from __future__ import annotations

import os

import pytest

from memlab.cli import COMMAND_MODULES
from tests.helpers import loaded_after

HEAVY = ("textual", "elftools", "yaml", "psutil", "rich")

HEADLESS = [
    "memlab", "memlab.errors", "memlab.model", "memlab.secrets", "memlab.collect",
    "memlab.launch", "memlab.samples", "memlab.procfs", "memlab.procfs._io",
    "memlab.procfs.maps", "memlab.procfs.stat", "memlab.procfs.auxv",
    "memlab.procfs.environ", "memlab.procfs.status", "memlab.procfs.mem",
    "memlab.analysis.classify", "memlab.analysis.envblock", "memlab.analysis.initstack",
    "memlab.analysis.memview", "memlab.analysis.selfreport", "memlab.cli",
    "memlab.cli._output", "memlab.cli._views", *COMMAND_MODULES,
]


@pytest.mark.parametrize("module", HEADLESS)
def test_headless_module_does_not_import_textual(module):
    assert "textual" not in loaded_after(f"import {module}")


def test_engine_imports_nothing_heavy():
    loaded = loaded_after("import memlab.collect, memlab.launch, memlab.analysis.selfreport")
    assert not loaded & set(HEAVY), loaded & set(HEAVY)


def _cli(args: list[str]) -> str:
    return ("import sys, io\nfrom memlab.cli import main\n"
            "sys.stdout = io.StringIO()\n"
            f"try:\n    main({args!r})\nexcept SystemExit:\n    pass\n"
            "sys.stdout = sys.__stdout__\n")


def test_help_imports_nothing_heavy():
    loaded = loaded_after(_cli(["--help"]))
    assert not loaded & {"textual", "elftools", "yaml", "psutil"}


def test_inspect_json_imports_nothing_heavy():
    loaded = loaded_after(_cli(["inspect", "--json", str(os.getpid())]))
    assert "memlab" in loaded
    assert not loaded & set(HEAVY), loaded & set(HEAVY)
