"""memlab.model records are NamedTuples: what Snapshot equality and `extra` mean."""

from __future__ import annotations

import json

import pytest

from tests.tui import fakes


def test_snapshot_equality_ignores_extra():
    snap, _ = fakes.build()
    with_elf = snap._replace(extra={"elf": {"available": True}})
    assert snap == with_elf and not snap != with_elf
    assert hash(snap) == hash(with_elf)
    assert snap != snap._replace(pid=snap.pid + 1)


def test_snapshot_equals_only_snapshots():
    snap, _ = fakes.build()
    assert snap != tuple(snap) and tuple(snap) != snap
    assert snap != None  # noqa: E711  (the TUI compares with "no snapshot yet")


def test_replace_keeps_the_extra_dict():
    snap, _ = fakes.build()
    extra: dict = {}
    first = snap._replace(extra=extra)
    second = first._replace(warnings=("w",))
    extra["elf"] = None  # collect.snapshot fills it after _replace
    assert second.extra is extra and "elf" in second.extra


def test_default_extra_is_read_only():
    snap, _ = fakes.build()
    assert snap.extra == {} and snap.extra.get("elf") is None
    with pytest.raises(TypeError):
        snap.extra["elf"] = {}  # type: ignore[index]


def test_to_dict_is_the_json_form():
    snap, _ = fakes.build()
    d = json.loads(json.dumps(snap._replace(extra={"denied": ["mem"]}).to_dict()))
    assert d["schema"] == "memlab.snapshot/1" and d["denied"] == ["mem"]
    assert d["regions"][0]["start"].startswith("0x")
