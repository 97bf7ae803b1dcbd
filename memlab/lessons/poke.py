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
import functools
import os

from memlab.errors import AccessDenied, NoSuchProcess, UnreadableMemory
from memlab.procfs.mem import _IOVec  # the iovec memlab's reader already declares


@functools.cache
def _process_vm_writev():
    fn = ctypes.CDLL(None, use_errno=True).process_vm_writev
    fn.argtypes = [ctypes.c_int, ctypes.POINTER(_IOVec), ctypes.c_ulong,
                   ctypes.POINTER(_IOVec), ctypes.c_ulong, ctypes.c_ulong]
    fn.restype = ctypes.c_ssize_t
    return fn


def write_memory(pid: int, address: int, data: bytes) -> int:
    """Write `data` at `address` in process `pid`; returns the byte count written."""
    buf = ctypes.create_string_buffer(data, len(data))
    local = _IOVec(ctypes.cast(buf, ctypes.c_void_p), len(data))
    remote = _IOVec(address, len(data))
    n = _process_vm_writev()(pid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0)
    if n < 0:
        err = ctypes.get_errno()
        msg = f"process_vm_writev: {os.strerror(err)} ({errno_mod.errorcode.get(err, err)})"
        if err == errno_mod.ESRCH:
            raise NoSuchProcess(msg, pid=pid)
        if err in (errno_mod.EPERM, errno_mod.EACCES):
            raise AccessDenied(msg, pid=pid)
        raise UnreadableMemory(msg, pid=pid)
    return n
