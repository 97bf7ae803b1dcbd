"""The tracer on real processes: the sleeper's malloc seen as mmap and brk, attach and
detach, the process exiting mid-trace, a second tracer, another uid."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from memlab.errors import AccessDenied
from memlab.launch import launch
from memlab.procfs.ptrace_state import tracer_pid
from memlab.trace.session import Session, trace_while
from tests.conftest import requires_root
from tests.helpers import NOBODY, REPO, LineReader, gone, run_as, wait_until

MEMLAB = [sys.executable, "-m", "memlab"]
HEADER = 16  # glibc malloc's chunk header before the pointer it returns (x86_64)


def csize(n: int) -> int:
    """glibc malloc's chunk size for a request of n bytes (malloc/malloc.c
    request2size: n + SIZE_SZ, aligned to 16, at least MINSIZE 32)."""
    return max(32, (n + 8 + 15) & ~15)


def exhaust_top(s) -> str:
    """malloc from the sleeper's heap until its top chunk has 48 bytes left: the next
    small malloc must ask the kernel for more (malloc/malloc.c sysmalloc -> brk).
    Each block is checked to come from the top (its address is where the top began),
    so the arithmetic is glibc's, not a guess.  Returns sbrk(0)."""
    first = s.command("malloc 1000")
    top = int(first["address"], 16) - HEADER + csize(1000)
    brk = int(first["sbrk"], 16)
    while brk - top >= 144:  # 112 (malloc 100's chunk) + MINSIZE
        size = min(brk - top - 48, 65536)
        got = s.command(f"malloc {size - 8}")
        assert int(got["address"], 16) == top + HEADER, (got, hex(top))
        assert int(got["sbrk"], 16) == brk
        top += size
    return hex(brk)


def test_malloc_100mb_is_one_mmap_at_the_pointer_minus_the_header():
    with launch("sleeper") as s:
        reply, traced = trace_while(s.pid, lambda: s.command("malloc 100000000"))
        mmaps = [t for t in traced if t.call.name == "mmap"]
        assert len(mmaps) == 1, traced
        (t,) = mmaps
        assert int(t.call.rval) == int(reply["address"], 16) - HEADER
        assert t.call.args[1] >= 100000000 and t.call.args[2] == 3  # PROT_READ|WRITE
        # the change the call made covers the block
        (change,) = t.changes
        assert change.kind in ("added", "grown")
        assert change.after[0].start <= t.call.rval < change.after[0].end
        assert tracer_pid(s.pid) == 0  # detached
        assert s.command("report")["type"] == "report"  # and running


def test_malloc_100_on_a_full_top_is_one_brk_to_the_new_sbrk():
    with launch("sleeper") as s:
        before = exhaust_top(s)
        reply, traced = trace_while(s.pid, lambda: s.command("malloc 100"))
        brks = [t for t in traced if t.call.name == "brk"]
        assert len(brks) == 1, traced
        (t,) = brks
        assert hex(t.call.rval) == reply["sbrk"] != before
        (change,) = t.changes
        assert change.kind == "grown" and change.after[0].path == "[heap]"
        assert change.after[0].end == int(reply["sbrk"], 16)


def memlab_trace(*args: str) -> subprocess.Popen:
    return subprocess.Popen([*MEMLAB, "trace", *args], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=False)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_cli_attach_then_signal_detaches(sig):
    with launch("sleeper") as s:
        proc = memlab_trace("--json", str(s.pid))
        try:
            out = LineReader(proc.stdout.fileno(), "memlab trace")
            start = out.json()
            assert start["type"] == "start" and start["mode"] == "attach"
            assert tracer_pid(s.pid) == proc.pid
            reply = s.command("malloc 100000000")
            while (rec := out.json())["syscall"] != "mmap":
                pass
            assert rec["schema"] == "memlab.trace/1"
            assert int(rec["result"], 16) == int(reply["address"], 16) - HEADER
            assert rec["args"]["flags"] == ["MAP_PRIVATE", "MAP_ANONYMOUS"]
            proc.send_signal(sig)
            end = out.json()
            assert end["type"] == "end" and end["reason"] == "detached"
            assert proc.wait(timeout=20) == (130 if sig == signal.SIGINT else 0)
        finally:
            proc.kill()
            proc.wait()
        assert tracer_pid(s.pid) == 0
        assert s.alive and s.command("malloc 10")["size"] == 10


def test_cli_process_exits_during_trace_is_exit_3():
    with launch("sleeper") as s:
        proc = memlab_trace(str(s.pid))
        out = LineReader(proc.stdout.fileno(), "memlab trace")
        assert b"attached to pid" in out.line()
        s._stdin, stdin = -1, s._stdin
        os.write(stdin, b"quit\n")  # the sleeper exits; memlab sees it
        os.close(stdin)
        assert proc.wait(timeout=20) == 3
        err = proc.stderr.read().decode().strip().splitlines()
        assert len(err) == 1 and "exited" in err[0] and err[0].startswith("memlab: ")
        assert s.wait(10) == 0


def test_cli_already_traced_is_exit_4():
    with launch("sleeper") as s:
        holder = subprocess.Popen(
            [sys.executable, "-c", f"""
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
assert libc.ptrace(0x4206, {s.pid}, None, None) == 0, ctypes.get_errno()  # SEIZE
print("held", flush=True)
sys.stdin.read()
"""], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        try:
            assert LineReader(holder.stdout.fileno(), "the holder").line() == b"held"
            proc = subprocess.run([*MEMLAB, "trace", str(s.pid)], cwd=REPO,
                                  capture_output=True, text=True, timeout=30)
            assert proc.returncode == 4
            assert proc.stderr.strip() == (f"memlab: already traced by PID {holder.pid} "
                                           f"(pid {s.pid})")
        finally:
            holder.stdin.close()
            holder.wait(timeout=10)
        wait_until(lambda: tracer_pid(s.pid) == 0, what="the holder's detach at exit")


def _attach_as_nobody(pid: int) -> str:
    session = Session()
    try:
        session.attach(pid)
    except AccessDenied as err:
        return str(err)
    session.detach()
    return "attached"


@requires_root
def test_another_uids_process_is_refused_with_gdbs_rule():
    with launch("sleeper") as s:
        said = run_as(NOBODY, _attach_as_nobody, s.pid)
        assert "attaching needs the same rights as gdb" in said
        assert f"pid {s.pid}" in said
        assert tracer_pid(s.pid) == 0


def test_cli_launches_a_target_and_its_end_ends_the_trace():
    proc = subprocess.run([*MEMLAB, "trace", "--json", "-e", "brk,mmap", "sleeper"],
                          cwd=REPO, capture_output=True, text=True, timeout=60,
                          input="malloc 100000000\nquit\n")
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(line) for line in proc.stdout.splitlines()]
    assert records[0]["type"] == "start" and records[0]["mode"] == "launch"
    assert records[-1] == {"schema": "memlab.trace/1", "type": "end",
                           "pid": records[0]["pid"], "reason": "exited",
                           "returncode": 0}
    calls = [r["syscall"] for r in records[1:-1]]
    assert set(calls) == {"brk", "mmap"}
    # the first brk that moves creates [heap]
    heap = next(r for r in records if r.get("syscall") == "brk" and r["changes"])
    assert heap["changes"][0]["change"] == "added"
    assert heap["changes"][0]["after"][0]["path"] == "[heap]"
    # the sample's own answers went to stderr, not into the JSON lines
    reply = next(json.loads(line) for line in proc.stderr.splitlines()
                 if line.startswith('{"cmd":"malloc"'))
    big = [r for r in records if r.get("syscall") == "mmap"
           and r["args"]["length"] >= 100000000]
    assert len(big) == 1
    assert int(big[0]["result"], 16) == int(reply["address"], 16) - HEADER
    assert gone(records[0]["pid"])


def test_cli_bad_input():
    proc = subprocess.run([*MEMLAB, "trace", "-e", "brk,open", "1"], cwd=REPO,
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "cannot trace 'open'" in proc.stderr
    proc = subprocess.run([*MEMLAB, "trace", "4194303"], cwd=REPO,
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 3 and proc.stderr.count("\n") == 1


THREADED = """
import mmap, sys, threading
def work():
    mmap.mmap(-1, 3 << 20).close()  # 3 MiB: a size nothing else maps
print("ready", flush=True)
for line in sys.stdin:
    t = threading.Thread(target=work)
    t.start()
    t.join()
    print(t.native_id, flush=True)
"""


def test_a_thread_started_during_the_trace_is_followed():
    proc = subprocess.Popen([sys.executable, "-c", THREADED], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE)
    try:
        out = LineReader(proc.stdout.fileno(), "the threaded child")
        assert out.line() == b"ready"

        def start_thread() -> int:
            proc.stdin.write(b"go\n")
            proc.stdin.flush()
            return int(out.line())

        tid, traced = trace_while(proc.pid, start_thread)
        mine = [t for t in traced if t.call.name in ("mmap", "munmap")
                and t.call.args[1] == 3 << 20]
        assert [t.call.name for t in mine] == ["mmap", "munmap"]
        assert {t.call.tid for t in mine} == {tid} != {proc.pid}
        assert mine[0].changes[0].after[0].path == "/dev/zero"  # MAP_SHARED anon
        assert tracer_pid(proc.pid) == 0
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_a_launched_target_never_outlives_memlab(sig):
    proc = subprocess.Popen([*MEMLAB, "trace", "--json", "sleeper"], cwd=REPO,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    try:
        start = LineReader(proc.stdout.fileno(), "memlab trace").json()
        assert start["mode"] == "launch" and tracer_pid(start["pid"]) == proc.pid
        proc.send_signal(sig)
        proc.wait(timeout=20)
        wait_until(lambda: gone(start["pid"]), what="the traced sample's end")
    finally:
        proc.kill()
        proc.wait()


def _trace_execve(script: str) -> list[dict]:
    proc = subprocess.run([*MEMLAB, "trace", "--json", "-e", "execve", "sh", "-c", script],
                          cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()]


def test_execve_replaces_the_map_and_a_failed_one_says_its_errno():
    records = _trace_execve("exec /bin/nonexistent-memlab")
    (failed,) = records[1:-1]
    assert failed["args"]["filename"] == "/bin/nonexistent-memlab"
    assert failed["errno"] == "ENOENT" and failed["result"] is None
    assert failed["changes"] == [] and records[-1]["returncode"] == 127
    records = _trace_execve("exec /bin/true")
    (true,) = records[1:-1]
    assert true["args"]["filename"] == "/bin/true"
    assert true["result"] == 0 and true["errno"] is None
    after = {r["path"] for c in true["changes"] for r in c["after"]}
    assert "/usr/bin/true" in after or "/bin/true" in after
    assert records[-1]["returncode"] == 0
