"""What the pod-directory attack tests share: the CLI in a subprocess (optionally as
another uid), the one-line-refusal check, and a no-follow snapshot of a victim tree."""

from __future__ import annotations

import functools
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO

MEMLAB = [sys.executable, "-m", "memlab"]

CM = """apiVersion: v1
kind: ConfigMap
metadata: {name: cm}
data: {a: "%s"}
"""

POD = """apiVersion: v1
kind: Pod
metadata: {name: %(name)s}
spec:
  containers:
  - name: c
    image: busybox
    command: ["/bin/true"]
    volumeMounts: [{name: %(vol)s, mountPath: "%(mount)s"%(extra)s}]
  volumes: [{name: %(vol)s, configMap: {name: cm%(items)s}}]
"""


def pod_yaml(name="tp", vol="v", mount="/etc/config", extra="", items="") -> str:
    return POD % {"name": name, "vol": vol, "mount": mount, "extra": extra, "items": items}


def as_user(user: int) -> list[str]:
    return ["setpriv", "--reuid", str(user), "--regid", str(user), "--clear-groups"]


@functools.cache
def python_fails_as(user: int) -> str | None:
    """Why this interpreter cannot run memlab as `user`, or None.  pyenv's builds live
    under /root (0700): another uid cannot load their libpython or standard library (a
    3.11 may start anyway, on Debian's own libpython3.11 and stdlib)."""
    r = subprocess.run(as_user(user) + [sys.executable, "-c", "import memlab.cli"],
                       cwd=REPO, text=True, capture_output=True, timeout=60)
    return None if r.returncode == 0 else (r.stderr.strip().splitlines() or ["?"])[-1]


@functools.cache
def stdlib_python_as(user: int) -> str:
    """An interpreter that runs stdlib-only code (a racer) as `user`: this one, or the
    system's python3 where this one's install is closed to that uid (pyenv under /root).
    Skips the test if there is none."""
    for exe in (sys.executable, "/usr/bin/python3"):
        if os.path.exists(exe) and subprocess.run(
                as_user(user) + [exe, "-I", "-c", "pass"], capture_output=True,
                timeout=60).returncode == 0:
            return exe
    pytest.skip(f"no Python runs as uid {user} here")


def memlab(*argv, env=None, user=None) -> subprocess.CompletedProcess:
    if user is not None and (why := python_fails_as(user)):
        pytest.skip(f"{sys.executable} does not run as uid {user}: {why}")
    prefix = as_user(user) if user is not None else []
    return subprocess.run(prefix + MEMLAB + [str(a) for a in argv], cwd=REPO, text=True,
                          capture_output=True, timeout=60,
                          env={**os.environ, "NO_COLOR": "1", **(env or {})})


def refused(r: subprocess.CompletedProcess, *words: str) -> None:
    """Exit 2 with one line on stderr (no traceback) naming WORDS."""
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("memlab: "), r.stderr
    for w in words:
        assert w in lines[0], lines[0]


def snapshot(root: Path) -> dict:
    """Everything under ROOT (ROOT included), never following a link."""
    out = {}
    for dirpath, dirs, files in os.walk(root):
        for p in [dirpath] + [os.path.join(dirpath, n) for n in dirs + files]:
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                what = ("link", os.readlink(p))
            elif stat.S_ISDIR(st.st_mode):
                what = ("dir",)
            else:
                what = ("file", Path(p).read_bytes())
            out[os.path.relpath(p, root)] = (*what, stat.S_IMODE(st.st_mode), st.st_uid,
                                             st.st_gid)
    return out


