"""Immutable data memlab reads from the kernel: records, no policy.

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
excepted, see its __eq__).  Copy one with `x._replace(...)`; their JSON form (and the
masking of secrets in it) is memlab.render.json's: json.dumps would write a record as a
bare list.
"""

from collections.abc import Iterable, Mapping, Sequence
from itertools import repeat
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

from memlab.kernel.abi import auxv_name

if TYPE_CHECKING:
    from memlab.elf.memorymap import ElfMemoryMap


def hexaddr(value: int | None) -> str | None:
    return None if value is None else f"0x{value:x}"


def records(cls: type, rows: Iterable[tuple]) -> list:
    """[cls(*row) for row in rows] for a NamedTuple class, at C speed.

    NamedTuple's generated __new__ is a Python function that calls tuple.__new__(cls,
    fields); calling that directly builds a record in a third of the time.  Unlike
    cls._make it does not check the length: each row must have exactly the fields."""
    return list(map(tuple.__new__, repeat(cls), rows))


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

def region_at(regions: Sequence[Region], addr: int) -> Region | None:
    """The region holding addr, or None.  Searched from the top: snapshot asks for the
    stack and the env block, the last lines but [vsyscall] (mappings never overlap, so
    the order does not change the answer)."""
    for r in reversed(regions):
        if r.start <= addr < r.end:  # Region.contains, inlined
            return r
    return None


# --------------------------------------------------------------------------- stat
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

# --------------------------------------------------------------------------- auxv
class AuxvEntry(NamedTuple):
    type: int
    value: int

    @property
    def name(self) -> str:
        return auxv_name(self.type)


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

# --------------------------------------------------------------------------- stack
class StackString(NamedTuple):
    """A pointer on the initial stack (argv[i] / envp[i]) and the string it targets."""

    slot: int  # where the pointer is stored
    address: int  # the pointer's value: where the string starts
    string: bytes

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

# --------------------------------------------------------------------------- resident memory
class RegionMemory(NamedTuple):
    """What /proc/PID/smaps says one mapping costs, in bytes (fs/proc/task_mmu.c
    __show_smap; the kernel prints kB).  Also the totals of /proc/PID/smaps_rollup."""

    rss: int = 0
    pss: int = 0
    shared_clean: int = 0
    shared_dirty: int = 0
    private_clean: int = 0
    private_dirty: int = 0
    swap: int = 0
    anon_huge: int = 0


class MemoryUsage(NamedTuple):
    """Snapshot.memory: one RegionMemory per region, in the order of Snapshot.regions
    (None for a mapping that changed between the maps and the smaps read), and the
    totals /proc/PID/smaps_rollup gave (None when it could not be read)."""

    regions: tuple[RegionMemory | None, ...]
    rollup: RegionMemory | None = None

    def total(self) -> RegionMemory:
        """The sum of the per-region values (compare with rollup)."""
        sums = [0] * len(RegionMemory._fields)
        for m in self.regions:
            if m is not None:
                for i, v in enumerate(m):
                    sums[i] += v
        return RegionMemory(*sums)


class ThreadStack(NamedTuple):
    """One thread's stack pointer and the mapping it points into (Snapshot.threads)."""

    tid: int
    sp: int | None  # None when the kernel did not say (running, or access refused)
    source: str  # "syscall" (/proc/PID/task/TID/syscall), "kstkesp" (stat field 29), ""
    region_start: int | None  # start of the region holding sp
    guard: bool = False  # a PROT_NONE mapping lies right below that region


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
    # /proc/PID/smaps per region and smaps_rollup: None when not asked for
    # (collect.snapshot(memory=True)) or when the kernel refused (a warning says so).
    memory: MemoryUsage | None = None
    # The threads other than the main one, with their stacks (collect.snapshot reads
    # them when stat says the process has more than one).
    threads: tuple[ThreadStack, ...] = ()
    # The ELF area's result (memlab.elf.attach.with_elf): None when not asked for,
    # False when asked but the analysis failed (the reason is in warnings).
    elf: "ElfMemoryMap | bool | None" = None
    # Other sections, already JSON-ready: "denied" (the files the kernel refused),
    # "main_thread_exited".  The default is read-only so no two snapshots share a dict.
    extra: Mapping[str, Any] = MappingProxyType({})

    # Equality and hashing leave `elf` and `extra` (the last two fields) out, as
    # compare=False did: a snapshot is what the kernel said, and these are derived from
    # it (the ELF area from exe + regions, "denied" from what could not be read).  The
    # TUI's live refresh skips redrawing when `new == shown`; comparing the ELF area too
    # would only add cost.  Only another Snapshot can be equal.
    def __eq__(self, other: object) -> bool:
        return isinstance(other, Snapshot) and self[:-2] == other[:-2]

    def __ne__(self, other: object) -> bool:  # tuple's own __ne__ would compare them
        return not self == other

    def __hash__(self) -> int:
        return hash(self[:-2])

    def region_at(self, addr: int) -> Region | None:
        return region_at(self.regions, addr)

    def regions_named(self, path: str) -> list[Region]:
        return [r for r in self.regions if r.path == path]

    def auxv_value(self, name: str) -> int | None:
        for a in self.auxv:
            if a.name == name:
                return a.value
        return None

