"""Give every line of /proc/PID/maps a kind: what the mapping holds.

Kinds: text, rodata, data, bss (the executable's own segments), heap, stack, vdso, vvar,
vsyscall (kernel-named), lib (shared objects), file (any other file), anon.

How the executable's lines are told apart (fs/binfmt_elf.c load_elf_binary, measured on
gcc/glibc binaries, see docs/kernel-facts.md#elf-to-maps):

    r--p  offset 0        ELF header, program headers, .dynsym ...    -> rodata
    r-xp                  the PF_X PT_LOAD (.text); stat start_code   -> text
    r--p                  .rodata, .eh_frame                          -> rodata
    r--p                  RELRO: the first pages of the RW PT_LOAD     -> data
                          (.init_array, .dynamic, .got), made read-only by ld.so
                          after relocation; stat start_data points into it
    rw-p                  .data (+ the .bss that fits in its last page) -> data
    rw-p  anonymous       the .bss tail beyond the last file page      -> bss

load_elf_binary sets start_data to the p_vaddr of the LAST PT_LOAD (the RW one), so a
read-only executable mapping at or above start_data is RELRO, part of the data segment.
When stat is masked or zero the split falls back to the order of the lines.
"""

from __future__ import annotations

from collections.abc import Iterable

from memlab.kernel.abi import PAGE_SIZE
from memlab.model import ProcStat, Region, records
from memlab.procfs.maps import path_kind

KINDS = ("text", "rodata", "data", "bss", "heap", "stack", "vdso", "vvar", "vsyscall",
         "lib", "anon", "file",
         "thread-stack")  # set by analysis.threads from each thread's stack pointer

DELETED_SUFFIX = " (deleted)"


def strip_deleted(exe: str | None) -> str | None:
    """readlink(/proc/PID/exe) says `/path (deleted)` once the file is unlinked; maps
    lines carry the flag separately (Region.deleted), so compare bare paths."""
    if exe and exe.endswith(DELETED_SUFFIX):
        return exe[: -len(DELETED_SUFFIX)]
    return exe


def _stat_usable(stat: ProcStat | None) -> bool:
    return stat is not None and not stat.masked and stat.start_code != 0


def find_exe_path(regions: Iterable[Region], stat: ProcStat | None,
                  exe: str | None) -> str | None:
    """The executable's path as maps spells it: from readlink(exe), else the file mapped
    at stat's start_code (the first PF_X segment)."""
    exe = strip_deleted(exe)
    if exe:
        return exe
    if _stat_usable(stat):
        for r in regions:
            if r.contains(stat.start_code) and r.path and not r.is_special:
                return r.path
    return None


def _exe_kinds(exe_regions: list[Region], stat: ProcStat | None) -> dict[int, str]:
    """Kind per index (into exe_regions, address order) for the executable's own lines."""
    kinds: dict[int, str] = {}
    first_x = next((i for i, r in enumerate(exe_regions) if "x" in r.perms), None)
    data_floor = None
    if _stat_usable(stat) and stat.start_data:
        # start_data is unaligned (p_vaddr + bias): the mapping holding it begins at its page.
        data_floor = stat.start_data & ~(PAGE_SIZE - 1)
    for i, r in enumerate(exe_regions):
        if "x" in r.perms:
            kinds[i] = "text"
        elif "w" in r.perms:
            kinds[i] = "data"
        elif data_floor is not None and r.start >= data_floor and (
                first_x is None or i > first_x):
            kinds[i] = "data"  # RELRO: the read-only head of the RW PT_LOAD
        else:
            kinds[i] = "rodata"  # headers before .text, .rodata/.eh_frame after it
    if data_floor is None:
        # No usable stat: a read-only line directly below the first writable line of the
        # file, after .text and after another read-only line, is RELRO.
        w = next((i for i, r in enumerate(exe_regions) if "w" in r.perms), None)
        if (w is not None and first_x is not None and w - 2 > first_x
                and kinds[w - 1] == "rodata" and kinds[w - 2] == "rodata"
                and exe_regions[w - 1].end == exe_regions[w].start):
            kinds[w - 1] = "data"
    return kinds


def classify(regions: Iterable[Region], stat: ProcStat | None,
             exe: str | None) -> tuple[Region, ...]:
    """Return the regions (same order) with every kind set: the executable's (text,
    rodata, data, bss) from stat and exe; the others as parse_maps named them from their
    path (a Region built by hand, left "anon", gets its path's kind here)."""
    out = list(regions)
    exe_path = find_exe_path(out, stat, exe)
    kinds: dict[int, str] = {}
    exe_idx = [i for i, r in enumerate(out) if r.path == exe_path] if exe_path else []
    if exe_idx:
        exe_idx.sort(key=lambda i: out[i].start)  # maps order already is address order
        per_exe = _exe_kinds([out[i] for i in exe_idx], stat)
        kinds = {i: per_exe[pos] for pos, i in enumerate(exe_idx)}
        kinds.update(_bss_tail(out, out[exe_idx[-1]], stat))
    for i, r in enumerate(out):
        if r.kind == "anon" and r.path and i not in kinds:  # [anon:x], or built by hand
            kinds[i] = path_kind(r.path)
    changed = [i for i, kind in kinds.items() if kind != out[i].kind]
    # kind is a Region's last field: (*r[:-1], kind) is the copy with the new kind
    for i, region in zip(changed, records(Region, [(*out[i][:-1], kinds[i])
                                                   for i in changed])):
        out[i] = region
    return tuple(out)


def _bss_tail(regions: list[Region], last_exe: Region,
              stat: ProcStat | None) -> dict[int, str]:
    """The anonymous rw mapping that starts exactly where the executable's last line ends
    is the rest of .bss (set_brk/vm_brk_flags in load_elf_binary maps it), as long as it
    is below start_brk when the heap lies above the binary.  Static-PIE binaries sit in the
    mmap area with brk placed below them (docs/kernel-facts.md#heap-start-and-aslr):
    contiguity alone decides."""
    end = last_exe.end
    start_brk = stat.start_brk if _stat_usable(stat) else None
    below = start_brk if start_brk is not None and start_brk >= end else None
    return {i: "bss" for i, r in enumerate(regions)
            if r.start == end and r.path is None and "w" in r.perms
            and (below is None or r.start < below)}
