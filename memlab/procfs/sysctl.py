"""System-wide settings under /proc/sys that memlab's pictures depend on.

vm.mmap_min_addr (mm/mmap.c, security/min_addr.c): the lowest address a process may
mmap without CAP_SYS_RAWIO.  Everything below it is refused, which turns a NULL-pointer
dereference into a fault; everything between it and the first mapping is ordinary
unmapped space a program could map (docs/kernel-facts.md).
"""

from __future__ import annotations

from memlab.procfs import _io


def parse_int(data: bytes) -> int | None:
    """One decimal number, as sysctl files hold it ("65536\\n"); None if it is not."""
    text = data.strip()
    return int(text) if text.isdigit() else None


def read_mmap_min_addr() -> int | None:
    """vm.mmap_min_addr in bytes, or None when it cannot be read (no /proc/sys)."""
    path = f"{_io.PROC_ROOT}/sys/vm/mmap_min_addr"
    try:
        with open(path, "rb") as f:
            return parse_int(f.read(64))
    except OSError:
        return None
