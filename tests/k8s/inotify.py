"""A minimal inotify watcher through ctypes (the stdlib has none), for the k8s tests.

Event names and bits from <sys/inotify.h> (linux/inotify.h).
"""

from __future__ import annotations

import ctypes
import os
import select
import struct

IN_ACCESS, IN_MODIFY, IN_ATTRIB = 0x1, 0x2, 0x4
IN_CLOSE_WRITE, IN_CLOSE_NOWRITE, IN_OPEN = 0x8, 0x10, 0x20
IN_MOVED_FROM, IN_MOVED_TO, IN_CREATE, IN_DELETE = 0x40, 0x80, 0x100, 0x200
IN_DELETE_SELF, IN_MOVE_SELF = 0x400, 0x800
IN_IGNORED, IN_ISDIR = 0x8000, 0x40000000
IN_ALL_EVENTS = 0xFFF
IN_CLOEXEC, IN_NONBLOCK = 0o2000000, 0o4000

NAMES = [(IN_ACCESS, "ACCESS"), (IN_MODIFY, "MODIFY"), (IN_ATTRIB, "ATTRIB"),
         (IN_CLOSE_WRITE, "CLOSE_WRITE"), (IN_CLOSE_NOWRITE, "CLOSE_NOWRITE"),
         (IN_OPEN, "OPEN"), (IN_MOVED_FROM, "MOVED_FROM"), (IN_MOVED_TO, "MOVED_TO"),
         (IN_CREATE, "CREATE"), (IN_DELETE, "DELETE"), (IN_DELETE_SELF, "DELETE_SELF"),
         (IN_MOVE_SELF, "MOVE_SELF"), (IN_IGNORED, "IGNORED"), (IN_ISDIR, "ISDIR")]

_EVENT = struct.Struct("iIII")  # wd, mask, cookie, len

_libc = ctypes.CDLL(None, use_errno=True)
_libc.inotify_init1.argtypes = [ctypes.c_int]
_libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]


def mask_names(mask: int) -> tuple[str, ...]:
    return tuple(name for bit, name in NAMES if mask & bit)


class Watcher:
    def __init__(self):
        self.fd = _libc.inotify_init1(IN_CLOEXEC | IN_NONBLOCK)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")

    def add(self, path: str, mask: int = IN_ALL_EVENTS) -> int:
        wd = _libc.inotify_add_watch(self.fd, os.fsencode(path), mask)
        if wd < 0:
            raise OSError(ctypes.get_errno(), "inotify_add_watch", path)
        return wd

    def read(self, timeout: float = 0.2) -> list[tuple[tuple[str, ...], str]]:
        """Every event queued now (waiting up to TIMEOUT for the first): (mask, name)."""
        out = []
        while select.select([self.fd], [], [], timeout)[0]:
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                break
            off = 0
            while off < len(data):
                _wd, mask, _cookie, n = _EVENT.unpack_from(data, off)
                name = data[off + _EVENT.size: off + _EVENT.size + n].rstrip(b"\0")
                out.append((mask_names(mask), name.decode()))
                off += _EVENT.size + n
            timeout = 0.05
        return out

    def close(self) -> None:
        os.close(self.fd)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
