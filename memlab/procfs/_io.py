"""Opening and reading /proc: the one place OSErrors become memlab errors.

The split follows psutil's ``_pslinux.wrap_exceptions``: the kernel answers ENOENT or
ESRCH when the process is gone, EACCES/EPERM when the caller fails a ptrace access check
(fs/proc/base.c ``proc_mem_open`` -> ``mm_access``).

A zombie or a kernel thread has no ``mm``, and the kernel says so in several ways
(measured on 6.18): maps and cmdline read EMPTY for everyone; environ, auxv and mem fail
to open, with ESRCH for root and EACCES for any other user (even for that user's own
zombie).  Older kernels read those empty too.  read_proc_file gives one answer for all of
them: ``b""`` for a kernel thread (it has no user memory: there is nothing to deny) and
ZombieProcess for a zombie.  Empty therefore does not mean denied: a caller that gets
``b""`` can ask :func:`explain_empty` why.

A process whose main thread (the thread-group leader, whose tid is the pid) called
pthread_exit while other threads run is not a zombie, although /proc/PID/stat says 'Z':
the leader gave up its mm and fs (kernel/exit.c do_exit -> exit_mm, exit_fs), so
/proc/PID/{environ,auxv,mem} fail, maps reads empty and exe is missing, but every other
thread still has the process's mm.  /proc/PID/task/TID/ holds the same files for each
thread (fs/proc/base.c tid_base_stuff), so the readers here retry through a live thread
(:func:`live_thread`) instead of calling the process a zombie.

``PROC_ROOT`` is read at call time, so tests (and the hidepid lesson) can point memlab
at another proc mount.
"""

from __future__ import annotations

import errno
import operator
import os

from memlab.errors import (
    AccessDenied,
    MemlabError,
    NoSuchProcess,
    UsageError,
    ZombieProcess,
    errno_of,
)
from memlab.kernel.abi import PF_KTHREAD, PID_MAX_LIMIT

PROC_ROOT = "/proc"

# What the kernel checks before it lets another process read each file
# (fs/proc/base.c: the mode passed to proc_mem_open / ptrace_may_access).
_FSCREDS = ("ptrace read access (PTRACE_MODE_READ_FSCREDS: same uid and a dumpable "
            "process, or CAP_SYS_PTRACE)")
ACCESS_RULES: dict[str, str] = {
    "environ": _FSCREDS,
    "auxv": _FSCREDS,
    "exe": _FSCREDS,
    "cwd": _FSCREDS,
    "root": _FSCREDS,
    "fd": _FSCREDS,
    "maps": ("ptrace read access (PTRACE_MODE_READ: same uid and a dumpable process, "
             "or CAP_SYS_PTRACE)"),
    "smaps": ("ptrace read access (PTRACE_MODE_READ: same uid and a dumpable process, "
              "or CAP_SYS_PTRACE)"),
    "smaps_rollup": ("ptrace read access (PTRACE_MODE_READ: same uid and a dumpable "
                     "process, or CAP_SYS_PTRACE)"),
    "pagemap": _FSCREDS,
    # fs/proc/base.c proc_pid_syscall -> lock_trace: PTRACE_MODE_ATTACH_FSCREDS
    "syscall": ("ptrace attach access (PTRACE_MODE_ATTACH_FSCREDS: same uid, a dumpable "
                "process and Yama ptrace_scope permitting, or CAP_SYS_PTRACE)"),
    "mem": ("ptrace attach access (PTRACE_MODE_ATTACH: same uid, a dumpable process and "
            "Yama ptrace_scope permitting, or CAP_SYS_PTRACE)"),
}
_DEFAULT_RULE = "access the kernel refused to this user"

# Files whose content comes from the task's mm: empty (or ESRCH) without one.
MM_FILES = frozenset({"environ", "auxv", "maps", "smaps", "smaps_rollup", "numa_maps",
                      "cmdline", "mem", "pagemap"})
# How opening one of those fails for a task without an mm (see the module docstring).
NO_MM_ERRNOS = frozenset({errno.ESRCH, errno.EACCES, errno.EPERM})
# How a file of an exited main thread fails: no mm, or no exe/cwd/root link (ENOENT).
_LEADER_GONE_ERRNOS = NO_MM_ERRNOS | {errno.ENOENT}
# Files the kernel hands over whole in one read() when the buffer is big enough, so a
# short read is the end: single_open seq_files (stat, status: fs/seq_file.c
# seq_read_iter prints the one record, then copies what fits), auxv (auxv_read:
# simple_read_from_buffer) and environ/cmdline (environ_read, get_mm_cmdline loop page
# by page up to the count).  maps is not one of them: seq_read_iter stops at its page-
# sized buffer, so its reads are short until the end.  Saves the read() that returns 0.
_READ_CHUNK = 1 << 16
ONE_READ_FILES = frozenset({"stat", "status", "auxv", "environ", "cmdline"})


def check_pid(pid: object) -> int:
    """Return pid as an int, or raise: UsageError for a non-integer, NoSuchProcess for
    0 or a negative number (no process has one)."""
    if type(pid) is int and 0 < pid <= PID_MAX_LIMIT:
        return pid  # the usual case, first: snapshot() checks the same pid ~7 times
    if isinstance(pid, bool):
        raise UsageError(f"pid must be an integer, not {pid!r}")
    try:
        value = operator.index(pid)  # type: ignore[arg-type]
    except TypeError as err:
        raise UsageError(f"pid must be an integer, not {pid!r}") from err
    if value <= 0 or value > PID_MAX_LIMIT:
        raise NoSuchProcess(f"no such process (a pid is 1 .. {PID_MAX_LIMIT})", pid=value)
    return value


def proc_path(pid: int | str, name: str = "", tid: int | None = None) -> str:
    """``/proc/PID/name`` (``/proc/PID`` when name is empty; pid may be "self"); with
    tid, the same file of one thread: ``/proc/PID/task/TID/name``."""
    base = f"{PROC_ROOT}/{pid}" if tid is None else f"{PROC_ROOT}/{pid}/task/{tid}"
    return f"{base}/{name}" if name else base


def access_rule(name: str) -> str:
    return ACCESS_RULES.get(name.split("/", 1)[0], _DEFAULT_RULE)


def process_exists(pid: int) -> bool:
    return os.path.exists(proc_path(pid))


def _stat_fields(pid: int, tid: int | None = None) -> list[bytes] | None:
    """The fields of /proc/PID/stat after comm (item 0 is field 3, the state); None when
    the process (or thread) is gone.  Split after the last ')' (see stat.py)."""
    try:
        with open(proc_path(pid, "stat", tid), "rb") as f:
            data = f.read()
    except OSError:
        return None
    return data[data.rfind(b")") + 1:].split()


def state_and_flags(pid: int) -> tuple[str, int] | None:
    """State (field 3) and PF_* flags (field 9) from /proc/PID/stat, in one read; None
    when the process is gone."""
    fields = _stat_fields(pid)
    try:
        return fields[0].decode("ascii", "replace"), int(fields[6])
    except (IndexError, ValueError, TypeError):
        return None


def has_mm(pid: int, tid: int | None = None) -> bool:
    """Whether the task has an mm right now, even one execve is still building: fs/proc/
    array.c do_task_stat prints vsize (field 23) as task_vsize(mm) when there is an mm
    and 0 otherwise, unmasked for every reader (start_code, field 26, is 0 until
    load_elf_binary sets it at the end of an exec)."""
    fields = _stat_fields(pid, tid)
    try:
        return fields[0] not in (b"Z", b"X") and int(fields[23 - 3]) != 0
    except (IndexError, ValueError, TypeError):
        return False


def live_thread(pid: int) -> int | None:
    """The tid of a live thread of pid when its main thread has exited and the process
    runs on in other threads (see the module docstring); None when the main thread is
    alive, or the whole process is a zombie or gone."""
    if process_state(pid) not in ("Z", "X"):
        return None
    try:
        tids = os.listdir(proc_path(pid, "task"))
    except OSError:
        return None
    for name in tids:
        if name.isdigit() and int(name) != pid:
            fields = _stat_fields(pid, int(name))
            if fields and fields[0] not in (b"Z", b"X"):
                return int(name)
    return None


def process_state(pid: int) -> str | None:
    """The one-letter state from /proc/PID/stat, or None when the process is gone."""
    found = state_and_flags(pid)
    return found[0] if found else None


def gone_error(pid: int, path: str) -> MemlabError:
    """The right error for a process whose file vanished or has no memory left:
    ZombieProcess when it exited but was not reaped, NoSuchProcess otherwise.  A main
    thread that exited while other threads run is no zombie: MemlabError naming the live
    thread (callers that can read through it do so before they get here)."""
    state = process_state(pid)
    if state in ("Z", "X"):
        live = live_thread(pid)
        if live is not None:
            return MemlabError(f"the main thread has exited and this file went with it; "
                               f"the process runs on in thread {live}", pid=pid, path=path)
        return ZombieProcess("process is a zombie (exited, not yet reaped): "
                             "its memory is gone", pid=pid, path=path)
    return NoSuchProcess("no such process", pid=pid, path=path)


def translate(err: OSError, pid: int, path: str, name: str) -> MemlabError:
    """One OSError from /proc -> the memlab error a user should see."""
    code = err.errno
    if code in (errno.ENOENT, errno.ESRCH):
        if not process_exists(pid) or process_state(pid) in ("Z", "X"):
            return gone_error(pid, path)
        # The process is there but this entry is not (e.g. readlink exe of a kernel
        # thread answers ENOENT).
        return MemlabError(f"{name} does not exist for this process "
                           f"({os.strerror(code)})", pid=pid, path=path)
    if code in (errno.EACCES, errno.EPERM):
        return AccessDenied(f"permission denied: reading {name} needs {access_rule(name)}",
                            pid=pid, path=path)
    return MemlabError(f"cannot read {name}: {os.strerror(code or 0)}", pid=pid, path=path)


def no_mm_reason(pid: int) -> str:
    """Why a task has no mm: "zombie", "kernel thread" or "gone"."""
    found = state_and_flags(pid)
    if found is None or found[0] in ("Z", "X"):
        return "zombie" if process_exists(pid) else "gone"
    return "kernel thread" if found[1] & PF_KTHREAD else "no mm"


def _read_all(path: str, name: str) -> bytes:
    # os.open/os.read rather than open().readall(): half the cost per file (measured:
    # 1,000 environ files in 6.8 ms vs 14.5 ms), what `memlab audit` pays per process.
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        data = os.read(fd, _READ_CHUNK)
        if len(data) == _READ_CHUNK or name not in ONE_READ_FILES:
            chunks = [data]
            while chunks[-1]:
                chunks.append(os.read(fd, _READ_CHUNK))
            data = b"".join(chunks)
    finally:
        os.close(fd)
    return data


def read_proc_file(pid: int, name: str, *, tid: int | None = None) -> bytes:
    """The whole content of /proc/PID/name (of /proc/PID/task/TID/name with tid).

    Returns ``b""`` for the mm files of a kernel thread (empty, not denied); raises
    ZombieProcess for those of a zombie, NoSuchProcess when the process is gone,
    AccessDenied when the kernel refuses.  When the main thread has exited and other
    threads run, the mm files are read through a live thread.
    """
    pid = check_pid(pid)
    path = proc_path(pid, name, tid)
    try:
        data = _read_all(path, name)
        if not data and name in MM_FILES and has_mm(pid, tid):
            # The mm is pinned when the file is opened (fs/proc/base.c proc_mem_open,
            # proc_maps_open); one that died before the read (an exec in between:
            # fs/exec.c exec_mmap) reads empty.  The new image's file is one open away.
            data = _read_all(path, name)
    except OSError as err:
        if name in MM_FILES and err.errno in NO_MM_ERRNOS:
            reason = no_mm_reason(pid)
            if reason == "kernel thread":
                return b""
            if reason in ("zombie", "gone"):
                return _file_of_live_thread(pid, name, tid, path, err)
        raise translate(err, pid, path, name) from err
    if not data and name in MM_FILES and no_mm_reason(pid) in ("zombie", "gone"):
        return _file_of_live_thread(pid, name, tid, path)
    return data


def _file_of_live_thread(pid: int, name: str, tid: int | None, path: str,
                         err: OSError | None = None) -> bytes:
    """An mm file that failed because the task has no mm: the same file of a live
    thread when only the main thread exited, else the zombie/gone error."""
    live = live_thread(pid) if tid is None else None
    if live is not None:
        return read_proc_file(pid, name, tid=live)
    raise gone_error(pid, path) from err


def call_on_task(pid: int, name: str, call, tid: int | None = None):
    """call(path) on /proc/PID/name (or /proc/PID/task/TID/name): when that fails because
    the main thread has exited (its exe, cwd and root links, its mm files are gone) and
    another thread lives, call it again on that thread's file.  Any other OSError becomes
    the memlab error translate() gives."""
    path = proc_path(pid, name, tid)
    try:
        return call(path)
    except OSError as err:
        if tid is None and err.errno in _LEADER_GONE_ERRNOS:
            live = live_thread(pid)
            if live is not None:
                return call_on_task(pid, name, call, live)
        raise translate(err, pid, path, name) from err


def readlink_proc(pid: int, name: str, *, missing_ok: bool = False,
                  tid: int | None = None) -> str | None:
    """readlink(/proc/PID/name), e.g. "exe".  With missing_ok, an entry the live process
    does not have (a kernel thread's exe) gives None instead of MemlabError."""
    pid = check_pid(pid)
    try:
        return call_on_task(pid, name, os.readlink, tid)
    except MemlabError as err:
        if missing_ok and type(err) is MemlabError and errno_of(err) == errno.ENOENT:
            return None
        raise


def explain_empty(pid: int) -> str:
    """Why an mm file of a process read empty: a sentence for the UI."""
    reason = no_mm_reason(pid)
    if reason == "kernel thread":
        return "kernel thread: it has no user memory (empty, not denied)"
    if reason == "zombie":
        live = live_thread(pid)
        if live is not None:
            return (f"its main thread has exited; the process runs on in thread {live} "
                    f"(read {proc_path(pid, 'task')}/{live}/)")
        return "zombie: it exited and its memory is gone (empty, not denied)"
    if reason == "gone":
        return "the process is gone"
    return "the process has no memory mapped (exiting?)"


def list_pids() -> list[int]:
    """Every pid visible in PROC_ROOT, ascending (hidepid may hide some)."""
    try:
        names = os.listdir(PROC_ROOT)
    except OSError as err:
        raise MemlabError(f"cannot list processes: {err.strerror}", path=PROC_ROOT) from err
    return sorted(int(n) for n in names if n.isdigit())
