"""Kernel settings from /proc/sys: the one place memlab reads them.

read_sysctl("vm/mmap_min_addr") -> "65536"; None when the file does not exist on this
kernel (Yama not built in, a sysctl from a newer kernel) or cannot be read.  Values are
short text (Documentation/admin-guide/sysctl/): read once, bounded, stripped.

vm.mmap_min_addr (mm/mmap.c, security/min_addr.c) is the lowest address a process may
mmap without CAP_SYS_RAWIO.  Everything below it is refused, which turns a NULL-pointer
dereference into a fault; everything between it and the first mapping is ordinary
unmapped space a program could map (docs/kernel-facts.md).
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


def parse_int(data: bytes) -> int | None:
    """One non-negative decimal number, as sysctl files hold it ("65536\\n"); None if it
    is not one."""
    text = data.strip()
    return int(text) if text.isascii() and text.isdigit() else None


def read_sysctl_int(name: str) -> int | None:
    """A non-negative integer sysctl (vm/mmap_min_addr, kernel/yama/ptrace_scope), or
    None."""
    value = read_sysctl(name)
    return None if value is None else parse_int(value.encode())


def read_mmap_min_addr() -> int | None:
    """vm.mmap_min_addr in bytes, or None when it cannot be read (no /proc/sys)."""
    return read_sysctl_int("vm/mmap_min_addr")
