"""Where the heap starts, with the evidence: &_end, start_brk, brk, first allocation.

What the kernel does (fs/binfmt_elf.c load_elf_binary, "brk" handling, 6.x):

    mm->start_brk = mm->brk = ELF_PAGEALIGN(end of .bss)          # page round-up
    static PIE (ET_DYN without PT_INTERP): elf_brk = ELF_ET_DYN_BASE first, so the heap
        goes near 0x555555555000 while the binary itself sits in the mmap area (0x7f..):
        [heap] lies BELOW the binary.
    with randomize_va_space == 2 and no ADDR_NO_RANDOMIZE:
        one guard page when the brk was not moved, then
        mm->brk = mm->start_brk = arch_randomize_brk(mm)
        (arch/x86/kernel/process.c: randomize_page(brk, SZ_1G) on x86_64; 32 MiB on
        older kernels and for ia32)

glibc's malloc never reads `_end`: it asks sbrk(0) (the brk system call) where the heap
is.  Its first chunk is the tcache_perthread_struct (0x290 bytes), so the first
malloc(16) of a dynamic program lands at start_brk + 0x2a0; a static glibc has already
used the heap for its own start-up (TLS), so there it lands later (+0x16d0, measured).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from memlab.kernel.abi import PAGE_SIZE, page_up
from memlab.model import Region, hexaddr
from memlab.sizes import human_size

GIB = 1 << 30


def _size(n: int | None) -> str | None:
    if n is None:
        return None
    return human_size(n)  # memlab.sizes: the one size format


@dataclass(frozen=True)
class Chunk:
    """One glibc malloc chunk header found by walking the brk heap from start_brk
    (malloc/malloc.c: prev_size, size|flags; the user pointer is 16 bytes in)."""

    address: int
    size: int
    flags: int  # PREV_INUSE=1 IS_MMAPPED=2 NON_MAIN_ARENA=4 (of THIS chunk's header)
    is_top: bool  # the last chunk, reaching brk: free space malloc carves from

    @property
    def user(self) -> int:
        return self.address + 16

    def to_dict(self) -> dict[str, Any]:
        return {"address": hexaddr(self.address), "user": hexaddr(self.user),
                "size": self.size, "flags": self.flags, "top": self.is_top}


TCACHE_CHUNK = 0x290  # sizeof(tcache_perthread_struct) + header, glibc >= 2.30 x86_64


def walk_chunks(read_u64, start: int, end: int, limit: int = 8) -> tuple[Chunk, ...]:
    """Follow chunk sizes from `start` (start_brk) while they stay sane and below `end`
    (brk).  `read_u64(addr)` reads the process's memory.  A heap that is not glibc's
    (another allocator) stops the walk at the first implausible header."""
    out = []
    p = start
    while p + 16 <= end and len(out) < limit:
        word = read_u64(p + 8)
        size = word & ~7
        if size < 0x20 or size % 16 or p + size > end:
            break
        out.append(Chunk(p, size, word & 7, p + size == end))
        if p + size == end:
            break
        p += size
    return tuple(out)


@dataclass(frozen=True)
class HeapEvidence:
    end_symbol: int | None  # &_end at run time (ELF + bias); None when unknown
    end_source: str | None  # "_end (.symtab)", "section .bss end", "stat end_data" ...
    start_brk: int | None  # /proc/PID/stat field 47 (None when masked)
    brk: int | None  # current program break
    brk_source: str | None  # "[heap] end", "sbrk(0) reported by the process"
    first_alloc: int | None  # the first malloc result, when the process told us
    exe_low: int | None  # lowest / highest address of the executable's mappings
    exe_high: int | None
    heap_region: Region | None
    explanation: str
    notes: tuple[str, ...] = ()
    chunks: tuple[Chunk, ...] = ()  # the first malloc chunks, when memory was read
    first_alloc_source: str | None = None

    # ------------------------------------------------------------ the gaps
    @property
    def end_to_start_brk(self) -> int | None:
        """start_brk - &_end (negative: heap below the binary, static PIE)."""
        if self.end_symbol is None or self.start_brk is None:
            return None
        return self.start_brk - self.end_symbol

    @property
    def page_round_up(self) -> int | None:
        """PAGE_ALIGN(&_end) - &_end: the part of the gap that is only rounding."""
        if self.end_symbol is None:
            return None
        return page_up(self.end_symbol) - self.end_symbol

    @property
    def randomisation(self) -> int | None:
        """start_brk - PAGE_ALIGN(&_end): what arch_randomize_brk (and the guard page)
        added; 0 without ASLR."""
        if self.end_symbol is None or self.start_brk is None:
            return None
        return self.start_brk - page_up(self.end_symbol)

    @property
    def first_alloc_offset(self) -> int | None:
        if self.first_alloc is None or self.start_brk is None:
            return None
        return self.first_alloc - self.start_brk

    @property
    def heap_size(self) -> int | None:
        if self.brk is None or self.start_brk is None:
            return None
        return self.brk - self.start_brk

    @property
    def heap_below_binary(self) -> bool:
        return (self.start_brk is not None and self.exe_low is not None
                and self.start_brk < self.exe_low)

    def to_dict(self) -> dict[str, Any]:
        return {
            "end_symbol": hexaddr(self.end_symbol),
            "end_source": self.end_source,
            "start_brk": hexaddr(self.start_brk),
            "brk": hexaddr(self.brk),
            "brk_source": self.brk_source,
            "first_alloc": hexaddr(self.first_alloc),
            "first_alloc_source": self.first_alloc_source,
            "chunks": [c.to_dict() for c in self.chunks],
            "exe_low": hexaddr(self.exe_low),
            "exe_high": hexaddr(self.exe_high),
            "heap_region": ({"start": hexaddr(self.heap_region.start),
                             "end": hexaddr(self.heap_region.end)}
                            if self.heap_region else None),
            "gaps": {
                "start_brk_minus_end": self.end_to_start_brk,
                "page_round_up": self.page_round_up,
                "randomisation": self.randomisation,
                "first_alloc_minus_start_brk": self.first_alloc_offset,
                "heap_size": self.heap_size,
            },
            "heap_below_binary": self.heap_below_binary,
            "explanation": self.explanation,
            "notes": list(self.notes),
        }


def heap_evidence(regions: tuple[Region, ...] | list[Region], start_brk: int | None, *,
                  end_symbol: int | None = None, end_source: str | None = None,
                  exe_path: str | None = None, static_pie: bool = False,
                  reported_brk: int | None = None,
                  first_alloc: int | None = None,
                  chunks: tuple[Chunk, ...] = ()) -> HeapEvidence:
    """Gather the evidence.  `end_symbol` is &_end at run time (ELF symbol + bias);
    `reported_brk` / `first_alloc` are what the process said about itself (the sleeper
    sample's self-report: "sbrk", "malloc")."""
    heap = None
    exe_low = exe_high = None
    for r in regions:  # one pass: this runs on every refresh
        path = r.path
        if path == "[heap]":
            heap = heap or r
        elif path is not None and path == exe_path:
            exe_low = r.start if exe_low is None else min(exe_low, r.start)
            exe_high = r.end if exe_high is None else max(exe_high, r.end)
    if reported_brk is not None:
        brk, brk_source = reported_brk, "sbrk(0) reported by the process"
    elif heap is not None:
        brk, brk_source = heap.end, "end of [heap] (brk rounded up to a page)"
    elif start_brk is not None:
        brk, brk_source = start_brk, "no [heap] line: nothing allocated with brk yet"
    else:
        brk, brk_source = None, None
    source = "reported by the process" if first_alloc is not None else None
    if first_alloc is None and len(chunks) >= 2 and chunks[0].size == TCACHE_CHUNK \
            and not chunks[1].is_top:
        # glibc's first chunk is its tcache; the next one is the first malloc() result
        first_alloc, source = chunks[1].user, "heap walk: the chunk after glibc's tcache"
    ev = HeapEvidence(end_symbol, end_source, start_brk, brk, brk_source, first_alloc,
                      exe_low, exe_high, heap, "", (), chunks, source)
    explanation, notes = _explain(ev, static_pie)
    return HeapEvidence(**{**ev.__dict__, "explanation": explanation, "notes": tuple(notes)})


def _explain(ev: HeapEvidence, static_pie: bool) -> tuple[str, list[str]]:
    notes: list[str] = []
    if ev.start_brk is None:
        return ("start_brk is hidden by the kernel for this reader (stat is masked "
                "without ptrace read access)", notes)
    if ev.first_alloc_offset is not None:
        off = ev.first_alloc_offset
        if off == TCACHE_CHUNK + 0x10:
            notes.append(f"first allocation at start_brk + {hexaddr(off)}: glibc's first "
                         "chunk is its tcache bookkeeping (0x290 bytes)")
        elif 0 <= off < (ev.heap_size or 0) or (0 <= off and ev.heap_size is None):
            notes.append(f"first allocation at start_brk + {hexaddr(off)}: the heap "
                         "already held other chunks (a static glibc uses it during "
                         "start-up, e.g. for TLS)")
        else:
            notes.append("the first allocation is not in the brk heap (mmap'd: large, "
                         "or brk failed)")
    if ev.heap_region is None:
        notes.append("no [heap] line yet: the program has not grown its brk (a process "
                     "held at exec, or one that never called malloc)")
    if ev.heap_below_binary:
        return ("heap BELOW the binary: a static-PIE is loaded in the mmap area and the "
                "kernel moves its brk to ELF_ET_DYN_BASE (0x5555...) "
                f"(fs/binfmt_elf.c); start_brk - &_end = {_size(ev.end_to_start_brk)}",
                notes)
    if static_pie:
        notes.append("static-PIE: the brk was moved to ELF_ET_DYN_BASE, away from the "
                     "binary")
    if ev.end_symbol is None:
        return ("&_end unknown (no ELF symbols): start_brk is PAGE_ALIGN(end of .bss), "
                "moved up by up to 1 GiB when ASLR is on", notes)
    rnd = ev.randomisation
    if rnd == 0:
        return (f"start_brk = PAGE_ALIGN(&_end): only the page round-up "
                f"({ev.page_round_up} bytes); brk not randomised (ADDR_NO_RANDOMIZE or "
                "randomize_va_space < 2)", notes)
    if rnd is not None and 0 < rnd <= GIB + PAGE_SIZE:
        return (f"start_brk = PAGE_ALIGN(&_end) + {_size(rnd)}: brk randomisation "
                "(arch_randomize_brk, up to 1 GiB on x86_64 6.x; fs/binfmt_elf.c, "
                "arch/x86/kernel/process.c) plus the page round-up "
                f"({ev.page_round_up} bytes)", notes)
    return (f"start_brk - &_end = {_size(ev.end_to_start_brk)}: not the usual "
            "PAGE_ALIGN(&_end) [+ up to 1 GiB] (another loader? prctl(PR_SET_MM)?)", notes)
