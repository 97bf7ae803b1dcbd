"""The access matrix: which observer can read a process's secret, through which channel.

The article says environment variables are "exposed to other processes".  The kernel is
more precise (fs/proc/base.c, kernel/ptrace.c __ptrace_may_access):
  - the same uid reads /proc/PID/environ, maps, auxv and mem of a *dumpable* process;
  - another uid gets EACCES on all of them (EPERM from process_vm_readv), and stat with
    its addresses masked; cmdline and stat stay world-readable;
  - a process that called prctl(PR_SET_DUMPABLE, 0) hides them from its own uid too
    (its /proc/PID files become root-owned: task_dump_owner);
  - root (CAP_SYS_PTRACE, CAP_DAC_OVERRIDE) reads everything, the 0400 file included.
A 0400 secret file (what a Kubernetes secret volume gives you) is readable by its owner
and by root only: the classic permission check, nothing ptrace-related.

Each row is one observer process (memlab.exposure.observers): memlab starts
`python -m memlab.exposure.observer_process`, which drops to the row's uid if memlab is
root, and tries every channel.  memlab never
escalates: when it is not root it runs the rows it can (itself as "same uid" or "other
uid") and lists the others as skipped, with the reason.
"""

from __future__ import annotations

import os
import re
import shutil
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

from memlab.errors import MemlabError, UsageError, ZombieProcess
from memlab.exposure.audit import is_dumpable
from memlab.exposure.demo_dir import DemoDir
from memlab.exposure import observers
from memlab.exposure.observers import (CHANNEL_HELP, CHANNELS, Cell, Identity, Target,
                                       can_switch_uid)
from memlab.launch import launch
from memlab.model import hexaddr
from memlab.procfs.environ import read_environ
from memlab.procfs.maps import read_maps
from memlab.procfs.stat import read_stat
from memlab.procfs.status import parse_ids, read_status
from memlab.render.safe import printable
from memlab.samples import resolve_target
from memlab.secrets import looks_secret

SCHEMA = "memlab.exposure/1"
VICTIM_UID = 1000  # the demo victim's uid when memlab is root: "a regular user"
OTHER_UID = 65534  # nobody: the other user
ROW_KEYS = ("same_uid", "other_uid", "root", "same_uid_nodump")
DEMO_NAME = "DB_PASSWORD"
DEMO_SECRET = b"hunter2-memlab-exposure"


@dataclass(frozen=True)
class Row:
    key: str  # one of ROW_KEYS
    label: str  # "same uid (1000)"
    uid: int | None  # the uid the observer really ran as (None: skipped)
    victim_pid: int
    cells: tuple[Cell, ...] = ()
    skipped: str | None = None  # why the row was not run

    def cell(self, channel: str) -> Cell | None:
        return next((c for c in self.cells if c.channel == channel), None)

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "label": self.label, "uid": self.uid,
                "victim_pid": self.victim_pid, "skipped": self.skipped,
                "cells": [c.to_dict() for c in self.cells]}


@dataclass(frozen=True)
class Victim:
    pid: int
    uid: int
    gid: int
    name: str  # comm
    dumpable: bool | None  # None: cannot tell (a root process)
    secret_names: tuple[str, ...]  # the env variables whose values are looked for
    file: str | None
    env_start: int | None = None
    env_end: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"pid": self.pid, "uid": self.uid, "gid": self.gid, "name": self.name,
                "dumpable": self.dumpable, "secret_names": list(self.secret_names),
                "file": self.file, "env_start": hexaddr(self.env_start),
                "env_end": hexaddr(self.env_end)}


@dataclass(frozen=True)
class Matrix:
    victim: Victim
    rows: tuple[Row, ...]
    channels: tuple[str, ...] = CHANNELS
    notes: tuple[str, ...] = ()
    memlab_uid: int = field(default_factory=os.geteuid)

    def row(self, key: str) -> Row | None:
        return next((r for r in self.rows if r.key == key), None)

    def cell(self, row_key: str, channel: str) -> Cell | None:
        row = self.row(row_key)
        return row.cell(channel) if row else None

    @property
    def skipped(self) -> list[tuple[str, str]]:
        return [(r.key, r.skipped) for r in self.rows if r.skipped]

    def to_dict(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "memlab_uid": self.memlab_uid,
                "victim": self.victim.to_dict(), "channels": list(self.channels),
                "channel_help": {c: CHANNEL_HELP[c] for c in self.channels},
                "rows": [r.to_dict() for r in self.rows],
                "skipped": [{"row": k, "why": w} for k, w in self.skipped],
                "notes": list(self.notes)}


# --------------------------------------------------------------------------- victim
def describe_victim(pid: int, *, secret: bytes | None = None,
                    file: str | None = None) -> tuple[Victim, tuple[bytes, ...], list[str]]:
    """What memlab itself can learn about the victim: ids, dumpable, env block address,
    and the secrets to look for (given, or the values of its secret-looking variables)."""
    notes: list[str] = []
    status = read_status(pid)  # NoSuchProcess here ends it: nothing to observe
    _r, euid, _s, _f = parse_ids(status.get("Uid", ""), "Uid")
    _r, egid, _s, _f = parse_ids(status.get("Gid", ""), "Gid")
    dumpable = is_dumpable(pid, euid)
    env_start = env_end = None
    st = read_stat(pid)  # readable by every uid
    if st.is_zombie:
        raise ZombieProcess("process is a zombie (exited, not yet reaped): there is "
                            "nothing left to observe", pid=pid)
    if st.masked:
        notes.append("memlab itself may not read the victim's memory layout (stat is "
                     "masked): the memory channels have no address to try")
    elif not st.has_mm:
        notes.append("a kernel thread: no user memory, so its files read empty -- "
                     "empty is not a denial")
    else:
        env_start, env_end = st.env_start, st.env_end
    names: list[str] = []
    secrets: list[bytes] = []
    if secret is not None:
        secrets.append(secret)
    try:
        for e in read_environ(pid):
            if secret is not None:
                if e.has_equals and e.value_bytes == secret:
                    names.append(e.name)
            elif e.has_equals and e.value_bytes and looks_secret(e.name, e.value):
                names.append(e.name)
                secrets.append(e.value_bytes)
    except MemlabError as err:
        notes.append(f"memlab itself cannot read the victim's environ ({err}): "
                     "secret_found is unknown unless --secret is given")
    if not secrets:
        notes.append("no secret-looking variable in the victim's environment: the cells "
                     "say readable or not, secret_found is null")
    victim = Victim(pid=pid, uid=euid, gid=egid, name=status.get("Name", "?"),
                    dumpable=dumpable, secret_names=tuple(names), file=file,
                    env_start=env_start, env_end=env_end)
    return victim, tuple(secrets), notes


def _regions(pid: int):
    try:
        return tuple(read_maps(pid))
    except MemlabError:
        return None


# --------------------------------------------------------------------------- rows
def plan_rows(victim_uid: int, *, nodump: bool = False,
              me: int | None = None) -> list[tuple[str, str, Identity | None, str | None]]:
    """(key, label, identity to run as, skip reason) for each row.  Pure: decided from
    memlab's own uid only, never by trying to escalate."""
    me = os.geteuid() if me is None else me
    root = me == 0
    other = OTHER_UID if victim_uid != OTHER_UID else OTHER_UID - 1
    rows: list[tuple[str, str, Identity | None, str | None]] = []

    def same_uid(key: str, label: str) -> None:
        if me == victim_uid:
            rows.append((key, label, Identity(), None))
        elif root:
            rows.append((key, label, Identity(victim_uid, None), None))
        else:
            rows.append((key, label, None, f"memlab runs as uid {me} and cannot become uid "
                         f"{victim_uid} (that needs root; memlab never escalates)"))

    same_uid("same_uid", f"same uid ({victim_uid})")
    if root:
        rows.append(("other_uid", f"other uid ({other})", Identity(other, other), None))
    elif me != victim_uid:
        rows.append(("other_uid", f"other uid (you, {me})", Identity(), None))
    else:
        rows.append(("other_uid", f"other uid ({other})", None,
                     f"switching to uid {other} needs root; memlab runs as uid {me} and "
                     "never escalates"))
    if root:
        rows.append(("root", "root (0)", Identity(), None))
    else:
        rows.append(("root", "root (0)", None,
                     f"memlab runs as uid {me}, not root: it cannot show what root sees"))
    if nodump:
        same_uid("same_uid_nodump", f"same uid ({victim_uid}) vs non-dumpable")
    return rows


def access_matrix(pid: int, *, secret: bytes | str | None = None, file: str | None = None,
                  nodump_pid: int | None = None, rows: Sequence[str] | None = None,
                  channels: Sequence[str] | None = None, notes: Sequence[str] = (),
                  timeout: float = 10.0) -> Matrix:
    """Run every observer row against `pid` (and `nodump_pid` for the non-dumpable row).

    secret: the bytes whose presence each cell reports (default: the values of the
    victim's secret-looking variables, as memlab reads them).  file: a secret file to try
    as the `file` channel (left out without one).  rows: a subset of ROW_KEYS (the TUI
    runs "same_uid" and "other_uid" first, then the rest)."""
    if isinstance(secret, str):
        secret = secret.encode()
    if channels is None:  # every channel; `file` only when there is a file to try
        channels = [c for c in CHANNELS if c != "file" or file is not None]
    unknown = set(rows or ()) - set(ROW_KEYS) or set(channels) - set(CHANNELS)
    if unknown:
        raise UsageError(f"unknown row/channel: {', '.join(sorted(unknown))}")
    victim, secrets, extra = describe_victim(pid, secret=secret, file=file)
    all_notes = [*notes, *extra]
    target = Target(pid=pid, secrets=secrets, env_start=victim.env_start,
                    env_end=victim.env_end, regions=_regions(pid), file=file)
    nd_target = None
    if nodump_pid is not None:
        nd_victim, nd_secrets, _ = describe_victim(nodump_pid, secret=secret, file=file)
        nd_target = Target(pid=nodump_pid, secrets=nd_secrets or secrets,
                           env_start=nd_victim.env_start, env_end=nd_victim.env_end,
                           regions=_regions(nodump_pid), file=file)
        if nd_victim.dumpable:
            all_notes.append(f"pid {nodump_pid} is still dumpable: the non-dumpable row "
                             "shows nothing special")
    out: list[Row] = []
    # Every row's observer process starts first: their interpreters start together.
    started: list[tuple[str, str, Target, str | None, observers.Observer | None]] = []
    try:
        for key, label, identity, why in plan_rows(victim.uid,
                                                   nodump=nd_target is not None):
            if rows is not None and key not in rows:
                continue
            tgt = nd_target if key == "same_uid_nodump" else target
            assert tgt is not None
            run = None
            if identity is not None:
                if identity.uid is not None and identity.gid is None:
                    identity = Identity(identity.uid, victim.gid)
                run = observers.start(tgt, identity, observer=key, channels=channels,
                                      timeout=timeout)
            started.append((key, label, tgt, why, run))
    except BaseException:
        for *_, run in started:
            if run is not None:
                run.kill()
        raise
    for i, (key, label, tgt, why, run) in enumerate(started):
        if run is None:
            out.append(Row(key, label, None, tgt.pid, skipped=why))
            continue
        try:
            result = run.result()
        except BaseException:
            for *_, later in started[i + 1:]:
                if later is not None:
                    later.kill()
            raise
        if result.error:
            out.append(Row(key, label, None, tgt.pid,
                           skipped=f"the observer failed: {result.error}"))
        else:
            out.append(Row(key, label, result.uid, tgt.pid, tuple(result.cells)))
            if result.note:
                all_notes.append(f"{label}: {result.note}")
    if victim.uid == 0 and os.geteuid() == 0:
        all_notes.append("the victim runs as root: 'same uid' is root too, with "
                         "CAP_SYS_PTRACE, so it reads everything")
    return Matrix(victim=victim, rows=tuple(out), channels=tuple(channels),
                  notes=tuple(all_notes))


# --------------------------------------------------------------------------- demo
@dataclass
class DemoVictims:
    main: Any  # Launched
    nodump: Any  # Launched, after `nodump`
    file: str
    directory: str
    uid: int
    notes: list[str]


def _setpriv() -> str | None:
    return shutil.which("setpriv")


@contextmanager
def demo_victims(secret: bytes = DEMO_SECRET, name: str = DEMO_NAME,
                 target: str = "sleeper", *, victim_uid: int = VICTIM_UID,
                 timeout: float = 5.0) -> Iterator[DemoVictims]:
    """Two sample processes with NAME=secret in their environment (the second made itself
    non-dumpable) and the same secret in a 0400 file; all removed on exit.

    As root, the victims run as victim_uid (a regular user: a root victim would be read
    by every root observer), started through util-linux `setpriv --reuid --regid
    --clear-groups --pdeathsig KILL` (the parent-death signal is re-armed after the uid
    change, which clears it: prctl(2)).  Not root: they run as memlab's own uid."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,63}", name):
        # it names the env variable and the secret file (a lesson may choose it)
        raise UsageError(f"the demo's variable name must be letters, digits and _, "
                         f"at most 64, not {printable(name[:80])!r}")
    exe = resolve_target(target)
    notes: list[str] = []
    switch = can_switch_uid()
    setpriv = _setpriv() if switch else None
    if switch and setpriv is None:
        notes.append("setpriv (util-linux) not found: the victims run as root, so the "
                     "same-uid rows are root too")
        switch = False
    uid = victim_uid if switch else os.geteuid()
    # Made by memlab alone in a directory only memlab can write, handed over read-only:
    # root never works in a directory the victim uid can write (memlab.exposure.demo_dir)
    workdir = DemoDir()
    directory = workdir.path
    launched: list[Any] = []
    try:
        # the secret file: 0400, the victim's own (as root), nothing else of theirs here
        path = workdir.create(name.lower(), secret, 0o400,
                              owner=(uid, uid) if switch else None)
        argv_prefix: list[str] = []
        if switch:
            # A root-owned copy the victim uid can certainly execute (the repo may sit
            # under a 0700 home directory) but not change.
            exe = workdir.copy(exe, os.path.basename(exe), 0o755)
            argv_prefix = [f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                           "--pdeathsig=KILL", exe]
            notes.append(f"the victims run as uid {uid} (started with setpriv --reuid "
                         f"{uid} --regid {uid}, from a root-owned copy of the sample in "
                         "that directory so the uid can execute it); memlab is root")
        # 0711: every uid may traverse (not list) the directory, so a refusal of the
        # file is due to the file's own 0400 mode, not to the directory.
        workdir.open_to_traversal()
        notes.append(f"the secret file is mode 0400, owner uid {uid}, in a 0711 "
                     "directory: any uid may traverse it, so a refusal comes from the "
                     "file's own mode")
        env = [b"HOME=/", b"LANG=C", name.encode() + b"=" + secret]
        prog, args = (setpriv, argv_prefix) if switch else (exe, [])
        main = launch(prog, args, env=env, hold="ready", timeout=timeout)
        launched.append(main)
        nodump = launch(prog, args, env=env, hold="ready", timeout=timeout)
        launched.append(nodump)
        answer = nodump.command("nodump", timeout=timeout)
        if answer.get("dumpable") != 0:
            raise MemlabError(f"the sample did not become non-dumpable: {answer}",
                              pid=nodump.pid)
        yield DemoVictims(main, nodump, path, directory, uid, notes)
    finally:
        for proc in launched:
            proc.kill()
        workdir.remove()


def demo(secret: bytes = DEMO_SECRET, name: str = DEMO_NAME, *,
         target: str = "sleeper", timeout: float = 10.0) -> Matrix:
    """`memlab exposure demo`: launch the victims, run every row, clean up."""
    with demo_victims(secret, name, target) as v:
        return access_matrix(v.main.pid, secret=secret, file=v.file,
                             nodump_pid=v.nodump.pid, notes=v.notes, timeout=timeout)
