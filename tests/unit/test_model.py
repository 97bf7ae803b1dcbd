"""memlab.model records are NamedTuples: what Snapshot equality, `elf` and `extra` mean."""

from __future__ import annotations

import json

import pytest

from memlab.render.json import snapshot as to_json
from tests.tui import fakes


def test_snapshot_equality_ignores_elf_and_extra():
    snap, _ = fakes.build()
    derived = snap._replace(elf=False, extra={"denied": ["mem"]})
    assert snap == derived and not snap != derived
    assert hash(snap) == hash(derived)
    assert snap != snap._replace(pid=snap.pid + 1)


def test_snapshot_equals_only_snapshots():
    snap, _ = fakes.build()
    assert snap != tuple(snap) and tuple(snap) != snap
    assert snap != None  # noqa: E711  (the TUI compares with "no snapshot yet")


def test_default_extra_is_read_only():
    snap, _ = fakes.build()
    assert snap.extra == {} and snap.elf is None
    with pytest.raises(TypeError):
        snap.extra["denied"] = []  # type: ignore[index]


def test_json_form():
    snap, _ = fakes.build()
    d = json.loads(json.dumps(to_json(snap._replace(extra={"denied": ["mem"]}))))
    assert d["schema"] == "memlab.snapshot/1" and d["denied"] == ["mem"]
    assert d["regions"][0]["start"].startswith("0x")
    assert "elf" not in d  # not asked for


def test_json_form_of_a_failed_elf_analysis_is_null():
    snap, _ = fakes.build()
    assert to_json(snap._replace(elf=False))["elf"] is None
