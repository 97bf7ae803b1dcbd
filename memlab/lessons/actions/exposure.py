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
from memlab.lessons.actions.registry import (ActionResult, Bound, RunContext, Skipped, action,
                                             bounded)


def _starts_exposure(p: dict[str, Any], lesson_dir: Path) -> list[str]:
    return ["memlab's sleeper sample as the victims, and observer processes"]

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
