"""Threads and their stack pointers: /proc/PID/task/TID/{stat,syscall}.

Each thread of a process is /proc/PID/task/TID (fs/proc/base.c tid_base_stuff).  Where
its stack is, the kernel says in two places:
- stat field 29, kstkesp (fs/proc/array.c do_task_stat): since Linux 4.9 printed only
  for a task that is dumping core, 0 otherwise;
- /proc/PID/task/TID/syscall (fs/proc/base.c proc_pid_syscall, needs
  PTRACE_MODE_ATTACH_FSCREDS): "NR arg0 .. arg5 sp pc" while the thread is blocked in
  a system call, "-1 sp pc" when blocked elsewhere, "running" when it runs (no sp).
memlab asks stat first and syscall when stat says 0.
"""

from __future__ import annotations

import os

from memlab.errors import MemlabError, ParseError
from memlab.kernel.abi import STAT_KSTKESP, SYSCALL_RUNNING
from memlab.procfs._io import proc_path, read_proc_file, translate


def parse_task_syscall(data: bytes) -> int | None:
    """The stack pointer in /proc/PID/task/TID/syscall; None while the thread runs."""
    fields = bytes(data).split()
    if fields == [SYSCALL_RUNNING]:
        return None
    # "NR a0 a1 a2 a3 a4 a5 sp pc" (9 fields) or "-1 sp pc" (3 fields)
    if len(fields) not in (3, 9):
        raise ParseError(f"task syscall has {len(fields)} fields: {bytes(data)[:80]!r}")
    try:
        return int(fields[-2], 16) if fields[-2].startswith(b"0x") else int(fields[-2])
    except ValueError as err:
        raise ParseError(f"task syscall sp is not a number: {fields[-2][:40]!r}") from err


def stat_kstkesp(stat: bytes) -> int | None:
    """Field 29 of a stat line (split after the last ')', as stat.py does)."""
    rest = bytes(stat)[bytes(stat).rfind(b")") + 1:].split()
    try:
        return int(rest[STAT_KSTKESP - 3])
    except (IndexError, ValueError):
        return None


def list_tids(pid: int) -> list[int]:
    """The tids of /proc/PID/task, ascending (NoSuchProcess when it is gone)."""
    path = proc_path(pid, "task")
    try:
        names = os.listdir(path)
    except OSError as err:
        raise translate(err, pid, path, "task") from err
    return sorted(int(n) for n in names if n.isdigit())


def thread_sp(pid: int, tid: int) -> tuple[int | None, str]:
    """(stack pointer, where it came from: "kstkesp", "syscall" or "") for one thread.
    AccessDenied when the kernel refuses syscall; NoSuchProcess when the thread is gone."""
    esp = stat_kstkesp(read_proc_file(pid, "stat", tid=tid))
    if esp:
        return esp, "kstkesp"
    try:
        sp = parse_task_syscall(read_proc_file(pid, "syscall", tid=tid))
    except ParseError as err:
        raise MemlabError(f"thread {tid}: {err}", pid=pid) from err
    return sp, ("syscall" if sp is not None else "")
