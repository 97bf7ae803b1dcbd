"""Headless modules never import textual; the fast CLI paths never import the heavy
libraries (DESIGN.md: textual, elftools, yaml are imported lazily, where needed).

Each check runs in a fresh interpreter and inspects its sys.modules.
"""

from __future__ import annotations

import os

import pytest

from memlab.cli import COMMAND_MODULES
from tests.helpers import loaded_after, loaded_modules

HEAVY = ("textual", "elftools", "yaml", "psutil", "rich")

HEADLESS = [
    "memlab", "memlab.errors", "memlab.model", "memlab.secrets", "memlab.collect",
    "memlab.launch", "memlab.samples", "memlab.procfs", "memlab.procfs._io",
    "memlab.procfs.maps", "memlab.procfs.stat", "memlab.procfs.auxv",
    "memlab.procfs.environ", "memlab.procfs.status", "memlab.procfs.mem",
    "memlab.analysis.classify", "memlab.analysis.envblock", "memlab.analysis.initstack",
    "memlab.analysis.bytesmemory", "memlab.analysis.selfreport", "memlab.kernel.abi",
    "memlab.render.json", "memlab.elf.attach", "memlab.cli", "memlab.cli._output",
    "memlab.cli._text", "memlab.requirements", "memlab.elf.memorymap", "memlab.k8s.poddir",
    "memlab.k8s.pod", "memlab.k8s.apply", "memlab.lessons.actions", *COMMAND_MODULES,
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


def test_inspect_json_does_not_load_the_elf_layer():
    """collect knows nothing of ELF files: only `inspect --elf` (memlab.elf.attach)
    loads memlab.elf."""
    loaded = loaded_modules(_cli(["inspect", "--json", str(os.getpid())]))
    assert "memlab.render.json" in loaded
    assert not {m for m in loaded if m.startswith("memlab.elf")}


def test_inspect_json_does_not_import_dataclasses_or_ctypes():
    """memlab.model's records are NamedTuples: `import dataclasses` (which loads inspect,
    ast, dis, tokenize) was about a quarter of `memlab inspect --json`.  Memory is read
    by procfs._cproc.vm_readv, in C: `import ctypes` was another 1.1 ms."""
    loaded = loaded_modules(_cli(["inspect", "--json", str(os.getpid())]))
    assert "memlab.procfs.mem" in loaded  # it did read memory
    unwanted = {"dataclasses", "inspect", "ctypes"}
    assert not loaded & unwanted, loaded & unwanted


@pytest.mark.parametrize("module,commands", COMMAND_MODULES.items())
def test_command_map_matches_what_each_module_registers(module, commands):
    """build_parser imports only the module COMMAND_MODULES names for a command: the map
    must list exactly what the module registers, in order."""
    import argparse
    import importlib

    sub = argparse.ArgumentParser().add_subparsers()
    importlib.import_module(module).register(sub)
    assert tuple(sub.choices) == commands


def test_audit_imports_only_its_own_command_module():
    loaded = loaded_modules(_cli(["audit", "--json"]))
    assert "memlab.cli.exposure_cmds" in loaded
    others = {m for m in COMMAND_MODULES if m != "memlab.cli.exposure_cmds"}
    assert not loaded & others, loaded & others
    # nor the snapshot engine: the audit reads environ files, nothing else
    assert not loaded & {"memlab.model", "memlab.procfs.mem", "ctypes", "dataclasses"}
