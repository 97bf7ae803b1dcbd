"""The lesson actions over the syscall tracer (trace) and core files (core_dump), on real
sleeper processes: what lessons 12 and 13 measure, and that each measurement can come
out the other way (a touched 100 MB block IS resident; a dumpable process DOES leave a
core), so the lessons' quiz choices are told apart by evidence."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from memlab.errors import UsageError
from memlab.lessons.actions import ACTIONS, RunContext, Skipped
from memlab.procfs.coredump import read_core_pattern
from memlab.statedir import open_state_dir
from tests.conftest import requires_root
from tests.helpers import NOBODY, run_as

SECRET = "c0re-test-pw-9191"
ENV = [f"DB_PASSWORD={SECRET}"]
plain_pattern = pytest.mark.skipif(not read_core_pattern().in_cwd,
                                   reason="core_pattern is not a plain file name")


@pytest.fixture
def ctx():
    c = RunContext(Path("."))
    yield c
    c.close()


def run(ctx, action_name, **params):
    return ACTIONS[action_name].fn(ctx, params, "x")


def test_trace_small_malloc_is_no_call_then_brk_after_fill_top_then_mmap(ctx):
    run(ctx, "launch", target="sleeper")
    pid = ctx.process("x").pid
    t1 = run(ctx, "trace", process="x", line="malloc 100").value
    assert t1["count"] == 0 and t1["names"] == [] and t1["brk_result"] is None
    t2 = run(ctx, "trace", process="x", line="malloc 100", fill_top=True).value
    assert t2["names"] == ["brk"] and t2["top_left"] < 112
    assert t2["brk_result"] == t2["reply"]["sbrk"] > t1["reply"]["sbrk"]
    assert t2["lines"][0] == f"brk(0x{t2['brk_result']:x}) = 0x{t2['brk_result']:x}"
    with open(f"/proc/{pid}/maps") as f:  # the [heap] line ends at the new break
        heap = next(line for line in f if line.rstrip().endswith("[heap]"))
    assert int(heap.split()[0].split("-")[1], 16) == t2["brk_result"]
    t3 = run(ctx, "trace", process="x", line="reserve 100000000").value
    assert t3["names"] == ["mmap"] and t3["mmap_length"] >= 100000000
    assert t3["mapping_start"] == t3["mmap_result"] == t3["reply"]["address"] - 16
    assert t3["vm_growth"] >= 100000000 and t3["rss_growth"] < 1 << 20
    assert t3["reply"]["sbrk"] == t2["brk_result"]


def test_trace_a_touched_100mb_block_is_resident(ctx):
    """The other answer of lesson 12's quiz is reachable: malloc writes the block."""
    run(ctx, "launch", target="sleeper")
    t = run(ctx, "trace", process="x", line="malloc 100000000").value
    assert t["names"] == ["mmap"] and t["rss_growth"] >= 90000000


def test_trace_refused_command_fails(ctx):
    run(ctx, "launch", target="sleeper")
    with pytest.raises(Exception, match="refused"):
        run(ctx, "trace", process="x", line="malloc -1")


def _cores_left() -> list[str]:
    with open_state_dir("cores") as cores:
        return [n for n in cores.listdir() if n.startswith(f"lesson-{os.getpid()}-")]


@plain_pattern
def test_core_dump_holds_the_env_block_0600_and_is_removed(ctx):
    c = run(ctx, "core_dump", env=ENV, name="DB_PASSWORD").value
    assert c["written"] and c["in_env_block"] and "[stack]" in c["hits"]
    assert c["file"]["mode"] == "0600" and c["file"]["uid"] == c["uid"] == os.geteuid()
    assert c["file"]["ls"].startswith("-rw------- ")
    assert c["left_behind"] is False and _cores_left() == []
    assert SECRET not in repr(c)  # the measurement itself never holds the value
    if os.geteuid() == 0:
        assert c["other_uid"]["uid"] == NOBODY and c["other_uid"]["errno"] == "EACCES"
    else:
        assert isinstance(c["other_uid"], Skipped) and "needs root" in c["other_uid"].reason


@plain_pattern
@pytest.mark.parametrize("params", [{"dumpable": False}, {"core_limit": 0}])
def test_core_dump_nodump_or_limit_0_writes_nothing(ctx, params):
    c = run(ctx, "core_dump", env=ENV, name="DB_PASSWORD", **params).value
    assert c["written"] is False and c["file"] is None and c["left_behind"] is False
    if "dumpable" in params:
        assert c["dumpable"] == 0 and c["rlimit_core"] != "0"
    else:
        assert c["dumpable"] is None and c["rlimit_core"] == "0"
    assert _cores_left() == []


def test_core_dump_bad_parameters(ctx):
    with pytest.raises(UsageError, match="core_limit must be a whole number"):
        run(ctx, "core_dump", env=ENV, name="DB_PASSWORD", core_limit="big")
    with pytest.raises(Exception, match="not in env"):
        run(ctx, "core_dump", env=ENV, name="API_KEY")


def _dump_as_nobody() -> dict:
    c = RunContext(Path("."))
    try:
        v = ACTIONS["core_dump"].fn(c, {"env": ENV, "name": "DB_PASSWORD"}, "c").value
        return {**v, "other_uid": str(v["other_uid"])}
    finally:
        c.close()


@plain_pattern
@requires_root
def test_core_dump_as_nobody_owns_its_core_and_skips_only_the_other_uid():
    c = run_as(NOBODY, _dump_as_nobody)
    assert c["written"] and c["file"]["uid"] == NOBODY and c["file"]["mode"] == "0600"
    assert c["other_uid"].startswith("skipped: ") and "needs root" in c["other_uid"]
    assert c["left_behind"] is False
