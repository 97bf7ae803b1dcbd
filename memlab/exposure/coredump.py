"""The crash-dump channel: a secret in the environment ends up in the core file.

`memlab exposure core` starts a sample with a secret in its environment, its working
directory in a fresh private directory and RLIMIT_CORE raised (memlab.core.dump), makes
it dump, and then reads the core like any other: the env block decoded from the stack
segment holds the secret, and `search` finds every copy.  Who can read that file is
what decides the exposure: the kernel creates it 0600, owned by the dumping process's
fsuid (fs/coredump.c do_coredump); gcore writes it with gdb's umask (usually 0644).

Where the core goes is core_pattern's choice (memlab.procfs.coredump): a plain name is
written in the process's working directory; a pattern starting with `|` hands it to a
program (systemd-coredump keeps it under /var/lib/systemd/coredump, readable with
`coredumpctl`; apport under /var/crash), and a path elsewhere puts it outside memlab's
directory.  In those cases memlab does not crash the process: it takes the core with
gcore instead, and says so.
"""

from __future__ import annotations

import os
import secrets as _random
import signal
import stat
from dataclasses import dataclass, field
from typing import Any

from memlab.core.dump import Dump, core_limit, gcore_dump, kernel_dump, launch_in
from memlab.core.reader import CoreFile
from memlab.core.snapshot import snapshot_from_core
from memlab.exposure.search import Hit, search
from memlab.kernel.abi import COREDUMP_FILTER_BITS
from memlab.procfs.coredump import CorePattern, read_core_pattern, read_coredump_filter
from memlab.samples import resolve_target
from memlab.secrets import MASK, Masker
from memlab.statedir import open_state_dir

SCHEMA = "memlab.exposure-core/1"
DEMO_SECRET = b"s3cr3t-in-the-core"
SECRET_NAME = "DB_PASSWORD"


@dataclass
class CoreExposure:
    pattern: CorePattern
    pid: int
    secret: bytes
    dump: Dump
    nodump: bool
    notes: list[str] = field(default_factory=list)
    file: dict[str, Any] | None = None  # path, size, owner uid, mode, readers
    in_env_block: bool | None = None  # the decoded env block holds NAME=secret
    env_address: int | None = None
    hits: list[Hit] = field(default_factory=list)
    kept: bool = False
    coredump_filter: int | None = None

    def to_dict(self, reveal: bool = False) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "core_pattern": self.pattern.raw,
            "core_pattern_piped": self.pattern.piped,
            "core_pattern_handler": self.pattern.handler,
            "pid": self.pid,
            "variable": SECRET_NAME,
            "secret": self.secret.decode("utf-8", "replace") if reveal else MASK,
            "nodump": self.nodump,
            "writer": self.dump.writer,
            "how": self.dump.why,
            "signal": signal.Signals(self.dump.signal).name if self.dump.signal else None,
            "core": self.file,
            "kept": self.kept,
            "coredump_filter": (f"0x{self.coredump_filter:x}"
                                if self.coredump_filter is not None else None),
            "in_env_block": self.in_env_block,
            "env_address": f"0x{self.env_address:x}" if self.env_address else None,
            "count": len(self.hits),
            "hits": [h.to_dict(self.secret, reveal) for h in self.hits],
            "notes": list(self.notes),
        }


def readers(st: os.stat_result) -> str:
    """Who may read a file with this owner and mode (root always can: CAP_DAC_OVERRIDE)."""
    mode = stat.S_IMODE(st.st_mode)
    who = []
    if mode & stat.S_IRUSR:
        who.append(f"its owner (uid {st.st_uid})")
    if mode & stat.S_IRGRP:
        who.append(f"group {st.st_gid}")
    if mode & stat.S_IROTH:
        who.append("every user who can reach the directory")
    return ", ".join(who + ["root"])


def core_exposure(sample: str = "sleeper", secret: bytes = DEMO_SECRET, *,
                  nodump: bool = False, keep: bool = False) -> CoreExposure:
    """Run the demo.  keep: leave the core file (and its directory) in the state
    directory; otherwise both are removed before returning."""
    pattern = read_core_pattern()
    exe = resolve_target(sample)
    env = [SECRET_NAME.encode() + b"=" + secret]
    cores = open_state_dir("cores")
    name = f"run-{os.getpid()}-{_random.token_hex(4)}"
    run = cores.mkdir(name, 0o700)
    try:
        child = launch_in(run, exe, [], env)
        with child:
            result = CoreExposure(pattern, child.pid, secret, Dump(None, "", "", None),
                                  nodump)
            if nodump:
                child.command("nodump")
                result.notes.append("the process called prctl(PR_SET_DUMPABLE, 0): the "
                                    "kernel writes no core for it (fs/coredump.c "
                                    "do_coredump checks __get_dumpable)")
            result.coredump_filter = read_coredump_filter(child.pid)
            if result.coredump_filter is not None:
                parts = [b for i, b in enumerate(COREDUMP_FILTER_BITS)
                         if result.coredump_filter >> i & 1]
                result.notes.append(f"coredump_filter 0x{result.coredump_filter:x}: a "
                                    f"kernel core holds {', '.join(parts) or 'nothing'} "
                                    "(/proc/PID/coredump_filter; gcore ignores it)")
            limit = core_limit(child.pid)
            if pattern.in_cwd and limit != 0:
                result.notes.append(f"core_pattern is {pattern.raw!r}: the kernel writes "
                                    "the core in the crashing process's working directory"
                                    + (" with .PID appended (core_uses_pid)"
                                       if pattern.uses_pid and "%p" not in pattern.raw
                                       else ""))
                result.dump = kernel_dump(child, run, pattern, signal.SIGABRT)
                if nodump and result.dump.path is None:
                    result.dump = result.dump._replace(
                        why="the process was not dumpable (it called prctl("
                        "PR_SET_DUMPABLE, 0)): the kernel wrote no core when it died of "
                        "SIGABRT")
            else:
                if pattern.piped:
                    why = (f"core_pattern pipes cores to {pattern.handler} "
                           f"({pattern.raw!r}): the core goes to that program (for "
                           "systemd-coredump: `coredumpctl`), not to a file memlab can "
                           "place")
                elif limit == 0:
                    why = "RLIMIT_CORE is 0 and its hard limit cannot be raised"
                else:
                    why = (f"core_pattern {pattern.raw!r} writes outside the process's "
                           "working directory")
                result.notes.append(f"{why}: memlab takes the core with gdb's gcore instead")
                result.dump = gcore_dump(child.pid, run)
        if result.dump.path is not None:
            _examine(result, result.dump.path)
        if keep and result.dump.path is not None:
            result.kept = True
        return result
    finally:
        if not (keep and 'result' in locals() and result.kept):
            cores.rmtree(name)
        run.close()
        cores.close()


def _examine(result: CoreExposure, path: str) -> None:
    st = os.stat(path, follow_symlinks=False)
    result.file = {"path": path, "size": st.st_size, "uid": st.st_uid, "gid": st.st_gid,
                   "mode": f"{stat.S_IMODE(st.st_mode):04o}", "readers": readers(st)}
    if result.dump.writer == "kernel":
        result.notes.append("the kernel creates a core 0600, owned by the dumping "
                            "process's fsuid (fs/coredump.c): only that uid and root read "
                            "it, but it stays on disk after the process is gone")
    else:
        result.notes.append("gcore writes with gdb's umask: a core outside a private "
                            "directory may be readable by every user")
    with CoreFile(path) as core:
        snap = snapshot_from_core(core)
        want = SECRET_NAME.encode() + b"=" + result.secret
        entry = next((e for e in (snap.env.entries if snap.env else ()) if e.raw == want),
                     None)
        result.in_env_block = entry is not None
        result.env_address = entry.address if entry else None
        masker = Masker.for_snapshot(snap, pods=False)
        result.hits = search(snap.pid, result.secret, regions=snap.regions,
                             masker=masker, reader=core).hits
