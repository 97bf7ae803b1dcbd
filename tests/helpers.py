"""Helpers shared by every test area."""

from __future__ import annotations

import functools
import json
import os
import pickle
import select
import subprocess
import sys
import time
import traceback
from pathlib import Path

import pytest

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


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.01, what=""):
    """Call predicate() until it returns something truthy, and return that.  After timeout
    seconds fail the test, saying what was awaited (`what`: text, or a function giving it
    then) and the last value seen.

    The one way a test waits for another process or thread: poll for the state it needs,
    never sleep a fixed time and hope.  The timeout bounds a hang; it is not a measure."""
    __tracebackhide__ = True
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            said = (what() if callable(what) else what) or repr(predicate)
            pytest.fail(f"waited {timeout:g}s for {said}; last value: {value!r}")
        time.sleep(interval)


async def wait_until_async(predicate, pause, timeout: float = 10.0, interval: float = 0.05,
                           what=""):
    """wait_until for a test on an event loop (Textual's Pilot): `await pause(interval)`
    (pilot.pause) lets the app run between two calls of predicate."""
    __tracebackhide__ = True
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            said = (what() if callable(what) else what) or repr(predicate)
            pytest.fail(f"waited {timeout:g}s for {said}; last value: {value!r}")
        await pause(interval)


def gone(pid: int) -> bool:
    """The process no longer runs: no /proc entry, or a zombie nobody reaped yet (pid 1 in
    a container may not reap)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] in (b"Z", b"X")
    except (FileNotFoundError, ProcessLookupError):
        return True


class LineReader:
    """Lines from a child's pipe, each awaited with wait_until: a child that hangs fails
    the test after the timeout, one that closes its end fails it at once."""

    def __init__(self, fd: int, who: str = "the child"):
        self.fd, self.who, self.buf = fd, who, b""

    def line(self, timeout: float = 10.0) -> bytes:
        def complete() -> bool:
            if b"\n" not in self.buf and select.select([self.fd], [], [], 0.05)[0]:
                chunk = os.read(self.fd, 65536)
                assert chunk, f"{self.who} closed its output after {self.buf[-200:]!r}"
                self.buf += chunk
            return b"\n" in self.buf
        wait_until(complete, timeout, interval=0, what=f"a line from {self.who}")
        line, _, self.buf = self.buf.partition(b"\n")
        return line

    def json(self, timeout: float = 10.0):
        return json.loads(self.line(timeout))


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
