"""Observers: separate processes that try to read a victim's secret, channel by channel.

An observer is a separate process, `python -m memlab.exposure.observer_process`, started
by observe() with subprocess: it optionally drops to a uid first (os.setgroups([]),
setresgid, setresuid: real, effective and saved ids all change, so it can never get root
back, and the kernel clears its capabilities -- kernel/cred.c, cap_task_fix_setuid) and
then tries each channel, answering one result per channel on stdout, as JSON.  memlab
never escalates: it only drops privileges it already has.  An observer never outlives
memlab (PR_SET_PDEATHSIG, armed again after the uid change that clears it) nor its
timeout (alarm); observer_process says how.

Each channel goes through memlab.procfs (or plain open() for the secret file), so a
refusal here is the same memlab error, with the same errno, as anywhere else in memlab.
The errno shown is the kernel's own: the translated memlab error keeps the OSError as its
__cause__ (and as `.errno` when procfs sets it), and process_vm_readv reports EPERM where
/proc/PID/mem reports EACCES (mm/process_vm_access.c turns -EACCES into -EPERM).
"""

from __future__ import annotations

import errno as _errno
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any, Sequence

from memlab.errors import MemlabError, UnreadableMemory, errno_of
from memlab.inputfile import SECRET_FILE, read_input
from memlab.model import Region
from memlab.procfs._io import read_proc_file
from memlab.procfs.auxv import read_auxv
from memlab.procfs.maps import read_maps
from memlab.procfs.mem import MemReader
from memlab.procfs.stat import read_stat

# The channels, in the order the matrix shows them.
CHANNELS: tuple[str, ...] = (
    "environ", "cmdline", "stat", "maps", "auxv", "mem", "process_vm_readv", "file",
)

# What each channel is and which kernel check guards it (fs/proc/base.c unless noted).
CHANNEL_HELP: dict[str, str] = {
    "environ": "/proc/PID/environ: the initial env block; PTRACE_MODE_READ_FSCREDS "
               "(environ_open -> __mem_open)",
    "cmdline": "/proc/PID/cmdline: argv; no access check, world-readable",
    "stat": "/proc/PID/stat: always readable, but without PTRACE_MODE_READ the address "
            "fields are printed as 1,1,0... (fs/proc/array.c do_task_stat)",
    "maps": "/proc/PID/maps: the memory map; PTRACE_MODE_READ (proc_maps_open)",
    "auxv": "/proc/PID/auxv: the ELF auxiliary vector; PTRACE_MODE_READ_FSCREDS",
    "mem": "/proc/PID/mem: the process's memory; PTRACE_MODE_ATTACH (mem_open)",
    "process_vm_readv": "process_vm_readv(2): the same memory without /proc; "
                        "PTRACE_MODE_ATTACH, refused with EPERM (mm/process_vm_access.c)",
    "file": "a 0400 file holding the same secret (the volume-mounted alternative); "
            "plain file permissions",
}

# Channels whose bytes can contain the secret (stat/maps/auxv hold addresses only).
SECRET_CHANNELS = frozenset({"environ", "cmdline", "mem", "process_vm_readv", "file"})


def errno_name(value: int | None) -> str | None:
    return None if value is None else _errno.errorcode.get(value, str(value))


@dataclass(frozen=True)
class Cell:
    """One observer's attempt at one channel."""

    channel: str
    observer: str
    ok: bool  # the read succeeded (even if what came back was masked or empty)
    errno: int | None = None  # the kernel's errno when it did not
    errno_name: str | None = None  # "EACCES"
    secret_found: bool | None = None  # None: not applicable (no secret, or no bytes)
    note: str = ""
    masked: bool | None = None  # stat only: the kernel hid the address fields
    size: int | None = None  # bytes read
    applicable: bool = True  # False: nothing to try (no file given, no env block)

    @property
    def verdict(self) -> str:
        """A short word for a table cell: SECRET, read, masked, empty, EACCES, n/a ..."""
        if not self.applicable:
            return "n/a"
        if not self.ok:
            return self.errno_name or "error"
        if self.secret_found:
            return "SECRET"
        if self.masked:
            return "masked"
        if self.size == 0:
            return "empty"
        return "read"

    def to_dict(self) -> dict[str, Any]:
        return {
            "channel": self.channel, "observer": self.observer, "ok": self.ok,
            "errno": self.errno, "errno_name": self.errno_name,
            "secret_found": self.secret_found, "masked": self.masked, "size": self.size,
            "applicable": self.applicable, "verdict": self.verdict, "note": self.note,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Cell":
        return cls(channel=d["channel"], observer=d["observer"], ok=d["ok"],
                   errno=d.get("errno"), errno_name=d.get("errno_name"),
                   secret_found=d.get("secret_found"), note=d.get("note", ""),
                   masked=d.get("masked"), size=d.get("size"),
                   applicable=d.get("applicable", True))


@dataclass(frozen=True)
class Target:
    """What an observer aims at.  env_start/env_end and regions come from memlab's own
    (privileged) view, so the memory channels try the very bytes /proc/PID/environ shows
    even when the observer itself may not read stat or maps."""

    pid: int
    secrets: tuple[bytes, ...] = ()
    env_start: int | None = None
    env_end: int | None = None
    regions: tuple[Region, ...] | None = None
    file: str | None = None

    def to_json(self) -> dict[str, Any]:
        """For the observer process's job: secrets as latin-1 text (one character per
        byte, exact both ways), regions as lists of their fields."""
        return {"pid": self.pid, "secrets": [s.decode("latin-1") for s in self.secrets],
                "env_start": self.env_start, "env_end": self.env_end,
                "regions": None if self.regions is None else [list(r) for r in self.regions],
                "file": self.file}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "Target":
        regions = d.get("regions")
        return cls(pid=int(d["pid"]),
                   secrets=tuple(s.encode("latin-1") for s in d.get("secrets", ())),
                   env_start=d.get("env_start"), env_end=d.get("env_end"),
                   regions=None if regions is None else tuple(Region(*r) for r in regions),
                   file=d.get("file"))


# --------------------------------------------------------------------------- probes
def _found(target: Target, data: bytes) -> bool | None:
    if not target.secrets:
        return None
    return any(s in data for s in target.secrets)


def _bytes_cell(channel: str, observer: str, target: Target, data: bytes,
                note: str = "") -> Cell:
    if not data and channel in ("environ", "cmdline", "mem", "process_vm_readv"):
        note = note or "empty: no mm (kernel thread or zombie) -- empty is not a denial"
    found = _found(target, data)  # None when there is no secret to look for
    return Cell(channel, observer, True, secret_found=found, note=note, size=len(data))


def _probe_proc_file(name: str):
    def probe(target: Target, observer: str) -> Cell:
        return _bytes_cell(name, observer, target, read_proc_file(target.pid, name))
    return probe


def _probe_stat(target: Target, observer: str) -> Cell:
    st = read_stat(target.pid)
    note = ("addresses hidden by the kernel (1,1,0...): no PTRACE_MODE_READ"
            if st.masked else "addresses visible")
    return Cell("stat", observer, True, masked=st.masked, note=note)


def _probe_maps(target: Target, observer: str) -> Cell:
    regions = read_maps(target.pid)
    return Cell("maps", observer, True, size=len(regions),
                note=f"{len(regions)} regions" if regions else
                "empty: no mm (kernel thread or zombie)")


def _probe_auxv(target: Target, observer: str) -> Cell:
    entries = read_auxv(target.pid)
    return Cell("auxv", observer, True, size=len(entries),
                note=f"{len(entries)} entries" if entries else
                "empty: no mm (kernel thread or zombie)")


def _mem_probe(channel: str, method: str):
    def probe(target: Target, observer: str) -> Cell:
        if not target.env_start or not target.env_end or target.env_end <= target.env_start:
            return Cell(channel, observer, False, applicable=False,
                        note="no env block to read (memlab could not read the victim's "
                        "stat, or it has no user memory)")
        size = target.env_end - target.env_start
        with MemReader(target.pid, list(target.regions) if target.regions else None,
                       method=method) as reader:
            data = reader.read(target.env_start, size)
        return _bytes_cell(channel, observer, target, data,
                           note=f"read the env block at 0x{target.env_start:x} "
                                f"({size} bytes) via {method}")
    return probe


def _probe_file(target: Target, observer: str) -> Cell:
    if target.file is None:
        return Cell("file", observer, False, applicable=False, note="no secret file given")
    # Not /proc: a plain file.  Its errno is the open()'s (fs/namei.c may_open); a FIFO,
    # a device or a huge file is refused unread (memlab.inputfile).
    data = read_input(target.file, SECRET_FILE)
    return _bytes_cell("file", observer, target, data, note=target.file)


PROBES = {
    "environ": _probe_proc_file("environ"),
    "cmdline": _probe_proc_file("cmdline"),
    "stat": _probe_stat,
    "maps": _probe_maps,
    "auxv": _probe_auxv,
    "mem": _mem_probe("mem", "pread"),
    "process_vm_readv": _mem_probe("process_vm_readv", "vm_readv"),
    "file": _probe_file,
}


def probe(channel: str, target: Target, observer: str = "") -> Cell:
    """Try one channel from this process, as whoever it is; never raises for a refusal."""
    try:
        return PROBES[channel](target, observer)
    except (MemlabError, OSError) as err:
        code = errno_of(err)
        if isinstance(err, UnreadableMemory) and code is None:
            note = f"unreadable: {err}"
        elif channel == "process_vm_readv" and code is not None:
            # MemReader names /proc/PID/mem in its message; this was the syscall.
            note = (f"process_vm_readv(2) failed with {errno_name(code)} "
                    f"({os.strerror(code)}): {CHANNEL_HELP[channel]}")
        else:
            note = str(err)
        return Cell(channel, observer, False, errno=code, errno_name=errno_name(code),
                    note=note)


# --------------------------------------------------------------------------- fork
@dataclass(frozen=True)
class Identity:
    """Who an observer runs as.  uid None: as memlab itself (no switch)."""

    uid: int | None = None
    gid: int | None = None


def drop_to(uid: int, gid: int) -> None:  # in memlab.exposure.observer_process
    """Become uid/gid for good (this process only).  Order matters: groups and gid
    first, while we still may (setgroups needs CAP_SETGID)."""
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)


def can_switch_uid() -> bool:
    """memlab may become another uid only if it already runs as root; it never asks
    for more privilege than it has."""
    return os.geteuid() == 0


@dataclass
class ObserverResult:
    cells: list[Cell] = field(default_factory=list)
    uid: int | None = None  # the uid the observer really ran as (reported by the child)
    error: str | None = None
    note: str | None = None  # how it ran, when not as a separate process


def _observer_env() -> dict[str, str]:
    """The observer's whole environment: where memlab's package is, nothing of memlab's
    own environment (it may hold secrets, and PYTHON* variables would change what runs)."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return {"PYTHONPATH": root, "PYTHONDONTWRITEBYTECODE": "1"}


def _in_process(target: Target, observer: str, channels: Sequence[str],
                why: str) -> ObserverResult:
    """The probes run in memlab itself: same credentials as a separate observer, but the
    victim may be memlab's descendant, which Yama ptrace_scope 1 lets read its memory."""
    cells = [probe(ch, target, observer) for ch in channels]
    return ObserverResult(cells=cells, uid=os.geteuid(), note=why)


def observe(target: Target, identity: Identity = Identity(), *, observer: str = "",
            channels: Sequence[str] = CHANNELS, timeout: float = 10.0) -> ObserverResult:
    """Run an observer process (`python -m memlab.exposure.observer_process`) that drops
    to identity.uid if given, tries every channel and answers with the cells.  Raises
    nothing for refusals; a crashed/hung observer becomes `error`."""
    return start(target, identity, observer=observer, channels=channels,
                 timeout=timeout).result()


class Observer:
    """An observer process started by start(); result() sends its job and waits."""

    def __init__(self, proc: subprocess.Popen | None, job: dict[str, Any],
                 done: ObserverResult | None = None) -> None:
        self._proc, self._job, self._done = proc, job, done

    def result(self) -> ObserverResult:
        if self._done is not None:
            return self._done
        proc, timeout = self._proc, self._job["timeout"]
        assert proc is not None
        try:
            out, err_out = proc.communicate(json.dumps(self._job).encode(),
                                            timeout=timeout + 2)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            self._done = ObserverResult(
                error="observer exited without reporting (killed or hung)")
            return self._done
        except BaseException:
            self.kill()
            raise
        self._done = _parse(out, err_out)
        return self._done

    def kill(self) -> None:
        if self._proc is not None and self._proc.returncode is None:
            self._proc.kill()
            self._proc.wait()


def _parse(out: bytes, err_out: bytes) -> ObserverResult:
    try:
        payload = json.loads(out) if out else None
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        tail = err_out.decode("utf-8", "backslashreplace").strip().splitlines()[-1:]
        return ObserverResult(error="observer exited without reporting (killed or hung)"
                              + (f": {tail[0][:200]}" if tail else ""))
    if "error" in payload:
        return ObserverResult(error=payload["error"])
    return ObserverResult(cells=[Cell.from_dict(c) for c in payload["cells"]],
                          uid=payload["uid"])


def start(target: Target, identity: Identity = Identity(), *, observer: str = "",
          channels: Sequence[str] = CHANNELS, timeout: float = 10.0) -> Observer:
    """Start an observer process; its interpreter starts while memlab starts the next
    (access_matrix starts every row, then collects them).

    subprocess starts it (vfork + exec: safe from any thread, the TUI's workers too), in
    a process group of its own (the terminal's ^C is memlab's to handle), with none of
    memlab's descriptors and a minimal environment; see observer_process for how it
    never outlives memlab."""
    if identity.uid is not None and identity.uid != os.geteuid() and not can_switch_uid():
        raise PermissionError(f"cannot become uid {identity.uid} without root")
    switch = identity.uid is not None and os.geteuid() == 0
    job = {"target": target.to_json(), "observer": observer,
           "channels": list(channels), "timeout": timeout,
           "uid": identity.uid if switch else None,
           "gid": identity.gid if switch else None}
    argv = [sys.executable, "-s", "-P", "-m", "memlab.exposure.observer_process",
            str(os.getpid())]
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, close_fds=True, process_group=0,
                                cwd="/", env=_observer_env())
    except PermissionError as err:
        if identity.uid is not None and identity.uid != os.geteuid():
            raise
        # memlab's own uid cannot run its interpreter: a copy of root's memlab that
        # dropped its uid (tests' run_as; /root is 0700).  Same credentials, so the
        # probes run here, without a fork.
        return Observer(None, job, _in_process(
            target, observer, channels, f"the observer ran inside memlab: "
            f"{sys.executable} is not executable by uid {os.geteuid()} ({err.strerror})"))
    return Observer(proc, job)
