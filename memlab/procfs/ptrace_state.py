"""What the kernel says about tracing a process: its tracer, its threads, Yama.

- `TracerPid:` in /proc/PID/status (fs/proc/array.c task_state): the pid of the process
  tracing it, 0 when none (a process has at most one tracer: kernel/ptrace.c
  ptrace_attach refuses a second with EPERM);
- /proc/PID/task: one entry per thread, each traced on its own;
- /proc/sys/kernel/yama/ptrace_scope (security/yama/yama_lsm.c), when Yama is built in:
  0 classic rules, 1 only descendants (or a declared tracer), 2 CAP_SYS_PTRACE only,
  3 no attaching at all.
"""

from __future__ import annotations

import os

from memlab.errors import ParseError
from memlab.procfs._io import PROC_ROOT, check_pid, gone_error, proc_path
from memlab.procfs.status import read_status


def tracer_pid(pid: int) -> int:
    """The pid tracing pid, 0 for none (NoSuchProcess when pid is gone)."""
    value = read_status(pid).get("TracerPid", "0")
    if not value.isdigit():
        raise ParseError(f"status TracerPid is not a number: {value!r}", pid=pid)
    return int(value)


def task_ids(pid: int) -> list[int]:
    """Every thread of pid, the main thread first."""
    pid = check_pid(pid)
    path = proc_path(pid, "task")
    try:
        names = os.listdir(path)
    except OSError as err:
        raise gone_error(pid, path) from err
    tids = sorted(int(n) for n in names if n.isdigit())
    return sorted(tids, key=lambda t: t != pid)


def yama_scope() -> int | None:
    """Yama's ptrace_scope, None when the kernel has no Yama."""
    try:
        with open(f"{PROC_ROOT}/sys/kernel/yama/ptrace_scope", "rb") as f:
            return int(f.read().strip() or b"0")
    except (OSError, ValueError):
        return None
