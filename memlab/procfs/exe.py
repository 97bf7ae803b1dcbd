"""Opening the files a process has mapped, through /proc (owned by the elf area).

/proc/PID/exe is a magic link: opening it gives the very inode the process runs, even
when the file was deleted or replaced since (the maps line then ends in " (deleted)").
Opening needs the same check as readlink (PTRACE_MODE_READ_FSCREDS, fs/proc/base.c
proc_exe_link -> proc_fd_access_allowed).

A library is opened through /proc/PID/map_files/START-END (the exact inode, even if
deleted; needs CAP_SYS_ADMIN in the init user namespace, fs/proc/base.c
proc_map_files_get_link) or else /proc/PID/root/PATH (the process's own filesystem view,
which works for a process in a container).
"""

from __future__ import annotations

import os

from memlab.procfs._io import check_pid, proc_path, translate

# typing costs 2 ms of every `memlab` start; the names are only for annotations
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import BinaryIO


def open_exe(pid: int) -> tuple[BinaryIO, os.stat_result]:
    """(binary file, its stat) of the running executable.  Raises NoSuchProcess,
    ZombieProcess, AccessDenied or MemlabError (e.g. a kernel thread has no exe)."""
    pid = check_pid(pid)
    path = proc_path(pid, "exe")
    try:
        f = open(path, "rb")
    except OSError as err:
        raise translate(err, pid, path, "exe") from err
    return f, os.fstat(f.fileno())


def stat_exe(pid: int) -> os.stat_result:
    """stat() of the running executable through /proc/PID/exe (follows the magic link:
    the identity of the very file, deleted or not) -- cheaper than opening it, enough to
    look a parsed copy up in a cache."""
    pid = check_pid(pid)
    path = proc_path(pid, "exe")
    try:
        return os.stat(path)
    except OSError as err:
        raise translate(err, pid, path, "exe") from err


def open_mapped_file(pid: int, start: int, end: int, path: str) -> tuple[BinaryIO, os.stat_result]:
    """(binary file, its stat) of the file mapped at [start, end) under the name `path`
    (a maps path, without " (deleted)")."""
    pid = check_pid(pid)
    tries = [(proc_path(pid, f"map_files/{start:x}-{end:x}"), "map_files")]
    if path.startswith("/"):
        tries.append((proc_path(pid, "root") + path, "root"))
    last: tuple[OSError, str, str] | None = None
    for candidate, name in tries:
        try:
            f = open(candidate, "rb")
        except OSError as err:
            last = (err, candidate, name)
            continue
        return f, os.fstat(f.fileno())
    assert last is not None
    err, candidate, name = last
    raise translate(err, pid, candidate, name) from err
