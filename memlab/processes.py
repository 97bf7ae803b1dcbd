"""The processes on this machine, and whether memlab may read their memory.

Used by the TUI's process picker (and anything else that lists candidates).  psutil
does the walking; the "may I read it?" verdict follows the kernel's ptrace access check
(kernel/ptrace.c __ptrace_may_access): same uid, or CAP_SYS_PTRACE in the caller.
Kernel threads and zombies have no mm: their memory files read empty, not denied.
"""

from __future__ import annotations

import os
from typing import NamedTuple

from memlab.kernel.abi import CAP_SYS_PTRACE
from memlab.procfs._io import read_proc_file

KTHREADD_PID = 2  # every kernel thread is kthreadd (pid 2) or one of its children


def ascii_decimal(text: str) -> int | None:
    """TEXT as a decimal number if it is ASCII digits only, else None.  int() alone also
    takes " 12", "+12", "1_2", "١٢" (Arabic-Indic) and "１２" (fullwidth): a PID, a count
    or a number typed by a user is only ever 0-9."""
    if not text or not text.isascii() or not text.isdigit() or len(text) > 4000:
        return None
    return int(text, 10)


class ProcessInfo(NamedTuple):
    pid: int
    user: str
    uid: int | None
    name: str
    readable: bool
    why: str | None  # why memlab may not read it (None when readable)
    cmdline: str = ""  # argv joined by spaces ("" for a kernel thread or when hidden)
    kernel_thread: bool = False  # kthreadd or one of its children: no user memory


def is_kernel_thread(pid: int, ppid: int | None) -> bool:
    return pid == KTHREADD_PID or ppid == KTHREADD_PID


def has_cap_sys_ptrace() -> bool:
    """True when this process's effective capabilities include CAP_SYS_PTRACE."""
    for line in read_proc_file(os.getpid(), "status").splitlines():
        if line.startswith(b"CapEff:"):
            return bool(int(line.split()[1], 16) >> CAP_SYS_PTRACE & 1)
    return False


def verdict(pid: int, ppid: int | None, uids: tuple[int, ...] | None, status: str, *,
            my_uid: int, privileged: bool) -> tuple[bool, str | None]:
    """Whether memlab may read process `pid`, and why not.  Pure: the rules only.
    `uids` is (real, effective, saved): __ptrace_may_access wants all three to be the
    caller's uid (a setuid program keeps its saved uid, and is not readable)."""
    import psutil  # heavy (tests/unit/test_import_hygiene.py): only listing pays for it

    if is_kernel_thread(pid, ppid):
        return False, "kernel thread: no user memory to read"
    if status in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD):
        return False, "zombie: it exited and its memory is freed"
    if uids is None:
        return False, "owner unknown (the process vanished or is hidden)"
    if not privileged and any(u != my_uid for u in uids):
        other = next(u for u in uids if u != my_uid)
        return False, (f"owned by uid {other}, you are uid {my_uid} without CAP_SYS_PTRACE "
                       "(kernel ptrace access check)")
    return True, None


def list_processes() -> list[ProcessInfo]:
    """Every visible process, ascending pid.  Processes that exit during the walk are
    skipped (psutil.process_iter already drops them)."""
    import psutil  # heavy (tests/unit/test_import_hygiene.py): only listing pays for it

    my_uid = os.geteuid()
    privileged = has_cap_sys_ptrace()
    rows: list[ProcessInfo] = []
    for p in psutil.process_iter(["pid", "ppid", "name", "uids", "username", "status",
                                  "cmdline"]):
        info = p.info
        uids = info.get("uids")
        uid = uids.real if uids is not None else None
        user = info.get("username") or (str(uid) if uid is not None else "?")
        readable, why = verdict(info["pid"], info.get("ppid"),
                                tuple(uids) if uids is not None else None,
                                info.get("status") or "",
                                my_uid=my_uid, privileged=privileged)
        # /proc/PID/cmdline: readable by every uid (fs/proc/base.c); None when hidden
        cmdline = " ".join(info.get("cmdline") or ())
        rows.append(ProcessInfo(info["pid"], user, uid, info.get("name") or "?",
                                readable, why, cmdline,
                                is_kernel_thread(info["pid"], info.get("ppid"))))
    rows.sort(key=lambda r: r.pid)
    return rows
