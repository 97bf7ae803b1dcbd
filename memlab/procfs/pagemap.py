"""/proc/PID/pagemap: for each virtual page, is it in RAM, in swap, or never touched.

One 64-bit little-endian entry per virtual page, at file offset (address / PAGE_SIZE)
* 8 (Documentation/admin-guide/mm/pagemap.rst; fs/proc/task_mmu.c pagemap_read):

    bits 0-54  page frame number when present (bits 0-4 swap type, 5-54 swap offset
               when swapped); ZERO for a reader without CAP_SYS_ADMIN (Linux 4.2+)
    bit  55    pte is soft-dirty (written since the last clear_refs "4")
    bit  56    page exclusively mapped (this process alone maps it, Linux 4.2+)
    bit  57    pte is uffd-wp write-protected
    bit  58    a guard region (MADV_GUARD_INSTALL, Linux 6.15)
    bit  61    page is a file page or shared anonymous
    bit  62    page swapped
    bit  63    page present

A page that is neither present nor swapped was never touched (or was dropped: a clean
file page the kernel reclaimed, MADV_DONTNEED): malloc reserves address space, the
first write commits a page.  Opening pagemap needs PTRACE_MODE_READ_FSCREDS
(proc_mem_open); the frame numbers need CAP_SYS_ADMIN (pagemap_open records it).
"""

from __future__ import annotations

import os
from itertools import groupby
from typing import NamedTuple

from memlab.errors import MemlabError, ParseError
from memlab.kernel.abi import (
    PAGE_SIZE,
    PAGEMAP_ENTRY_SIZE,
    PM_FILE,
    PM_GUARD_REGION,
    PM_MMAP_EXCLUSIVE,
    PM_PFN_MASK,
    PM_PRESENT,
    PM_SOFT_DIRTY,
    PM_SWAP,
    TASK_SIZE_MAX,
)
from memlab.procfs._io import check_pid, gone_error, has_mm, proc_path, translate

# the flag bits: an entry >> _FLAG_SHIFT groups pages into runs
_FLAG_SHIFT = 55


class PageRun(NamedTuple):
    """Consecutive pages with the same flags."""

    start: int  # address of the first page
    pages: int
    state: str  # "present", "swapped", "untouched"
    soft_dirty: bool
    exclusive: bool
    file: bool  # a file page or shared anonymous
    guard: bool
    pfns: tuple[int, ...] | None  # frame number of each page; None when hidden (all 0)

    @property
    def end(self) -> int:
        return self.start + self.pages * PAGE_SIZE


def entry_state(entry: int) -> str:
    if entry & PM_PRESENT:
        return "present"
    if entry & PM_SWAP:
        return "swapped"
    return "untouched"


def parse_pagemap(data: bytes, start: int) -> list[PageRun]:
    """The runs of pages in pagemap bytes that begin at virtual address start."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ParseError(f"pagemap data must be bytes, not {type(data).__name__}")
    if len(data) % PAGEMAP_ENTRY_SIZE:
        raise ParseError(f"pagemap data of {len(data)} bytes is not a whole number of "
                         f"{PAGEMAP_ENTRY_SIZE}-byte entries")
    if start % PAGE_SIZE:
        raise ParseError(f"pagemap start 0x{start:x} is not page aligned")
    entries = memoryview(bytes(data)).cast("Q")  # little-endian: x86_64 is
    runs: list[PageRun] = []
    addr = start
    for flags, group in groupby(entries, lambda e: e >> _FLAG_SHIFT):
        items = list(group)
        entry = flags << _FLAG_SHIFT
        state = entry_state(entry)
        pfns = None
        if state == "present" and any(e & PM_PFN_MASK for e in items):
            pfns = tuple(e & PM_PFN_MASK for e in items)
        runs.append(PageRun(addr, len(items), state, bool(entry & PM_SOFT_DIRTY),
                            bool(entry & PM_MMAP_EXCLUSIVE), bool(entry & PM_FILE),
                            bool(entry & PM_GUARD_REGION), pfns))
        addr += len(items) * PAGE_SIZE
    return runs


class PagemapReader:
    """/proc/PID/pagemap opened once; runs(start, end) for each range.  A process that
    exits while it is read raises NoSuchProcess (exit 3)."""

    def __init__(self, pid: int):
        self.pid = check_pid(pid)
        self.path = proc_path(self.pid, "pagemap")
        try:
            self._fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as err:
            raise translate(err, self.pid, self.path, "pagemap") from err

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> PagemapReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def read(self, start: int, end: int) -> bytes:
        """The raw entries for the pages of [start, end) (below TASK_SIZE_MAX)."""
        first, last = start // PAGE_SIZE, -(-min(end, TASK_SIZE_MAX) // PAGE_SIZE)
        size = max(last - first, 0) * PAGEMAP_ENTRY_SIZE
        chunks, offset = [], first * PAGEMAP_ENTRY_SIZE
        while size:
            try:
                got = os.pread(self._fd, min(size, 1 << 20), offset)
            except OSError as err:
                raise translate(err, self.pid, self.path, "pagemap") from err
            if not got:
                # pagemap_read ends early only when the mm is gone (exit_mm)
                if not has_mm(self.pid):
                    raise gone_error(self.pid, self.path)
                raise MemlabError("pagemap ended early: the process is exiting",
                                  pid=self.pid, path=self.path)
            chunks.append(got)
            offset += len(got)
            size -= len(got)
        return b"".join(chunks)

    def runs(self, start: int, end: int) -> list[PageRun]:
        start -= start % PAGE_SIZE
        return parse_pagemap(self.read(start, end), start)
