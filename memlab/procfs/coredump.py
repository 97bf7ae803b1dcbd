"""Where the kernel puts a core dump: /proc/sys/kernel/core_pattern, core_uses_pid and
/proc/PID/coredump_filter (Documentation/admin-guide/sysctl/kernel.rst,
Documentation/filesystems/proc.rst).

core_pattern is a file name template (`%p` pid, `%e` comm, `%u` uid ... ; relative to
the crashing process's working directory unless it starts with `/`), or, when it starts
with `|`, a program the kernel runs with the core on its stdin (systemd-coredump,
apport, ...): then no file appears where the process ran (fs/coredump.c do_coredump).
"""

from __future__ import annotations

import os
from typing import NamedTuple

from memlab.errors import MemlabError
from memlab.procfs._io import read_proc_file

PROC_SYS_KERNEL = "/proc/sys/kernel"


class CorePattern(NamedTuple):
    raw: str  # the template, as the file says (newline stripped)
    uses_pid: bool  # core_uses_pid: ".PID" appended when the template has no %p

    @property
    def piped(self) -> bool:
        return self.raw.startswith("|")

    @property
    def handler(self) -> str | None:
        """The program a piped pattern runs ("systemd-coredump", "apport" ...)."""
        if not self.piped:
            return None
        prog = self.raw[1:].strip().split(" ", 1)[0]
        return os.path.basename(prog) or prog

    @property
    def in_cwd(self) -> bool:
        """A plain name: the core is written in the crashing process's working
        directory."""
        return bool(self.raw) and not self.piped and "/" not in self.raw

    def file_name(self, pid: int, comm: str) -> str | None:
        """The name a core of pid gets in its working directory (in_cwd patterns with
        %p, %e, %% only), else None."""
        if not self.in_cwd:
            return None
        out, i, has_pid = [], 0, False
        while i < len(self.raw):
            c = self.raw[i]
            if c == "%" and i + 1 < len(self.raw):
                spec = self.raw[i + 1]
                if spec == "p":
                    out.append(str(pid))
                    has_pid = True
                elif spec == "e":
                    out.append(comm)
                elif spec == "%":
                    out.append("%")
                else:
                    return None
                i += 2
                continue
            out.append(c)
            i += 1
        name = "".join(out)
        return f"{name}.{pid}" if self.uses_pid and not has_pid else name


def _read_sys(name: str) -> str:
    path = f"{PROC_SYS_KERNEL}/{name}"
    try:
        with open(path, "rb") as f:
            return f.read(4096).decode("utf-8", "replace").rstrip("\n")
    except OSError as err:
        raise MemlabError(f"cannot read {path}: {err.strerror}") from err


def read_core_pattern() -> CorePattern:
    raw = _read_sys("core_pattern")
    try:
        uses_pid = _read_sys("core_uses_pid").strip() not in ("", "0")
    except MemlabError:
        uses_pid = False
    return CorePattern(raw, uses_pid)


def read_coredump_filter(pid: int) -> int | None:
    """/proc/PID/coredump_filter as a number (None when it cannot be read)."""
    try:
        return int(read_proc_file(pid, "coredump_filter").strip() or b"0", 16)
    except (MemlabError, ValueError):
        return None
