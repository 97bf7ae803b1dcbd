"""Parse an ELF file once with pyelftools and keep what memlab needs (ElfInfo).

The cache key is (path, st_dev, st_ino, st_mtime_ns): a refresh of the same process (or
another process of the same binary) does not re-parse, a rebuilt binary (new inode or
mtime) does.  pyelftools is imported here, lazily: `import memlab.elf` stays cheap.
"""

from __future__ import annotations

import os
import threading
from typing import BinaryIO

from memlab.elf.model import (SYMBOLS_OF_INTEREST, ElfInfo, Section, Segment, Symbol)
from memlab.errors import ParseError, UsageError

_CACHE: dict[tuple, ElfInfo] = {}
_LOCK = threading.Lock()
_CACHE_MAX = 64
# Counts parses (not cache hits); tests and the bench use it to prove the cache works.
stats = {"parsed": 0, "hits": 0}


def cache_key(path: str, st: os.stat_result) -> tuple:
    return (path, st.st_dev, st.st_ino, st.st_mtime_ns)


def clear_cache() -> None:
    with _LOCK:
        _CACHE.clear()


def load(path: str) -> ElfInfo:
    """ElfInfo for the file at `path` (cached).  UsageError if it cannot be opened,
    ParseError if it is not an ELF file."""
    try:
        with open(path, "rb") as f:
            return load_stream(f, path, os.fstat(f.fileno()))
    except FileNotFoundError as err:
        raise UsageError("no such file", path=path) from err
    except PermissionError as err:
        raise UsageError("permission denied reading the file", path=path) from err
    except IsADirectoryError as err:
        raise UsageError("is a directory, not an ELF file", path=path) from err


def cached(path: str, st: os.stat_result) -> ElfInfo | None:
    """The cached ElfInfo for this file identity, or None (no parse)."""
    with _LOCK:
        hit = _CACHE.get(cache_key(path, st))
        if hit is not None:
            stats["hits"] += 1
        return hit


def load_stream(f: BinaryIO, path: str, st: os.stat_result) -> ElfInfo:
    """ElfInfo for an already opened file (e.g. /proc/PID/exe of a deleted binary),
    cached under `path` and the identity in `st`."""
    key = cache_key(path, st)
    with _LOCK:
        hit = _CACHE.get(key)
        if hit is not None:
            stats["hits"] += 1
            return hit
    info = parse(f, path)
    with _LOCK:
        if len(_CACHE) >= _CACHE_MAX:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = info
        stats["parsed"] += 1
    return info


def parse(f: BinaryIO, path: str) -> ElfInfo:
    """Uncached parse.  Any pyelftools failure becomes a ParseError naming the file."""
    # pyelftools is heavy: loaded by the first parse, never by `import memlab.elf`
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile

    try:
        elf = ELFFile(f)
        return _extract(elf, path)
    except (ELFError, ValueError, EOFError, KeyError) as err:  # truncated / not ELF
        raise ParseError(f"not a readable ELF file: {err}", path=path) from err
    except OSError as err:
        raise ParseError(f"read failed: {err.strerror or err}", path=path) from err


def _extract(elf, path: str) -> ElfInfo:
    hdr = elf.header
    segments = []
    interp = None
    for seg in elf.iter_segments():
        p = seg.header
        segments.append(Segment(type=str(p.p_type), offset=p.p_offset, vaddr=p.p_vaddr,
                                filesz=p.p_filesz, memsz=p.p_memsz, flags=p.p_flags))
        if p.p_type == "PT_INTERP":
            interp = seg.get_interp_name()
    sections = tuple(
        Section(name=s.name, type=str(s["sh_type"]), addr=s["sh_addr"], size=s["sh_size"],
                offset=s["sh_offset"], flags=s["sh_flags"])
        for s in elf.iter_sections() if s.name)
    symtab = elf.get_section_by_name(".symtab")
    dynsym = elf.get_section_by_name(".dynsym")
    symbols = _symbols_of_interest(symtab, dynsym)
    is_static = interp is None
    e_type = str(hdr.e_type)
    is_pie = e_type == "ET_DYN" and _df1_pie(elf, interp)
    info = ElfInfo(path=path, e_type=e_type, e_entry=hdr.e_entry, e_phoff=hdr.e_phoff,
                   machine=str(hdr.e_machine), is_pie=is_pie, is_static=is_static,
                   interp=interp, segments=tuple(segments), sections=sections,
                   symbols=tuple(symbols), has_symtab=symtab is not None,
                   has_dynsym=dynsym is not None, build_id=_build_id(elf))
    derived = _derive_from_sections(info)
    if derived:
        info = ElfInfo(**{**info.__dict__, "symbols": info.symbols + tuple(derived)})
    return info


def _symbols_of_interest(*tables) -> list[Symbol]:
    found: dict[str, Symbol] = {}
    for table in tables:
        if table is None or not hasattr(table, "get_symbol_by_name"):
            continue
        for name in SYMBOLS_OF_INTEREST:
            if name in found:
                continue
            for sym in table.get_symbol_by_name(name) or ():
                # An undefined reference (e.g. `environ` imported from libc) is not an
                # address in this file.
                if sym["st_shndx"] == "SHN_UNDEF":
                    continue
                found[name] = Symbol(name=name, value=sym["st_value"], size=sym["st_size"],
                                     type=str(sym["st_info"]["type"]), source=table.name)
                break
    return [found[n] for n in SYMBOLS_OF_INTEREST if n in found]


def _derive_from_sections(info: ElfInfo) -> list[Symbol]:
    """Stripped binaries: what the section headers (and e_entry) still tell.  GNU ld's
    default script puts etext after the last executable output section, edata after the
    last PROGBITS data, __bss_start at .bss and end after the last NOBITS section."""
    out: list[Symbol] = []
    have = {s.name for s in info.symbols}

    def add(name: str, value: int, source: str) -> None:
        if name not in have:
            out.append(Symbol(name=name, value=value, size=0, type="derived", source=source))

    if "_start" not in have and info.e_entry:
        add("_start", info.e_entry, "e_entry")
    alloc = [s for s in info.sections if s.alloc and s.type != "SHT_NOTE"]
    text = [s for s in alloc if s.executable]
    if text and not {"etext", "_etext", "__etext"} & have:
        last = max(text, key=lambda s: s.addr + s.size)
        add("etext", last.addr + last.size, f"section {last.name} end")
    data = [s for s in alloc if s.writable and s.type != "SHT_NOBITS"]
    if data and not {"edata", "_edata"} & have:
        last = max(data, key=lambda s: s.addr + s.size)
        add("edata", last.addr + last.size, f"section {last.name} end")
    bss = info.section(".bss")
    if bss is not None and "__bss_start" not in have:
        add("__bss_start", bss.addr, "section .bss start")
    if alloc and not {"end", "_end"} & have:
        last = max(alloc, key=lambda s: s.addr + s.size)
        add("end", last.addr + last.size, f"section {last.name} end")
    return out


def _df1_pie(elf, interp: str | None) -> bool:
    """An ET_DYN file is a PIE executable (not a library) when DT_FLAGS_1 has DF_1_PIE
    (set by ld -pie / -static-pie).  Without a dynamic section, fall back to PT_INTERP."""
    dyn = elf.get_section_by_name(".dynamic")
    if dyn is not None and hasattr(dyn, "iter_tags"):
        for tag in dyn.iter_tags():
            if tag.entry.d_tag == "DT_FLAGS_1":
                return bool(tag.entry.d_val & 0x08000000)  # DF_1_PIE
    return interp is not None


def _build_id(elf) -> str | None:
    for sec in elf.iter_sections():
        if sec["sh_type"] != "SHT_NOTE":
            continue
        for note in sec.iter_notes():
            if note["n_type"] == "NT_GNU_BUILD_ID":
                return note["n_desc"]
    return None
