"""ptrace(2) requests for memlab's tracer, through ctypes.

Every request for a tracee must come from the thread that attached it: the kernel makes
that *thread* the tracer (kernel/ptrace.c ptrace_attach sets task->parent = current, and
ptrace_check_attach refuses any other caller with ESRCH).  memlab/trace/session.py keeps
to that; docs/architecture.md says so for the front ends.

PTRACE_GET_SYSCALL_INFO (Linux 5.3+) gives the system call's number, arguments and
result at each syscall stop without the architecture's register layout: struct
ptrace_syscall_info of include/uapi/linux/ptrace.h, laid out below.
"""

from __future__ import annotations

import ctypes
import os

from memlab.kernel.abi import (
    PTRACE_DETACH,
    PTRACE_GET_SYSCALL_INFO,
    PTRACE_GETEVENTMSG,
    PTRACE_GETSIGINFO,
    PTRACE_INTERRUPT,
    PTRACE_LISTEN,
    PTRACE_SEIZE,
    PTRACE_SETOPTIONS,
    PTRACE_SYSCALL,
)


class _Entry(ctypes.Structure):
    _fields_ = [("nr", ctypes.c_uint64), ("args", ctypes.c_uint64 * 6)]


class _Exit(ctypes.Structure):
    _fields_ = [("rval", ctypes.c_int64), ("is_error", ctypes.c_uint8)]


class _Union(ctypes.Union):
    _fields_ = [("entry", _Entry), ("exit", _Exit)]


class SyscallInfo(ctypes.Structure):
    """struct ptrace_syscall_info (include/uapi/linux/ptrace.h); the seccomp member
    shares entry's first fields and is not used."""

    _fields_ = [("op", ctypes.c_uint8), ("reserved", ctypes.c_uint8),
                ("flags", ctypes.c_uint16), ("arch", ctypes.c_uint32),
                ("instruction_pointer", ctypes.c_uint64),
                ("stack_pointer", ctypes.c_uint64), ("u", _Union),
                ("ret_data", ctypes.c_uint32)]


_libc: ctypes.CDLL | None = None


def _lib() -> ctypes.CDLL:
    global _libc
    if _libc is None:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.ptrace
        # variadic in glibc: full-width arguments are the portable call on x86_64
        fn.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
        fn.restype = ctypes.c_long
        _libc = libc
    return _libc


def request(req: int, tid: int, addr: int | None = None, data: int | None = None) -> int:
    """ptrace(req, tid, addr, data); OSError with the kernel's errno on failure.  -1 is
    always a failure for the requests memlab makes (only the PEEK requests return data
    that may be -1, ptrace(2)), so errno is read only then: a stop's few requests are
    most of the tracer's own time."""
    res = (_ptrace or _load())(req, tid, addr, data)
    if res == -1:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return res


_ptrace = None


def _load():
    global _ptrace
    _ptrace = _lib().ptrace
    return _ptrace


def seize(tid: int, options: int) -> None:
    request(PTRACE_SEIZE, tid, 0, options)


def interrupt(tid: int) -> None:
    request(PTRACE_INTERRUPT, tid)


def set_options(tid: int, options: int) -> None:
    request(PTRACE_SETOPTIONS, tid, 0, options)


def resume_syscall(tid: int, sig: int = 0) -> None:
    """Run to the next syscall entry or exit (delivering sig, if any)."""
    request(PTRACE_SYSCALL, tid, 0, sig)


def listen(tid: int) -> None:
    """Leave a seized tracee in its group-stop, still reporting (PTRACE_LISTEN)."""
    request(PTRACE_LISTEN, tid)


def detach(tid: int, sig: int = 0) -> None:
    request(PTRACE_DETACH, tid, 0, sig)


def event_msg(tid: int) -> int:
    value = ctypes.c_ulong(0)
    request(PTRACE_GETEVENTMSG, tid, 0, ctypes.addressof(value))
    return value.value


def has_siginfo(tid: int) -> bool:
    """False in a group-stop (PTRACE_GETSIGINFO says EINVAL there, ptrace(2))."""
    buf = ctypes.create_string_buffer(128)  # siginfo_t
    try:
        request(PTRACE_GETSIGINFO, tid, 0, ctypes.addressof(buf))
    except OSError:
        return False
    return True


def syscall_info(tid: int, info: SyscallInfo) -> int:
    """Fill info at a syscall stop; returns info.op (PTRACE_SYSCALL_INFO_*)."""
    request(PTRACE_GET_SYSCALL_INFO, tid, ctypes.sizeof(info), ctypes.addressof(info))
    return info.op
