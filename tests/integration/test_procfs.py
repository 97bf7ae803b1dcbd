"""memlab.procfs on real processes: the sleeper sample, a zombie, PID 2, a vanished pid,
and another uid (run_as 65534).  Nothing is mocked: every answer comes from /proc."""

from __future__ import annotations

import ctypes
import mmap
import os
import signal
import subprocess
import time
import tracemalloc

import pytest

from memlab.errors import (
    AccessDenied,
    MemlabError,
    NoSuchProcess,
    UnreadableMemory,
    UsageError,
    ZombieProcess,
)
from memlab.collect import snapshot
from memlab.launch import launch
from memlab.procfs._io import explain_empty, list_pids, read_proc_file, readlink_proc
from memlab.procfs.auxv import read_auxv
from memlab.procfs.environ import read_cmdline, read_environ
from memlab.procfs.maps import read_maps
from memlab.procfs.mem import MemReader
from memlab.procfs.pidfd import pidfd_uids
from memlab.procfs.stat import is_kernel_thread, read_stat
from memlab.procfs.status import read_status, uids
from memlab.render import json as json_form
from tests.conftest import requires_root
from tests.helpers import NOBODY, run_as, wait_until

ENV = [b"A=1", b"DB_PASSWORD=hunter2", b"NO_EQUALS", b"BAD=\xff\xfe"]
ARGS = ["first", "with space"]
METHODS = ["vm_readv", "pread"]
KTHREADD = 2


@pytest.fixture(scope="module")
def sleeper():
    with launch("sleeper", ARGS, env=ENV) as child:
        yield child


def h(s: str) -> int:
    return int(s, 16)


def region(pid: int, path: str):
    (r,) = [r for r in read_maps(pid) if r.path == path]
    return r


@pytest.fixture
def zombie():
    pid = os.fork()
    if pid == 0:  # exits at once, never returns into pytest
        os._exit(7)
    wait_until(lambda: read_stat(pid).state == "Z", what=f"child {pid} a zombie")
    yield pid
    os.waitpid(pid, 0)


@pytest.fixture
def vanished_pid():
    p = subprocess.Popen(["sleep", "30"])
    p.kill()
    p.wait()
    return p.pid


# ------------------------------------------------------------------ a live process
def test_environ_is_the_exact_block(sleeper):
    assert [e.raw for e in read_environ(sleeper.pid)] == ENV


def test_cmdline(sleeper):
    argv = read_cmdline(sleeper.pid)
    assert argv[1:] == [a.encode() for a in ARGS]
    assert argv[0].endswith(b"sleeper")


@pytest.mark.parametrize("size", [10, 65535, 65536, 65537, 200_000])
def test_one_read_files_whole_at_any_size(size):
    """read_proc_file stops after one short read for environ/cmdline/stat/status/auxv
    (_io.ONE_READ_FILES); around and above its 64 KiB buffer it must still return every
    byte, as a plain read to EOF does."""
    env, left = [], size  # strings under MAX_ARG_STRLEN (32 pages), `size` bytes in all
    while left:
        n = min(left, 60_000)
        name = b"V%d=" % len(env)
        env.append(name + b"e" * (n - len(name) - 1))  # + its NUL: n bytes
        left -= n
    args = [v.decode().replace("=", "_") for v in env]
    with launch("sleeper", args, env=env) as child:
        for name in ("environ", "cmdline", "stat", "status", "auxv"):
            with open(f"/proc/{child.pid}/{name}", "rb") as f:
                want = f.read()
            got = read_proc_file(child.pid, name)
            if name in ("stat", "status"):  # times, counters and the state (R/S) move:
                got, want = got.split()[:2], want.split()[:2]  # pid + comm, "Name:" + comm
            assert got == want, name
        assert len(read_proc_file(child.pid, "environ")) == size


def test_stat_matches_the_sample_self_report(sleeper):
    s = read_stat(sleeper.pid)
    rep = sleeper.report
    assert s.pid == sleeper.pid and s.ppid == os.getpid() and not s.masked
    assert s.env_start == h(rep["environ0"])  # environ[0] is the first env string
    assert s.arg_start == h(rep["argv0"])
    assert s.start_code <= h(rep["main"]) < s.end_code


def test_maps_hold_the_sample_addresses(sleeper):
    regions = read_maps(sleeper.pid)
    stack = region(sleeper.pid, "[stack]")
    assert stack.contains(h(sleeper.report["local"]))
    (text,) = [r for r in regions if r.contains(h(sleeper.report["main"]))]
    assert text.perms == "r-xp" and text.path == os.path.realpath(sleeper.exe)
    assert regions[-1].path == "[vsyscall]" and regions[-1].start > 2**63


def test_auxv_matches_getauxval(sleeper):
    values = {a.name: a.value for a in read_auxv(sleeper.pid)}
    assert values["AT_EXECFN"] == h(sleeper.report["at_execfn"])
    assert values["AT_RANDOM"] == h(sleeper.report["at_random"])
    assert values["AT_PLATFORM"] == h(sleeper.report["at_platform"])
    assert values["AT_PAGESZ"] == 4096


def test_status_and_uids(sleeper):
    st = read_status(sleeper.pid)
    assert st["Name"] == "sleeper" and int(st["Pid"]) == sleeper.pid
    assert uids(sleeper.pid) == (os.getuid(), os.geteuid(), os.getuid(), os.geteuid())


@pytest.fixture
def split_uids():
    """A process whose real uid (65534) differs from its effective uid (0)."""
    p = subprocess.Popen(["setpriv", "--ruid", str(NOBODY), "sleep", "30"])
    try:
        wait_until(lambda: read_proc_file(p.pid, "comm") == b"sleep\n",
                   what="setpriv to exec sleep")
        yield p.pid
    finally:
        p.kill()
        p.wait()


@pytest.mark.parametrize("who", ["self", "pid 1", "kthreadd", "sleeper"])
def test_pidfd_uids_equal_status(who, sleeper):
    pid = {"self": os.getpid(), "pid 1": 1, "kthreadd": KTHREADD,
           "sleeper": sleeper.pid}[who]
    assert pidfd_uids(pid) == uids(pid)


@requires_root
def test_pidfd_uids_real_is_not_effective(split_uids):
    """PIDFD_GET_INFO's ruid is status's first Uid (the real one), and snapshot's uid."""
    assert uids(split_uids)[:2] == (NOBODY, 0)
    assert pidfd_uids(split_uids) == uids(split_uids)
    assert snapshot(split_uids).uid == NOBODY


def test_snapshot_uid_from_status_before_linux_6_13(monkeypatch, sleeper):
    """Without PIDFD_GET_INFO (kernels before 6.13) the uid comes from status."""
    monkeypatch.setattr("memlab.procfs.pidfd._supported", False)
    assert pidfd_uids(sleeper.pid) is None
    assert snapshot(sleeper.pid).uid == os.getuid()


def test_pidfd_uids_of_a_gone_process(vanished_pid):
    assert pidfd_uids(vanished_pid) is None


def test_readlink_exe(sleeper):
    assert readlink_proc(sleeper.pid, "exe") == os.path.realpath(sleeper.exe)


def test_list_pids():
    pids = list_pids()
    assert os.getpid() in pids and 1 in pids and pids == sorted(pids)


# ------------------------------------------------------------------ MemReader
@pytest.mark.parametrize("method", METHODS)
def test_read_the_env_block_and_strings(sleeper, method):
    s = read_stat(sleeper.pid)
    with MemReader(sleeper.pid, read_maps(sleeper.pid), method=method) as mem:
        assert mem.read(s.env_start, s.env_end - s.env_start) == \
            read_proc_file(sleeper.pid, "environ")
        for entry in sleeper.report["env"]:
            assert mem.read_cstring(h(entry["address"])).split(b"=")[0] == \
                entry["name"].encode("latin-1")
        assert mem.read_cstring(h(sleeper.report["at_execfn"])) == \
            os.fsencode(sleeper.exe)
        # the initial stack: argc at startstack, then argv[] pointers
        assert mem.read_u64(s.start_stack) == 1 + len(ARGS)
        argv = mem.read_u64s(s.start_stack + 8, 1 + len(ARGS))
        assert argv[0] == h(sleeper.report["argv0"])
        assert [mem.read_cstring(p) for p in argv[1:]] == [a.encode() for a in ARGS]
        assert mem.method == ("process_vm_readv" if method == "vm_readv" else "/proc/PID/mem")


def test_both_methods_read_the_same_stack(sleeper):
    stack = region(sleeper.pid, "[stack]")
    got = []
    for method in METHODS:
        with MemReader(sleeper.pid, method=method) as mem:
            got.append(mem.read(stack.start, stack.size))
    assert got[0] == got[1] and len(got[0]) == stack.size


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("with_regions", [True, False])
def test_vvar_unreadable(sleeper, method, with_regions):
    regions = read_maps(sleeper.pid)
    vvars = [r for r in regions if r.path and r.path.startswith("[vvar")]
    assert vvars
    with MemReader(sleeper.pid, regions if with_regions else None, method=method) as mem:
        for r in vvars:
            with pytest.raises(UnreadableMemory):
                mem.read(r.start, 8)
            assert mem.read_partial(r.start, 8) == b""
            assert mem.read_into(r.start, bytearray(8)) == 0


@pytest.mark.parametrize("method", METHODS)
def test_vsyscall_no_overflow(sleeper, method):
    vs = region(sleeper.pid, "[vsyscall]")
    with MemReader(sleeper.pid, method=method) as mem:  # no regions: the kernel path
        with pytest.raises(UnreadableMemory, match="2\\*\\*63"):
            mem.read(vs.start, 16)
        assert mem.read_partial(vs.start, 16) == b""
        assert mem.read_partial(2**64 - 8, 8) == b""


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("with_regions", [True, False])
def test_read_past_the_end_of_a_mapping_is_partial(sleeper, method, with_regions):
    regions = read_maps(sleeper.pid)
    stack = region(sleeper.pid, "[stack]")
    assert not any(r.contains(stack.end) for r in regions)  # a gap follows [stack]
    with MemReader(sleeper.pid, regions if with_regions else None, method=method) as mem:
        tail = mem.read_partial(stack.end - 100, 4096)
        assert len(tail) == 100
        assert tail[-8:] == b"\0" * 8  # fs/exec.c: the top 8 bytes of the stack are 0
        buf = bytearray(4096)
        assert mem.read_into(stack.end - 100, buf) == 100
        assert bytes(buf[:100]) == tail
        with pytest.raises(UnreadableMemory, match="only 100 readable"):
            mem.read(stack.end - 100, 4096)


@pytest.mark.parametrize("method", METHODS)
def test_unmapped_address(sleeper, method):
    with MemReader(sleeper.pid, method=method) as mem:
        assert mem.read_partial(0, 64) == b""
        with pytest.raises(UnreadableMemory, match="0x0"):
            mem.read(0, 8)
    with MemReader(sleeper.pid, read_maps(sleeper.pid), method=method) as mem:
        with pytest.raises(UnreadableMemory, match="not mapped"):
            mem.read_u64(0x1000)


def test_regions_stop_reads_at_prot_none():
    """A PROT_NONE page: with regions, reads stop there without asking the kernel
    (/proc/PID/mem would read it anyway: mem_rw uses FOLL_FORCE)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child never returns into pytest
        try:
            os.close(r)
            libc = ctypes.CDLL(None)
            pages = mmap.mmap(-1, 8192, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
            base = ctypes.addressof(ctypes.c_char.from_buffer(pages))
            libc.mprotect(ctypes.c_void_p(base + 4096), ctypes.c_size_t(4096), 0)
            os.write(w, base.to_bytes(8, "little"))
            os.close(w)
            time.sleep(30)  # holds its pages for the test to read; killed by the test
        finally:
            os._exit(0)
    os.close(w)
    try:
        base = int.from_bytes(os.read(r, 8), "little")
        regions = read_maps(pid)
        (none,) = [x for x in regions if x.start == base + 4096]
        assert none.perms == "---p"
        with MemReader(pid, regions) as mem:
            assert len(mem.read_partial(base, 8192)) == 4096
            with pytest.raises(UnreadableMemory, match="no read permission"):
                mem.read(base + 4096, 8)
        # without regions the kernel decides, and the two paths disagree (measured):
        # process_vm_readv honours the protection, /proc/PID/mem forces the read
        with MemReader(pid, method="vm_readv") as mem:
            assert len(mem.read_partial(base, 8192)) == 4096
        with MemReader(pid, method="pread") as mem:
            assert len(mem.read_partial(base, 8192)) == 8192
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(r)


def test_read_into_does_not_allocate(sleeper):
    stack = region(sleeper.pid, "[stack]")
    buf = bytearray(stack.size)
    with MemReader(sleeper.pid) as mem:
        mem.read_into(stack.start, buf)  # warm up (ctypes, libc lookup)
        tracemalloc.start()
        try:
            for _ in range(50):
                assert mem.read_into(stack.start, buf) == stack.size
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert peak < 16 * 1024  # 50 reads of ~132 KiB each: nothing per byte


def test_read_into_memoryview_slice(sleeper):
    s = read_stat(sleeper.pid)
    buf = bytearray(64)
    with MemReader(sleeper.pid) as mem:
        assert mem.read_into(s.env_start, memoryview(buf)[10:14]) == 4
    assert buf[10:14] == b"A=1\0" and buf[:10] == bytes(10) and buf[14:] == bytes(50)
    with pytest.raises(TypeError):
        MemReader(sleeper.pid).read_into(s.env_start, b"immutable")


# ------------------------------------------------------------------ no mm: zombie, kthread
@pytest.mark.parametrize("reader", [read_environ, read_auxv, read_maps, read_cmdline])
def test_zombie_files(zombie, reader):
    with pytest.raises(ZombieProcess) as err:
        reader(zombie)
    assert err.value.exit_code == 3 and isinstance(err.value, NoSuchProcess)
    assert f"pid {zombie}" in str(err.value) and "zombie" in str(err.value)


@pytest.mark.parametrize("method", METHODS)
def test_zombie_memory(zombie, method):
    with pytest.raises(ZombieProcess):
        MemReader(zombie, method=method).read(0x400000, 8)


def test_zombie_stat_still_readable(zombie):
    s = read_stat(zombie)
    assert s.state == "Z" and s.exit_code == 7 << 8 and not s.has_mm and not s.masked


def test_kernel_thread_reads_empty_not_denied():
    assert is_kernel_thread(KTHREADD)
    assert read_environ(KTHREADD) == []
    assert read_auxv(KTHREADD) == []
    assert read_maps(KTHREADD) == []
    assert read_cmdline(KTHREADD) == []
    s = read_stat(KTHREADD)
    assert not s.masked and not s.has_mm and s.comm == "kthreadd"
    assert "kernel thread" in explain_empty(KTHREADD)
    assert readlink_proc(KTHREADD, "exe", missing_ok=True) is None
    with pytest.raises(MemlabError, match="exe does not exist"):
        readlink_proc(KTHREADD, "exe")
    for method in METHODS:
        with pytest.raises(UnreadableMemory, match="kernel thread"):
            MemReader(KTHREADD, method=method).read(0x1000, 8)


def test_user_process_is_not_a_kernel_thread(sleeper, vanished_pid):
    assert not is_kernel_thread(sleeper.pid)
    assert not is_kernel_thread(1)
    with pytest.raises(NoSuchProcess):
        is_kernel_thread(vanished_pid)


# ------------------------------------------------------------------ gone
@pytest.mark.parametrize("reader", [read_environ, read_auxv, read_maps, read_cmdline,
                                    read_stat, read_status,
                                    lambda p: readlink_proc(p, "exe"),
                                    lambda p: MemReader(p).read(0x1000, 8),
                                    lambda p: MemReader(p, method="pread").read(0x1000, 8)])
def test_vanished_pid(vanished_pid, reader):
    with pytest.raises(NoSuchProcess) as err:
        reader(vanished_pid)
    assert type(err.value) is NoSuchProcess and err.value.exit_code == 3
    assert str(err.value).startswith("no such process (pid ")
    assert f"/proc/{vanished_pid}/" in str(err.value)


@pytest.mark.parametrize("method", METHODS)
def test_reader_opened_before_the_process_died(method):
    p = subprocess.Popen(["sleep", "30"])
    try:
        stack = region(p.pid, "[stack]")
        mem = MemReader(p.pid, method=method)
        assert len(mem.read(stack.end - 8, 8)) == 8  # opens /proc/PID/mem for pread
    finally:
        p.kill()
        p.wait()
    with pytest.raises(NoSuchProcess):
        mem.read(stack.end - 8, 8)
    mem.close()


@pytest.mark.parametrize("bad, error", [(0, NoSuchProcess), (-5, NoSuchProcess),
                                        ("12", UsageError), (True, UsageError),
                                        (1.5, UsageError), (2**22 + 7, NoSuchProcess)])
def test_pid_validation(bad, error):
    with pytest.raises(error):
        read_stat(bad)
    with pytest.raises(error):
        MemReader(bad).read(0x1000, 8)


# ------------------------------------------------------------------ another uid
def _as_other_user(pid: int) -> dict:
    """Runs in a child at uid 65534: what each reader answers."""
    out = {}
    for name, fn in [("environ", read_environ), ("auxv", read_auxv), ("maps", read_maps),
                     ("exe", lambda p: readlink_proc(p, "exe")),
                     ("mem vm_readv", lambda p: MemReader(p, method="vm_readv").read(0x1000, 8)),
                     ("mem pread", lambda p: MemReader(p, method="pread").read(0x1000, 8)),
                     ("mem auto", lambda p: MemReader(p).read(0x1000, 8))]:
        try:
            fn(pid)
            out[name] = "read"
        except MemlabError as err:
            out[name] = (type(err).__name__, str(err), err.exit_code)
    out["stat"] = read_stat(pid)
    out["cmdline"] = read_cmdline(pid)
    out["uids"] = uids(pid)
    return out


@requires_root
def test_another_uid(sleeper):
    got = run_as(NOBODY, _as_other_user, sleeper.pid)
    for name in ("environ", "auxv", "maps", "exe", "mem vm_readv", "mem pread", "mem auto"):
        kind, msg, code = got[name]
        assert (kind, code) == ("AccessDenied", 4), name
        assert "permission denied" in msg and f"pid {sleeper.pid}" in msg
    assert "PTRACE_MODE_READ_FSCREDS" in got["environ"][1]
    assert "PTRACE_MODE_READ" in got["maps"][1]
    assert "PTRACE_MODE_ATTACH" in got["mem pread"][1]
    assert "PTRACE_MODE_ATTACH" in got["mem vm_readv"][1]
    stat = got["stat"]
    assert stat.masked and not stat.has_mm
    assert (stat.start_code, stat.end_code, stat.env_start) == (1, 1, 0)
    assert json_form.proc_stat(stat)["env_start"] == "hidden"
    assert got["cmdline"][1:] == [a.encode() for a in ARGS]  # cmdline is not checked
    assert got["uids"][0] == 0


def _no_mm_answers(pid: int) -> list:
    out = []
    for fn in (read_environ, read_auxv, read_maps, read_cmdline,
               lambda p: MemReader(p).read(0x1000, 8)):
        try:
            out.append(fn(pid))
        except MemlabError as err:
            out.append(type(err).__name__)
    return out


@requires_root
def test_no_mm_as_another_user_is_not_access_denied(zombie):
    """6.18 answers EACCES to a non-root reader of a kernel thread's or zombie's environ
    (measured): memlab reports what is true, no user memory, not 'denied'."""
    assert run_as(NOBODY, _no_mm_answers, KTHREADD) == [[], [], [], [], "UnreadableMemory"]
    assert run_as(NOBODY, _no_mm_answers, zombie) == ["ZombieProcess"] * 5
    with pytest.raises(AccessDenied):  # a live process of another uid is denied
        run_as(NOBODY, read_environ, 1)


def test_a_pid_above_the_kernel_limit_is_no_process(sleeper):
    """2**32 + pid would be pid as the kernel's 32-bit pid_t: memlab must not read that
    process under the other number (procfs._io.PID_MAX_LIMIT, _cproc.c vm_rw)."""
    from memlab.procfs import _cproc

    for method in METHODS:
        with pytest.raises(NoSuchProcess):
            MemReader(2**32 + sleeper.pid, method=method)
    with pytest.raises(OverflowError):
        _cproc.vm_readv(2**32 + sleeper.pid, bytearray(8), 0x1000)
