"""Core files as a lesson action: a crashing sample writes its env block to disk.

`core_dump` starts the sleeper with the lesson's env in a fresh private directory under
memlab's per-user state directory (memlab.statedir "cores", 0700; memlab.core.dump
launch_in), optionally makes it non-dumpable (prctl PR_SET_DUMPABLE 0) or sets its
RLIMIT_CORE to 0 (prlimit(2): lowering needs no privilege), kills it with SIGABRT and
measures what the kernel wrote (fs/coredump.c do_coredump): the file's owner and mode,
whether its env block holds the secret, and whether another uid may read it.  The core
and its directory are removed before the action returns (memlab.safefs rmtree), and the
measurement says whether anything was left.
"""

from __future__ import annotations

import os
import resource
import secrets as _random
import signal
from pathlib import Path
from typing import Any

from memlab.core.dump import core_limit, kernel_dump, launch_in
from memlab.core.reader import CoreFile
from memlab.core.snapshot import snapshot_from_core
from memlab.errors import MemlabError
from memlab.exposure.coredump import readers
from memlab.exposure.observers import Identity, Target, can_switch_uid, observe
from memlab.exposure.search import search
from memlab.lessons.actions.exposure import NOBODY_UID
from memlab.lessons.actions.registry import (ActionResult, Bound, RunContext, Skipped, action,
                                             bounded)
from memlab.lessons.measure import file_facts
from memlab.procfs.coredump import read_core_pattern
from memlab.procfs.status import real_uid
from memlab.samples import resolve_target
from memlab.secrets import Masker
from memlab.statedir import open_state_dir


def _starts(p: dict[str, Any], lesson_dir: Path) -> list[str]:
    return ["memlab's sleeper sample, killed with SIGABRT to dump core",
            "an observer process"]


def _limit_text(limit: int) -> str:
    return "unlimited" if limit == resource.RLIM_INFINITY else str(limit)


@action("core_dump", params=("env", "name"), optional=("dumpable", "core_limit"),
        requires=("program:sleeper",), starts=_starts,
        bounds={"core_limit": Bound(0, 2**62)})
def _core_dump(ctx: RunContext, p: dict[str, Any], save: str | None) -> ActionResult:
    """Crash the sleeper (SIGABRT) with `env` and read the core the kernel wrote:
    `written`, `file` {size, uid, gid, mode, readers, ls}, `in_env_block`, `copies`,
    `other_uid` {ok, errno, verdict} (root only), `left_behind`; `dumpable` false sends
    `nodump` first, `core_limit` N sets RLIMIT_CORE's soft limit to N bytes."""
    pattern = read_core_pattern()
    if not pattern.in_cwd:
        why = (f"core_pattern is {pattern.raw!r}: the kernel hands cores elsewhere "
               "(a program or another directory); this lesson needs a plain file name "
               "such as 'core' in /proc/sys/kernel/core_pattern (root sets it)")
        return ActionResult(Skipped(why), why)
    env = [str(e).encode() for e in p["env"]]
    name = str(p["name"]).encode()
    secret = next((e.partition(b"=")[2] for e in env if e.partition(b"=")[0] == name), None)
    if not secret:
        raise MemlabError(f"core_dump: {p['name']} is not in env")
    cores = open_state_dir("cores")
    run_name = f"lesson-{os.getpid()}-{_random.token_hex(4)}"
    run = cores.mkdir(run_name, 0o700)
    facts: dict[str, Any] = {"core_pattern": pattern.raw, "written": False, "file": None,
                             "in_env_block": None, "copies": 0, "hits": [], "hit_lines": [],
                             "other_uid": None}
    try:
        with launch_in(run, resolve_target("sleeper"), [], env) as child:
            facts["pid"], facts["uid"] = child.pid, real_uid(child.pid)
            facts["dumpable"] = None  # not asked: the default a process starts with
            if not p.get("dumpable", True):  # the sample's prctl(PR_GET_DUMPABLE) after it
                facts["dumpable"] = child.command("nodump").get("dumpable")
            limit = bounded("core_dump", p, "core_limit", None)
            if limit is not None:  # a soft limit up to the hard one needs no privilege
                _soft, hard = resource.prlimit(child.pid, resource.RLIMIT_CORE)
                if hard != resource.RLIM_INFINITY and limit > hard:
                    raise MemlabError(f"core_dump: core_limit {limit} is above the hard "
                                      f"limit {hard}")
                resource.prlimit(child.pid, resource.RLIMIT_CORE, (int(limit), hard))
            facts["rlimit_core"] = _limit_text(core_limit(child.pid))
            dump = kernel_dump(child, run, pattern, signal.SIGABRT)
        facts["signal"] = "SIGABRT"
        facts["why"] = dump.why
        if dump.path is not None:
            facts["written"] = True
            _examine(facts, dump.path, name, secret)
    finally:
        cores.rmtree(run_name)
        run.close()
        facts["left_behind"] = cores.lstat(run_name) is not None
        cores.close()
    if facts["written"]:
        f = facts["file"]
        note = (f"pid {facts['pid']} died of SIGABRT; the kernel wrote {f['ls']}; "
                f"{name.decode()} in its env block: "
                f"{'yes' if facts['in_env_block'] else 'no'}; removed again")
    else:
        note = (f"pid {facts['pid']} died of SIGABRT (dumpable "
                f"{'unchanged' if facts['dumpable'] is None else facts['dumpable']}, "
                f"RLIMIT_CORE {facts['rlimit_core']}): no core file")
    return ActionResult(facts, note)


def _examine(facts: dict[str, Any], path: str, name: bytes, secret: bytes) -> None:
    st = os.stat(path, follow_symlinks=False)
    facts["file"] = {"name": os.path.basename(path), "size": st.st_size,
                     "readers": readers(st), **file_facts(st, os.path.basename(path))}
    with CoreFile(path) as core:
        snap = snapshot_from_core(core)
        want = name + b"=" + secret
        entry = next((e for e in (snap.env.entries if snap.env else ()) if e.raw == want),
                     None)
        facts["in_env_block"] = entry is not None
        facts["env_address"] = entry.address if entry else None
        masker = Masker.for_snapshot(snap, pods=False)
        hits = search(snap.pid, secret, regions=snap.regions, masker=masker,
                      reader=core).hits
    facts["copies"] = len(hits)
    facts["hits"] = [h.region for h in hits]
    # the bytes around each copy as the core holds them, the secret masked (never revealed
    # here: the measurement is stored and shown by the lesson)
    facts["hit_lines"] = [f"0x{h.address:x} {h.region} {h.context(secret, False)}"
                          for h in hits]
    if can_switch_uid():  # as root: an observer that drops to nobody opens the core
        result = observe(Target(pid=facts["pid"], secrets=(secret,), file=path),
                         Identity(NOBODY_UID, NOBODY_UID), observer="another uid",
                         channels=("file",))
        if result.error:
            raise MemlabError(f"the observer failed: {result.error}")
        (cell,) = result.cells
        facts["other_uid"] = {"uid": result.uid, "ok": cell.ok, "errno": cell.errno_name,
                              "verdict": cell.verdict, "secret_found": cell.secret_found}
    else:
        facts["other_uid"] = Skipped(
            f"another uid opening the core needs an observer that switches uid, which "
            f"needs root; memlab runs as uid {os.geteuid()} and never escalates (as a "
            "normal user: `ls -l` the core and read its mode)")
