"""The ELF view of one process snapshot: file + bias + segments -> maps + symbols + heap.

`analyse(snapshot)` returns an ElfView (objects, for the CLI/TUI); `snapshot_section`
is its JSON form, which collect.snapshot(pid, with_elf=True) stores as extra["elf"].
Never raises for an unreadable executable: the view then says why (`reason`) and keeps
what maps + stat still tell (`fallback`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from memlab.analysis.classify import strip_deleted
from memlab.analysis.heap import HeapEvidence, heap_evidence
from memlab.elf.correlate import (Bias, SegmentMapping, bias_from_maps, load_bias,
                                  runtime_symbols, segment_map)
from memlab.elf.model import ElfInfo
from memlab.elf.reader import load_stream
from memlab.errors import MemlabError
from memlab.model import Region, Snapshot, hexaddr

SCHEMA = "memlab.elf/1"
_LIBC = re.compile(r"/libc(\.so[.\d]*|-[\d.]+\.so)$")


@dataclass(frozen=True)
class LibcView:
    path: str
    bias: int | None
    environ: int | None  # runtime address of libc's `environ` variable
    environ_value: int | None  # the pointer it holds now (libc's current envp array)
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "bias": hexaddr(self.bias),
                "environ": hexaddr(self.environ),
                "environ_value": hexaddr(self.environ_value), "note": self.note}


@dataclass(frozen=True)
class ElfView:
    pid: int
    exe: str | None  # as maps spells it (no " (deleted)")
    deleted: bool
    info: ElfInfo | None  # None: degraded (see reason)
    reason: str | None
    bias: Bias | None = None
    segments: tuple[SegmentMapping, ...] = ()
    heap: HeapEvidence | None = None
    libc: LibcView | None = None
    warnings: tuple[str, ...] = field(default=())

    @property
    def available(self) -> bool:
        return self.info is not None

    def symbol_address(self, *names: str) -> int | None:
        if self.info is None or self.bias is None or self.bias.value is None:
            return None
        sym = self.info.first(*names)
        return None if sym is None else sym.value + self.bias.value

    def to_dict(self, regions: tuple[Region, ...] = ()) -> dict[str, Any]:
        d: dict[str, Any] = {"schema": SCHEMA, "available": self.available,
                             "reason": self.reason, "exe": self.exe,
                             "deleted": self.deleted, "warnings": list(self.warnings)}
        if self.info is not None:
            b = self.bias.value if self.bias else None
            d["file"] = self.info.to_dict(b)
            d["bias"] = self.bias.to_dict() if self.bias else None
            d["segments"] = [m.to_dict() for m in self.segments]
            d["symbols"] = runtime_symbols(self.info, b, regions)
            d["all_segments_exact"] = all(m.verdict == "exact" for m in self.segments)
        d["libc"] = self.libc.to_dict() if self.libc else None
        d["heap"] = self.heap.to_dict() if self.heap else None
        return d


def _exe_path(snap: Snapshot) -> tuple[str | None, bool]:
    exe = strip_deleted(snap.exe)
    deleted = bool(snap.exe and snap.exe != exe)
    return exe, deleted


def _open_exe_info(pid: int, exe: str | None) -> ElfInfo:
    from memlab.procfs.exe import open_exe

    f, st = open_exe(pid)
    with f:
        return load_stream(f, exe or f"/proc/{pid}/exe", st)


def analyse(snap: Snapshot, *, report: dict | None = None) -> ElfView:
    """The ELF view of `snap`.  `report` is a sample's self-report (adds the reported
    sbrk(0) and first malloc to the heap evidence)."""
    exe, deleted = _exe_path(snap)
    rep = report or {}
    reported_brk = _addr(rep.get("sbrk"))
    first_alloc = _addr(rep.get("malloc"))
    start_brk = None if (snap.stat.masked or not snap.stat.has_mm) else snap.stat.start_brk
    try:
        info = _open_exe_info(snap.pid, exe)
    except MemlabError as err:
        heap = heap_evidence(snap.regions, start_brk, exe_path=exe, reported_brk=reported_brk,
                             first_alloc=first_alloc,
                             end_source=None)
        return ElfView(snap.pid, exe, deleted, None,
                       f"executable not readable: {err}; showing maps + stat only",
                       heap=heap)
    warnings = []

    def is_exe(r: Region) -> bool:
        return exe is not None and r.path == exe

    bias = load_bias(info, snap.auxv, snap.regions, is_exe)
    if bias.note:
        warnings.append(bias.note)
    mappings: tuple[SegmentMapping, ...] = ()
    if bias.value is not None:
        mappings = tuple(segment_map(info, snap.regions, bias.value))
        for m in mappings:
            if m.verdict not in ("exact",):
                warnings.append(f"PT_LOAD {m.segment.perms} at {hexaddr(m.start)}: "
                                f"{m.verdict} ({'; '.join(m.notes) or 'see segments'})")
    end_sym = info.first("_end", "end")
    end_addr = end_sym.value + bias.value if end_sym and bias.value is not None else None
    heap = heap_evidence(snap.regions, start_brk, end_symbol=end_addr,
                         end_source=f"{end_sym.name} ({end_sym.source})" if end_sym else None,
                         exe_path=exe, static_pie=info.kind == "static-pie",
                         reported_brk=reported_brk, first_alloc=first_alloc)
    libc = _libc_view(snap, info, bias)
    return ElfView(snap.pid, exe, deleted, info, None, bias, mappings, heap, libc,
                   tuple(warnings))


def snapshot_section(snap: Snapshot, *, report: dict | None = None) -> dict[str, Any]:
    """JSON-ready "elf" section for a snapshot (collect.snapshot(pid, with_elf=True))."""
    return analyse(snap, report=report).to_dict(snap.regions)


def _addr(v: Any) -> int | None:
    if isinstance(v, str) and v.startswith("0x"):
        return int(v, 16)
    return v if isinstance(v, int) else None


def _libc_view(snap: Snapshot, exe_info: ElfInfo, exe_bias: Bias) -> LibcView | None:
    """Where libc's `environ` lives.  A static executable carries its own libc; a non-PIE
    executable that references `environ` gets a copy relocation: the executable's
    definition (in its .bss) is then the one every caller uses."""
    own = exe_info.first("environ", "__environ")
    if own is not None and not own.derived and exe_bias.value is not None:
        addr = own.value + exe_bias.value
        note = ("static executable: its own libc's environ" if exe_info.is_static else
                f"environ defined in the executable ({own.source}): a copy relocation, "
                "libc uses this one")
        return LibcView(snap.exe or "", exe_bias.value, addr, _read_ptr(snap, addr), note)
    libc_regs = [r for r in snap.regions if r.path and _LIBC.search(r.path)]
    if not libc_regs:
        return None
    first = min(libc_regs, key=lambda r: r.start)
    from memlab.procfs.exe import open_mapped_file

    try:
        f, st = open_mapped_file(snap.pid, first.start, first.end, first.path)
        with f:
            info = load_stream(f, first.path, st)
    except MemlabError as err:
        return LibcView(first.path, None, None, None, f"libc not readable: {err}")
    bias = bias_from_maps(info, snap.regions, lambda r: r.path == first.path)
    sym = info.first("environ", "__environ")
    if sym is None or bias is None:
        return LibcView(first.path, bias, None, None, "no environ symbol in libc")
    addr = sym.value + bias
    return LibcView(first.path, bias, addr, _read_ptr(snap, addr), None)


def _read_ptr(snap: Snapshot, addr: int) -> int | None:
    """The pointer stored at addr, or None when memory cannot be read (no ATTACH
    access, the process exited, or procfs.mem not available)."""
    try:
        from memlab.procfs.mem import MemReader
    except ImportError:  # procfs.mem is built by another engineer in parallel
        return None
    try:
        with MemReader(snap.pid, list(snap.regions)) as mem:
            return mem.read_u64(addr)
    except MemlabError:
        return None
    except OSError:
        return None


__all__ = ["ElfView", "LibcView", "analyse", "snapshot_section"]
