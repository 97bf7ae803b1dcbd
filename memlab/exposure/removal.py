"""What removes a secret from a process, and what does not: one variable seen three ways.

(a) execve   the env memlab passed to execve (Launched.env): what the program was given;
(b) /proc    /proc/PID/environ: the kernel shows the bytes between mm->env_start and
             env_end, i.e. the ORIGINAL block on the stack, whatever libc did since
             (fs/proc/base.c environ_read);
(c) libc     the process's current `environ` array, read from its memory: the pointer
             variable `environ` (alias `__environ`) is found by ELF symbol + load bias,
             then the char** array it points at and each string are read with MemReader.

Where `environ` lives: a dynamically linked program that names `environ` itself gets a
copy relocation (R_X86_64_COPY): the variable lives in the executable's .bss and libc's
references are bound to it.  Otherwise it is libc's own.  The dynamic linker resolves in
load order (executable first, then libraries in maps order), so memlab looks there in the
same order.  A static binary has it in the executable.

Then `copies` lists every place the secret's bytes still are (memlab.exposure.search),
which is the point of the lesson: unsetenv only unlinks the pointer (the string stays in
the block, and /proc still shows it); setenv points environ at a new heap string (same);
an in-place scrub really overwrites the block (so /proc stops showing it) but not a copy
the program made earlier (strdup: still in the heap, found by search).  Measured: the
dynamically linked sleeper also holds one stale copy of the NAME=value string lower on
its stack once running (not at the exec stop, not in the static build: left by start-up
code in ld.so/libc), which a scrub of the block does not touch either.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from memlab.elf import bias_from_maps, load_bias, load_stream
from memlab.errors import MemlabError, UnreadableMemory
from memlab.exposure.search import search
from memlab.launch import launch
from memlab.model import Region, hexaddr, region_at, text
from memlab.procfs._io import read_proc_file, readlink_proc
from memlab.procfs.auxv import read_auxv
from memlab.procfs.environ import split_nul
from memlab.procfs.exe import open_exe, open_mapped_file
from memlab.procfs.maps import read_maps
from memlab.procfs.mem import MemReader
from memlab.procfs.stat import read_stat
from memlab.secrets import display_value

ARRAY_LIMIT = 1 << 16  # entries; a corrupt array must not read forever

SCHEMA = "memlab.removal/1"


@dataclass(frozen=True)
class EnvironSymbol:
    """Where the process keeps its `environ` pointer, and what it points at now."""

    address: int  # &environ in the process (symbol value + load bias)
    name: str  # "environ" or "__environ"
    file: str  # the file that defines it (the executable or libc)
    bias: int
    array: int  # environ's current value: the char** array
    array_region: str | None  # "[stack]" at start, "[heap]" after setenv

    def to_dict(self) -> dict[str, Any]:
        return {"address": hexaddr(self.address), "symbol": self.name, "file": self.file,
                "bias": hexaddr(self.bias), "array": hexaddr(self.array),
                "array_region": self.array_region}


def find_environ_symbol(pid: int, regions: Sequence[Region]) -> tuple[int, str, str, int]:
    """(runtime address, symbol name, file, bias) of the `environ` variable the process
    uses: the first definition in load order (executable, then mapped libraries)."""
    exe_path = readlink_proc(pid, "exe")
    exe_path = exe_path[:-len(" (deleted)")] if exe_path.endswith(" (deleted)") else exe_path
    auxv = read_auxv(pid)
    seen: set[str] = set()
    candidates: list[str] = [exe_path]
    candidates += [r.path for r in regions
                   if r.path and r.path.startswith("/") and r.offset == 0]
    for path in candidates:
        if path in seen:
            continue
        seen.add(path)
        lines = [r for r in regions if r.path == path]
        try:
            if path == exe_path:
                f, st = open_exe(pid)
            else:
                if not lines:
                    continue
                f, st = open_mapped_file(pid, lines[0].start, lines[0].end, path)
            with f:
                info = load_stream(f, path, st)
        except MemlabError:  # not an ELF file (locale archive...), or unreadable
            continue
        sym = info.first("environ", "__environ")
        if sym is None:
            continue
        def match(r, p=path):
            return r.path == p
        if path == exe_path:
            bias = load_bias(info, auxv, regions, match).value
        else:
            bias = bias_from_maps(info, regions, match)
        if bias is None:
            continue
        return sym.value + bias, sym.name, path, bias
    raise MemlabError("no `environ` symbol in the executable or its libraries "
                      "(stripped of .dynsym too?)", pid=pid)


def read_libc_environ(pid: int, regions: Sequence[Region] | None = None, *,
                      reader=None) -> tuple[EnvironSymbol, list[tuple[int, int, bytes]]]:
    """The live environment: (symbol, [(slot, string address, string)]) read from the
    process's memory, exactly what getenv() walks."""
    regions = list(regions) if regions is not None else read_maps(pid)
    addr, name, path, bias = find_environ_symbol(pid, regions)
    own = reader is None
    reader = reader or MemReader(pid, regions)
    try:
        array = reader.read_u64(addr)
        entries: list[tuple[int, int, bytes]] = []
        slot = array
        while array and len(entries) < ARRAY_LIMIT:
            ptr = reader.read_u64(slot)
            if ptr == 0:
                break
            try:
                s = reader.read_cstring(ptr)
            except UnreadableMemory:
                s = b""
            entries.append((slot, ptr, s))
            slot += 8
    finally:
        if own:
            reader.close()
    region = region_at(regions, array)
    sym = EnvironSymbol(address=addr, name=name, file=path, bias=bias, array=array,
                        array_region=region.label if region else None)
    return sym, entries


# --------------------------------------------------------------------------- three ways
def _value(entries, name: bytes) -> bytes | None:
    prefix = name + b"="
    for e in entries:
        if e.startswith(prefix):
            return e[len(prefix):]
    return None


@dataclass(frozen=True)
class Source:
    """The variable as one of the three sources sees it."""

    value: bytes | None  # None: the variable is not there
    has_secret: bool  # the secret's bytes are in this source (anywhere, any entry)
    address: int | None = None  # where the NAME=value string is (proc/libc)
    region: str | None = None

    def state(self, secret: bytes) -> str:
        if self.value is None:
            return "absent"
        if self.value == secret:
            return "secret"
        return "other value"

    def verdict(self, secret: bytes, *, env_block: tuple[int, int] | None = None,
                copies: int = 0) -> str:
        """Is the value execve was given (`secret`) still readable here?  One of:
        "secret" (still the value execve gave); "scrubbed" (the string is still where
        execve put it, in the env block, but its bytes were overwritten); "changed"
        (the variable now points at another string, e.g. setenv's heap copy);
        "unset" (the variable is gone).  "changed"/"unset" add "(bytes still there)"
        while the secret's bytes remain in this source or anywhere in memory
        (`copies`): unsetenv and setenv leave the env block as it was
        (stdlib/setenv.c), so /proc/PID/environ still shows it."""
        lingering = self.has_secret or copies > 0
        if self.value is None:
            return "unset (bytes still there)" if lingering else "unset"
        if self.value == secret:
            return "secret"
        if self.has_secret:
            return "changed (bytes still there)"
        in_block = (env_block is not None and self.address is not None
                    and env_block[0] <= self.address < env_block[1])
        if in_block:
            return "scrubbed"
        return "changed (bytes still there)" if lingering else "changed"

    def to_dict(self, name: str, secret: bytes, reveal: bool, *,
                verdict: str | None = None) -> dict[str, Any]:
        return {"state": self.state(secret), "verdict": verdict or self.state(secret),
                "has_secret": self.has_secret,
                "value": None if self.value is None else
                display_value(name, text(self.value), reveal),
                "address": hexaddr(self.address), "region": self.region}


@dataclass(frozen=True)
class ThreeWay:
    """One variable, three ways, at one moment, plus every copy of the secret."""

    pid: int
    name: str
    secret: bytes
    execve: Source
    proc_environ: Source
    libc_environ: Source
    symbol: EnvironSymbol | None
    copies: tuple = ()  # memlab.exposure.search.Hit, address order
    warnings: tuple[str, ...] = ()
    env_block: tuple[int, int] | None = None  # [env_start, env_end) from stat

    def verdict(self, channel: str) -> str:
        """The per-channel verdict against the value execve was given (Source.verdict):
        channel "execve", "proc_environ" or "libc_environ"."""
        if channel == "execve":
            return "given" if self.execve.value is not None else "not given"
        src = getattr(self, channel)
        return src.verdict(self.secret, env_block=self.env_block, copies=len(self.copies))

    def to_dict(self, reveal: bool = False) -> dict[str, Any]:
        def one(channel: str) -> dict[str, Any]:
            return getattr(self, channel).to_dict(self.name, self.secret, reveal,
                                                  verdict=self.verdict(channel))

        return {
            "pid": self.pid, "name": self.name,
            "execve": one("execve"),
            "proc_environ": one("proc_environ"),
            "libc_environ": one("libc_environ"),
            "environ_symbol": self.symbol.to_dict() if self.symbol else None,
            "copies": [{"address": hexaddr(h.address), "region": h.region, "kind": h.kind,
                        "context": h.context(self.secret, reveal)}
                       for h in self.copies],
            "warnings": list(self.warnings),
        }


def three_way(launched, name: str, secret: bytes | None = None) -> ThreeWay:
    """The three readings of `name` in a process memlab launched (a Launched: its .env is
    what execve got).  secret: the bytes to track (default: the value passed to execve)."""
    return three_way_of(launched.pid, name, list(launched.env), secret)


def three_way_of(pid: int, name: str, execve_env: Sequence[bytes] | None,
            secret: bytes | None = None) -> ThreeWay:
    """three_way for any pid; execve_env None when memlab did not start it (then (a)
    is unknown and shown as absent)."""
    bname = name.encode()
    execve_env = list(execve_env or [])
    a_value = _value(execve_env, bname)
    if secret is None:
        secret = a_value
    if not secret:
        raise MemlabError(f"no secret to track: {name} was not passed to execve and no "
                          "secret was given", pid=pid)
    warnings: list[str] = []
    execve = Source(a_value, any(secret in e for e in execve_env))

    regions = read_maps(pid)
    stat = read_stat(pid)
    raw = read_proc_file(pid, "environ")
    b_addr = b_value = None
    for off, entry in split_nul(raw):
        if entry.startswith(bname + b"="):
            b_value, b_addr = entry[len(bname) + 1:], stat.env_start + off
            break
    b_region = region_at(regions, b_addr) if b_addr else None
    proc = Source(b_value, secret in raw, b_addr, b_region.label if b_region else None)

    symbol = None
    libc = Source(None, False)
    try:
        symbol, entries = read_libc_environ(pid, regions)
        for _slot, ptr, s in entries:
            if s.startswith(bname + b"="):
                r = region_at(regions, ptr)
                libc = Source(s[len(bname) + 1:], any(secret in e for _, _, e in entries),
                              ptr, r.label if r else None)
                break
        else:
            libc = Source(None, any(secret in e for _, _, e in entries))
    except MemlabError as err:
        warnings.append(f"libc environ not read: {err}")
    copies = tuple(search(pid, secret).hits)
    return ThreeWay(pid=pid, name=name, secret=secret, execve=execve, proc_environ=proc,
                   libc_environ=libc, symbol=symbol, copies=copies,
                   warnings=tuple(warnings),
                   env_block=(stat.env_start, stat.env_end) if stat.env_end else None)


# --------------------------------------------------------------------------- the lesson
@dataclass(frozen=True)
class Step:
    victim: str  # "A" or "B": which process (scrub needs a process that still has it)
    command: str  # the sample command sent ("" for the starting state)
    answer: dict[str, Any]
    three_way: ThreeWay
    lesson: str

    def to_dict(self, reveal: bool = False) -> dict[str, Any]:
        return {"victim": self.victim, "pid": self.three_way.pid, "command": self.command,
                "answer": self.answer, "lesson": self.lesson,
                "view": self.three_way.to_dict(reveal)}


@dataclass
class Walkthrough:
    name: str
    steps: list[Step] = field(default_factory=list)

    def to_dict(self, reveal: bool = False) -> dict[str, Any]:
        return {"schema": SCHEMA, "name": self.name,
                "steps": [s.to_dict(reveal) for s in self.steps]}


DEMO_NAME = "DB_PASSWORD"
DEMO_SECRET = b"hunter2-memlab-demo"

# (victim, command template, lesson).  Two processes: `scrub` overwrites getenv(K)'s
# bytes, and after unsetenv getenv(K) is NULL, so it needs a process that still has K.
SCRIPT: tuple[tuple[str, str, str], ...] = (
    ("A", "", "At start all three agree: execve's env, /proc/PID/environ and libc's "
              "environ array all hold the secret, in the env block on the stack."),
    ("A", "unsetenv {name}", "unsetenv only removes the pointer from libc's environ "
              "array: the bytes stay in the env block, and /proc/PID/environ still "
              "shows them to anyone who may read it."),
    ("A", "setenv {name} rotated-value", "setenv builds a new NAME=value string on the "
              "heap (and a new array there); the old block, and /proc, keep the secret."),
    ("B", "", "A second process, same start."),
    ("B", "copy {name}", "The program copied the value (strdup): now it lives twice, "
              "in the env block and in the heap."),
    ("B", "scrub {name}", "Overwriting the string in place removes it from the env block: "
              "/proc/PID/environ no longer shows it.  The heap copy is still there, and "
              "so is any stale copy start-up code left lower on the stack: memlab "
              "search finds them."),
)


def walkthrough(target: str = "sleeper", name: str = DEMO_NAME,
                secret: bytes = DEMO_SECRET, *, extra_env: Sequence[bytes] = (),
                timeout: float = 5.0) -> Walkthrough:
    """Run SCRIPT on two fresh sample processes and take the three-way reading after each
    step.  Both processes are killed before this returns."""
    env = [b"HOME=/", b"LANG=C", name.encode() + b"=" + secret, *extra_env]
    out = Walkthrough(name=name)
    victims: dict[str, Any] = {}
    try:
        for victim, template, lesson in SCRIPT:
            if victim not in victims:
                victims[victim] = launch(target, env=env, hold="ready", timeout=timeout)
            proc = victims[victim]
            command = template.format(name=name)
            answer = proc.command(command, timeout=timeout) if command else {}
            if "error" in answer:
                raise MemlabError(f"the sample refused {command!r}: {answer['error']}",
                                  pid=proc.pid)
            out.steps.append(Step(victim, command, answer, three_way(proc, name, secret),
                                  lesson))
    finally:
        for proc in victims.values():
            proc.kill()
    return out
