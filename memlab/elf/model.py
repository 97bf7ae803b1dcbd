"""What memlab keeps of an ELF file: frozen, small, JSON-ready.

pyelftools objects hold the open file and lazily parsed tables; memlab copies the few
fields it teaches with into these tuples once, so a cached ElfInfo costs nothing to reuse
and never touches the file again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from memlab.model import hexaddr

# The linker-defined symbols the layout lessons talk about (ld's default script defines
# etext/_etext/__etext, edata/_edata, __bss_start, end/_end).  `_etext` is usually absent
# with GNU ld on x86_64 (measured); `environ`/`__environ` live in libc (or in a static
# executable, which carries its own libc).
SYMBOLS_OF_INTEREST = ("main", "_start", "etext", "_etext", "__etext", "edata", "_edata",
                       "__bss_start", "end", "_end", "environ", "__environ")
# What a lesson needs; the others are aliases or optional.
CORE_SYMBOLS = ("main", "_start", "etext", "edata", "__bss_start", "end")


def _pflags(flags: int) -> str:
    return ("R" if flags & 4 else "-") + ("W" if flags & 2 else "-") + ("X" if flags & 1 else "-")


@dataclass(frozen=True)
class Segment:
    """One program header (PT_LOAD, PT_PHDR, PT_INTERP, PT_GNU_RELRO, ...)."""

    type: str
    offset: int
    vaddr: int
    filesz: int
    memsz: int
    flags: int  # PF_R=4 PF_W=2 PF_X=1

    @property
    def perms(self) -> str:
        return _pflags(self.flags)

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "offset": self.offset, "vaddr": hexaddr(self.vaddr),
                "filesz": self.filesz, "memsz": self.memsz, "flags": self.perms}


@dataclass(frozen=True)
class Section:
    name: str
    type: str  # SHT_PROGBITS, SHT_NOBITS, ...
    addr: int
    size: int
    offset: int
    flags: int  # SHF_WRITE=1 SHF_ALLOC=2 SHF_EXECINSTR=4

    @property
    def alloc(self) -> bool:
        return bool(self.flags & 2)

    @property
    def writable(self) -> bool:
        return bool(self.flags & 1)

    @property
    def executable(self) -> bool:
        return bool(self.flags & 4)

    @property
    def flag_str(self) -> str:
        return ("A" if self.alloc else "") + ("W" if self.writable else "") + \
            ("X" if self.executable else "")

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "addr": hexaddr(self.addr),
                "size": self.size, "offset": self.offset, "flags": self.flag_str}


@dataclass(frozen=True)
class Symbol:
    name: str
    value: int  # link-time address (st_value); add the load bias for the runtime one
    size: int
    type: str  # STT_FUNC, STT_OBJECT, STT_NOTYPE ...
    # ".symtab", ".dynsym", or how it was derived when the tables lack it
    # ("e_entry", "section .bss end", ...)
    source: str

    @property
    def derived(self) -> bool:
        return not self.source.startswith(".")

    def to_dict(self, bias: int | None = None) -> dict[str, Any]:
        return {"name": self.name, "value": hexaddr(self.value),
                "address": hexaddr(self.value + bias) if bias is not None else None,
                "size": self.size, "type": self.type, "source": self.source}


@dataclass(frozen=True)
class ElfInfo:
    """The parts of one ELF file memlab uses.  Build with memlab.elf.load(path)."""

    path: str
    e_type: str  # ET_EXEC, ET_DYN
    e_entry: int
    e_phoff: int
    machine: str
    is_pie: bool
    is_static: bool  # no PT_INTERP: the kernel jumps straight to e_entry
    interp: str | None
    segments: tuple[Segment, ...]  # every program header, file order
    sections: tuple[Section, ...]  # empty when the section headers were stripped too
    symbols: tuple[Symbol, ...]  # the SYMBOLS_OF_INTEREST found (or derived)
    has_symtab: bool
    has_dynsym: bool
    build_id: str | None

    # ---------------------------------------------------------------- derived views
    @property
    def kind(self) -> str:
        if self.e_type == "ET_EXEC":
            return "static" if self.is_static else "no-pie"
        if self.is_pie:
            return "static-pie" if self.is_static else "pie"
        return "shared-object"

    @property
    def loads(self) -> tuple[Segment, ...]:
        return tuple(s for s in self.segments if s.type == "PT_LOAD")

    @property
    def phdr(self) -> Segment | None:
        return next((s for s in self.segments if s.type == "PT_PHDR"), None)

    @property
    def relro(self) -> Segment | None:
        return next((s for s in self.segments if s.type == "PT_GNU_RELRO"), None)

    @property
    def phdr_vaddr(self) -> int | None:
        """Link-time address of the program headers: PT_PHDR, or (static binaries have
        none) the PT_LOAD that maps e_phoff -- what fs/binfmt_elf.c puts in AT_PHDR."""
        if self.phdr is not None:
            return self.phdr.vaddr
        for seg in self.loads:
            if seg.offset <= self.e_phoff < seg.offset + seg.filesz:
                return seg.vaddr + (self.e_phoff - seg.offset)
        return None

    @property
    def stripped(self) -> bool:
        return not self.has_symtab

    def symbol(self, name: str) -> Symbol | None:
        return next((s for s in self.symbols if s.name == name), None)

    def first(self, *names: str) -> Symbol | None:
        """The first of several aliases present (e.g. "_end", "end")."""
        for n in names:
            s = self.symbol(n)
            if s is not None:
                return s
        return None

    @property
    def missing(self) -> tuple[str, ...]:
        """Core symbols neither the tables nor the section headers could give."""
        aliases = {"etext": ("etext", "_etext", "__etext"), "edata": ("edata", "_edata"),
                   "end": ("end", "_end")}
        return tuple(n for n in CORE_SYMBOLS if self.first(*aliases.get(n, (n,))) is None)

    def section(self, name: str) -> Section | None:
        return next((s for s in self.sections if s.name == name), None)

    def to_dict(self, bias: int | None = None) -> dict[str, Any]:
        return {
            "path": self.path,
            "type": self.e_type,
            "kind": self.kind,
            "machine": self.machine,
            "entry": hexaddr(self.e_entry),
            "is_pie": self.is_pie,
            "is_static": self.is_static,
            "interp": self.interp,
            "stripped": self.stripped,
            "has_symtab": self.has_symtab,
            "has_dynsym": self.has_dynsym,
            "build_id": self.build_id,
            "program_headers": [s.to_dict() for s in self.segments],
            "sections": [dict(s.to_dict(), address=hexaddr(s.addr + bias)
                              if bias is not None and s.alloc else None)
                         for s in self.sections],
            "symbols": [s.to_dict(bias) for s in self.symbols],
            "missing_symbols": list(self.missing),
        }
