"""Actions on who can read a process's secrets: the access matrix, a search of its
memory, one observer process."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from memlab.collect import snapshot
from memlab.errors import MemlabError
from memlab.exposure.matrix import DEMO_NAME, DEMO_SECRET, demo
from memlab.exposure.observers import Identity, Target, can_switch_uid, observe
from memlab.exposure.search import search
from memlab.kernel.abi import PAGE_SIZE
from memlab.procfs._io import list_pids
from memlab.procfs.status import real_uid
from memlab.lessons.actions.registry import (ActionResult, Bound, RunContext, Skipped, action,
                                             bounded)


def _starts_exposure(p: dict[str, Any], lesson_dir: Path) -> list[str]:
    return ["memlab's sleeper sample as the victims, and observer processes"]

NOBODY_UID = 65534  # the observer's uid when memlab is root (nobody)

# the demo's victims are sleeper samples


@action("exposure", optional=("secret", "name"), requires=("program:sleeper",),
        starts=_starts_exposure)
def _exposure(ctx: RunContext, p: dict[str, Any], save: str | None) -> ActionResult:
    """The access matrix: a victim with a secret in its env and in a 0400 file, read by
    observers as the same uid, another uid, root, and the same uid vs a non-dumpable
    victim.  Rows memlab cannot run (not root) are Skipped with exposure's reason."""
    secret = str(p["secret"]).encode() if "secret" in p else DEMO_SECRET
    matrix = demo(secret, str(p.get("name", DEMO_NAME)))
    rows: dict[str, Any] = {}
    for row in matrix.rows:
        if row.skipped:
            rows[row.key] = Skipped(row.skipped)
            continue
        rows[row.key] = {"uid": row.uid, **{c.channel: {
            "ok": c.ok, "errno": c.errno_name, "verdict": c.verdict,
            "secret_found": c.secret_found, "masked": c.masked} for c in row.cells}}
    facts = {"victim_uid": matrix.victim.uid, "file": matrix.victim.file,
             "memlab_uid": matrix.memlab_uid, "rows": rows, "notes": list(matrix.notes)}
    ran = [k for k, v in rows.items() if not isinstance(v, Skipped)]
    return ActionResult(facts, f"victim uid {matrix.victim.uid}; observers run: "
                               f"{', '.join(ran)}; skipped: "
                               f"{', '.join(k for k, _ in matrix.skipped) or 'none'}")


@action("search", params=("process", "text"))
def _search(ctx: RunContext, p: dict[str, Any], save: str | None) -> ActionResult:
    """Find every copy of a byte string in the process's readable memory."""
    proc = ctx.process(str(p["process"]))
    result = search(proc.pid, str(p["text"]).encode())
    kinds = [h.kind for h in result.hits]
    facts = {"count": len(result.hits), "kinds": kinds,
             "regions": [h.region for h in result.hits],
             "addresses": [h.address for h in result.hits]}
    where = ", ".join(f"{h.region} 0x{h.address:x}" for h in result.hits[:4]) or "nowhere"
    return ActionResult(facts, f"found {len(result.hits)} copies: {where}")


@action("observe", params=("process",), optional=("uid", "channels", "secret"),
        bounds={"uid": Bound(0, 2**32 - 2)})  # (uid_t)-1 means "unchanged" to setresuid
def _observe(ctx: RunContext, p: dict[str, Any], save: str | None) -> ActionResult:
    """One observer process (memlab forks; as `uid` if given, which needs root) tries
    the channels (default environ, maps, mem) on a launched process: per channel
    {ok, errno, verdict, secret_found}.  Without root, another uid is Skipped."""
    proc = ctx.process(str(p["process"]))
    uid = bounded("observe", p, "uid", None)
    if uid is not None and int(uid) != os.geteuid() and not can_switch_uid():
        why = (f"an observer as uid {uid} needs root to switch uid; memlab runs as uid "
               f"{os.geteuid()} and never escalates")
        return ActionResult(Skipped(why), why)
    snap = snapshot(proc.pid)
    secret = p.get("secret")
    target = Target(pid=proc.pid, secrets=(str(secret).encode(),) if secret else (),
                    env_start=snap.stat.env_start, env_end=snap.stat.env_end,
                    regions=snap.regions)
    identity = Identity(int(uid), int(uid)) if uid is not None else Identity()
    channels = tuple(p.get("channels", ("environ", "maps", "mem")))
    result = observe(target, identity, observer=f"uid {uid}" if uid is not None else "memlab",
                     channels=channels)
    if result.error:
        raise MemlabError(f"the observer failed: {result.error}")
    cells = {c.channel: {"ok": c.ok, "errno": c.errno_name, "verdict": c.verdict,
                         "secret_found": c.secret_found} for c in result.cells}
    return ActionResult({"uid": result.uid, **cells},
                        f"observer as uid {result.uid}: " + ", ".join(
                            f"{k} {v['verdict']}" for k, v in cells.items()))


def _someone_elses_process() -> tuple[int, int] | None:
    """(pid, uid) of the first process in pid order that belongs to another uid (PID 1,
    root's init, on most machines): a normal user's "another uid" that already exists."""
    me = os.geteuid()
    for pid in list_pids():
        try:
            owner = real_uid(pid)
        except MemlabError:
            continue
        if owner != me:
            return pid, owner
    return None


@action("other_user", optional=("process", "channels"),
        starts=lambda p, d: ["an observer process"])
def _other_user(ctx: RunContext, p: dict[str, Any], save: str | None) -> ActionResult:
    """"Another uid is refused", for real, whoever runs memlab: as root, an observer that
    drops to uid 65534 for good tries the launched `process`; as a normal user, memlab's
    own uid tries a process of another user that already exists (PID 1, usually root's).
    Measures observer_uid, target_pid, target_uid and per channel {ok, errno, verdict}."""
    channels = tuple(p.get("channels", ("environ", "mem")))
    if can_switch_uid() and "process" in p:
        proc = ctx.process(str(p["process"]))
        snap = snapshot(proc.pid)
        target = Target(pid=proc.pid, env_start=snap.stat.env_start,
                        env_end=snap.stat.env_end, regions=snap.regions)
        identity, owner = Identity(NOBODY_UID, NOBODY_UID), os.geteuid()
    else:
        found = _someone_elses_process()
        if found is None:
            why = (f"every process here runs as uid {os.geteuid()}: another user's process "
                   "(or root, to switch uid) is needed to show the refusal")
            return ActionResult(Skipped(why), why)
        # its stat hides env_start from us: any address will do, mem_open (fs/proc/base.c)
        # refuses the open itself before a byte is read
        target = Target(pid=found[0], env_start=PAGE_SIZE, env_end=PAGE_SIZE + 1)
        owner = found[1]
        identity = Identity()
    result = observe(target, identity, observer="another uid", channels=channels)
    if result.error:
        raise MemlabError(f"the observer failed: {result.error}")
    cells = {c.channel: {"ok": c.ok, "errno": c.errno_name, "verdict": c.verdict,
                         "secret_found": c.secret_found} for c in result.cells}
    return ActionResult({"observer_uid": result.uid, "target_pid": target.pid,
                         "target_uid": owner, **cells},
                        f"uid {result.uid} tried PID {target.pid} (uid {owner}): " + ", ".join(
                            f"{k} {v['errno'] or v['verdict']}" for k, v in cells.items()))
