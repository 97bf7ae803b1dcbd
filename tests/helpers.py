"""Helpers shared by every test area."""

from __future__ import annotations

import functools
import json
import os
import pickle
import subprocess
import sys
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SAMPLE_BIN = REPO / "c_samples" / "bin"
NOBODY = 65534


@functools.cache
def build_samples() -> Path:
    """Build the C samples into c_samples/bin, once per process (`make` is quick when they
    are current).  Reached through the session fixture `samples_built` or `sample()`; a
    run of tests that need no sample (tests/unit) builds nothing."""
    subprocess.run(["make", "-s", "-C", str(REPO), "samples"], check=True)
    return SAMPLE_BIN


def sample(name: str) -> str:
    """The path of a built C sample (built on first use)."""
    path = build_samples() / name
    assert path.exists(), f"{path} is not a sample: no c_samples/{name}.c?"
    return str(path)


def loaded_modules(code: str) -> set[str]:
    """Every module name in sys.modules after running code in a new python."""
    probe = code + "\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True,
                         text=True, timeout=60, env={**os.environ, "NO_COLOR": "1"})
    assert out.returncode == 0, out.stderr
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def loaded_after(code: str) -> set[str]:
    """Top-level package names in sys.modules after running code in a new python (the
    import-hygiene checks: headless modules never import textual, fast paths no yaml...)."""
    return {m.split(".")[0] for m in loaded_modules(code)}


def run_as(uid: int, fn, *args, **kwargs):
    """Run fn(*args, **kwargs) in a forked child that dropped to uid (and gid) first;
    return its result (or re-raise its exception).  Needs root; the drop is permanent for
    the child only, so the test process keeps its privileges."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(r)
        try:
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            payload = ("ok", fn(*args, **kwargs))
        except BaseException as err:  # shipped to the parent, which re-raises it
            payload = ("err", (err, traceback.format_exc()))
        try:
            data = pickle.dumps(payload)
        except Exception as err:  # unpicklable result: report it as such
            data = pickle.dumps(("err", (RuntimeError(repr(err)), "")))
        with os.fdopen(w, "wb") as f:
            f.write(data)
        os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        data = f.read()
    os.waitpid(pid, 0)
    status, value = pickle.loads(data)
    if status == "err":
        err, tb = value
        raise err
    return value
