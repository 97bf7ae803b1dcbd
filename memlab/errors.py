"""The errors a user can hit, each with the exit code the CLI returns for it.

Every OSError from /proc is translated once, in memlab.procfs._io, into one of these
(the same split psutil makes in _pslinux.wrap_exceptions).  str() always names the pid
and/or path so the one-line message on stderr is enough to act on.
"""

from __future__ import annotations

# Exit codes are part of the CLI contract (docs/cli.md#exit-codes-and-errors).
EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_NO_SUCH_PROCESS = 3
EXIT_ACCESS_DENIED = 4


class MemlabError(Exception):
    """Base class: anything memlab reports to the user as one line."""

    exit_code = EXIT_FAILURE

    def __init__(self, msg: str, *, pid: int | None = None, path: str | None = None):
        self.msg = msg
        self.pid = pid
        self.path = path
        super().__init__(msg)

    def __str__(self) -> str:
        where = []
        if self.pid is not None:
            where.append(f"pid {self.pid}")
        if self.path is not None:
            where.append(self.path)
        return f"{self.msg} ({', '.join(where)})" if where else self.msg


class UsageError(MemlabError):
    """Bad command-line input that argparse cannot see (a malformed -e, a bad file)."""

    exit_code = EXIT_USAGE


class NoSuchProcess(MemlabError):
    exit_code = EXIT_NO_SUCH_PROCESS


class ZombieProcess(NoSuchProcess):
    """The process has exited but not been reaped: it has no memory left to read."""


class ExecDuringRead(NoSuchProcess):
    """The process called execve while memlab read it: the files read before and after
    describe two different programs (the pid stays, the mm, the executable and every
    address change: fs/exec.c begin_new_exec -> exec_mmap).  Nothing was mixed; reading
    again gives one coherent picture."""

    def __init__(self, pid: int, path: str | None = None):
        super().__init__("the process exec'd while being read; try again", pid=pid,
                         path=path)


class AccessDenied(MemlabError):
    exit_code = EXIT_ACCESS_DENIED


class ParseError(MemlabError):
    """A /proc file or byte string that does not have the shape the kernel documents."""


class LaunchError(MemlabError):
    """execve failed, or the launched process did not become ready."""


class UnreadableMemory(MemlabError):
    """An address range that is unmapped, or mapped but refuses reads ([vvar], guard pages)."""


def errno_of(err: BaseException) -> int | None:
    """The kernel errno behind an error: `.errno` if set, else the first OSError in its
    __cause__/__context__ chain (memlab.procfs translates with `raise X from oserror`)."""
    seen: set[int] = set()
    cur: BaseException | None = err
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        value = getattr(cur, "errno", None)
        if isinstance(value, int):
            return value
        cur = cur.__cause__ or cur.__context__
    return None
