"""The observer program: `python -m memlab.exposure.observer_process PARENT_PID`.

memlab.exposure.observers.observe() starts it with subprocess (vfork + exec, no Python
in between: a TUI worker thread may start it while other threads hold locks) and talks
to it in JSON:

    stdin   {"target": {...}, "observer": "other_uid", "channels": [...],
             "uid": 65534 | null, "gid": 1000 | null, "timeout": 10}   then end of file
    stdout  {"uid": <the uid it really ran as>, "cells": [Cell.to_dict(), ...]}
            or {"error": "..."}

It starts as memlab's own uid, with every module it uses imported (at the top of this
file and of memlab.exposure.observers), and only then drops to the job's uid for good:
os.setgroups([]), setresgid, setresuid (real, effective and saved ids all change, so it
can never get root back, and the kernel clears its capabilities: kernel/cred.c,
security/commoncap.c cap_task_fix_setuid).  Dropping before exec (subprocess's user=,
group=, extra_groups=[]) would need the other uid to run memlab's interpreter and read
its standard library, which it may not: pyenv keeps them under /root, mode 0700.

It never outlives memlab: PR_SET_PDEATHSIG(SIGKILL) is the first thing it does, checked
with getppid() (prctl(2): if memlab died before, the signal never comes), armed again
after the uid change (which clears it: kernel/cred.c commit_creds sets pdeath_signal to
0); its job ends at end of file on stdin (memlab's exit closes the pipe); and alarm()
bounds a hung read.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import sys

from memlab.exposure.observers import Target, drop_to, probe
from memlab.kernel.abi import PR_SET_PDEATHSIG

MAX_JOB = 16 << 20  # a job is a few KB (the victim's maps); refuse anything absurd


def _arm_pdeathsig(prctl, parent: int) -> None:
    if prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG)")
    if os.getppid() != parent:  # memlab died before the signal was armed
        os._exit(1)


def _read_job() -> dict:
    data = b""
    while True:
        chunk = os.read(0, 65536)
        if not chunk:
            break
        data += chunk
        if len(data) > MAX_JOB:
            raise ValueError("job too large")
    return json.loads(data)


def run(job: dict, rearm) -> dict:
    """Drop to the job's uid (memlab is root), call rearm(), try every channel."""
    target = Target.from_json(job["target"])
    uid, gid = job.get("uid"), job.get("gid")
    if uid is not None and os.geteuid() == 0:
        drop_to(uid, gid if gid is not None else uid)
        rearm()  # the uid change cleared the parent-death signal (prctl(2))
    cells = [probe(ch, target, job.get("observer", "")).to_dict()
             for ch in job["channels"]]
    return {"uid": os.geteuid(), "cells": cells}


def main(argv: list[str]) -> int:
    parent = int(argv[1])
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong,
                      ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    code = 0
    try:
        _arm_pdeathsig(prctl, parent)
        job = _read_job()
        signal.alarm(max(1, int(job.get("timeout", 10))))  # never outlive a hung read
        payload = run(job, lambda: _arm_pdeathsig(prctl, parent))
    except Exception as err:  # one line to the parent, which reports it; no traceback
        payload = {"error": f"{type(err).__name__}: {err}"}
        code = 1
    data = json.dumps(payload).encode()
    view = memoryview(data)
    while view:
        view = view[os.write(1, view):]
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
