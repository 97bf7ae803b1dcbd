"""Opening the files a process has mapped, through /proc (owned by the elf area).

/proc/PID/exe is a magic link: opening it gives the very inode the process runs, even
when the file was deleted or replaced since (the maps line then ends in " (deleted)").
Opening needs the same check as readlink (PTRACE_MODE_READ_FSCREDS, fs/proc/base.c
proc_exe_link -> proc_fd_access_allowed).

A library is opened through /proc/PID/map_files/START-END (the exact inode, even if
deleted; needs CAP_SYS_ADMIN in the init user namespace, fs/proc/base.c
proc_map_files_get_link) or else /proc/PID/root/PATH (the process's own filesystem view,
which works for a process in a container).

A process whose main thread has exited keeps its exe and root only in its live threads:
each opener retries through /proc/PID/task/TID/ (procfs._io.call_on_task).
"""

from __future__ import annotations

import os

from memlab.procfs._io import call_on_task, check_pid, proc_path, translate

# typing costs 2 ms of every `memlab` start; the names are only for annotations
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import BinaryIO


def open_exe(pid: int) -> tuple[BinaryIO, os.stat_result]:
    """(binary file, its stat) of the running executable.  Raises NoSuchProcess,
    ZombieProcess, AccessDenied or MemlabError (e.g. a kernel thread has no exe)."""
    f = call_on_task(check_pid(pid), "exe", lambda path: open(path, "rb"))
    return f, os.fstat(f.fileno())


def stat_exe(pid: int) -> os.stat_result:
    """stat() of the running executable through /proc/PID/exe (follows the magic link:
    the identity of the very file, deleted or not) -- cheaper than opening it, enough to
    look a parsed copy up in a cache."""
    return call_on_task(check_pid(pid), "exe", os.stat)


def open_mapped_file(pid: int, start: int, end: int, path: str) -> tuple[BinaryIO, os.stat_result]:
    """(binary file, its stat) of the file mapped at [start, end) under the name `path`
    (a maps path, without " (deleted)")."""
    pid = check_pid(pid)
    name = f"map_files/{start:x}-{end:x}"
    candidate = proc_path(pid, name)
    try:
        f = open(candidate, "rb")
    except OSError as err:
        if not path.startswith("/"):
            raise translate(err, pid, candidate, name) from err
        # map_files is per process only (not in tid_base_stuff); root is per thread too
        f = call_on_task(pid, "root" + path, lambda through_root: open(through_root, "rb"))
    return f, os.fstat(f.fileno())
