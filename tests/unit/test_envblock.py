"""locate_env_block on captured initial stacks (tests/data/initstack)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memlab.analysis.envblock import locate_env_block
from memlab.analysis.bytesmemory import BytesMemory
from memlab.render import json as json_form
from tests.data.initstack import CASES, load_case


@pytest.mark.parametrize("name", CASES)
def test_block_read_from_memory_matches_proc_environ(name):
    case = load_case(name)
    block, warnings = locate_env_block(case.stat, case.regions, case.memory(), case.environ)
    assert warnings == []
    assert block.matches_proc_environ is True
    assert block.raw == case.environ
    assert (block.start, block.end) == (case.stat.env_start, case.stat.env_end)
    assert block.region == "[stack]"
    # the env strings follow the argument strings directly (measured: env_start == arg_end)
    assert block.distance_to_args == 0
    # above them: the exec path (AT_EXECFN) and 8 zero bytes, then the end of [stack]
    execfn = case.stack_bytes[block.end - case.base:].split(b"\0", 1)[0]
    assert block.distance_to_stack_top == len(execfn) + 1 + 8
    assert case.stack_region.end - block.end == block.distance_to_stack_top


def test_entries_are_byte_exact_with_addresses():
    case = load_case("sleep_exec")
    block, _ = locate_env_block(case.stat, case.regions, case.memory(), case.environ)
    start = case.stat.env_start
    assert [(e.raw, e.address) for e in block.entries] == [
        (b"A=1", start), (b"B=x y", start + 4), (b"DB_PASSWORD=hunter2", start + 10)]
    for e in block.entries:  # each address really holds its string
        off = e.address - case.base
        assert case.stack_bytes[off:off + len(e.raw) + 1] == e.raw + b"\0"
    d = json_form.env_block(block)
    assert [x["value"] for x in d["entries"]] == ["1", "x y", "***"]
    assert json_form.env_block(block, reveal=True)["entries"][2]["value"] == "hunter2"
    assert d["start"] == hex(start)


def test_mismatch_with_proc_environ_is_reported():
    case = load_case("sleep_exec")
    other = case.environ.replace(b"A=1", b"A=2")
    block, warnings = locate_env_block(case.stat, case.regions, case.memory(), other)
    assert block.matches_proc_environ is False
    assert any("differs from /proc/PID/environ" in w for w in warnings)


def test_unreadable_memory_falls_back_to_proc_environ():
    case = load_case("sleep_exec")
    for memory in (None, BytesMemory(0x1000, b"")):
        block, warnings = locate_env_block(case.stat, case.regions, memory, case.environ)
        assert block.matches_proc_environ is None
        assert block.raw == case.environ
        assert block.entries[0].address == case.stat.env_start
        assert any("taken from /proc/PID/environ" in w for w in warnings)
    block, warnings = locate_env_block(case.stat, case.regions, None, None)
    assert block is None and "could not be read" in warnings[0]


def test_environ_unreadable_is_not_checked():
    case = load_case("sleep_exec")
    block, warnings = locate_env_block(case.stat, case.regions, case.memory(), None)
    assert block.matches_proc_environ is None
    assert "not cross-checked" in warnings[0]


def test_masked_and_empty_stat_give_no_block():
    case = load_case("sleep_exec")
    masked = case.stat._replace(masked=True)
    block, warnings = locate_env_block(masked, case.regions, case.memory(), case.environ)
    assert block is None and "hidden by the kernel" in warnings[0]
    zero = case.stat._replace(env_start=0, env_end=0)
    assert locate_env_block(zero, case.regions, case.memory(), b"")[0] is None
    upside_down = case.stat._replace(env_start=case.stat.env_end, env_end=case.stat.env_start)
    block, warnings = locate_env_block(upside_down, case.regions, case.memory(), b"")
    assert block is None and "do not describe a block" in warnings[0]


def test_block_outside_every_mapping():
    case = load_case("sleep_exec")
    block, warnings = locate_env_block(case.stat, [], case.memory(), case.environ)
    assert block.region is None and block.distance_to_stack_top is None
    assert any("in no mapping" in w for w in warnings)


@settings(max_examples=200)
@given(data=st.binary(max_size=512), start=st.integers(0, 600), size=st.integers(-8, 600),
       proc=st.none() | st.binary(max_size=64))
def test_random_ranges_never_raise(data, start, size, proc):
    case = load_case("sleep_exec")
    base = 0x7ffd00000000
    stat = case.stat._replace(env_start=base + start, env_end=base + start + size)
    block, warnings = locate_env_block(stat, case.regions, BytesMemory(base, data), proc)
    assert block is None or block.end - block.start == size
    assert all(isinstance(w, str) for w in warnings)
