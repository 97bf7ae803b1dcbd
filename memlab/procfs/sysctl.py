"""Kernel settings from /proc/sys: the one place memlab reads them.

read_sysctl("vm/mmap_min_addr") -> "65536"; None when the file does not exist on this
kernel (Yama not built in, a sysctl from a newer kernel) or cannot be read.  Values are
short text (Documentation/admin-guide/sysctl/): read once, bounded, stripped.
"""

from __future__ import annotations

import os

SYSCTL_ROOT = "/proc/sys"
_LIMIT = 4096  # a sysctl value is one line; core_pattern is at most CORENAME_MAX_SIZE 128


def sysctl_path(name: str) -> str:
    """/proc/sys/NAME for a relative NAME ("kernel/core_pattern"); ValueError for a
    name that could leave /proc/sys."""
    parts = name.split("/")
    if not name or name.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"not a sysctl name: {name!r}")
    return os.path.join(SYSCTL_ROOT, *parts)


def read_sysctl(name: str) -> str | None:
    """The value of /proc/sys/NAME without its trailing newline, or None."""
    try:
        fd = os.open(sysctl_path(name), os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        data = os.read(fd, _LIMIT)
    except OSError:
        return None
    finally:
        os.close(fd)
    return data.decode("utf-8", "backslashreplace").rstrip("\n")


def read_sysctl_int(name: str) -> int | None:
    """An integer sysctl (vm/mmap_min_addr, kernel/yama/ptrace_scope), or None."""
    value = read_sysctl(name)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
