"""snapshot(pid) against real processes: every address a sample printed about itself
equals what memlab derived from /proc, for the four ways sleeper.c is built.

The sample's self-report (c_samples/sleeper.c) is one source, memlab's /proc-derived
numbers the other; a few values are also checked against /proc files read by hand.
"""

from __future__ import annotations

import os
import signal

import pytest

from memlab.analysis.selfreport import compare
from memlab.collect import snapshot
from memlab.elf.attach import snapshot_with_elf
from memlab.errors import NoSuchProcess, UnreadableMemory, ZombieProcess
from memlab.launch import launch
from memlab.procfs.environ import read_cmdline
from memlab.render.json import snapshot as to_json
from tests.helpers import wait_until

VARIANTS = ("sleeper", "sleeper-nopie", "sleeper-static", "sleeper-static-pie")
ENV = [b"A=1", b"B=x y", b"EMPTY=", b"DB_PASSWORD=hunter2", b"U=h\xc3\xa9"]
ARGS = ["arg one", ""]


def addr(report: dict, key: str) -> int:
    return int(report[key], 16)


def proc_auxv(pid: int) -> dict[int, int]:
    import struct

    with open(f"/proc/{pid}/auxv", "rb") as f:
        data = f.read()
    return dict(struct.iter_unpack("=QQ", data))


@pytest.fixture(params=VARIANTS)
def running(request):
    with launch(request.param, ARGS, ENV, hold="ready") as child:
        yield child


def test_every_self_reported_address_matches(running):
    rep = running.report
    snap = snapshot(running.pid)
    st, env = snap.stack, snap.env
    assert snap.warnings == ()
    assert st.complete and st.auxv_matches_proc and env.matches_proc_environ

    # argv: the array sits right above argc at startstack; argv[0] is arg_start
    assert addr(rep, "argv") == st.argv[0].slot == snap.stat.start_stack + 8
    assert addr(rep, "argv0") == st.argv[0].address == snap.stat.arg_start
    assert [a.string for a in st.argv] == [running.argv[0].encode(), b"arg one", b""]
    assert rep["argc"] == st.argc == 3
    # environ (libc's pointer array) is still the envp[] execve built on the stack
    assert addr(rep, "environ") == st.envp[0].slot == snap.stat.start_stack + 8 * (3 + 2)
    assert addr(rep, "environ0") == env.entries[0].address == snap.stat.env_start
    # every env string's address, in order
    assert [(e["name"], addr(e, "address")) for e in rep["env"]] == \
        [(e.name, e.address) for e in env.entries]
    assert [e.raw for e in env.entries] == ENV
    assert [e.string for e in st.envp] == ENV
    # auxv: the sample's getauxval vs the stack decode vs /proc/PID/auxv read by hand
    auxv = proc_auxv(running.pid)
    assert addr(rep, "at_execfn") == st.execfn_address == auxv[31] == env.end
    assert st.execfn == running.exe
    assert addr(rep, "at_random") == auxv[25]
    assert len(st.at_random) == 16
    assert addr(rep, "at_platform") == auxv[15] == auxv[25] + 16
    assert st.platform == "x86_64"
    # a local of main: inside [stack], below the initial stack pointer
    local = addr(rep, "local")
    stack_region = snap.region_at(local)
    assert stack_region.path == "[stack]" and stack_region.kind == "stack"
    assert local < st.sp
    # the env block: in [stack], right above the argument strings
    assert env.region == "[stack]" and env.distance_to_args == 0
    assert stack_region.contains(env.start) and stack_region.end - env.end == \
        env.distance_to_stack_top == len(running.exe) + 1 + 8
    # and the comparison the CLI prints agrees on every row
    checks = compare(snap, rep)
    assert len(checks) >= 12 and all(c.ok for c in checks), [c for c in checks if not c.ok]


def test_argv_is_what_proc_cmdline_reads(running):
    """snapshot takes argv from the stack window it read (collect._cmdline)."""
    snap = snapshot(running.pid)
    assert snap.argv == tuple(a.decode() for a in read_cmdline(running.pid))
    assert snap.argv == (running.argv[0], *ARGS)


def test_regions_hold_what_the_sample_says(running):
    rep = running.report
    snap = snapshot(running.pid)
    kind = {k: snap.region_at(addr(rep, k)).kind for k in
            ("main", "rodata", "data", "bss", "malloc")}
    assert kind["main"] == "text" and kind["rodata"] == "rodata"
    assert kind["data"] == "data" and kind["bss"] in ("bss", "data")
    assert kind["malloc"] == "heap"
    heap = [r for r in snap.regions if r.kind == "heap"]
    assert len(heap) == 1 and heap[0].end == addr(rep, "sbrk")
    assert [r.path for r in snap.regions].count("[stack]") == 1


def test_held_at_exec_sp_is_startstack():
    """At the exec stop the stack pointer is startstack
    (docs/kernel-facts.md#holding-a-process-at-exec): /proc/PID/syscall shows it,
    independently of stat."""
    with launch("/usr/bin/sleep", ["100"], [b"A=1"], hold="exec") as child:
        snap = snapshot(child.pid)
        with open(f"/proc/{child.pid}/syscall") as f:
            fields = f.read().split()
        assert fields[0] == "59"  # execve
        assert int(fields[-2], 16) == snap.stat.start_stack == snap.stack.sp
        assert snap.stack.complete and snap.env.matches_proc_environ
        assert [e.raw for e in snap.env.entries] == [b"A=1"]
        assert not any(r.kind == "heap" for r in snap.regions)  # ld.so has not run


def test_setenv_unsetenv_leave_the_block_and_are_reported():
    with launch("sleeper", [], [b"A=1", b"SECRET=s3", b"C=3"], hold="ready") as child:
        child.command("unsetenv SECRET")
        child.command("setenv A changed")
        snap = snapshot(child.pid)
        # /proc/PID/environ and the block are the initial ones
        # (docs/kernel-facts.md#environ-is-the-initial-block)
        assert [e.raw for e in snap.env.entries] == [b"A=1", b"SECRET=s3", b"C=3"]
        assert snap.env.matches_proc_environ
        # the stack's envp[] is libc's environ, changed in place: best effort + warning
        assert not snap.stack.complete
        assert snap.stack.auxv_matches_proc
        assert any("unsetenv" in w for w in snap.warnings)
        assert b"A=changed" in [e.string for e in snap.stack.envp]


def test_scrub_in_place_is_visible_everywhere():
    with launch("sleeper", [], [b"TOKEN=abcdef"], hold="ready") as child:
        child.command("scrub TOKEN")
        snap = snapshot(child.pid)
        assert snap.env.entries[0].raw == b"TOKEN=XXXXXX"
        assert snap.env.matches_proc_environ and snap.stack.complete


def test_vanished_process():
    with launch("sleeper", [], [b"A=1"], hold="ready") as child:
        pid = child.pid
    with pytest.raises(NoSuchProcess) as err:
        snapshot(pid)
    assert not isinstance(err.value, ZombieProcess)


def test_zombie():
    pid = os.fork()
    if pid == 0:
        os._exit(7)
    try:
        for _ in range(10000):  # wait until it is a zombie, without reaping it
            with open(f"/proc/{pid}/stat", "rb") as f:
                if f.read().rsplit(b")", 1)[1].split()[0] == b"Z":
                    break
        with pytest.raises(ZombieProcess):
            snapshot(pid)
    finally:
        os.waitpid(pid, 0)


def test_kernel_thread():
    with open("/proc/2/stat", "rb") as f:
        if b"(kthreadd)" not in f.read():
            pytest.skip("PID 2 is not kthreadd here")
    with pytest.raises(UnreadableMemory, match="kernel thread"):
        snapshot(2)


def test_snapshot_with_elf_section():
    with launch("sleeper", [], [b"A=1"], hold="ready") as child:
        snap = snapshot_with_elf(child.pid)
        assert snap.elf is not None and "elf" not in snap.extra
        assert snap.elf or any("ELF" in w for w in snap.warnings)


def test_self_snapshot_never_raises():
    snap = snapshot(os.getpid())
    assert snap.env is not None and snap.stack is not None
    assert to_json(snap)["schema"] == "memlab.snapshot/1"


def test_stopped_process():
    with launch("sleeper", [], [b"A=1"], hold="ready") as child:
        os.kill(child.pid, signal.SIGSTOP)
        # the stop is delivered asynchronously
        snap = wait_until(lambda: (s := snapshot(child.pid)).stat.state == "T" and s,
                          what="the sample stopped (T)")
        assert snap.env.matches_proc_environ
        os.kill(child.pid, signal.SIGCONT)


@pytest.mark.root
def test_unprivileged_user_sees_its_own_process_fully():
    """No privilege needed for your own processes: uid 65534 launches and inspects one."""
    from tests.helpers import NOBODY, run_as

    if os.geteuid() != 0:
        pytest.skip("needs root to switch uid")

    def as_nobody():
        with launch("sleeper", [], [b"A=1"], hold="ready") as child:
            snap = snapshot(child.pid)
            return (snap.uid, snap.warnings, snap.stat.masked, snap.env.matches_proc_environ,
                    snap.stack.complete, [c.ok for c in compare(snap, child.report)])

    uid, warnings, masked, env_ok, complete, checks = run_as(NOBODY, as_nobody)
    assert uid == NOBODY and warnings == () and not masked
    assert env_ok and complete and checks and all(checks)


def test_process_exiting_under_memlab_only_raises_no_such_process():
    """Snapshots racing a process's exit: whatever stage it is in (exit_mm done, zombie,
    reaped), snapshot() either succeeds or raises NoSuchProcess (exit code 3)."""
    outcomes = set()
    for _ in range(20):
        with launch("/usr/bin/true", [], [b"A=1"], hold="none") as child:
            for _ in range(200):
                try:
                    snapshot(child.pid)
                    outcomes.add("ok")
                except NoSuchProcess as err:  # ZombieProcess is one too
                    outcomes.add(type(err).__name__)
                    break
    assert outcomes <= {"ok", "NoSuchProcess", "ZombieProcess"}
    assert outcomes & {"NoSuchProcess", "ZombieProcess"}


@pytest.mark.parametrize("variant", ["sleeper", "sleeper-static"])
def test_without_the_c_module_the_snapshot_is_the_same(variant):
    """memlab installed without a compiler (procfs._cproc not built) parses maps and stat
    in Python and reads memory through /proc/PID/mem: the snapshot must not change."""
    import json
    import subprocess
    import sys

    probe = ("import sys, json\n"
             "sys.modules['memlab.procfs._cproc'] = None  # import fails: not compiled\n"
             "from memlab.collect import snapshot\n"
             "from memlab.procfs import _cproc, mem\n"
             "from memlab.render.json import snapshot as to_json\n"
             "assert _cproc is None\n"
             "snap = snapshot(int(sys.argv[1]))\n"
             "print(json.dumps([to_json(snap, reveal=True),"
             " mem.MemReader(snap.pid).method]))\n")
    with launch(variant, ARGS, env=ENV) as child:
        out = subprocess.run([sys.executable, "-c", probe, str(child.pid)],
                             capture_output=True, text=True, timeout=60, check=True)
        python_only, method = json.loads(out.stdout)
        assert method == "/proc/PID/mem"
        assert python_only == json.loads(json.dumps(to_json(snapshot(child.pid), reveal=True)))
