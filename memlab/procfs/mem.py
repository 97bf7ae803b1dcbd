"""Reading another process's memory: process_vm_readv, or pread on /proc/PID/mem.

Both need PTRACE_MODE_ATTACH access to the target (mm/process_vm_access.c and
fs/proc/base.c mem_open): same uid and a dumpable process (Yama ptrace_scope permitting),
or CAP_SYS_PTRACE.

- Fast path: process_vm_readv(2) (Python has no wrapper: procfs._cproc.vm_readv, in C)
  copies straight into the caller's buffer, about twice as fast as pread on
  /proc/PID/mem (kernel-facts section 8: 9.9 vs 4.9 GB/s for 1 MiB chunks).
- Fallback: os.preadv on /proc/PID/mem, opened once.  Used when the syscall is refused
  by a seccomp filter (containers) while /proc/PID/mem is allowed, or when _cproc was
  not compiled.

Edge cases the kernel hands back:
- a read that runs past the end of a mapping returns a short count (both paths);
- an unmapped address: EFAULT (process_vm_readv) / EIO (/proc/PID/mem);
- [vvar] / [vvar_vclock] are VM_IO|VM_PFNMAP pages: they fail the same way;
- [vsyscall] at 0xffffffffff600000 is above 2**63: it does not fit a signed off_t
  (os.pread raises OverflowError), so nothing at or above 2**63 is ever attempted;
- a zombie or kernel thread has no mm: ESRCH from process_vm_readv, 0 bytes from mem
  (or, on 6.x, ESRCH/EACCES when opening /proc/PID/mem: see _io);
- a process whose main thread exited (pthread_exit) while other threads run: the pid's
  task has no mm, a live thread has the process's: the reader switches to that thread
  (process_vm_readv takes any tid; /proc/PID/task/TID/mem);
- execve while reading: /proc/PID/mem keeps the mm it was opened on (fs/proc/base.c
  proc_mem_open grabs it; mem_rw answers 0 once mmget_not_zero fails, i.e. once exec_mmap
  dropped the old mm), and process_vm_readv reads whatever mm the pid has at each call,
  so addresses from the old maps hit the new image.  A 0 from mem while the process has
  an mm again is that exec: ExecDuringRead;
- PROT_NONE pages: process_vm_readv refuses them (EFAULT) but /proc/PID/mem reads them,
  because mem_rw passes FOLL_FORCE (measured).  Give MemReader the regions and both
  paths stop at any region without 'r'.
"""

from __future__ import annotations

import bisect
import errno
import operator
import os
import struct
from collections.abc import Iterable

from memlab.errors import (
    ExecDuringRead,
    MemlabError,
    NoSuchProcess,
    UnreadableMemory,
    UsageError,
)
from memlab.kernel.abi import PAGE_SIZE
from memlab.model import Region
from memlab.procfs import _cproc
from memlab.procfs._io import (
    NO_MM_ERRNOS,
    check_pid,
    gone_error,
    has_mm,
    live_thread,
    no_mm_reason,
    proc_path,
    translate,
)

# No user address reaches 2**63; /proc/PID/mem offsets are signed (loff_t).
ADDRESS_LIMIT = 1 << 63
_U64 = struct.Struct("=Q")
_START = operator.attrgetter("start")


def _writable_bytes(buf: bytearray | memoryview) -> memoryview:
    mv = buf if isinstance(buf, memoryview) else memoryview(buf)
    if mv.readonly:
        raise TypeError("read_into needs a writable buffer (bytearray or memoryview)")
    if mv.format != "B" or mv.ndim != 1:
        mv = mv.cast("B")
    return mv


class MemReader:
    """Read a live process's memory.  Use as a context manager (or call close()).

    regions: the process's maps (memlab.procfs.maps.read_maps).  When given, reads stop
    at the first byte that is not inside a readable region, without asking the kernel;
    the error messages then name the region.
    method: "auto" (process_vm_readv, falling back to /proc/PID/mem), "vm_readv"
    or "pread" (for benchmarks and tests).
    tid: read through this thread of pid (its main thread exited); found by itself
    when not given.
    """

    def __init__(self, pid: int, regions: Iterable[Region] | None = None, *,
                 method: str = "auto", tid: int | None = None):
        if method not in ("auto", "vm_readv", "pread"):
            raise UsageError(f"unknown read method {method!r}")
        self.pid = check_pid(pid)
        self.tid = tid
        self.path = proc_path(self.pid, "mem", tid)
        self.regions = sorted(regions, key=_START) if regions is not None else None
        self._starts = [r.start for r in self.regions] if self.regions is not None else None
        self._fd: int | None = None
        self._vm = _cproc is not None and method != "pread"
        if method == "vm_readv" and not self._vm:
            raise MemlabError("process_vm_readv is not available: memlab.procfs._cproc "
                              "was not compiled")
        self._may_fall_back = method == "auto"

    # ------------------------------------------------------------------ lifecycle
    @property
    def method(self) -> str:
        """The path reads currently take: "process_vm_readv" or "/proc/PID/mem"."""
        return "process_vm_readv" if self._vm else "/proc/PID/mem"

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> MemReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ bounds
    def region_at(self, addr: int) -> Region | None:
        if self.regions is None:
            return None
        i = bisect.bisect_right(self._starts, addr) - 1
        if i >= 0 and self.regions[i].contains(addr):
            return self.regions[i]
        return None

    def _readable_span(self, addr: int, size: int) -> int:
        """How many of size bytes from addr may be asked for: below 2**63 and, when the
        regions are known, inside contiguous readable regions."""
        if addr < 0 or addr >= ADDRESS_LIMIT:
            return 0
        size = min(size, ADDRESS_LIMIT - addr)
        if self.regions is None:
            return size
        end = addr + size
        pos = addr
        while pos < end:
            region = self.region_at(pos)
            if region is None or not region.readable:
                break
            pos = region.end
        return min(pos, end) - addr

    def _unreadable(self, addr: int, size: int, got: int) -> UnreadableMemory:
        where = addr + got
        region = self.region_at(where)
        if where >= ADDRESS_LIMIT:
            why = "is above 2**63 ([vsyscall] lives there; /proc/PID/mem cannot reach it)"
        elif region is not None and not region.readable:
            why = f"is in {region.label} ({region.perms}), which has no read permission"
        elif region is not None:
            why = f"is in {region.label} ({region.perms}), which the kernel refuses to read"
        elif self.regions is not None:
            why = "is not mapped"
        else:
            why = "is unmapped or unreadable"
        what = f"{size} bytes at 0x{addr:x}"
        if got:
            what += f" (only {got} readable)"
        return UnreadableMemory(f"cannot read {what}: 0x{where:x} {why}",
                                pid=self.pid, path=self.path)

    # ------------------------------------------------------------------ kernel calls
    def _to_live_thread(self) -> bool:
        """When the main thread has exited and another runs: read through that one from
        now on (True: try again)."""
        live = live_thread(self.pid) if self.tid is None else None
        if live is None:
            return False
        self.close()
        self.tid = live
        self.path = proc_path(self.pid, "mem", live)
        return True

    def _no_mm(self) -> MemlabError:
        """The target has no mm (any more): a kernel thread, a zombie, gone, exiting, or
        it exec'd since /proc/PID/mem was opened."""
        reason = no_mm_reason(self.pid)
        if reason == "kernel thread":
            return UnreadableMemory("kernel thread: it has no user memory",
                                    pid=self.pid, path=self.path)
        if has_mm(self.pid) or (self.tid is not None and has_mm(self.pid, self.tid)):
            return ExecDuringRead(self.pid, self.path)  # a new mm: not the one we read
        if reason == "no mm":  # exit_mm() ran, exit_notify() not yet (kernel/exit.c)
            return NoSuchProcess("process is exiting: its memory is gone", pid=self.pid,
                                 path=self.path)
        return gone_error(self.pid, self.path)

    def _vm_read(self, dest: memoryview, addr: int) -> int | None:
        """process_vm_readv into dest from addr.  Bytes read (0: unreadable at addr), or
        None when the syscall is refused and /proc/PID/mem should be tried instead."""
        try:
            return _cproc.vm_readv(self.tid or self.pid, dest, addr)
        except OSError as err:
            if err.errno == errno.EFAULT:
                return 0
            if err.errno == errno.ESRCH:
                if self._to_live_thread():
                    return self._vm_read(dest, addr)
                raise self._no_mm() from err
            if err.errno in (errno.EPERM, errno.ENOSYS) and self._may_fall_back:
                # EPERM is also what a seccomp filter answers (Docker's default
                # profile): /proc/PID/mem decides; if it opens, the syscall stays off
                # for this reader.
                return None
            raise translate(err, self.pid, self.path, "mem") from err

    def _mem_fd(self) -> int:
        if self._fd is None:
            try:
                self._fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
            except OSError as err:
                # no mm (a zombie or kernel thread) answers ESRCH, or EACCES to a
                # non-root reader (_io module docstring); gone answers ESRCH/ENOENT
                if err.errno in NO_MM_ERRNOS and no_mm_reason(self.pid) != "no mm":
                    if self._to_live_thread():
                        return self._mem_fd()
                    raise self._no_mm() from err
                raise translate(err, self.pid, self.path, "mem") from err
        return self._fd

    def _pread(self, mv: memoryview, addr: int) -> int:
        try:
            n = os.preadv(self._mem_fd(), [mv], addr)
        except OSError as err:
            if err.errno in (errno.EIO, errno.EFAULT):
                return 0  # unmapped, or a mapping that refuses access ([vvar])
            raise translate(err, self.pid, self.path, "mem") from err
        if n == 0:
            # fs/proc/base.c mem_rw returns 0 when the mm it was opened on is gone (or
            # there was none): exit, or an exec since the open
            if self._to_live_thread():
                return self._pread(mv, addr)
            raise self._no_mm()
        return n

    # ------------------------------------------------------------------ reading
    def read_into(self, addr: int, buf: bytearray | memoryview) -> int:
        """Fill buf with memory from addr; return how many bytes were read (stops at the
        first unreadable byte; 0 when addr itself is unreadable).  Copies straight into
        buf: no allocation proportional to the size, so callers can stream with one
        reused buffer."""
        mv = _writable_bytes(buf)
        size = self._readable_span(addr, len(mv))
        total = 0
        if size and self._vm:
            while total < size:
                n = self._vm_read(mv[total:size], addr + total)
                if n is None:
                    self._mem_fd()  # AccessDenied here if the kernel refuses too
                    self._vm = False
                    break
                if n == 0:
                    return total
                total += n
        while total < size:
            n = self._pread(mv[total:size], addr + total)
            if n == 0:
                break
            total += n
        return total

    def read_partial(self, addr: int, size: int) -> bytes:
        """Up to size bytes from addr, stopping at the first unreadable byte (b"" when
        addr is unreadable)."""
        if size < 0:
            raise ValueError(f"negative size {size}")
        buf = bytearray(size)
        n = self.read_into(addr, buf)
        del buf[n:]
        return bytes(buf)

    def read(self, addr: int, size: int) -> bytes:
        """Exactly size bytes from addr, else UnreadableMemory naming the first bad byte."""
        if size < 0:
            raise ValueError(f"negative size {size}")
        buf = bytearray(size)
        n = self.read_into(addr, buf)
        if n < size:
            raise self._unreadable(addr, size, n)
        return bytes(buf)

    def read_cstring(self, addr: int, limit: int = 1 << 16) -> bytes:
        """The NUL-terminated string at addr, without its NUL.  Returns `limit` bytes if
        no NUL comes first; UnreadableMemory if memory ends before the NUL."""
        out = bytearray()
        pos = addr
        while len(out) < limit:
            chunk = min(limit - len(out), PAGE_SIZE - pos % PAGE_SIZE)
            data = self.read_partial(pos, chunk)
            nul = data.find(b"\0")
            if nul >= 0:
                out += data[:nul]
                return bytes(out)
            out += data
            if len(data) < chunk:
                raise self._unreadable(addr, len(out) + 1, len(out))
            pos += chunk
        return bytes(out)

    def read_u64(self, addr: int) -> int:
        return _U64.unpack(self.read(addr, 8))[0]

    def read_u64s(self, addr: int, n: int) -> list[int]:
        if n <= 0:
            return []
        return list(struct.unpack(f"={n}Q", self.read(addr, 8 * n)))
