"""Which values of a process came from a Kubernetes Secret, from memlab's own pod state.

`memlab k8s run` writes one directory per pod under pod_root() (memlab.k8s.podroot):
pod.json (the pid, and each env variable with `from_secret`) and objects/Secret_*.json
(the API objects, data base64-encoded as the API server stores them).  Every command
that shows a process asks secrets_for_pid(pid) so that a value kubelet took from a
Secret (secretKeyRef, envFrom secretRef, a secret volume's files) stays masked even
when its name looks harmless.

Read-only and defensive: the state is data another process may have written.  Each file
is opened without following a symlink and without blocking (a FIFO is skipped), must be
a regular file below a size limit, and any error means "no secrets known here".  With no
pod root the cost is one failed stat.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import stat

from memlab.k8s.podroot import pod_root

STATE_FILE = "pod.json"
MAX_FILE = 4 << 20  # bytes: a Secret holds at most 1 MiB (k8s.io/api core/v1 Secret)
MAX_PODS = 1000  # pod directories looked at
MAX_OBJECTS = 256  # Secret objects read per pod

_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


def _read_json(path: str | os.PathLike, dir_fd: int | None = None) -> object | None:
    """The JSON in a small regular file, or None (missing, a symlink, a FIFO, too big,
    unreadable, not JSON)."""
    try:
        fd = os.open(path, _OPEN_FLAGS, dir_fd=dir_fd)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_FILE:
            return None
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(MAX_FILE + 1)
        if len(data) > MAX_FILE:
            return None
        return json.loads(data)
    except (OSError, ValueError, RecursionError):
        return None
    finally:
        os.close(fd)


def _pod_root() -> str | None:
    try:
        return pod_root()
    except Exception:  # the state dir cannot even be named: no pods known
        return None


def _state_env(state: object, pid: int) -> list[dict] | None:
    """The env list of a pod.json that belongs to pid, else None."""
    if not isinstance(state, dict) or state.get("pid") != pid or \
            type(state.get("pid")) is not int:
        return None
    env = state.get("env")
    return [e for e in env if isinstance(e, dict)] if isinstance(env, list) else []


def _secret_object_values(pod_dir: int) -> set[bytes]:
    """Every data value of the Secret objects stored in the pod directory (its fd)."""
    values: set[bytes] = set()
    try:
        fd = os.open("objects", os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                     dir_fd=pod_dir)
    except OSError:
        return values
    try:
        names = sorted(n for n in os.listdir(fd) if n.startswith("Secret_")
                       and n.endswith(".json"))[:MAX_OBJECTS]
        for name in names:
            obj = _read_json(name, dir_fd=fd)
            data = obj.get("data") if isinstance(obj, dict) else None
            if not isinstance(data, dict):
                continue
            for v in data.values():
                try:
                    values.add(base64.b64decode(v, validate=True))
                except (TypeError, ValueError, binascii.Error):
                    continue
    except OSError:
        pass
    finally:
        os.close(fd)
    return values


def _encoded(value: object) -> bytes:
    """A state value as the bytes execve got (pod.json holds text); b"" for junk."""
    if not isinstance(value, str):
        return b""
    try:
        return value.encode("utf-8", "surrogateescape")
    except UnicodeError:
        return b""


def secrets_for_pid(pid: int) -> tuple[frozenset[str], frozenset[bytes]]:
    """(env names, values) that came from a Secret for the memlab pod whose process is
    pid; empty when pid is no memlab pod's process or the state cannot be read."""
    root = _pod_root()
    if root is None:
        return frozenset(), frozenset()
    try:
        with os.scandir(root) as it:
            dirs = [e.name for _, e in zip(range(MAX_PODS), it)]
    except OSError:
        return frozenset(), frozenset()
    for name in dirs:
        try:
            fd = os.open(os.path.join(root, name), os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
                         | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            env = _state_env(_read_json(STATE_FILE, dir_fd=fd), pid)
            if env is None:
                continue
            names = {e["name"] for e in env
                     if e.get("from_secret") is True and isinstance(e.get("name"), str)}
            values = {_encoded(e.get("value")) for e in env if e.get("name") in names}
            values.discard(b"")
            return frozenset(names), frozenset(values | _secret_object_values(fd))
        finally:
            os.close(fd)
    return frozenset(), frozenset()
