"""Resident vs virtual on real processes: per-region RSS against `pmap -X`, totals
against /proc/PID/smaps_rollup, pages against the sleeper's `reserve`/`touch`, thread
stacks against each thread's stack pointer, and what another user gets."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys

import pytest

from memlab.collect import snapshot
from memlab.errors import NoSuchProcess
from memlab.kernel.abi import PAGE_SIZE
from memlab.launch import launch
from memlab.procfs.pagemap import PagemapReader
from memlab.render.json import snapshot as to_json
from tests.conftest import requires_root
from tests.helpers import NOBODY, REPO, run_as, wait_until

MEMLAB = [sys.executable, "-m", "memlab"]
needs_pmap = pytest.mark.skipif(shutil.which("pmap") is None, reason="pmap (procps) missing")


def memlab(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*MEMLAB, *args], cwd=REPO, capture_output=True, text=True,
                          timeout=60)


def pmap_rss(pid: int) -> dict[int, int]:
    """start address -> Rss in kB, from `pmap -X PID` (its header names the columns)."""
    out = subprocess.run(["pmap", "-X", str(pid)], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    head = out[1].split()
    col = head.index("Rss")
    rows = {}
    for line in out[2:]:
        fields = line.split()
        if len(fields) < col + 1 or len(fields[1]) != 4 or fields[1][3] not in "ps":
            continue  # the ==== line and the totals row
        rows[int(fields[0], 16)] = int(fields[col])
    return rows


def cli_in_process(*args: str) -> tuple[int, str, str]:
    """memlab's main() here (another uid may not run this tree's .venv python)."""
    from memlab.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def sleeper():
    with launch("sleeper", [], [b"A=1"], hold="ready") as child:
        yield child


@pytest.fixture
def python3():
    code = "import time; print('ready', flush=True); time.sleep(600)"
    with launch("python3", ["-c", code], [b"PYTHONDONTWRITEBYTECODE=1"],
                hold="exec") as child:
        child.resume()
        assert child.read_stdout_line(timeout=20) == "ready"
        yield child


def check_against_pmap_and_rollup(pid: int) -> None:
    snap = snapshot(pid, memory=True)
    assert snap.memory is not None and None not in snap.memory.regions, snap.warnings
    ours = {r.start: m.rss >> 10 for r, m in zip(snap.regions, snap.memory.regions)}
    assert ours == pmap_rss(pid)
    total, rollup = snap.memory.total(), snap.memory.rollup
    for field in ("rss", "shared_clean", "shared_dirty", "private_clean",
                  "private_dirty", "swap", "anon_huge"):
        assert getattr(total, field) == getattr(rollup, field), field
    # smaps_rollup sums Pss before rounding to kB (fs/proc/task_mmu.c)
    assert 0 <= rollup.pss - total.pss < 1024 * len(snap.regions)


@needs_pmap
def test_sleeper_rss_per_region_equals_pmap(sleeper):
    # idle: after one answered command its stdin buffer exists (the first getchar
    # mallocs it, a heap page that would appear between memlab's read and pmap's)
    sleeper.command("report")
    check_against_pmap_and_rollup(sleeper.pid)


@needs_pmap
def test_python3_rss_per_region_equals_pmap(python3):
    check_against_pmap_and_rollup(python3.pid)


def test_plain_snapshot_reads_no_smaps(sleeper):
    snap = snapshot(sleeper.pid)
    assert snap.memory is None
    d = to_json(snap)
    assert "memory" not in d and all("memory" not in r for r in d["regions"])


def test_touch_n_of_m_pages_gives_exactly_n_present(sleeper):
    reserved = sleeper.command(f"reserve {101 * PAGE_SIZE}")  # malloc adds a header
    m, first = reserved["pages"], int(reserved["pages_start"], 16)
    assert m == 100
    end = first + m * PAGE_SIZE
    def block_rss() -> int:  # the mapping may be merged with neighbours: a difference
        snap = snapshot(sleeper.pid, memory=True)
        return snap.memory.regions[snap.regions.index(snap.region_at(first))].rss

    rss_before = block_rss()
    before = json.loads(memlab("pages", str(sleeper.pid), f"{first:#x}-{end:#x}",
                               "--json").stdout)
    assert before["regions"][0]["present"] == 0  # malloc reserved, nothing touched
    touched = sleeper.command(f"touch {reserved['address']} 37")
    assert int(touched["address"], 16) == first
    out = memlab("pages", str(sleeper.pid), f"{first:#x}-{end:#x}", "--json")
    assert out.returncode == 0, out.stderr
    [region] = json.loads(out.stdout)["regions"]
    assert (region["pages"], region["present"], region["untouched"]) == (100, 37, 63)
    assert region["runs"][0]["pages"] == 37 and region["runs"][0]["state"] == "present"
    # and smaps agrees: the mapping's RSS grew by exactly those pages
    assert block_rss() - rss_before == 37 * PAGE_SIZE


def test_pages_text_picture(sleeper):
    reserved = sleeper.command(f"reserve {11 * PAGE_SIZE}")
    sleeper.command(f"touch {reserved['pages_start']} 3")
    first = int(reserved["pages_start"], 16)
    out = memlab("pages", str(sleeper.pid), f"{first:#x}-{first + 10 * PAGE_SIZE:#x}")
    assert out.returncode == 0, out.stderr
    assert "3/10 pages present" in out.stdout
    assert "\n  ███·······\n" in out.stdout


def test_every_thread_stack_holds_its_sp(sleeper):
    answer = sleeper.command("threads 3")
    tids, locals_ = answer["tids"], [int(a, 16) for a in answer["locals"]]

    def blocked() -> bool:  # each thread in pause() (syscall 34), not on its way there
        for tid in tids:
            with open(f"/proc/{sleeper.pid}/task/{tid}/syscall", "rb") as f:
                if not f.read().startswith(b"34 "):
                    return False
        return True

    wait_until(blocked, what="the threads blocked in pause()")
    snap = snapshot(sleeper.pid)
    assert sorted(t.tid for t in snap.threads) == sorted(tids)
    for tid, local in zip(tids, locals_):
        [t] = [t for t in snap.threads if t.tid == tid]
        region = snap.region_at(t.sp)
        assert region is not None and region.start == t.region_start
        assert region.kind == "thread-stack" and t.source in ("syscall", "kstkesp")
        assert region.contains(local)  # the thread's own local variable is there too
        assert t.guard  # glibc's PROT_NONE guard right below
    d = to_json(snap)
    labelled = {r["tid"] for r in d["regions"] if r["kind"] == "thread-stack"}
    assert labelled == set(tids)
    layout = memlab("layout", str(sleeper.pid))
    assert all(f"thread {tid} stack" in layout.stdout for tid in tids)


def test_pages_of_a_process_that_exits_mid_read(sleeper):
    reader = PagemapReader(sleeper.pid)
    start = snapshot(sleeper.pid).regions[0].start
    assert reader.runs(start, start + PAGE_SIZE)
    sleeper.kill()
    with pytest.raises(NoSuchProcess):
        reader.runs(start, start + PAGE_SIZE)
    reader.close()


def test_pages_cli_errors(sleeper):
    out = memlab("pages", str(sleeper.pid), "no-such-region")
    assert out.returncode == 2 and out.stderr.count("\n") == 1
    out = memlab("pages", "4194000")
    assert out.returncode == 3 and out.stderr.count("\n") == 1
    assert "Traceback" not in out.stderr


@requires_root
def test_smaps_denied_memory_null_with_warning(sleeper):
    snap = run_as(NOBODY, snapshot, sleeper.pid, partial=True, memory=True)
    assert snap.memory is None
    assert "smaps" in snap.extra["denied"]
    assert any("memory (rss, pss ...) not measured" in w for w in snap.warnings)
    d = to_json(snap)
    assert d["memory"] is None
    code, out, err = run_as(NOBODY, cli_in_process, "inspect", str(sleeper.pid), "-X",
                            "--json")
    assert code == 4 and err.count("\n") == 1  # maps is denied too
    assert json.loads(out)["memory"] is None
    code, out, err = run_as(NOBODY, cli_in_process, "pages", str(sleeper.pid))
    assert code == 4 and err.count("\n") == 1 and "permission denied" in err
    assert os.path.exists(f"/proc/{sleeper.pid}")
