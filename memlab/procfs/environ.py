"""/proc/PID/environ and /proc/PID/cmdline: NUL-separated strings, byte-exact.

environ is the initial environment block execve copied to the top of the stack
(mm->env_start .. mm->env_end, fs/proc/base.c environ_read), NOT the live environment:
setenv/unsetenv change libc's pointer array and leave these bytes alone.  Entries are
kept as bytes, in order; bad UTF-8, empty strings and strings without '=' are kept as
they are (execve accepts any NUL-terminated string).
"""

from __future__ import annotations

from itertools import accumulate, repeat

from memlab.errors import ParseError
from memlab.model import EnvEntry, records
from memlab.procfs._io import read_proc_file


def nul_strings(data: bytes) -> list[bytes]:
    """Each NUL-terminated string in data, without its NUL.

    Exactly one trailing NUL is the last string's terminator, not an extra empty string:
    b"A=1\\0B=2\\0" -> two strings; b"\\0" -> one empty string; b"" -> none.  Bytes after
    the last NUL (a block whose terminator was overwritten) form a final string.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ParseError(f"expected bytes, not {type(data).__name__}")
    strings = bytes(data).split(b"\0")
    if not strings[-1]:  # data ended with its terminator (or was empty)
        strings.pop()
    return strings


def _offsets(strings: list[bytes], base: int = 0):
    """Where each string starts, from base: each one is followed by its NUL."""
    return accumulate([len(s) + 1 for s in strings], initial=base)


def split_nul(data: bytes) -> list[tuple[int, bytes]]:
    """(offset, string) for each string of nul_strings(data)."""
    strings = nul_strings(data)
    return list(zip(_offsets(strings), strings))


def parse_environ(data: bytes, base: int | None = None) -> list[EnvEntry]:
    """One EnvEntry per string; with base (env_start), each entry's address is where its
    NAME=value string starts in the process."""
    if base is not None and base < 0:
        raise ParseError(f"negative base address {base}")
    strings = nul_strings(data)
    addresses = repeat(None) if base is None else _offsets(strings, base)
    return records(EnvEntry, zip(strings, addresses))


def read_environ(pid: int) -> list[EnvEntry]:
    """The initial env block (AccessDenied unless same uid + dumpable or CAP_SYS_PTRACE;
    [] for a kernel thread; ZombieProcess for a zombie)."""
    return parse_environ(read_proc_file(pid, "environ"))


def parse_cmdline(data: bytes) -> list[bytes]:
    """argv strings.  A process may rewrite its argv area (setproctitle); then the kernel
    shows what is there and the split follows its NULs."""
    return nul_strings(data)


def read_cmdline(pid: int) -> list[bytes]:
    """argv of a process ([] for a kernel thread); readable by every uid."""
    return parse_cmdline(read_proc_file(pid, "cmdline"))
