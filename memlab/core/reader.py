"""Read an ELF core file: its PT_LOAD segments (the memory) and its notes (the process).

A core file is an ELF file of type ET_CORE (fs/binfmt_elf.c elf_core_dump writes the
kernel's; gdb's `gcore` writes the same shape).  What memlab takes from it:

- PT_LOAD: one segment per mapping, p_vaddr .. p_vaddr + p_memsz, permissions from
  p_flags (PF_R/PF_W/PF_X).  p_filesz may be smaller than p_memsz, often 0: those bytes
  are not in the file.  The kernel dumps only what /proc/PID/coredump_filter selects
  (fs/coredump.c vma_dump_size; default 0x33: anonymous private and shared memory and the
  first page of ELF files, not the rest of a file-backed private mapping unless the
  process wrote to it, which made it anonymous); gcore dumps every readable mapping.
- NT_FILE: the file-backed mappings (start, end, file offset in pages, path): the names
  and offsets the maps lines had (fs/binfmt_elf.c fill_files_note).
- NT_PRSTATUS: one per thread: pr_pid, the signal (pr_cursig) and the registers
  (struct user_regs_struct: rip, rsp ...).
- NT_PRPSINFO: the process: state, uid, pid, ppid, comm (pr_fname) and the first 80
  bytes of its arguments (pr_psargs).
- NT_AUXV: mm->saved_auxv, the auxiliary vector execve built (as /proc/PID/auxv).

The file is a name the user gave: it is opened once, without following it into a FIFO
or a device (a regular file only, as memlab.inputfile does), and read by offset.  Any
file that is not a whole x86_64 ELF core (another ELF type, a text file, /dev/zero, a
core cut short) is a CoreFileError: one line, exit 2.  pyelftools (imported here, when a
core is opened) walks the headers and notes; the note contents are parsed by the pure
functions below, which the unit tests fuzz.
"""

from __future__ import annotations

import bisect
import os
import struct
from typing import NamedTuple

from memlab.errors import ParseError, UnreadableMemory, UsageError
from memlab.inputfile import open_regular
from memlab.kernel.abi import (EM_X86_64, ET_CORE, ELF_PF_R, ELF_PF_W, ELF_PF_X, NT_AUXV,
                               NT_FILE, NT_PRPSINFO, NT_PRSTATUS, PRPSINFO_FNAME,
                               PRPSINFO_PID, PRPSINFO_PSARGS, PRPSINFO_SIZE, PRPSINFO_SNAME,
                               PRPSINFO_UID, PRSTATUS_CURSIG, PRSTATUS_PID, PRSTATUS_REGS,
                               PRSTATUS_SIZE, USER_REGS_NAMES)
from memlab.model import AuxvEntry
from memlab.procfs.auxv import parse_auxv

ELF_MAGIC = b"\x7fELF"
# e_ident (16 bytes), then e_type (a half word): enough to tell a core file apart.
_IDENT = struct.Struct("<16sH")
# NT_FILE holds one (start, end, page offset) triple per mapping; a count above this is
# a corrupt note, not a process (vm.max_map_count defaults to 65530).
MAX_FILE_ENTRIES = 1 << 20
MAX_NOTES = 1 << 16
PHDR_SIZE = 56  # sizeof(Elf64_Phdr)
PN_XNUM = 0xFFFF  # e_phnum when the count is in section 0's sh_info (many mappings)


class CoreFileError(UsageError):
    """A file memlab cannot read as a core: `msg` says why (exit 2)."""


class CoreSegment(NamedTuple):
    """One PT_LOAD: the mapping start .. end, and where its bytes are in the file."""

    start: int
    end: int
    offset: int  # p_offset
    filesz: int  # bytes present in the file (from start); the rest is not in the core
    flags: int  # p_flags

    @property
    def perms(self) -> str:
        """maps-style permissions.  The fourth letter is always "p": a core's program
        headers do not say whether a mapping was shared."""
        f = self.flags
        return ("r" if f & ELF_PF_R else "-") + ("w" if f & ELF_PF_W else "-") + \
            ("x" if f & ELF_PF_X else "-") + "p"

    @property
    def complete(self) -> bool:
        return self.filesz >= self.end - self.start


class CoreFileEntry(NamedTuple):
    """One NT_FILE triple with its path: a file-backed mapping of the process."""

    start: int
    end: int
    file_offset: int  # bytes (the note stores pages)
    path: str


class CoreThread(NamedTuple):
    """One NT_PRSTATUS: a thread's id, the signal it was stopped by, its registers."""

    pid: int
    ppid: int
    signal: int
    registers: dict[str, int]

    @property
    def rsp(self) -> int:
        return self.registers["rsp"]

    @property
    def rip(self) -> int:
        return self.registers["rip"]


class CoreProcess(NamedTuple):
    """NT_PRPSINFO."""

    state: str  # pr_sname: "R", "S", ...
    uid: int
    gid: int
    pid: int
    ppid: int
    comm: str  # pr_fname (16 bytes, NUL-padded)
    psargs: str  # the first 80 bytes of the command line, spaces between arguments


class CoreInfo(NamedTuple):
    path: str
    size: int  # bytes of the file
    segments: tuple[CoreSegment, ...]  # PT_LOADs in file order
    files: tuple[CoreFileEntry, ...]  # NT_FILE
    page_size: int | None  # NT_FILE's page size
    threads: tuple[CoreThread, ...]  # NT_PRSTATUS, the first is the dumping thread
    process: CoreProcess | None  # NT_PRPSINFO
    auxv: tuple[AuxvEntry, ...] | None  # NT_AUXV, AT_NULL excluded
    notes: tuple[str, ...]  # every note's owner/type, in order (gcore adds GDB notes)

    @property
    def writer(self) -> str:
        """Who wrote the core: gdb adds a "GDB" note (NT_GDB_TDESC), the kernel none."""
        return "gdb (gcore)" if any(n.startswith("GDB/") for n in self.notes) else "kernel"


# --------------------------------------------------------------------------- note parsers
def parse_nt_file(desc: bytes) -> tuple[int, list[CoreFileEntry]]:
    """NT_FILE (fs/binfmt_elf.c fill_files_note): count, page_size, count triples
    (start, end, page offset), then count NUL-terminated paths.  Returns (page size,
    entries); ParseError for anything else."""
    if len(desc) < 16:
        raise ParseError(f"NT_FILE is {len(desc)} bytes: shorter than its header")
    count, page_size = struct.unpack_from("<QQ", desc, 0)
    if count > MAX_FILE_ENTRIES or 16 + 24 * count > len(desc):
        raise ParseError(f"NT_FILE says {count} mappings in {len(desc)} bytes")
    if count and (page_size == 0 or page_size & (page_size - 1)):
        raise ParseError(f"NT_FILE page size {page_size} is not a power of two")
    triples = struct.unpack_from(f"<{3 * count}Q", desc, 16)
    names = desc[16 + 24 * count:].split(b"\0")
    if len(names) < count + 1 and count:  # the last path ends in a NUL too
        raise ParseError(f"NT_FILE has {len(names) - 1} paths for {count} mappings")
    entries = []
    for i in range(count):
        start, end, pgoff = triples[3 * i:3 * i + 3]
        if end < start:
            raise ParseError(f"NT_FILE mapping {i}: end 0x{end:x} below start 0x{start:x}")
        entries.append(CoreFileEntry(start, end, pgoff * page_size,
                                     os.fsdecode(names[i])))
    return page_size, entries


def parse_prstatus(desc: bytes) -> CoreThread:
    """NT_PRSTATUS on x86_64 (include/uapi/linux/elfcore.h struct elf_prstatus)."""
    if len(desc) < PRSTATUS_SIZE:
        raise ParseError(f"NT_PRSTATUS is {len(desc)} bytes, not {PRSTATUS_SIZE} "
                         "(not an x86_64 core?)")
    (cursig,) = struct.unpack_from("<h", desc, PRSTATUS_CURSIG)
    pid, ppid = struct.unpack_from("<ii", desc, PRSTATUS_PID)
    regs = struct.unpack_from(f"<{len(USER_REGS_NAMES)}Q", desc, PRSTATUS_REGS)
    return CoreThread(pid, ppid, cursig, dict(zip(USER_REGS_NAMES, regs)))


def parse_prpsinfo(desc: bytes) -> CoreProcess:
    """NT_PRPSINFO on x86_64 (struct elf_prpsinfo)."""
    if len(desc) < PRPSINFO_SIZE:
        raise ParseError(f"NT_PRPSINFO is {len(desc)} bytes, not {PRPSINFO_SIZE}")
    sname = desc[PRPSINFO_SNAME:PRPSINFO_SNAME + 1].decode("latin-1")
    uid, gid = struct.unpack_from("<II", desc, PRPSINFO_UID)
    pid, ppid = struct.unpack_from("<ii", desc, PRPSINFO_PID)

    def cstr(raw: bytes) -> str:
        return raw.split(b"\0", 1)[0].decode("utf-8", "backslashreplace")

    return CoreProcess(sname if sname.isprintable() and sname else "?", uid, gid, pid,
                       ppid, cstr(desc[PRPSINFO_FNAME:PRPSINFO_PSARGS]),
                       cstr(desc[PRPSINFO_PSARGS:PRPSINFO_SIZE]))


def parse_core_auxv(desc: bytes) -> list[AuxvEntry]:
    """NT_AUXV: the bytes /proc/PID/auxv has (procfs.auxv.parse_auxv)."""
    return parse_auxv(desc, require_null=False)


# --------------------------------------------------------------------------- the file
def is_elf_core(path: str) -> bool | None:
    """True when path is a regular file that starts as an ELF core (ET_CORE), False when
    it is a regular file that does not, None when it is not a regular file or cannot be
    opened.  Reads 18 bytes, through a descriptor opened without blocking."""
    try:
        fd = _open_regular(path)
    except CoreFileError:
        return None
    try:
        head = os.pread(fd, _IDENT.size, 0)
    except OSError:
        return None
    finally:
        os.close(fd)
    if len(head) < _IDENT.size or not head.startswith(ELF_MAGIC):
        return False
    return _IDENT.unpack(head)[1] == ET_CORE


def _open_regular(path: str) -> int:
    """A read descriptor on the regular file at path (symlinks followed, as for any
    file the user names); FIFOs, devices and directories are refused before any open
    for reading (memlab.inputfile.open_regular)."""
    return open_regular(path, "core file", CoreFileError)


def _note_type(n_type) -> int | str:
    """pyelftools names the note types it knows ("NT_FILE"); map those to numbers."""
    known = {"NT_PRSTATUS": NT_PRSTATUS, "NT_PRPSINFO": NT_PRPSINFO, "NT_AUXV": NT_AUXV,
             "NT_FILE": NT_FILE}
    return known.get(n_type, n_type) if isinstance(n_type, str) else n_type


class CoreFile:
    """An open core file: `info` (what the notes say) and the memory its segments hold.
    Use as a context manager; it closes the file."""

    method = "core file"  # what `memlab search` reports as its read method

    def __init__(self, path: str):
        self.path = os.fspath(path)
        self._fd = _open_regular(self.path)
        try:
            self.info = self._parse()
        except BaseException:
            self.close()
            raise
        self._segments = sorted(self.info.segments, key=lambda s: s.start)
        self._starts = [s.start for s in self._segments]

    # -- lifetime
    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> CoreFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- parsing
    def _bad(self, why: str) -> CoreFileError:
        return CoreFileError(f"not a readable core file: {why}", path=self.path)

    def _parse(self) -> CoreInfo:
        size = os.fstat(self._fd).st_size
        head = os.pread(self._fd, 64, 0)
        if not head.startswith(ELF_MAGIC):
            raise self._bad("no ELF header (the file does not start with \\x7fELF)")
        if len(head) < 64:
            raise self._bad(f"{len(head)} bytes, shorter than an ELF header (truncated?)")
        if head[4] != 2 or head[5] != 1:
            raise self._bad("not a 64-bit little-endian ELF file (memlab reads x86_64 "
                            "cores)")
        e_type, e_machine = struct.unpack_from("<HH", head, 16)
        if e_type != ET_CORE:
            kind = {1: "a relocatable object", 2: "an executable",
                    3: "a shared object or PIE executable"}.get(e_type, f"type {e_type}")
            raise self._bad(f"an ELF file, but {kind}, not a core (ET_CORE)")
        if e_machine != EM_X86_64:
            raise self._bad(f"an ELF core for machine {e_machine}, not x86_64")

        (phoff,) = struct.unpack_from("<Q", head, 32)
        phentsize, phnum = struct.unpack_from("<HH", head, 54)
        if phentsize != PHDR_SIZE:
            raise self._bad(f"program header entries of {phentsize} bytes, not "
                            f"{PHDR_SIZE}")
        if phnum != PN_XNUM and phoff + phentsize * phnum > size:
            raise self._bad(f"truncated: {phnum} program headers at {phoff} need "
                            f"{phoff + phentsize * phnum} bytes, the file has {size}")

        from elftools.common.exceptions import ELFError
        from elftools.elf.elffile import ELFFile

        stream = os.fdopen(os.dup(self._fd), "rb")
        try:
            return self._walk(ELFFile(stream), size)
        except (ELFError, OSError, struct.error, ValueError, KeyError, IndexError, TypeError,
                AttributeError, OverflowError, UnicodeDecodeError, AssertionError) as err:
            # pyelftools raises these (and construct's errors, ValueError's kin) on a
            # corrupt header or note table
            raise self._bad(f"{type(err).__name__}: {err}"[:200]) from err
        except Exception as err:  # construct's own exception classes
            if type(err).__module__.startswith("elftools"):
                raise self._bad(f"{type(err).__name__}: {err}"[:200]) from err
            raise
        finally:
            stream.close()

    def _walk(self, elf, size: int) -> CoreInfo:
        segments: list[CoreSegment] = []
        threads: list[CoreThread] = []
        files: list[CoreFileEntry] = []
        page_size = None
        process = None
        auxv = None
        notes: list[str] = []
        saw_note = False
        for i in range(elf.num_segments()):
            seg = elf.get_segment(i)
            ptype = seg["p_type"]
            end = seg["p_offset"] + seg["p_filesz"]
            if ptype in ("PT_LOAD", "PT_NOTE") and end > size:
                raise self._bad(f"truncated: program header {i} ({ptype}) needs bytes up "
                                f"to {end}, the file has {size}")
            if ptype == "PT_LOAD":
                segments.append(CoreSegment(seg["p_vaddr"], seg["p_vaddr"] + seg["p_memsz"],
                                            seg["p_offset"],
                                            min(seg["p_filesz"], seg["p_memsz"]),
                                            seg["p_flags"]))
            elif ptype == "PT_NOTE":
                saw_note = True
                for n, note in enumerate(seg.iter_notes()):
                    if n >= MAX_NOTES:
                        raise self._bad(f"more than {MAX_NOTES} notes")
                    t = _note_type(note["n_type"])
                    desc = note["n_descdata"]
                    if isinstance(desc, str):  # pyelftools decodes some descs as text
                        desc = desc.encode("latin-1", "replace")
                    notes.append(f"{note['n_name']}/{note['n_type']}")
                    if note["n_name"] != "CORE":
                        continue
                    try:
                        if t == NT_PRSTATUS:
                            threads.append(parse_prstatus(desc))
                        elif t == NT_PRPSINFO:
                            process = parse_prpsinfo(desc)
                        elif t == NT_AUXV:
                            auxv = tuple(parse_core_auxv(desc))
                        elif t == NT_FILE:
                            page_size, entries = parse_nt_file(desc)
                            files.extend(entries)
                    except ParseError as err:
                        raise self._bad(str(err)) from err
        if not saw_note:
            raise self._bad("no PT_NOTE segment: no process description")
        if not threads:
            raise self._bad("no NT_PRSTATUS note: no thread in the core")
        if not segments:
            raise self._bad("no PT_LOAD segment: no memory in the core")
        return CoreInfo(self.path, size, tuple(segments), tuple(files), page_size,
                        tuple(threads), process, auxv, tuple(notes))

    # -- memory (the read methods of procfs.mem.MemReader and analysis.BytesMemory)
    def segment_at(self, addr: int) -> CoreSegment | None:
        i = bisect.bisect_right(self._starts, addr) - 1
        if i >= 0 and addr < self._segments[i].end:
            return self._segments[i]
        return None

    def _available(self, addr: int, size: int) -> int:
        """How many bytes from addr the file holds (contiguous, across segments)."""
        got = 0
        while got < size:
            s = self.segment_at(addr + got)
            if s is None:
                break
            present = s.start + s.filesz - (addr + got)
            if present <= 0:
                break
            got += min(present, size - got)
            if s.start + s.filesz < s.end:
                break
        return got

    def read_into(self, addr: int, buf) -> int:
        mv = memoryview(buf).cast("B")
        total = 0
        want = self._available(addr, len(mv))
        while total < want:
            s = self.segment_at(addr + total)
            off = s.offset + (addr + total - s.start)
            chunk = min(want - total, s.start + s.filesz - (addr + total))
            n = os.preadv(self._fd, [mv[total:total + chunk]], off)
            if n <= 0:
                break
            total += n
        return total

    def read_partial(self, addr: int, size: int) -> bytes:
        buf = bytearray(max(0, size))
        del buf[self.read_into(addr, buf):]
        return bytes(buf)

    def read(self, addr: int, size: int) -> bytes:
        if size < 0:
            raise UnreadableMemory(f"negative read size {size} at 0x{addr:x}")
        data = self.read_partial(addr, size)
        if len(data) < size:
            raise UnreadableMemory(self.missing(addr + len(data)))
        return data

    def read_u64(self, addr: int) -> int:
        return self.read_u64s(addr, 1)[0]

    def read_u64s(self, addr: int, n: int) -> list[int]:
        if n < 0:
            raise UnreadableMemory(f"negative count {n} at 0x{addr:x}")
        return list(struct.unpack(f"<{n}Q", self.read(addr, 8 * n)))

    def read_cstring(self, addr: int, limit: int = 1 << 16) -> bytes:
        data = self.read_partial(addr, limit)
        nul = data.find(b"\0")
        if nul >= 0:
            return data[:nul]
        if len(data) == limit:
            return data
        raise UnreadableMemory(self.missing(addr + len(data)))

    def holds(self, addr: int, size: int) -> bool:
        return self._available(addr, size) == size

    def missing(self, addr: int) -> str:
        """Why the byte at addr is not in the core, as a sentence."""
        s = self.segment_at(addr)
        if s is None:
            f = next((f for f in self.info.files if f.start <= addr < f.end), None)
            if f is not None:
                return (f"0x{addr:x} is mapped from {f.path} but not in the core (no "
                        "PT_LOAD: gcore leaves out file mappings the process never wrote)")
            return f"0x{addr:x} is in no segment of the core (it was not mapped)"
        return (f"0x{addr:x} is mapped (0x{s.start:x}..0x{s.end:x}) but its bytes are not "
                "in the core (left out by the dumper: see the core's `missing` list)")

