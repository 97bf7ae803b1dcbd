"""Write into another process's memory with process_vm_writev(2): the lesson's evidence
that an environment is ordinary memory, writable by anyone with ptrace ATTACH rights.

The kernel checks PTRACE_MODE_ATTACH_REALCREDS (mm/process_vm_access.c ->
mm_access()), the same check /proc/PID/mem writes pass through (fs/proc/base.c
mem_rw): the same uid (unless Yama's ptrace_scope forbids it) or CAP_SYS_PTRACE.
memlab only ever pokes processes it launched itself, in a lesson.
"""

from __future__ import annotations

import ctypes
import errno as errno_mod
import os

from memlab.errors import AccessDenied, NoSuchProcess, UnreadableMemory


class _IoVec(ctypes.Structure):
    _fields_ = [("iov_base", ctypes.c_void_p), ("iov_len", ctypes.c_size_t)]


_libc = ctypes.CDLL(None, use_errno=True)
_libc.process_vm_writev.restype = ctypes.c_ssize_t
_libc.process_vm_writev.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_ulong,
                                    ctypes.c_void_p, ctypes.c_ulong, ctypes.c_ulong]


def write_memory(pid: int, address: int, data: bytes) -> int:
    """Write `data` at `address` in process `pid`; returns the byte count written."""
    buf = ctypes.create_string_buffer(data, len(data))
    local = _IoVec(ctypes.cast(buf, ctypes.c_void_p), len(data))
    remote = _IoVec(address, len(data))
    n = _libc.process_vm_writev(pid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0)
    if n < 0:
        err = ctypes.get_errno()
        msg = f"process_vm_writev: {os.strerror(err)} ({errno_mod.errorcode.get(err, err)})"
        if err == errno_mod.ESRCH:
            raise NoSuchProcess(msg, pid=pid)
        if err in (errno_mod.EPERM, errno_mod.EACCES):
            raise AccessDenied(msg, pid=pid)
        raise UnreadableMemory(msg, pid=pid)
    return n
