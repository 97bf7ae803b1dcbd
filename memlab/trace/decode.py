"""A system call as numbers -> a system call as a reader sees it (pure).

`decode(nr, args, rval, is_error)` names the call, its arguments (flags as names, as
strace prints them) and its result: an address, a number, or the errno of a failure.
The argument lists are those of the kernel's SYSCALL_DEFINEs: mm/mmap.c (brk, mmap via
arch/x86/kernel/sys_x86_64.c, mremap in mm/mremap.c), mm/mprotect.c, mm/madvise.c,
fs/exec.c (execve, execveat), ipc/shm.c (shmat, shmdt), mm/mseal.c.
"""

from __future__ import annotations

import errno as errno_mod
import os
from typing import NamedTuple

from memlab.kernel.abi import (
    MADV_NAMES,
    MAP_FLAG_NAMES,
    MAP_TYPE_MASK,
    MAP_TYPE_NAMES,
    MREMAP_NAMES,
    PROT_NAMES,
    SYSCALL_NAMES,
    SYSCALL_NUMBERS,
)

# What each argument is: "addr" (a pointer, 0 is NULL), "size", "prot", "mapflags",
# "mremapflags", "advice", "fd" (a signed int), "hex", "int", "path" (a pointer to a
# file name the caller reads from the tracee, shown as the string)
SIGNATURES: dict[str, tuple[tuple[str, str], ...]] = {
    "brk": (("addr", "addr"),),
    "mmap": (("addr", "addr"), ("length", "size"), ("prot", "prot"),
             ("flags", "mapflags"), ("fd", "fd"), ("offset", "hex")),
    "munmap": (("addr", "addr"), ("length", "size")),
    "mprotect": (("addr", "addr"), ("length", "size"), ("prot", "prot")),
    "pkey_mprotect": (("addr", "addr"), ("length", "size"), ("prot", "prot"),
                      ("pkey", "int")),
    "mremap": (("old_address", "addr"), ("old_size", "size"), ("new_size", "size"),
               ("flags", "mremapflags"), ("new_address", "addr")),
    "madvise": (("addr", "addr"), ("length", "size"), ("advice", "advice")),
    "execve": (("filename", "path"), ("argv", "addr"), ("envp", "addr")),
    "execveat": (("dirfd", "fd"), ("filename", "path"), ("argv", "addr"),
                 ("envp", "addr"), ("flags", "hex")),
    "shmat": (("shmid", "int"), ("shmaddr", "addr"), ("shmflg", "hex")),
    "shmdt": (("shmaddr", "addr"),),
    "mseal": (("addr", "addr"), ("length", "size"), ("flags", "hex")),
}
# Calls whose successful result is an address (the others return 0)
ADDRESS_RESULTS = frozenset({"brk", "mmap", "mremap", "shmat"})
DEFAULT_CALLS = ("brk", "mmap", "munmap", "mprotect", "mremap", "execve")
KNOWN_CALLS = tuple(SYSCALL_NUMBERS)


class Call(NamedTuple):
    """One completed system call of a tracee."""

    tid: int
    nr: int
    name: str
    args: tuple[int, ...]  # the six raw argument registers
    path: bytes | None  # the file name of execve/execveat, read at entry (None: unread)
    rval: int  # the raw return value (negative errno on failure)
    is_error: bool

    @property
    def errno(self) -> int | None:
        return -self.rval if self.is_error else None


def parse_calls(spec: str) -> tuple[str, ...]:
    """"brk,mmap" -> ("brk", "mmap"); ValueError naming an unknown call."""
    names = tuple(dict.fromkeys(p.strip() for p in spec.split(",") if p.strip()))
    if not names:
        raise ValueError("no system call named")
    for name in names:
        if name not in SYSCALL_NUMBERS:
            raise ValueError(f"cannot trace {name!r}: known calls are "
                             f"{', '.join(KNOWN_CALLS)}")
    return names


def flag_names(value: int, names: dict[int, str]) -> list[str]:
    """Each set bit's name; bits without a name as one hex number at the end."""
    out = [name for bit, name in names.items() if value & bit == bit]
    rest = value & ~sum(names)
    if rest:
        out.append(hex(rest))
    return out


def prot_names(value: int) -> list[str]:
    return flag_names(value, PROT_NAMES) or ["PROT_NONE"]


def map_flag_names(value: int) -> list[str]:
    kind = value & MAP_TYPE_MASK
    out = [MAP_TYPE_NAMES.get(kind, hex(kind))] if kind else []
    return out + flag_names(value & ~MAP_TYPE_MASK, MAP_FLAG_NAMES)


def _signed32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v


def arg_value(kind: str, raw: int, path: bytes | None = None):
    """One argument as JSON-able data: addresses as "0x..." (null for 0), flags as
    lists of names, sizes and ints as numbers, a path as text."""
    if kind == "addr":
        return hex(raw) if raw else None
    if kind == "prot":
        return prot_names(raw)
    if kind == "mapflags":
        return map_flag_names(raw)
    if kind == "mremapflags":
        return flag_names(raw, MREMAP_NAMES)
    if kind == "advice":
        return MADV_NAMES.get(raw, str(raw))
    if kind in ("fd", "int"):
        return _signed32(raw)
    if kind == "hex":
        return hex(raw)
    if kind == "path":
        return None if path is None else path.decode("utf-8", "backslashreplace")
    return raw  # size


def decoded_args(call: Call) -> dict[str, object]:
    sig = SIGNATURES.get(call.name, ())
    return {name: arg_value(kind, call.args[i], call.path) for i, (name, kind)
            in enumerate(sig)}


def result_value(call: Call):
    """The result as data: an address ("0x...") for brk/mmap/mremap/shmat, else the
    number; None on failure (see errno_name)."""
    if call.is_error:
        return None
    if call.name in ADDRESS_RESULTS:
        return hex(call.rval & 0xFFFFFFFFFFFFFFFF)
    return call.rval


def errno_name(call: Call) -> str | None:
    if not call.is_error:
        return None
    return errno_mod.errorcode.get(-call.rval, str(-call.rval))


def path_text(path: bytes) -> str:
    """A file name as strace quotes it: printable ASCII kept, every other byte (and
    the quote and backslash) as \\xNN, so a name from the process cannot break a line."""
    return '"' + "".join(chr(b) if 0x20 <= b < 0x7F and b not in (0x22, 0x5C)
                         else f"\\x{b:02x}" for b in path) + '"'


def _arg_text(kind: str, value, path: bytes | None) -> str:
    if kind == "path" and path is not None:
        return path_text(path)
    if value is None:
        return "NULL"
    if isinstance(value, list):
        return "|".join(value) if value else "0"
    return str(value)


def call_text(call: Call) -> str:
    """`mmap(NULL, 4096, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0x0) =
    0x7f...`, strace's shape; a failure ends `= -1 ENOMEM (Cannot allocate memory)`."""
    sig = SIGNATURES.get(call.name, ())
    args = decoded_args(call)
    inner = ", ".join(_arg_text(kind, args[name], call.path) for name, kind in sig)
    if call.is_error:
        res = f"-1 {errno_name(call)} ({os.strerror(-call.rval)})"
    else:
        res = str(result_value(call))
    return f"{call.name}({inner}) = {res}"


def syscall_name(nr: int) -> str:
    return SYSCALL_NAMES.get(nr, f"syscall_{nr}")
