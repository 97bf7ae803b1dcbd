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
)

PROC_ROOT = "/proc"
PF_KTHREAD = 0x00200000  # include/linux/sched.h: the task is a kernel thread
# include/linux/threads.h PID_MAX_LIMIT on 64-bit: no pid is larger (a bigger number
# cast to the kernel's 32-bit pid_t would name another process)
PID_MAX_LIMIT = 4 * 1024 * 1024

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
    "mem": ("ptrace attach access (PTRACE_MODE_ATTACH: same uid, a dumpable process and "
            "Yama ptrace_scope permitting, or CAP_SYS_PTRACE)"),
}
_DEFAULT_RULE = "access the kernel refused to this user"

# Files whose content comes from the task's mm: empty (or ESRCH) without one.
MM_FILES = frozenset({"environ", "auxv", "maps", "smaps", "smaps_rollup", "numa_maps",
                      "cmdline", "mem", "pagemap"})
# How opening one of those fails for a task without an mm (see the module docstring).
NO_MM_ERRNOS = frozenset({errno.ESRCH, errno.EACCES, errno.EPERM})
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


def proc_path(pid: int | str, name: str = "") -> str:
    """``/proc/PID/name`` (``/proc/PID`` when name is empty; pid may be "self")."""
    base = f"{PROC_ROOT}/{pid}"
    return f"{base}/{name}" if name else base


def access_rule(name: str) -> str:
    return ACCESS_RULES.get(name.split("/", 1)[0], _DEFAULT_RULE)


def process_exists(pid: int) -> bool:
    return os.path.exists(proc_path(pid))


def state_and_flags(pid: int) -> tuple[str, int] | None:
    """State (field 3) and PF_* flags (field 9) from /proc/PID/stat, in one read; None
    when the process is gone.  Split after the last ')' (see stat.py)."""
    try:
        with open(proc_path(pid, "stat"), "rb") as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rfind(b")") + 1:].split()
    try:
        return fields[0].decode("ascii", "replace"), int(fields[6])
    except (IndexError, ValueError):
        return None


def process_state(pid: int) -> str | None:
    """The one-letter state from /proc/PID/stat, or None when the process is gone."""
    found = state_and_flags(pid)
    return found[0] if found else None


def gone_error(pid: int, path: str) -> NoSuchProcess:
    """The right error for a process whose file vanished or has no memory left:
    ZombieProcess when it exited but was not reaped, NoSuchProcess otherwise."""
    state = process_state(pid)
    if state in ("Z", "X"):
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


def read_proc_file(pid: int, name: str) -> bytes:
    """The whole content of /proc/PID/name.

    Returns ``b""`` for the mm files of a kernel thread (empty, not denied); raises
    ZombieProcess for those of a zombie, NoSuchProcess when the process is gone,
    AccessDenied when the kernel refuses.
    """
    pid = check_pid(pid)
    path = proc_path(pid, name)
    try:
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
    except OSError as err:
        if name in MM_FILES and err.errno in NO_MM_ERRNOS:
            reason = no_mm_reason(pid)
            if reason == "kernel thread":
                return b""
            if reason in ("zombie", "gone"):
                raise gone_error(pid, path) from err
        raise translate(err, pid, path, name) from err
    if not data and name in MM_FILES and no_mm_reason(pid) in ("zombie", "gone"):
        raise gone_error(pid, path)
    return data


def readlink_proc(pid: int, name: str, *, missing_ok: bool = False) -> str | None:
    """readlink(/proc/PID/name), e.g. "exe".  With missing_ok, an entry the live process
    does not have (a kernel thread's exe) gives None instead of MemlabError."""
    pid = check_pid(pid)
    path = proc_path(pid, name)
    try:
        return os.readlink(path)
    except OSError as err:
        translated = translate(err, pid, path, name)
        if missing_ok and type(translated) is MemlabError and err.errno == errno.ENOENT:
            return None
        raise translated from err


def explain_empty(pid: int) -> str:
    """Why an mm file of a process read empty: a sentence for the UI."""
    reason = no_mm_reason(pid)
    if reason == "kernel thread":
        return "kernel thread: it has no user memory (empty, not denied)"
    if reason == "zombie":
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
