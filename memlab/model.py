"""Immutable data memlab reads from the kernel, and its JSON form.

Addresses are ints inside and lowercase "0x..." strings in JSON; sizes are ints.
Byte strings from the process (env entries, argv) stay bytes here: they are not
guaranteed UTF-8.  JSON shows them decoded with backslash escapes for bad bytes.

The records are typing.NamedTuple classes, not frozen dataclasses, because every
`memlab inspect` pays for them: importing this module took 9 ms with dataclasses
(`import dataclasses` loads inspect, ast, dis, tokenize ...; each frozen class exec'd
its methods) and takes 1 ms now, and a Region is built in 0.18 us instead of 0.72 us
(a frozen dataclass's __init__ calls object.__setattr__ per field).  There is no
`from __future__ import annotations` here on purpose: NamedTuple would compile every
string annotation into a typing.ForwardRef, which doubled that 1 ms.
Records are tuples: they iterate, have len() and compare positionally (Snapshot
excepted, see its __eq__).  Copy one with `x._replace(...)`; JSON goes through
to_dict() (json.dumps would write a record as a bare list).
"""

from collections.abc import Iterable, Mapping, Sequence
from itertools import repeat
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from memlab.secrets import Masker

SCHEMA = "memlab.snapshot/1"
PAGE_SIZE = 4096


def hexaddr(value: int | None) -> str | None:
    return None if value is None else f"0x{value:x}"


def records(cls: type, rows: Iterable[tuple]) -> list:
    """[cls(*row) for row in rows] for a NamedTuple class, at C speed.

    NamedTuple's generated __new__ is a Python function that calls tuple.__new__(cls,
    fields); calling that directly builds a record in a third of the time.  Unlike
    cls._make it does not check the length: each row must have exactly the fields."""
    return list(map(tuple.__new__, repeat(cls), rows))


def _masker(reveal: bool, masker: "Masker | None") -> "Masker":
    """The masker a to_dict uses: the given one, else names/values rules only."""
    if masker is not None:
        return masker
    from memlab.secrets import Masker

    return Masker(reveal=reveal)


def text(raw: bytes) -> str:
    """Bytes from a process as display text: UTF-8, bad bytes as \\xNN escapes."""
    return raw.decode("utf-8", "backslashreplace")


# --------------------------------------------------------------------------- maps
class Region(NamedTuple):
    """One line of /proc/PID/maps.  parse_maps sets the `kind` its path names;
    analysis.classify adds the executable's (text, rodata, data, bss)."""

    start: int
    end: int
    perms: str  # "r-xp"
    offset: int
    dev: str  # "fd:01"
    inode: int
    path: str | None  # None for an anonymous mapping (empty path field)
    deleted: bool = False  # path ended in " (deleted)"; `path` has it stripped
    kind: str = "anon"

    @property
    def size(self) -> int:
        return self.end - self.start

    @property
    def readable(self) -> bool:
        return self.perms[:1] == "r"

    @property
    def is_special(self) -> bool:
        """[stack], [heap], [vdso], [anon:x] ... : kernel-named, not a file."""
        return bool(self.path) and self.path.startswith("[") and self.path.endswith("]")

    @property
    def label(self) -> str:
        if self.path is None:
            return "(anonymous)"
        return self.path + (" (deleted)" if self.deleted else "")

    def contains(self, addr: int) -> bool:
        return self.start <= addr < self.end

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": hexaddr(self.start),
            "end": hexaddr(self.end),
            "size": self.size,
            "perms": self.perms,
            "offset": self.offset,
            "dev": self.dev,
            "inode": self.inode,
            "path": self.path,
            "deleted": self.deleted,
            "kind": self.kind,
        }


def region_at(regions: Sequence[Region], addr: int) -> Region | None:
    """The region holding addr, or None.  Searched from the top: snapshot asks for the
    stack and the env block, the last lines but [vsyscall] (mappings never overlap, so
    the order does not change the answer)."""
    for r in reversed(regions):
        if r.start <= addr < r.end:  # Region.contains, inlined
            return r
    return None


# --------------------------------------------------------------------------- stat
# proc_pid_stat(5) field numbers (1-based) of the memory-layout fields memlab uses.
STAT_ADDRESS_FIELDS: dict[str, int] = {
    "start_code": 26,
    "end_code": 27,
    "start_stack": 28,
    "start_data": 45,
    "end_data": 46,
    "start_brk": 47,
    "arg_start": 48,
    "arg_end": 49,
    "env_start": 50,
    "env_end": 51,
}


class ProcStat(NamedTuple):
    pid: int
    comm: str
    state: str  # "R", "S", "Z", ...
    ppid: int
    start_code: int
    end_code: int
    start_stack: int
    start_data: int
    end_data: int
    start_brk: int
    arg_start: int
    arg_end: int
    env_start: int
    env_end: int
    exit_code: int | None
    # True when the kernel masked the address fields for this reader
    # (fs/proc/array.c do_task_stat: no PTRACE_MODE_READ -> 1,1,0,0...).
    masked: bool = False

    @property
    def is_zombie(self) -> bool:
        return self.state in ("Z", "X")

    @property
    def has_mm(self) -> bool:
        """Kernel threads (and zombies) have no mm: every field is 0."""
        return not self.masked and self.start_code != 0

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"pid": self.pid, "comm": self.comm, "state": self.state,
                             "ppid": self.ppid, "masked": self.masked}
        for name in STAT_ADDRESS_FIELDS:
            d[name] = "hidden" if self.masked else hexaddr(getattr(self, name))
        d["exit_code"] = self.exit_code
        return d


# --------------------------------------------------------------------------- auxv
class AuxvEntry(NamedTuple):
    type: int
    value: int

    @property
    def name(self) -> str:
        from memlab.procfs.auxv import auxv_name  # the table lives with its parser

        return auxv_name(self.type)

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.name, "type_number": self.type, "value": self.value,
                "hex": hexaddr(self.value)}


# --------------------------------------------------------------------------- env
class EnvEntry(NamedTuple):
    """One `NAME=value` string of an environment block, byte-exact."""

    raw: bytes
    address: int | None = None  # where the string starts in the process, if known

    @property
    def has_equals(self) -> bool:
        return b"=" in self.raw

    @property
    def name_bytes(self) -> bytes:
        return self.raw.split(b"=", 1)[0]

    @property
    def value_bytes(self) -> bytes:
        return self.raw.split(b"=", 1)[1] if self.has_equals else b""

    @property
    def name(self) -> str:
        return text(self.name_bytes)

    @property
    def value(self) -> str:
        return text(self.value_bytes)

    @property
    def is_utf8(self) -> bool:
        try:
            self.raw.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return True

    def to_dict(self, reveal: bool = False, masker: "Masker | None" = None) -> dict[str, Any]:
        masker = _masker(reveal, masker)
        d: dict[str, Any] = {
            "name": self.name,
            "value": masker.env_value(self.name, self.value) if self.has_equals else None,
            "address": hexaddr(self.address),
            "length": len(self.raw),
        }
        if not self.has_equals:
            d["no_equals"] = True
        if not self.is_utf8:
            d["utf8"] = False
        return d


class EnvBlock(NamedTuple):
    """The environment strings execve copied to the top of the stack."""

    start: int  # env_start from /proc/PID/stat
    end: int  # env_end
    raw: bytes  # the bytes between them, read from memory
    entries: tuple[EnvEntry, ...]
    region: str | None  # label of the region holding it, normally "[stack]"
    matches_proc_environ: bool | None  # None when /proc/PID/environ could not be read
    distance_to_stack_top: int | None  # region end - env end
    distance_to_args: int | None  # env start - arg end (0: adjacent, measured)

    def to_dict(self, reveal: bool = False, masker: "Masker | None" = None) -> dict[str, Any]:
        masker = _masker(reveal, masker)
        return {
            "start": hexaddr(self.start),
            "end": hexaddr(self.end),
            "size": self.end - self.start,
            "region": self.region,
            "matches_proc_environ": self.matches_proc_environ,
            "distance_to_stack_top": self.distance_to_stack_top,
            "distance_to_args": self.distance_to_args,
            "entries": [e.to_dict(reveal, masker) for e in self.entries],
        }


# --------------------------------------------------------------------------- stack
class StackString(NamedTuple):
    """A pointer on the initial stack (argv[i] / envp[i]) and the string it targets."""

    slot: int  # where the pointer is stored
    address: int  # the pointer's value: where the string starts
    string: bytes

    def to_dict(self, shown: str | None = None) -> dict[str, Any]:
        """shown: the string as displayed (masked), default the string itself."""
        return {"slot": hexaddr(self.slot), "address": hexaddr(self.address),
                "string": text(self.string) if shown is None else shown}


class InitialStack(NamedTuple):
    """What execve laid out at startstack (fs/binfmt_elf.c create_elf_tables)."""

    sp: int  # startstack: the address of argc
    argc: int
    argv: tuple[StackString, ...]
    envp: tuple[StackString, ...]
    auxv: tuple[AuxvEntry, ...]  # as read from the stack, AT_NULL excluded
    auxv_address: int  # where the first auxv pair is stored
    auxv_matches_proc: bool | None  # compared with /proc/PID/auxv
    at_random: bytes | None  # the 16 bytes AT_RANDOM points at
    platform: str | None  # AT_PLATFORM string
    execfn: str | None  # AT_EXECFN string
    execfn_address: int | None
    padding: int | None  # bytes between the lowest string (platform/random) and arg_start
    # True when stat's startstack is no longer the live argc (e.g. the program
    # overwrote its stack); the decode is then best effort.
    complete: bool = True

    def to_dict(self, reveal: bool = False, masker: "Masker | None" = None) -> dict[str, Any]:
        masker = _masker(reveal, masker)
        argv = masker.argv([text(a.string) for a in self.argv])
        return {
            "sp": hexaddr(self.sp),
            "argc": self.argc,
            "argv": [a.to_dict(shown) for a, shown in zip(self.argv, argv)],
            "envp": [e.to_dict(masker.env_string(text(e.string))) for e in self.envp],
            "auxv": [a.to_dict() for a in self.auxv],
            "auxv_address": hexaddr(self.auxv_address),
            "auxv_matches_proc": self.auxv_matches_proc,
            "at_random": self.at_random.hex() if self.at_random is not None else None,
            "platform": self.platform,
            "execfn": self.execfn,
            "execfn_address": hexaddr(self.execfn_address),
            "padding": self.padding,
            "complete": self.complete,
        }


# --------------------------------------------------------------------------- snapshot
class Snapshot(NamedTuple):
    """Everything memlab read about one process at one moment.  Build it with
    memlab.collect.snapshot(pid); every front end renders one of these."""

    pid: int
    exe: str | None  # readlink /proc/PID/exe (None when denied or no mm)
    argv: tuple[str, ...]  # /proc/PID/cmdline
    stat: ProcStat
    regions: tuple[Region, ...]  # one per maps line, in maps order
    auxv: tuple[AuxvEntry, ...]  # /proc/PID/auxv
    proc_environ: tuple[EnvEntry, ...] | None  # /proc/PID/environ (None when denied)
    env: EnvBlock | None
    stack: InitialStack | None
    uid: int | None = None
    # Everything memlab could not read or verify, as one-line human sentences.
    warnings: tuple[str, ...] = ()
    # Extra sections added by other modules (e.g. "elf", "denied"), already JSON-ready.
    # collect.snapshot passes its own dict and fills it; the default is read-only so
    # no two snapshots can share (and mutate) one dict.
    extra: Mapping[str, Any] = MappingProxyType({})

    # Equality and hashing leave `extra` (the last field) out, as compare=False did: a
    # snapshot is what the kernel said, and extra is derived from it (the ELF section
    # from exe + regions, "denied" from what could not be read) and is a mutable dict.
    # The TUI's live refresh skips redrawing when `new == shown`; comparing the ELF
    # section too would only add cost.  Only another Snapshot can be equal.
    def __eq__(self, other: object) -> bool:
        return isinstance(other, Snapshot) and self[:-1] == other[:-1]

    def __ne__(self, other: object) -> bool:  # tuple's own __ne__ would compare extra
        return not self == other

    def __hash__(self) -> int:
        return hash(self[:-1])

    def region_at(self, addr: int) -> Region | None:
        return region_at(self.regions, addr)

    def regions_named(self, path: str) -> list[Region]:
        return [r for r in self.regions if r.path == path]

    def auxv_value(self, name: str) -> int | None:
        for a in self.auxv:
            if a.name == name:
                return a.value
        return None

    def to_dict(self, reveal: bool = False, masker: "Masker | None" = None) -> dict[str, Any]:
        """reveal False: secrets masked (memlab.secrets.Masker.for_snapshot, which knows
        the pod's Secret values too) unless a masker is given."""
        if masker is None:
            from memlab.secrets import Masker

            masker = Masker.for_snapshot(self, reveal)
        d: dict[str, Any] = {
            "schema": SCHEMA,
            "pid": self.pid,
            "exe": self.exe,
            "argv": masker.argv(self.argv),
            "uid": self.uid,
            "regions": [r.to_dict() for r in self.regions],
            "stat": self.stat.to_dict(),
            "auxv": [a.to_dict() for a in self.auxv],
            "env": self.env.to_dict(reveal, masker) if self.env else None,
            "stack": self.stack.to_dict(reveal, masker) if self.stack else None,
            "warnings": list(self.warnings),
        }
        d.update(self.extra)
        return d
