"""Immutable data memlab reads from the kernel, and its JSON form.

Addresses are ints inside and lowercase "0x..." strings in JSON; sizes are ints.
Byte strings from the process (env entries, argv) stay bytes here: they are not
guaranteed UTF-8.  JSON shows them decoded with backslash escapes for bad bytes.
"""

from __future__ import annotations

import operator

# typing costs 2 ms of every `memlab` start; the names are only for annotations
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable

SCHEMA = "memlab.snapshot/1"
PAGE_SIZE = 4096


def hexaddr(value: int | None) -> str | None:
    return None if value is None else f"0x{value:x}"


def text(raw: bytes) -> str:
    """Bytes from a process as display text: UTF-8, bad bytes as \\xNN escapes."""
    return raw.decode("utf-8", "backslashreplace")


# ------------------------------------------------------------------ frozen records
# The classes below behave as @dataclass(frozen=True) classes (same __init__ signature,
# repr, ==, hash, match_args, FrozenInstanceError on assignment) and dataclasses.replace,
# fields, asdict and is_dataclass work on them.  They are not built by @dataclass because
# `import dataclasses` pulls in `inspect`, and generating eight classes' methods costs as
# much again: about 10 ms of every `memlab` start (python -X importtime), a quarter of
# `memlab inspect --json`.  dataclasses is imported the first time something asks for
# __dataclass_fields__ (replace(), fields() ...), which builds the real Field objects.
_NO_DEFAULT = object()


class _Factory:
    """field(default_factory=..., compare=...) for a Record."""

    def __init__(self, default_factory: Callable[[], Any], *, compare: bool = True):
        self.default_factory = default_factory
        self.compare = compare


class _DataclassFields:
    """__dataclass_fields__ / __dataclass_params__ of a Record, built on first access by
    running @dataclass(frozen=True) over a twin class with the same annotations and
    defaults; the results then replace this descriptor on the class."""

    def __init__(self, name: str):
        self.name = name

    def __get__(self, obj: object, cls: type) -> Any:
        import dataclasses

        ns: dict[str, Any] = {"__annotations__": dict(cls.__annotations__),
                              "__module__": cls.__module__, "__qualname__": cls.__qualname__}
        ns.update(cls._defaults)
        for name, factory in cls._factories.items():
            ns[name] = dataclasses.field(default_factory=factory,
                                         compare=name in cls._compared)
        twin = dataclasses.dataclass(frozen=True)(type(cls.__name__, (), ns))
        for attr in ("__dataclass_fields__", "__dataclass_params__"):
            type.__setattr__(cls, attr, getattr(twin, attr))
        return getattr(cls, self.name)


class Record:
    """Base of memlab's immutable records (see the comment above)."""

    _fields: tuple[str, ...] = ()
    _defaults: dict[str, Any] = {}
    _factories: dict[str, Callable[[], Any]] = {}
    _compared: tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        names = tuple(cls.__dict__.get("__annotations__", {}))
        cls._fields = cls.__match_args__ = names
        cls._defaults, cls._factories = {}, {}
        compared = []
        for name in names:
            value = cls.__dict__.get(name, _NO_DEFAULT)
            if isinstance(value, _Factory):
                cls._factories[name] = value.default_factory
                delattr(cls, name)  # as @dataclass does for a default_factory
                if value.compare:
                    compared.append(name)
                continue
            if value is not _NO_DEFAULT:
                cls._defaults[name] = value  # stays a class attribute, as with @dataclass
            compared.append(name)
        cls._compared = tuple(compared)
        getter = operator.attrgetter(*compared)
        # the key is always a tuple, as @dataclass compares and hashes tuples
        cls._key = staticmethod(getter if len(compared) > 1 else lambda obj: (getter(obj),))
        cls.__init__ = _make_init(cls)
        cls.__dataclass_fields__ = _DataclassFields("__dataclass_fields__")
        cls.__dataclass_params__ = _DataclassFields("__dataclass_params__")

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{type(self).__qualname__}({inner})"

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return self._key(self) == self._key(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._key(self))

    def __setattr__(self, name: str, value: Any) -> None:
        from dataclasses import FrozenInstanceError

        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        from dataclasses import FrozenInstanceError

        raise FrozenInstanceError(f"cannot delete field {name!r}")


def _make_init(cls: type) -> Callable[..., None]:
    """__init__(self, field1, field2=default, ...) filling the instance dict in one go."""
    params = []
    ns: dict[str, Any] = {"_NO_DEFAULT": _NO_DEFAULT}
    for name in cls._fields:
        if name in cls._defaults:
            ns[f"_d_{name}"] = cls._defaults[name]
            params.append(f"{name}=_d_{name}")
        elif name in cls._factories:
            ns[f"_f_{name}"] = cls._factories[name]
            params.append(f"{name}=_NO_DEFAULT")
        else:
            params.append(name)
    body = "".join(f"    if {name} is _NO_DEFAULT:\n        {name} = _f_{name}()\n"
                   for name in cls._factories)
    items = ", ".join(f"{name}={name}" for name in cls._fields)
    src = (f"def __init__(self, {', '.join(params)}):\n{body}"
           f"    self.__dict__.update({items})\n")
    exec(src, ns)  # fixed text built from the class's own field names, as @dataclass does
    init = ns["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    init.__annotations__ = {**{name: cls.__annotations__[name] for name in cls._fields},
                            "return": None}
    return init



# --------------------------------------------------------------------------- maps
class Region(Record):
    """One line of /proc/PID/maps.  `kind` is filled in by analysis.classify."""

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


class ProcStat(Record):
    """The memory-layout fields of /proc/PID/stat, and whether the kernel masked them."""

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
class AuxvEntry(Record):
    """One (type, value) pair of the auxiliary vector."""

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
class EnvEntry(Record):
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

    def to_dict(self, reveal: bool = False) -> dict[str, Any]:
        from memlab.secrets import display_value

        d: dict[str, Any] = {
            "name": self.name,
            "value": display_value(self.name, self.value, reveal) if self.has_equals else None,
            "address": hexaddr(self.address),
            "length": len(self.raw),
        }
        if not self.has_equals:
            d["no_equals"] = True
        if not self.is_utf8:
            d["utf8"] = False
        return d


class EnvBlock(Record):
    """The environment strings execve copied to the top of the stack."""

    start: int  # env_start from /proc/PID/stat
    end: int  # env_end
    raw: bytes  # the bytes between them, read from memory
    entries: tuple[EnvEntry, ...]
    region: str | None  # label of the region holding it, normally "[stack]"
    matches_proc_environ: bool | None  # None when /proc/PID/environ could not be read
    distance_to_stack_top: int | None  # region end - env end
    distance_to_args: int | None  # env start - arg end (0: adjacent, measured)

    def to_dict(self, reveal: bool = False) -> dict[str, Any]:
        return {
            "start": hexaddr(self.start),
            "end": hexaddr(self.end),
            "size": self.end - self.start,
            "region": self.region,
            "matches_proc_environ": self.matches_proc_environ,
            "distance_to_stack_top": self.distance_to_stack_top,
            "distance_to_args": self.distance_to_args,
            "entries": [e.to_dict(reveal) for e in self.entries],
        }


# --------------------------------------------------------------------------- stack
class StackString(Record):
    """A pointer on the initial stack (argv[i] / envp[i]) and the string it targets."""

    slot: int  # where the pointer is stored
    address: int  # the pointer's value: where the string starts
    string: bytes

    def to_dict(self, reveal: bool = False, masked_name: bool = False) -> dict[str, Any]:
        from memlab.secrets import mask_env_string

        s = text(self.string)
        return {"slot": hexaddr(self.slot), "address": hexaddr(self.address),
                "string": s if reveal or not masked_name else mask_env_string(s)}


class InitialStack(Record):
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

    def to_dict(self, reveal: bool = False) -> dict[str, Any]:
        from memlab.secrets import looks_secret_entry

        return {
            "sp": hexaddr(self.sp),
            "argc": self.argc,
            "argv": [a.to_dict(reveal=True) for a in self.argv],
            "envp": [e.to_dict(reveal, masked_name=looks_secret_entry(e.string))
                     for e in self.envp],
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
class Snapshot(Record):
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
    # Extra sections added by other modules (e.g. "elf"), already JSON-ready.
    extra: dict[str, Any] = _Factory(dict, compare=False)

    def region_at(self, addr: int) -> Region | None:
        for r in self.regions:
            if r.contains(addr):
                return r
        return None

    def regions_named(self, path: str) -> list[Region]:
        return [r for r in self.regions if r.path == path]

    def auxv_value(self, name: str) -> int | None:
        for a in self.auxv:
            if a.name == name:
                return a.value
        return None

    def to_dict(self, reveal: bool = False) -> dict[str, Any]:
        d: dict[str, Any] = {
            "schema": SCHEMA,
            "pid": self.pid,
            "exe": self.exe,
            "argv": list(self.argv),
            "uid": self.uid,
            "regions": [r.to_dict() for r in self.regions],
            "stat": self.stat.to_dict(),
            "auxv": [a.to_dict() for a in self.auxv],
            "env": self.env.to_dict(reveal) if self.env else None,
            "stack": self.stack.to_dict(reveal) if self.stack else None,
            "warnings": list(self.warnings),
        }
        d.update(self.extra)
        return d
