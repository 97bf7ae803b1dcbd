"""The ELF file next to the memory it became: load bias, PT_LOAD -> maps lines, symbols.

Facts (kernel-facts.md section 6, fs/binfmt_elf.c load_elf_binary):
- ET_EXEC is mapped at its link addresses (bias 0).  ET_DYN gets a load_bias: for a PIE
  with an interpreter, ELF_ET_DYN_BASE (+ randomisation); a static-PIE (no interpreter)
  is placed like an mmap, in the mmap area (0x7f...).
- The kernel reports the entry point (AT_ENTRY = e_entry + bias) and the program headers
  (AT_PHDR = phdr vaddr + bias) in auxv, so bias = AT_ENTRY - e_entry, and AT_PHDR -
  PT_PHDR.p_vaddr must agree (create_elf_tables).
- elf_map() maps each PT_LOAD from PAGE_DOWN(vaddr+bias) to PAGE_ALIGN(vaddr+filesz+bias);
  the rest up to PAGE_ALIGN(vaddr+memsz+bias) (the .bss tail beyond the last file page) is
  an anonymous mapping (padzero + vm_brk_flags).  ld.so later mprotects PT_GNU_RELRO
  read-only, splitting the RW segment into r--p + rw-p.  So one PT_LOAD is the UNION of
  one or more maps lines.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from memlab.elf.model import ElfInfo, Segment
from memlab.kernel.abi import AT_ENTRY, AT_PHDR, page_down, page_up
from memlab.model import AuxvEntry, Region, hexaddr


@dataclass(frozen=True)
class Bias:
    """The load bias and how it was found / cross-checked."""

    value: int | None  # None: unknown (no auxv and no mapping of the file)
    from_entry: int | None  # AT_ENTRY - e_entry
    from_phdr: int | None  # AT_PHDR - phdr vaddr
    from_maps: int | None  # first mapping of the file - PAGE_DOWN(first PT_LOAD vaddr)
    source: str  # "AT_ENTRY", "maps", "none"
    # None when there was nothing to compare with; False is a finding worth showing.
    consistent: bool | None
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"value": hexaddr(self.value), "source": self.source,
                "from_entry": hexaddr(self.from_entry), "from_phdr": hexaddr(self.from_phdr),
                "from_maps": hexaddr(self.from_maps), "consistent": self.consistent,
                "note": self.note}


def _auxv_dict(auxv: Iterable[AuxvEntry] | Mapping[Any, int] | None) -> dict[int, int]:
    if auxv is None:
        return {}
    if isinstance(auxv, Mapping):
        out = {}
        for k, v in auxv.items():
            if isinstance(k, str):
                k = {"AT_PHDR": AT_PHDR, "AT_ENTRY": AT_ENTRY}.get(k, -1)
            out[k] = v
        return out
    return {a.type: a.value for a in auxv}


def bias_from_maps(info: ElfInfo, regions: Iterable[Region], match) -> int | None:
    """Bias from where the file's first page landed: the lowest mapping of the file with
    offset 0, minus the page of the first PT_LOAD (which maps file offset 0)."""
    loads = info.loads
    if not loads:
        return None
    # maps lines come in address order: the first match is the lowest
    first = next((r for r in regions if r.offset == 0 and match(r)), None)
    if first is None:
        return None
    return first.start - page_down(loads[0].vaddr)


def load_bias(info: ElfInfo, auxv, regions: Iterable[Region] = (), match=None) -> Bias:
    """bias = AT_ENTRY - e_entry, checked against AT_PHDR - phdr vaddr (and against the
    maps when `regions` and a `match(region) -> bool` for the file's lines are given)."""
    av = _auxv_dict(auxv)
    from_entry = av[AT_ENTRY] - info.e_entry if AT_ENTRY in av else None
    phv = info.phdr_vaddr
    from_phdr = av[AT_PHDR] - phv if AT_PHDR in av and phv is not None else None
    from_maps = bias_from_maps(info, regions, match) if match is not None else None
    found = [b for b in (from_entry, from_phdr, from_maps) if b is not None]
    value = found[0] if found else None
    source = ("AT_ENTRY" if from_entry is not None else
              "AT_PHDR" if from_phdr is not None else
              "maps" if from_maps is not None else "none")
    consistent = (len(set(found)) == 1) if len(found) > 1 else None
    note = None
    if consistent is False:
        note = ("the sources disagree: AT_ENTRY - e_entry = %s, AT_PHDR - phdr = %s, "
                "maps = %s (was the program started through ld.so, or is this file not "
                "the one the process runs?)" % (hexaddr(from_entry), hexaddr(from_phdr),
                                                hexaddr(from_maps)))
    elif source == "maps":
        note = "auxv unavailable: bias taken from where the file is mapped"
    elif source == "none":
        note = "neither auxv nor a mapping of the file: runtime addresses unknown"
    return Bias(value, from_entry, from_phdr, from_maps, source, consistent, note)


def _in_order(regions: Iterable[Region]) -> list[Region]:
    """The lines in address order (maps already is: only sort when it is not)."""
    regs = list(regions)
    if any(a.start > b.start for a, b in zip(regs, regs[1:])):
        regs.sort(key=lambda r: r.start)
    return regs


# ------------------------------------------------------------------ segments -> maps
@dataclass(frozen=True)
class SegmentMapping:
    """One PT_LOAD and the union of maps lines it became."""

    segment: Segment
    start: int  # PAGE_DOWN(vaddr + bias)
    end: int  # PAGE_ALIGN(vaddr + memsz + bias)
    file_end: int  # PAGE_ALIGN(vaddr + filesz + bias): where the file-backed part stops
    regions: tuple[Region, ...]  # every maps line overlapping [start, end)
    verdict: str  # "exact" | "covers" | "partial" | "unmapped"
    notes: tuple[str, ...]

    @property
    def union(self) -> tuple[int, int] | None:
        if not self.regions:
            return None
        return self.regions[0].start, self.regions[-1].end

    def to_dict(self) -> dict[str, Any]:
        u = self.union
        return {
            "segment": self.segment.to_dict(),
            "expected": {"start": hexaddr(self.start), "end": hexaddr(self.end)},
            "file_end": hexaddr(self.file_end),
            "union": {"start": hexaddr(u[0]), "end": hexaddr(u[1])} if u else None,
            "regions": [{"start": hexaddr(r.start), "end": hexaddr(r.end), "perms": r.perms,
                         "path": r.label, "offset": r.offset} for r in self.regions],
            "verdict": self.verdict,
            "notes": list(self.notes),
        }


def segment_map(info: ElfInfo, regions: Iterable[Region], bias: int,
                relro: Segment | None = None) -> list[SegmentMapping]:
    """Each PT_LOAD with the maps lines covering its pages.  `verdict`:
    exact    - the lines' union is exactly [PAGE_DOWN(vaddr+bias), PAGE_ALIGN(end+bias))
    covers   - covered without holes, but a line reaches beyond (merged with a neighbour)
    partial  - holes (e.g. a page unmapped since), unmapped - nothing there."""
    regs = _in_order(regions)
    ends = [r.end for r in regs]
    relro = relro if relro is not None else info.relro
    out = []
    for seg in info.loads:
        start = page_down(seg.vaddr + bias)
        end = page_up(seg.vaddr + seg.memsz + bias)
        file_end = page_up(seg.vaddr + seg.filesz + bias)
        i = bisect.bisect_right(ends, start)  # first line ending above `start`
        hit = []
        while i < len(regs) and regs[i].start < end:
            hit.append(regs[i])
            i += 1
        hit = tuple(hit)
        holes = False
        cursor = start
        for r in hit:
            if r.start > cursor:
                holes = True
            cursor = max(cursor, r.end)
        holes = holes or cursor < end
        if not hit:
            verdict = "unmapped"
        elif holes:
            verdict = "partial"
        elif hit[0].start == start and hit[-1].end == end:
            verdict = "exact"
        else:
            verdict = "covers"
        out.append(SegmentMapping(seg, start, end, file_end, hit, verdict,
                                  tuple(_notes(seg, hit, start, end, file_end, bias, relro))))
    return out


def _notes(seg: Segment, hit, start, end, file_end, bias, relro) -> list[str]:
    notes = []
    if len(hit) > 1:
        notes.append("%d maps lines: %s" % (len(hit), " + ".join(r.perms for r in hit)))
    if relro is not None and "W" in seg.perms:
        r0, r1 = page_down(relro.vaddr + bias), page_down(relro.vaddr + relro.memsz + bias)
        if any(r.start == r0 and r.end == r1 and r.perms.startswith("r-") for r in hit):
            notes.append("RELRO: [%s, %s) made read-only after relocation (by ld.so; by libc start-up in a static binary)"
                         % (hexaddr(r0), hexaddr(r1)))
    for r in hit:
        if r.path is None and r.start >= file_end:
            notes.append("anonymous %s: .bss beyond the last file page" % hexaddr(r.start))
        elif r.path == "[heap]":
            notes.append("the .bss tail was merged into [heap] (start_brk right after it)")
    if hit and (hit[0].start < start or hit[-1].end > end):
        notes.append("a maps line extends beyond the segment (merged with a neighbour)")
    return notes


def runtime_symbols(info: ElfInfo, bias: int | None,
                    regions: Iterable[Region] = ()) -> list[dict[str, Any]]:
    """JSON rows: each symbol of interest with its runtime address and the maps line
    holding it ("end" symbols point one past their section, maybe into the next page)."""
    regs = _in_order(regions)
    starts = [r.start for r in regs]
    rows = []
    for sym in info.symbols:
        d = sym.to_dict(bias)
        if bias is not None:
            addr = sym.value + bias
            i = bisect.bisect_right(starts, addr) - 1
            reg = regs[i] if i >= 0 and regs[i].contains(addr) else None
            d["region"] = reg.label if reg else None
        rows.append(d)
    return rows
