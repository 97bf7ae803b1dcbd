"""The ELF file laid over one process's memory: file + bias + segments -> maps + symbols
+ heap + libc's `environ`.

`analyse(snapshot)` returns an ElfMemoryMap (objects, for the CLI/TUI); `snapshot_section`
is its JSON form, which collect.snapshot(pid, with_elf=True) stores as extra["elf"].
Never raises for an unreadable executable: the map then says why (`reason`) and keeps
what maps + stat still tell (`fallback`).  Raises ExecDuringRead when the executable it
opened is not the one in the snapshot's maps (the process exec'd since): one program's
ELF is never laid over another's maps.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from typing import Any

from memlab.analysis.classify import strip_deleted
from memlab.analysis.heap import HeapEvidence, heap_evidence
from memlab.elf.correlate import (Bias, SegmentMapping, bias_from_maps, load_bias,
                                  runtime_symbols, segment_map)
from memlab.elf.model import ElfInfo
from memlab.elf.reader import cached, load_stream
from memlab.errors import ExecDuringRead, MemlabError
from memlab.model import Region, Snapshot, hexaddr

SCHEMA = "memlab.elf/1"
_LIBC = re.compile(r"/libc(\.so[.\d]*|-[\d.]+\.so)$")


@dataclass(frozen=True)
class LibcEnviron:
    """libc in the process: where it was loaded and its `environ` variable (the envp
    array setenv() keeps, which may no longer be the one execve laid on the stack)."""

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
class ElfMemoryMap:
    """One process's executable, correlated with its memory: the load bias, each PT_LOAD
    segment and the maps lines it became, the heap's evidence, libc's `environ`."""

    pid: int
    exe: str | None  # as maps spells it (no " (deleted)")
    deleted: bool
    info: ElfInfo | None  # None: degraded (see reason)
    reason: str | None
    bias: Bias | None = None
    segments: tuple[SegmentMapping, ...] = ()
    heap: HeapEvidence | None = None
    libc: LibcEnviron | None = None
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
            d["file"] = _file_dict(self.info, b)
            d["bias"] = self.bias.to_dict() if self.bias else None
            d["segments"] = [m.to_dict() for m in self.segments]
            d["symbols"] = runtime_symbols(self.info, b, regions)
            d["all_segments_exact"] = all(m.verdict == "exact" for m in self.segments)
        d["libc"] = self.libc.to_dict() if self.libc else None
        d["heap"] = self.heap.to_dict() if self.heap else None
        return d


_FILE_DICTS: dict[tuple[int, int | None], tuple[ElfInfo, dict[str, Any]]] = {}


def _file_dict(info: ElfInfo, bias: int | None) -> dict[str, Any]:
    """info.to_dict(bias), memoised: the same parsed file at the same bias gives the same
    JSON (a refresh of one process).  Keyed by identity; the entry keeps `info` alive so
    the id cannot be reused while cached."""
    key = (id(info), bias)
    hit = _FILE_DICTS.get(key)
    if hit is None or hit[0] is not info:
        if len(_FILE_DICTS) > 64:
            _FILE_DICTS.clear()
        hit = _FILE_DICTS[key] = (info, info.to_dict(bias))
    return dict(hit[1])


def _exe_path(snap: Snapshot) -> tuple[str | None, bool]:
    exe = strip_deleted(snap.exe)
    deleted = bool(snap.exe and snap.exe != exe)
    return exe, deleted


def _open_exe_info(pid: int, exe: str | None) -> tuple[ElfInfo, os.stat_result]:
    """The executable's ElfInfo and the identity of the file it was parsed from: a stat
    of /proc/PID/exe finds a cached parse (a refresh costs one stat), else the file is
    opened through the magic link."""
    from memlab.procfs.exe import open_exe, stat_exe

    key_path = exe or f"/proc/{pid}/exe"
    st = stat_exe(pid)
    hit = cached(key_path, st)
    if hit is not None:
        return hit, st
    f, st = open_exe(pid)
    with f:
        return load_stream(f, key_path, st), st


def _maps_identity(region: Region) -> tuple[int, int, int]:
    """(major, minor, inode) of a maps line ("fe:01", 1234)."""
    major, _, minor = region.dev.partition(":")
    return int(major, 16), int(minor, 16), region.inode


def check_exe_identity(snap: Snapshot, exe: str | None, st: os.stat_result) -> None:
    """Raise ExecDuringRead when the file opened through /proc/PID/exe is not the
    executable snap's maps show: the process exec'd between the maps read and the open,
    and the ELF of one program must not be laid over the maps of another.

    maps prints the mapped file's device and inode (fs/proc/task_mmu.c show_map_vma);
    stat() can name another device for the same file (btrfs subvolumes, overlayfs on
    older kernels), so when they differ the file at the maps path, seen through the
    process's root, is stat()ed the same way and compared.  A deleted executable has no
    path left: then its first maps line must still be in the process's maps."""
    first = next((r for r in snap.regions if exe is not None and r.path == exe), None)
    if first is None:
        return
    if (os.major(st.st_dev), os.minor(st.st_dev), st.st_ino) == _maps_identity(first):
        return
    from memlab.procfs._io import proc_path, read_proc_file

    if not first.deleted:
        try:
            there = os.stat(proc_path(snap.pid, "root") + first.path)
        except OSError:
            there = None
        if there is not None:
            if (there.st_dev, there.st_ino) != (st.st_dev, st.st_ino):
                raise ExecDuringRead(snap.pid)
            return
    from memlab.procfs.maps import parse_maps

    now = parse_maps(read_proc_file(snap.pid, "maps"))
    if not any(r.start == first.start and r.inode == first.inode and r.path == first.path
               for r in now):
        raise ExecDuringRead(snap.pid)


# Refresh memo: the same process with the same maps, auxv, brk and parsed file gives the
# same map, so a TUI refresh (or a repeated `inspect`) reuses it and only re-reads the
# live value (libc's environ pointer).  Small and bounded: one entry per watched process.
# The maps part is compared, not hashed (CPython does not cache tuple hashes, and
# hashing ~100 lines on every refresh would cost more than the comparison).
@dataclass
class _Memo:
    regions: tuple
    emap: ElfMemoryMap
    json: dict[str, Any] | None = None


_MEMO: dict[tuple, _Memo] = {}
_MEMO_MAX = 32


def _memo_key(snap: Snapshot, info: ElfInfo, reported_brk, first_alloc, start_brk) -> tuple:
    entry = phdr = None
    for a in snap.auxv:
        if a.type == 9:  # AT_ENTRY
            entry = a.value
        elif a.type == 3:  # AT_PHDR
            phdr = a.value
    return (snap.pid, snap.exe, id(info), entry, phdr, start_brk, reported_brk, first_alloc)


def _analyse(snap: Snapshot, report: dict | None, live: bool = True,
             maps: bytes | None = None) -> tuple[ElfMemoryMap, _Memo | None]:
    exe, deleted = _exe_path(snap)
    rep = report or {}
    reported_brk = _addr(rep.get("sbrk"))
    first_alloc = _addr(rep.get("malloc"))
    start_brk = None if (snap.stat.masked or not snap.stat.has_mm) else snap.stat.start_brk
    try:
        info, st = _open_exe_info(snap.pid, exe)
        check_exe_identity(snap, exe, st)
    except ExecDuringRead:
        raise
    except MemlabError as err:
        heap = heap_evidence(snap.regions, start_brk, exe_path=exe, reported_brk=reported_brk,
                             first_alloc=first_alloc,
                             end_source=None)
        return ElfMemoryMap(snap.pid, exe, deleted, None,
                       f"executable not readable: {err}; showing maps + stat only",
                       heap=heap), None
    key = _memo_key(snap, info, reported_brk, first_alloc, start_brk)
    # The whole maps, compared: a remap changes a line, a deleted exe changes snap.exe
    # (" (deleted)"), which is in the key.  The text as read, when the caller has it
    # (collect.snapshot does): equal text, equal lines, in one memcmp instead of 7 us of
    # Region compares for 150 lines.
    regions_key = snap.regions if maps is None else maps
    memo = _MEMO.get(key)
    if memo is not None and memo.emap.info is info and memo.regions == regions_key:
        emap = memo.emap
        if emap.libc is not None and emap.libc.environ is not None:
            value = _read_ptr(snap, emap.libc.environ) if live else None
            if value != emap.libc.environ_value:
                emap = replace(emap, libc=replace(emap.libc, environ_value=value))
        return emap, memo
    warnings = []

    def is_exe(r: Region) -> bool:
        return exe is not None and r.path == exe

    regions = snap.regions  # maps order is address order (fs/proc/task_mmu.c)
    bias = load_bias(info, snap.auxv, regions, is_exe)
    if bias.note:
        warnings.append(bias.note)
    mappings: tuple[SegmentMapping, ...] = ()
    if bias.value is not None:
        mappings = tuple(segment_map(info, regions, bias.value))
        for m in mappings:
            if m.verdict not in ("exact",):
                warnings.append(f"PT_LOAD {m.segment.perms} at {hexaddr(m.start)}: "
                                f"{m.verdict} ({'; '.join(m.notes) or 'see segments'})")
    end_sym = info.first("_end", "end")
    end_addr = end_sym.value + bias.value if end_sym and bias.value is not None else None
    heap = heap_evidence(regions, start_brk, end_symbol=end_addr,
                         end_source=f"{end_sym.name} ({end_sym.source})" if end_sym else None,
                         exe_path=exe, static_pie=info.kind == "static-pie",
                         reported_brk=reported_brk, first_alloc=first_alloc)
    libc = _libc_environ(snap, info, bias, live)
    emap = ElfMemoryMap(snap.pid, exe, deleted, info, None, bias, mappings, heap, libc,
                   tuple(warnings))
    if key not in _MEMO and len(_MEMO) >= _MEMO_MAX:
        _MEMO.pop(next(iter(_MEMO)))
    memo = _MEMO[key] = _Memo(regions_key, emap)
    return emap, memo


def analyse(snap: Snapshot, *, report: dict | None = None,
            walk_heap: bool = False) -> ElfMemoryMap:
    """The ELF memory map of `snap`.  `report` is a sample's self-report (adds the reported
    sbrk(0) and first malloc to the heap evidence).  walk_heap reads the first malloc
    chunk headers at start_brk (memory access needed; `memlab heap` does)."""
    emap = _analyse(snap, report)[0]
    if walk_heap and emap.heap is not None:
        chunks = _heap_chunks(snap, emap.heap)
        if chunks is None:
            pass  # nothing to walk, or memory not readable
        elif not chunks:
            emap = replace(emap, heap=replace(emap.heap, notes=emap.heap.notes + (
                "no malloc chunk header at start_brk: something used sbrk before malloc "
                "(a static glibc puts its TLS block there, csu/libc-tls.c)",)))
        else:
            ev = emap.heap
            heap = heap_evidence(snap.regions, ev.start_brk, end_symbol=ev.end_symbol,
                                 end_source=ev.end_source, exe_path=emap.exe,
                                 static_pie=emap.info is not None
                                 and emap.info.kind == "static-pie",
                                 reported_brk=_addr((report or {}).get("sbrk")),
                                 first_alloc=ev.first_alloc if ev.first_alloc_source
                                 else None, chunks=chunks)
            emap = replace(emap, heap=heap)
    return emap


def snapshot_and_map(pid: int, **kw) -> tuple[Snapshot, ElfMemoryMap]:
    """collect.snapshot(pid) and its analyse(), read again when the process exec'd
    between the two (up to collect.READ_ATTEMPTS times, then ExecDuringRead)."""
    from memlab.collect import READ_ATTEMPTS, snapshot

    for _ in range(READ_ATTEMPTS):
        snap = snapshot(pid)
        try:
            return snap, analyse(snap, **kw)
        except ExecDuringRead:
            continue
    raise ExecDuringRead(pid)


def _heap_chunks(snap: Snapshot, ev) -> tuple | None:
    """The first glibc chunks of the [heap]: None when there is no [heap] or its memory
    cannot be read, () when start_brk holds no chunk header."""
    from memlab.analysis.heap import walk_chunks

    if ev.heap_region is None or ev.start_brk is None:
        return None
    try:
        from memlab.procfs.mem import MemReader
    except ImportError:  # procfs.mem is another engineer's; absent in old trees
        return None
    try:
        with MemReader(snap.pid, list(snap.regions)) as mem:
            return walk_chunks(mem.read_u64, ev.start_brk, ev.heap_region.end)
    except (MemlabError, OSError):
        return None


def snapshot_section(snap: Snapshot, *, report: dict | None = None,
                     live: bool = False, maps: bytes | None = None) -> dict[str, Any]:
    """JSON-ready "elf" section for a snapshot (collect.snapshot(pid, with_elf=True)).
    A fresh dict each call (top level); nested values may be shared with the memo: do
    not mutate them.  live=False (the default, cheap on every refresh) leaves out the
    one value that needs a memory read: libc.environ_value (`memlab elf` shows it).
    maps: the /proc/PID/maps text snap.regions came from, if the caller kept it."""
    emap, memo = _analyse(snap, report, live, maps)
    if memo is None:
        return emap.to_dict(snap.regions)
    if memo.json is None:
        memo.json = emap.to_dict(snap.regions)
    d = dict(memo.json)
    d["libc"] = emap.libc.to_dict() if emap.libc else None
    return d


def _addr(v: Any) -> int | None:
    if isinstance(v, str) and v.startswith("0x"):
        return int(v, 16)
    return v if isinstance(v, int) else None


def _libc_environ(snap: Snapshot, exe_info: ElfInfo, exe_bias: Bias,
               live: bool = True) -> LibcEnviron | None:
    """Where libc's `environ` lives.  A static executable carries its own libc; a non-PIE
    executable that references `environ` gets a copy relocation: the executable's
    definition (in its .bss) is then the one every caller uses."""
    own = exe_info.first("environ", "__environ")
    if own is not None and not own.derived and exe_bias.value is not None:
        addr = own.value + exe_bias.value
        note = ("static executable: its own libc's environ" if exe_info.is_static else
                f"environ defined in the executable ({own.source}): a copy relocation, "
                "libc uses this one")
        return LibcEnviron(snap.exe or "", exe_bias.value, addr,
                        _read_ptr(snap, addr) if live else None, note)
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
        return LibcEnviron(first.path, None, None, None, f"libc not readable: {err}")
    bias = bias_from_maps(info, snap.regions, lambda r: r.path == first.path)
    sym = info.first("environ", "__environ")
    if sym is None or bias is None:
        return LibcEnviron(first.path, bias, None, None, "no environ symbol in libc")
    addr = sym.value + bias
    return LibcEnviron(first.path, bias, addr, _read_ptr(snap, addr) if live else None, None)


def _read_ptr(snap: Snapshot, addr: int) -> int | None:
    """The pointer stored at addr, or None when memory cannot be read (no ATTACH
    access, the process exited, or procfs.mem not available)."""
    try:
        from memlab.procfs.mem import MemReader
    except ImportError:  # procfs.mem is built by another engineer in parallel
        return None
    try:
        # no regions: the address is an ELF symbol inside a mapping we just matched
        with MemReader(snap.pid) as mem:
            return mem.read_u64(addr)
    except MemlabError:
        return None
    except OSError:
        return None


__all__ = ["ElfMemoryMap", "LibcEnviron", "analyse", "snapshot_and_map", "snapshot_section"]
