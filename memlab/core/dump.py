"""Make a core file of a process memlab launched: by the kernel, or by gdb's gcore.

The kernel writes a core when a process dies of a signal whose default action dumps
(SIGABRT, SIGSEGV, SIGQUIT ...; signal(7)), if (fs/coredump.c do_coredump):
- the process is dumpable (prctl PR_SET_DUMPABLE not 0; set-user-ID programs are not),
- RLIMIT_CORE is not 0 (and the core fits in it),
- core_pattern names a file (or a pipe to a program, which then decides).
The file is created with O_CREAT|O_EXCL|O_NOFOLLOW and mode 0600, owned by the dumping
process's fsuid, in its working directory when the pattern is a plain name.

So memlab starts the process with its working directory in a private directory (its
state directory, memlab.statedir, 0700: nobody else can plant a file or link there) and
its RLIMIT_CORE raised after spawn with prlimit(2) (soft limit up to the hard one:
raising the hard limit needs CAP_SYS_RESOURCE).  The child fchdir()s to the held
directory descriptor between vfork and execve (memlab.launch's cwd_fd): no path is
looked up again, and memlab's own working directory never changes.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
from collections.abc import Sequence
from typing import NamedTuple

from memlab.core.reader import is_elf_core
from memlab.errors import LaunchError, MemlabError
from memlab.launch import Launched, launch
from memlab.procfs.coredump import CorePattern
from memlab.safefs import Dir

GCORE_TIMEOUT = 60.0


class Dump(NamedTuple):
    path: str | None  # the core file, None when none was written
    writer: str  # "kernel" or "gcore"
    why: str  # how it was made, or why there is none
    signal: int | None  # the signal the process died of (kernel route)


def launch_in(directory: Dir, target: str, args: Sequence[str], env: Sequence[bytes],
              *, hold: str = "ready") -> Launched:
    """launch(target, args, env) with the working directory `directory` and RLIMIT_CORE
    raised to its hard limit."""
    child = launch(target, args, env, hold=hold, cwd_fd=directory.fd)
    try:
        _soft, hard = resource.prlimit(child.pid, resource.RLIMIT_CORE)
        resource.prlimit(child.pid, resource.RLIMIT_CORE, (hard, hard))
    except OSError as err:
        child.kill()
        raise LaunchError(f"cannot raise RLIMIT_CORE of pid {child.pid}: "
                          f"{err.strerror}") from err
    return child


def core_limit(pid: int) -> int:
    """The soft RLIMIT_CORE of pid (resource.RLIM_INFINITY when unlimited)."""
    return resource.prlimit(pid, resource.RLIMIT_CORE)[0]


def kernel_dump(child: Launched, directory: Dir, pattern: CorePattern,
                sig: int = signal.SIGABRT) -> Dump:
    """Kill child with sig (a dumping signal) and find the core the kernel wrote in
    directory.  The kernel writes the whole core before the process becomes a zombie
    (do_coredump runs in the dying task), so once it is reaped the file is complete."""
    before = set(directory.listdir())
    comm = os.path.basename(child.exe)[:15]
    os.kill(child.pid, sig)
    child.wait()
    name = pattern.file_name(child.pid, comm)
    new = sorted(set(directory.listdir()) - before)
    found = [n for n in new if is_elf_core(directory.join(n))]
    if name in found:
        found = [name]
    if not found:
        return Dump(None, "kernel", _no_core_reason(pattern, child), sig)
    return Dump(directory.join(found[0]), "kernel",
                f"the kernel wrote it when pid {child.pid} died of "
                f"{signal.Signals(sig).name} (core_pattern {pattern.raw!r})", sig)


def _no_core_reason(pattern: CorePattern, child: Launched) -> str:
    if pattern.piped:
        return (f"core_pattern pipes cores to {pattern.handler} ({pattern.raw!r}): the "
                "kernel gave the core to that program, not to a file here")
    return ("no core was written: the process was not dumpable (prctl PR_SET_DUMPABLE "
            "0, or a set-user-ID program), or RLIMIT_CORE was 0 or too small, or the "
            "directory was not writable by it (fs/coredump.c do_coredump)")


def gcore_dump(pid: int, directory: Dir) -> Dump:
    """gdb's gcore of the live pid into directory (PREFIX.PID).  gcore attaches with
    ptrace: the same rights as reading /proc/PID/mem (same uid and dumpable, or
    CAP_SYS_PTRACE)."""
    prefix = directory.join("gcore")
    try:
        proc = subprocess.Popen(["gcore", "-o", prefix, str(pid)], stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                start_new_session=True)
    except OSError as err:
        raise MemlabError(f"cannot run gcore (gdb): {err.strerror}") from err
    try:
        out, _ = proc.communicate(timeout=GCORE_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # gcore is a script: gdb is its child
        proc.wait()
        raise MemlabError(f"gcore of pid {pid} took more than {GCORE_TIMEOUT:g}s") from None
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    path = f"{prefix}.{pid}"
    if proc.returncode != 0 or not is_elf_core(path):
        last = out.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
        return Dump(None, "gcore", f"gcore failed (exit {proc.returncode}): {last[0]}", None)
    return Dump(path, "gcore", f"gdb's gcore attached to pid {pid} and wrote it", None)

