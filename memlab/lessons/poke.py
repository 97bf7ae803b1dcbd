"""Write into another process's memory with process_vm_writev(2): the lesson's evidence
that an environment is ordinary memory, writable by anyone with ptrace ATTACH rights.

The kernel checks PTRACE_MODE_ATTACH_REALCREDS (mm/process_vm_access.c ->
mm_access()), the same check /proc/PID/mem writes pass through (fs/proc/base.c
mem_rw): the same uid (unless Yama's ptrace_scope forbids it) or CAP_SYS_PTRACE.
memlab only ever pokes processes it launched itself, in a lesson.
"""

from __future__ import annotations

import errno as errno_mod
import os

from memlab.errors import AccessDenied, MemlabError, NoSuchProcess, UnreadableMemory
from memlab.procfs import _cproc


def write_memory(pid: int, address: int, data: bytes) -> int:
    """Write `data` at `address` in process `pid`; returns the byte count written."""
    if _cproc is None:
        raise MemlabError("process_vm_writev is not available: memlab.procfs._cproc was "
                          "not compiled", pid=pid)
    try:
        return _cproc.vm_writev(pid, data, address)
    except OSError as oserr:
        err = oserr.errno
        msg = f"process_vm_writev: {os.strerror(err)} ({errno_mod.errorcode.get(err, err)})"
        if err == errno_mod.ESRCH:
            raise NoSuchProcess(msg, pid=pid) from oserr
        if err in (errno_mod.EPERM, errno_mod.EACCES):
            raise AccessDenied(msg, pid=pid) from oserr
        raise UnreadableMemory(msg, pid=pid) from oserr
