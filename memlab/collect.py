"""snapshot(pid) -> Snapshot: the one entry point every front end calls.

It reads /proc/PID/{stat,maps,exe,auxv,environ} once each, the uids from a pidfd
(procfs.pidfd; /proc/PID/status before Linux 6.13), then the top of [stack]
(startstack .. stack end) with ONE process_vm_readv, and hands those bytes to the pure
analysis functions (classify, envblock, initstack).  /proc/PID/cmdline is read only when
that window does not already hold its bytes (_cmdline).  Cost (tests/bench/
bench_core.py): about 95 us for a 24-line process, half of it the kernel's, 0.3 ms for
150 lines; no psutil, no heavy imports.

Errors: what stops everything raises (NoSuchProcess, ZombieProcess, AccessDenied for
maps, UnreadableMemory for a kernel thread); everything else that cannot be read or
verified becomes a one-line sentence in Snapshot.warnings.

A moving target:
- execve while memlab reads: the pid stays, but the mm, the executable and every
  address change (fs/exec.c begin_new_exec -> exec_mmap), so files read before and after
  describe two programs (stat of one, maps of the other; memory read at the old stack
  address fails; the ELF opened through /proc/PID/exe is the new file).  The address
  fields of /proc/PID/stat (start_code .. env_end) are all set by execve
  (fs/binfmt_elf.c load_elf_binary, create_elf_tables): snapshot() reads them again at
  the end, and when they differ (or a read failed and they differ), or they show a
  layout execve is still building (procfs.stat.exec_settled), it reads the process
  again, up to READ_ATTEMPTS times, then raises ExecDuringRead (exit 3, "try again").
- a main thread that exited (pthread_exit) while other threads run: /proc/PID/stat says
  'Z', but the process is alive; every file is read through a live thread
  (/proc/PID/task/TID/, procfs._io.live_thread) and a warning says so.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from memlab.analysis.classify import classify
from memlab.analysis.envblock import locate_env_block
from memlab.analysis.initstack import decode_initial_stack
from memlab.analysis.bytesmemory import BytesMemory
from memlab.errors import (
    AccessDenied,
    ExecDuringRead,
    MemlabError,
    NoSuchProcess,
    ParseError,
    UnreadableMemory,
    ZombieProcess,
)
from memlab.kernel.abi import PF_KTHREAD
from memlab.analysis.threads import label_thread_stacks
from memlab.model import MemoryUsage, ProcStat, Region, Snapshot, region_at, text
from memlab.procfs._io import (check_pid, live_thread, process_exists, read_proc_file,
                               readlink_proc)
from memlab.procfs.auxv import parse_auxv
from memlab.procfs.environ import parse_cmdline, parse_environ
from memlab.procfs.maps import parse_maps
from memlab.procfs.mem import MemReader
from memlab.procfs.pidfd import pidfd_uids
from memlab.procfs.smaps import read_smaps, read_smaps_rollup
from memlab.procfs.stat import (exec_fields, exec_settled, num_threads, parse_flags,
                                parse_stat)
from memlab.procfs.tasks import list_tids, thread_sp
from memlab.procfs.status import parse_ids

HIDDEN = ("the address fields of /proc/PID/stat are hidden by the kernel "
          "(no ptrace read access): they are not addresses")
# The most memlab reads of the stack top in one go: argc .. the exec path.  The strings
# are bounded by ARG_MAX (a quarter of the stack rlimit); past this the analysis asks the
# reader for each piece instead.
STACK_WINDOW_MAX = 8 << 20
# How many times snapshot() reads a process that keeps exec'ing before it gives up, and
# how long it lets an exec caught half-way finish before the next attempt (seconds).
READ_ATTEMPTS = 3
MID_EXEC_PAUSE = 0.001


def _optional(pid: int, name: str, warnings: list[str], denied: list[str],
              tid: int | None = None) -> bytes | None:
    """Bytes of /proc/PID/name, or None with a warning when the kernel refuses."""
    try:
        return read_proc_file(pid, name, tid=tid)
    except AccessDenied as err:
        denied.append(name)
        warnings.append(str(err))
        return None


def _real_uid(status: bytes, warnings: list[str]) -> int | None:
    """The Uid: line of /proc/PID/status (real uid), without parsing the other 50 lines."""
    start = status.find(b"\nUid:")
    if start < 0:
        warnings.append("status has no Uid: line")
        return None
    end = status.find(b"\n", start + 1)
    line = status[start + 5:end if end > 0 else None].decode("ascii", "replace")
    try:
        return parse_ids(line)[0]
    except ParseError as err:
        warnings.append(f"status: {err}")
        return None


def _stack_memory(reader: MemReader, stat: ProcStat, stack: Region | None,
                  warnings: list[str], denied: list[str]):
    """A BytesMemory over startstack .. end of its mapping (falling back to `reader`
    for anything outside), or None when memory cannot be read at all ("mem" in denied
    only when the kernel refused)."""
    if stack is None:
        warnings.append(f"startstack 0x{stat.start_stack:x} is in no mapping")
        return None
    base = stat.start_stack & ~0xF
    size = min(stack.end - base, STACK_WINDOW_MAX)
    try:
        data = reader.read_partial(base, size)
    except AccessDenied as err:
        denied.append("mem")
        warnings.append(f"memory not readable: {err}")
        return None
    if not data:
        warnings.append(f"memory not readable at startstack 0x{base:x}")
        return None
    return BytesMemory(base, data, fallback=reader)


def snapshot(pid: int, *, partial: bool = False,
             extend: Callable[[Snapshot], Snapshot] | None = None,
             memory: bool = False) -> Snapshot:
    """Read and analyse one process.

    partial=True returns what is visible even when the kernel refuses the memory layout
    (another user's process): regions empty, stat masked, `extra["denied"]` naming the
    refused files; front ends show that and then report the refusal (exit 4).
    A process that execs while it is read is read again (module docstring); one that
    keeps exec'ing raises ExecDuringRead.
    extend(snap) -> snap adds what is derived from the process's files (the ELF area:
    memlab.elf.attach.snapshot_with_elf passes with_elf) inside the same attempt, so an
    exec it notices (ExecDuringRead) is read again like one noticed here.
    memory=True also reads /proc/PID/smaps and smaps_rollup (Snapshot.memory): what
    each region costs in RAM.  Not by default: smaps makes the kernel walk every page
    table, which costs more than the rest of the snapshot (docs/benchmarks.md).
    """
    pid = check_pid(pid)
    for _ in range(READ_ATTEMPTS):
        stat_bytes = read_proc_file(pid, "stat")  # NoSuchProcess for a wrong pid
        stat = parse_stat(stat_bytes)
        tid = None
        if stat.is_zombie:
            tid = live_thread(pid)
            if tid is None:
                raise ZombieProcess("process is a zombie (exited, not yet reaped): its "
                                    "memory is gone", pid=pid)
            stat_bytes = read_proc_file(pid, "stat", tid=tid)
            stat = parse_stat(stat_bytes)
        try:
            snap = _read(pid, tid, stat, stat_bytes, partial, memory)
            if extend is not None:
                snap = extend(snap)
        except MemlabError:
            if _exec_since(pid, tid, stat):
                continue
            raise
        if exec_settled(stat) and not _exec_since(pid, tid, stat):
            return snap
        if not exec_settled(stat):
            time.sleep(MID_EXEC_PAUSE)  # the exec is under way: let it finish
    raise ExecDuringRead(pid)


def _exec_since(pid: int, tid: int | None, stat: ProcStat) -> bool:
    """Whether the process changed under the read: its exec-time address fields
    changed, or the thread read through is gone while the pid lives on (an exec by
    another thread, fs/exec.c de_thread, or that thread exited: the next attempt picks
    another).  A process that is gone did not exec."""
    try:
        now = parse_stat(read_proc_file(pid, "stat", tid=tid))
    except MemlabError:
        return tid is not None and process_exists(pid)
    return exec_fields(now) != exec_fields(stat)


def _read(pid: int, tid: int | None, stat: ProcStat, stat_bytes: bytes,
          partial: bool, memory: bool = False) -> Snapshot:
    """One pass of snapshot(): every file once, through thread tid when given."""
    warnings: list[str] = []
    denied: list[str] = []
    if tid is not None:
        warnings.append(f"the main thread (tid {pid}) has exited; the process runs on "
                        f"in its other threads: read through thread {tid} "
                        f"(/proc/{pid}/task/{tid}/)")
    if stat.masked:
        warnings.append(HIDDEN)

    try:
        maps_bytes = read_proc_file(pid, "maps", tid=tid)
    except AccessDenied as err:
        if not partial:
            raise
        denied.append("maps")
        warnings.append(str(err))
        maps_bytes = b""
    if not maps_bytes and not denied and not stat.masked and not stat.start_code:
        if parse_flags(stat_bytes) & PF_KTHREAD:
            raise UnreadableMemory("kernel thread: it has no user memory to inspect "
                                   "(its maps, environ and auxv are empty, not denied)",
                                   pid=pid)
        # exit_mm() already ran: the task is on its way out (do_exit, kernel/exit.c)
        raise NoSuchProcess("process is exiting: its memory is gone", pid=pid)
    regions = parse_maps(maps_bytes)

    try:
        exe = readlink_proc(pid, "exe", missing_ok=True, tid=tid)
    except AccessDenied as err:
        denied.append("exe")
        warnings.append(str(err))
        exe = None
    ids = pidfd_uids(pid)
    uid = ids[0] if ids else _real_uid(read_proc_file(pid, "status"), warnings)

    auxv: tuple = ()
    auxv_bytes = _optional(pid, "auxv", warnings, denied, tid)
    if auxv_bytes is not None:
        try:
            auxv = tuple(parse_auxv(auxv_bytes))
        except ParseError as err:
            warnings.append(f"auxv: {err}")
            auxv_bytes = None
    environ_bytes = _optional(pid, "environ", warnings, denied, tid)

    regions_t = classify(regions, stat, exe)
    threads: tuple = ()
    if regions_t and not stat.masked and num_threads(stat_bytes) > 1:  # no read if 1
        regions_t, threads = _thread_stacks(pid, regions_t, warnings)
    usage = _memory_usage(pid, tid, regions_t, warnings, denied) if memory else None
    env = stack = memory = None
    if regions_t and not stat.masked:
        env, stack, memory = _analyse_memory(pid, tid, stat, regions_t, auxv if auxv_bytes
                                             is not None else None, environ_bytes,
                                             warnings, denied)
    argv = tuple(map(text, parse_cmdline(_cmdline(pid, stat, memory, tid))))
    proc_environ = None
    if env is not None and env.matches_proc_environ:
        proc_environ = env.entries  # the same bytes from the same addresses
    elif environ_bytes is not None:
        proc_environ = tuple(parse_environ(environ_bytes))
    extra: dict[str, object] = {"denied": denied} if denied else {}
    if tid is not None:
        extra["main_thread_exited"] = {"read_through_tid": tid}
    return Snapshot(pid=pid, exe=exe, argv=argv, stat=stat, regions=regions_t, auxv=auxv,
                    proc_environ=proc_environ, env=env, stack=stack, uid=uid,
                    warnings=tuple(warnings), extra=extra, memory=usage,
                    threads=threads)


def add_memory(snap: Snapshot) -> Snapshot:
    """snap with Snapshot.memory read now (smaps, smaps_rollup), for a caller that
    decides after the snapshot whether smaps is worth its cost (the TUI: not for a
    process with tens of thousands of mappings).  Refused: memory None, a warning."""
    warnings, denied = list(snap.warnings), list(snap.extra.get("denied", ()))
    usage = _memory_usage(snap.pid, snap.extra.get("main_thread_exited", {}).get(
        "read_through_tid"), snap.regions, warnings, denied)
    extra = dict(snap.extra)
    if denied:
        extra["denied"] = denied
    return snap._replace(memory=usage, warnings=tuple(warnings), extra=extra)


def _thread_stacks(pid: int, regions: tuple[Region, ...], warnings: list[str]):
    """Each thread's stack pointer (procfs.tasks) -> the regions with thread stacks
    labelled, and Snapshot.threads (analysis.threads)."""
    try:
        tids = list_tids(pid)
    except MemlabError as err:
        warnings.append(f"threads not listed: {err}")
        return regions, ()
    sps, refused = [], None
    for t in tids:
        if t == pid:
            continue  # the main thread runs on [stack]
        try:
            sp, source = thread_sp(pid, t)
        except AccessDenied as err:
            refused, sp, source = err, None, ""
        except MemlabError:
            continue  # the thread exited while we read
        sps.append((t, sp, source))
    if refused is not None:
        warnings.append(f"thread stacks not located: {refused}")
    return label_thread_stacks(regions, sps)


def _memory_usage(pid: int, tid: int | None, regions: tuple[Region, ...],
                  warnings: list[str], denied: list[str]) -> MemoryUsage | None:
    """Snapshot.memory from /proc/PID/smaps and smaps_rollup; None (with a warning)
    when the kernel refuses them."""
    try:
        blocks = read_smaps(pid, tid)
        rollup = read_smaps_rollup(pid, tid)
    except AccessDenied as err:
        denied.append("smaps")
        warnings.append(f"memory (rss, pss ...) not measured: {err}")
        return None
    except ParseError as err:
        warnings.append(f"memory (rss, pss ...) not measured: smaps: {err}")
        return None
    by_range = {(start, end): m for start, end, m in blocks}
    per_region = tuple(by_range.get((r.start, r.end)) for r in regions)
    missing = per_region.count(None)
    if missing:
        warnings.append(f"{missing} mapping(s) changed between the maps and the smaps "
                        "read: no memory figures for them")
    return MemoryUsage(per_region, rollup)


def _analyse_memory(pid, tid, stat, regions, proc_auxv, environ_bytes, warnings, denied):
    with MemReader(pid, regions, tid=tid) as reader:
        stack_region = region_at(regions, stat.start_stack)
        try:
            memory = _stack_memory(reader, stat, stack_region, warnings, denied)
        except UnreadableMemory as err:
            warnings.append(f"memory not readable: {err}")
            memory = None
        env, w = locate_env_block(stat, regions, memory, environ_bytes)
        warnings.extend(w)
        stack = None
        if memory is None:
            warnings.append("initial stack not decoded: memory not readable")
        else:
            stack, w = decode_initial_stack(
                memory, stat.start_stack,
                stack_end=stack_region.end if stack_region else None,
                arg_start=stat.arg_start, arg_end=stat.arg_end,
                env_start=stat.env_start, env_end=stat.env_end,
                env_count=len(env.entries) if env is not None else None,
                env_strings=_terminated_strings(env),
                proc_auxv=proc_auxv)
            warnings.extend(w)
    return env, stack, memory


def _cmdline(pid: int, stat: ProcStat, memory: BytesMemory | None,
             tid: int | None = None) -> bytes:
    """The bytes of /proc/PID/cmdline, from the stack window when it holds them.

    fs/proc/base.c get_mm_cmdline: when env_end is set, arg_start < arg_end and the byte
    at arg_end - 1 is NUL (argv not overwritten past its end by setproctitle), the file
    is exactly arg_start .. arg_end read through the process's memory (access_remote_vm):
    the bytes the window already holds, one /proc read fewer.  Otherwise ask the kernel.
    """
    start, size = stat.arg_start, stat.arg_end - stat.arg_start
    if memory is not None and stat.env_end and size > 0 and memory.holds(start, size):
        raw = memory.read(start, size)
        if raw[-1] == 0:
            return raw
    return read_proc_file(pid, "cmdline", tid=tid)


def _terminated_strings(env) -> dict[int, bytes] | None:
    """{address: string} of the env block's entries that end in a NUL inside the block
    (a last entry whose NUL was overwritten runs on past env_end in memory)."""
    if env is None:
        return None
    entries = env.entries
    if entries and not env.raw.endswith(b"\0"):
        entries = entries[:-1]
    return {e.address: e.raw for e in entries}
