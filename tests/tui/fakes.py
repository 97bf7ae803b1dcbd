"""FakeSource, the TUI's data source for tests, and a fixed, hand-built Snapshot of a
sleeper-like process (no ASLR addresses) for Pilot and snapshot tests that need no real
process.  Every address is derived from the
layout execve produces (fs/binfmt_elf.c create_elf_tables): end marker and exec path at
the very top of [stack], the env strings below them, the arg strings below those, then
(after AT_RANDOM/platform/padding) argc, argv[], envp[] and auxv at sp."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from memlab.errors import NoSuchProcess, UsageError
from memlab.model import (AuxvEntry, EnvBlock, EnvEntry, InitialStack, ProcStat, Region,
                          Snapshot, StackString)
from memlab.processes import ProcessInfo
from memlab.tui.source import DataSource, LaunchRequest, check_command

PID = 4242
EXE = "/opt/memlab/c_samples/bin/sleeper"
ENV = (b"DB_PASSWORD=hunter2", b"LOG_LEVEL=info", b"PATH=/usr/bin:/bin", b"HOME=/root",
       b"LANG=C.UTF-8")
STACK_TOP = 0x7FFFFFFFF000
STACK_BOTTOM = 0x7FFFFFFDE000
HEAP = (0x555555559000, 0x55555557A000)

AT = {"AT_SYSINFO_EHDR": 33, "AT_HWCAP": 16, "AT_PAGESZ": 6, "AT_CLKTCK": 17,
      "AT_PHDR": 3, "AT_PHENT": 4, "AT_PHNUM": 5, "AT_BASE": 7, "AT_FLAGS": 8,
      "AT_ENTRY": 9, "AT_UID": 11, "AT_EUID": 12, "AT_GID": 13, "AT_EGID": 14,
      "AT_SECURE": 23, "AT_RANDOM": 25, "AT_EXECFN": 31, "AT_PLATFORM": 15}


class FakeSource(DataSource):
    """Serves fixed snapshots.  `snapshots` is a sequence: every command advances to
    the next one (so a test scripts what `scrub` does); `memory` maps base addresses
    to bytes for read_memory (anything else reads as unreadable)."""

    def __init__(self, snapshots: Snapshot | Sequence[Snapshot], *,
                 memory: dict[int, bytes] | None = None,
                 processes: Iterable = (), samples: Iterable[str] = ("sleeper",),
                 launched: bool = True, gone_after: int | None = None,
                 matrices: Sequence = (), three_way=None):
        self.snapshots = [snapshots] if isinstance(snapshots, Snapshot) else list(snapshots)
        self.index = 0
        self.memory = dict(memory or {})
        self.processes = list(processes)
        self.samples = list(samples)
        self.launched = launched
        self.pid = self.snapshots[0].pid
        self.commands: list[str] = []
        self.launches: list[LaunchRequest] = []
        self.attached: list[int] = []
        self.stopped = False
        self.bytes_read = 0
        self.reads: list[tuple[int, int]] = []
        # after this many snapshot() calls the process "vanishes" (NoSuchProcess)
        self.gone_after = gone_after
        self.snapshot_calls = 0
        # exposure panel: access_matrix() answers these in turn (the last one repeats)
        self.matrices = list(matrices)
        self.matrix_calls: list[tuple] = []
        self.three_way_view = three_way

    def snapshot(self) -> Snapshot:
        self.snapshot_calls += 1
        if self.gone_after is not None and self.snapshot_calls > self.gone_after:
            raise NoSuchProcess("process exited", pid=self.pid)
        return self.snapshots[self.index]

    def launch(self, request: LaunchRequest) -> int:
        self.launches.append(request)
        self.last_launch = request
        self.launched = True
        return self.pid

    def attach(self, pid: int) -> None:
        self.attached.append(pid)
        self.launched = False

    def command(self, line: str) -> dict:
        if not self.launched:
            raise UsageError("commands drive a process memlab launched; "
                             "an attached process is read-only (launch one with l)")
        line = check_command(line)
        self.commands.append(line)
        self.index = min(self.index + 1, len(self.snapshots) - 1)
        return {"ok": True, "cmd": line.split()[0]}

    def read_memory(self, addr: int, size: int) -> bytes | None:
        self.reads.append((addr, size))
        for base, data in self.memory.items():
            if base <= addr and addr + size <= base + len(data):
                self.bytes_read += size
                return data[addr - base:addr - base + size]
        return None

    def list_processes(self) -> list:
        return list(self.processes)

    def sample_names(self) -> list[str]:
        return list(self.samples)

    def access_matrix(self, rows=None, channels=None):
        if not self.matrices:
            return super().access_matrix(rows, channels)
        self.matrix_calls.append((rows, channels))
        return self.matrices[min(len(self.matrix_calls), len(self.matrices)) - 1]

    def env_three_way(self, name: str):
        if self.three_way_view is None:
            return super().env_three_way(name)
        return self.three_way_view

    def stop(self) -> None:
        self.stopped = True


def region(start, end, perms, path, kind, offset=0, inode=0, dev="00:00"):
    return Region(start, end, perms, offset, dev, inode, path, False, kind)


REGIONS = (
    region(0x555555554000, 0x555555555000, "r--p", EXE, "rodata", 0, 1311, "fd:01"),
    region(0x555555555000, 0x555555556000, "r-xp", EXE, "text", 0x1000, 1311, "fd:01"),
    region(0x555555556000, 0x555555557000, "r--p", EXE, "rodata", 0x2000, 1311, "fd:01"),
    region(0x555555557000, 0x555555558000, "r--p", EXE, "data", 0x2000, 1311, "fd:01"),
    region(0x555555558000, 0x555555559000, "rw-p", EXE, "data", 0x3000, 1311, "fd:01"),
    region(*HEAP, "rw-p", "[heap]", "heap"),
    region(0x7FFFF7D80000, 0x7FFFF7DA8000, "r--p", "/usr/lib/x86_64-linux-gnu/libc.so.6",
           "lib", 0, 2230, "fd:01"),
    region(0x7FFFF7DA8000, 0x7FFFF7F3D000, "r-xp", "/usr/lib/x86_64-linux-gnu/libc.so.6",
           "lib", 0x28000, 2230, "fd:01"),
    region(0x7FFFF7F3D000, 0x7FFFF7F95000, "r--p", "/usr/lib/x86_64-linux-gnu/libc.so.6",
           "lib", 0x1BD000, 2230, "fd:01"),
    region(0x7FFFF7F95000, 0x7FFFF7F9B000, "rw-p", None, "anon"),
    region(0x7FFFF7FC1000, 0x7FFFF7FC5000, "r--p", "[vvar]", "vvar"),
    region(0x7FFFF7FC5000, 0x7FFFF7FC7000, "r-xp", "[vdso]", "vdso"),
    region(0x7FFFF7FC7000, 0x7FFFF7FF1000, "r-xp", "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
           "lib", 0x1000, 2210, "fd:01"),
    region(STACK_BOTTOM, STACK_TOP, "rw-p", "[stack]", "stack"),
    region(0xFFFFFFFFFF600000, 0xFFFFFFFFFF601000, "--xp", "[vsyscall]", "vsyscall"),
)


def build(env: tuple[bytes, ...] = ENV, proc_environ: tuple[bytes, ...] | None = None,
          regions: tuple[Region, ...] = REGIONS) -> tuple[Snapshot, dict[int, bytes]]:
    """(snapshot, memory) where memory maps the top page of [stack] to its bytes."""
    execfn = EXE.encode()
    execfn_addr = STACK_TOP - 8 - len(execfn) - 1
    env_raw = b"".join(e + b"\0" for e in env)
    env_start = execfn_addr - len(env_raw)
    argv0 = execfn
    arg_start = env_start - len(argv0) - 1
    random_addr = (arg_start - 16 - 16) & ~0xF
    platform_addr = random_addr - 8
    sp = (platform_addr - 8 * (1 + 2 + len(env) + 1 + 2 * (len(AT) + 1))) & ~0xF
    entries, addr = [], env_start
    for e in env:
        entries.append(EnvEntry(e, addr))
        addr += len(e) + 1
    argv = (StackString(sp + 8, arg_start, argv0),)
    envp = tuple(StackString(sp + 16 + 8 * (1 + i), en.address, en.raw)
                 for i, en in enumerate(entries))
    auxv_address = sp + 8 * (1 + 2 + len(env) + 1)
    values = {"AT_SYSINFO_EHDR": 0x7FFFF7FC5000, "AT_HWCAP": 0x178BFBFF, "AT_PAGESZ": 4096,
              "AT_CLKTCK": 100, "AT_PHDR": 0x555555554040, "AT_PHENT": 56, "AT_PHNUM": 13,
              "AT_BASE": 0x7FFFF7FC7000, "AT_FLAGS": 0, "AT_ENTRY": 0x555555555060,
              "AT_UID": 0, "AT_EUID": 0, "AT_GID": 0, "AT_EGID": 0, "AT_SECURE": 0,
              "AT_RANDOM": random_addr, "AT_EXECFN": execfn_addr,
              "AT_PLATFORM": platform_addr}
    auxv = tuple(AuxvEntry(AT[n], values[n]) for n in AT)
    stat = ProcStat(PID, "sleeper", "S", 4000, 0x555555555000, 0x555555555F00, sp,
                    0x555555557DE0, 0x555555558010, HEAP[0], arg_start, env_start,
                    env_start, execfn_addr, 0)
    env_block = EnvBlock(env_start, execfn_addr, env_raw, tuple(entries), "[stack]", True,
                         STACK_TOP - execfn_addr, 0)
    stack = InitialStack(sp, 1, argv, envp, auxv, auxv_address, True,
                         bytes(range(16)), "x86_64", EXE, execfn_addr,
                         arg_start - (platform_addr + 7), True)
    pe = tuple(EnvEntry(e) for e in (proc_environ if proc_environ is not None else env))
    snap = Snapshot(PID, EXE, (EXE,), stat, regions, auxv, pe, env_block, stack, 0)
    page = bytearray(b"\x5a" * 4096)
    base = STACK_TOP - 4096
    page[arg_start - base:arg_start - base + len(argv0) + 1] = argv0 + b"\0"
    page[env_start - base:env_start - base + len(env_raw)] = env_raw
    page[execfn_addr - base:execfn_addr - base + len(execfn) + 1] = execfn + b"\0"
    page[STACK_TOP - 8 - base:] = b"\0" * 8
    heap = bytes(i % 251 for i in range(HEAP[1] - HEAP[0]))
    return snap, {base: bytes(page), HEAP[0]: heap}


def scrubbed(env: tuple[bytes, ...] = ENV, name: bytes = b"DB_PASSWORD") -> tuple[bytes, ...]:
    """The env strings after `scrub NAME`: its value bytes overwritten in place."""
    out = []
    for e in env:
        if e.startswith(name + b"="):
            e = name + b"=" + b"X" * (len(e) - len(name) - 1)
        out.append(e)
    return tuple(out)


def after_malloc(snap: Snapshot, grow: int = 0x21000) -> Snapshot:
    """The snapshot after `malloc`: [heap] grew at its end (brk)."""
    regions = tuple(r._replace(end=r.end + grow) if r.path == "[heap]" else r
                    for r in snap.regions)
    return snap._replace(regions=regions)


PROCESSES = [
    ProcessInfo(1, "root", 0, "init", True, None, "/sbin/init"),
    ProcessInfo(2, "root", 0, "kthreadd", False, "kernel thread: no user memory to read",
                "", True),
    ProcessInfo(777, "nobody", 65534, "nginx", False,
                "owned by uid 65534, you are uid 1000 without CAP_SYS_PTRACE "
                "(kernel ptrace access check)", "nginx: worker process"),
    ProcessInfo(PID, "root", 0, "sleeper", True, None, EXE),
    ProcessInfo(5000, "root", 0, "bash", True, None, "-bash"),
]


def fake_source(**kw) -> FakeSource:
    """Three scripted states: as launched, after unsetenv (no byte changes: libc only
    dropped the pointer), after scrub (the value bytes overwritten)."""
    base, memory = build()
    after_unset = base  # unsetenv: same bytes, same /proc/PID/environ
    after_scrub, _ = build(env=scrubbed())
    source = FakeSource([base, after_unset, after_scrub], memory=memory,
                        processes=PROCESSES, samples=["sleeper", "sleeper-nopie"], **kw)
    # what the launch panel starts from: this env, not the test machine's PATH
    source.last_launch = LaunchRequest("sleeper", ENV)
    return source
