"""memlab's pod directory: the on-disk layout of a pod run here, and the checks that
make a directory one.

Pod directory (default <state dir>/pods/<pod>: the per-user state dir of memlab.statedir,
$XDG_RUNTIME_DIR/memlab when that is the user's own, else /tmp/memlab-<euid>):
    pod.json                        state (schema memlab.pod/1, owner uid): pod spec,
                                    container, pid, env, volumes, mounts
    objects/ConfigMap_<ns>_<name>.json   the API objects as the API server stores them
    volumes/kubernetes.io~configmap/<volume>/   what kubelet bind-mounts at mountPath
    rootfs/<mountPath> -> ../volumes/...        where mountPath points on this machine
A directory is memlab's pod directory only if it is owned by the effective user, mode
0700, and holds a pod.json that validates (schema, owner = euid, a valid Pod spec).
`claim_pod_dir` takes one (or an empty directory) for a run and refuses anything else;
`read_state` refuses anything else.  Every write and delete goes through a held directory
fd (memlab.safefs): a symlink planted in the pod directory is never followed.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import re
import stat as _stat
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from memlab.errors import MemlabError, UsageError
from memlab.k8s import validation
from memlab.k8s.manifests import (ConfigMap, Manifest, ObjectStore, Pod, Secret,
                                  ServiceAccount, build_object)
from memlab.k8s.podroot import POD_ROOT_NAME, pod_root
from memlab.k8s.runtime import Runtime
from memlab.procfs.environ import read_cmdline
from memlab.safefs import Dir, UnsafePath, check_name, open_trusted
from memlab.statedir import check_state_root, open_state_dir

SCHEMA = "memlab.pod/1"
STATE_FILE = "pod.json"
MAX_STATE_BYTES = 8 << 20  # pod.json and each object file: a 1 MiB object, base64'd


@dataclass(frozen=True)
class Mount:
    volume: str
    mount_path: str  # the container's mountPath
    host_dir: str  # the volume directory (AtomicWriter target)
    mapped_path: str  # <pod dir>/rootfs/<mountPath>: a symlink to host_dir
    read_only: bool
    sub_path: str = ""

    def to_dict(self) -> dict:
        return {"volume": self.volume, "mount_path": self.mount_path,
                "host_dir": self.host_dir, "mapped_path": self.mapped_path,
                "read_only": self.read_only, "sub_path": self.sub_path}


def mount_components(mount_path: str) -> list[str]:
    """rootfs/<mountPath> as components below the pod directory.

    The API server accepts any non-empty mountPath (ValidateVolumeMounts) and the runtime
    resolves it inside the container's root (runc: securejoin.SecureJoin).  memlab maps
    it onto the host under rootfs/, so a '..' component is refused (validation.py says so
    first; this holds even if that were bypassed), as is a mountPath of "/" alone."""
    parts = [c for c in mount_path.split("/") if c not in ("", ".")]
    if not parts or ".." in parts:
        raise UnsafePath(f"mountPath {mount_path!r}: must not contain '..' and must name a "
                         "directory below /")
    return [check_name(c) for c in parts]


def object_file_name(obj: Manifest) -> str:
    # kind, a DNS-1123 label namespace and a DNS-1123 subdomain name: one plain name.
    return check_name(f"{obj.kind}_{obj.namespace}_{obj.name}.json")


def object_to_api(obj: Manifest) -> dict:
    """The object as the API server stores it (Secret: stringData merged into data)."""
    meta = {"name": obj.name, "namespace": obj.namespace}
    if isinstance(obj, ConfigMap):
        d: dict = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta}
        if obj.data:
            d["data"] = obj.data
        if obj.binary_data:
            d["binaryData"] = {k: base64.b64encode(v).decode() for k, v in
                               obj.binary_data.items()}
    elif isinstance(obj, Secret):
        if obj.annotations:
            meta["annotations"] = obj.annotations
        d = {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "type": obj.type}
        if obj.data:
            d["data"] = {k: base64.b64encode(v).decode() for k, v in obj.data.items()}
    elif isinstance(obj, ServiceAccount):
        d = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta}
        if obj.automount is not None:
            d["automountServiceAccountToken"] = obj.automount
        return d
    else:
        raise TypeError(obj)
    if obj.immutable is not None:  # type: ignore[attr-defined]
        d["immutable"] = obj.immutable  # type: ignore[attr-defined]
    return d


def json_bytes(data: dict) -> bytes:
    """UTF-8 JSON.  A value holding bytes that are not UTF-8 (a Secret's, carried as
    surrogate escapes) is written with \\u escapes, which json.loads reads back as the
    same surrogates: the file stays valid JSON and nothing is lost."""
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return (json.dumps(data, indent=2, ensure_ascii=True) + "\n").encode("ascii")


def load_objects(d: Dir) -> ObjectStore:
    """objects/*.json, each validated as a manifest and stored under its own name."""
    store = ObjectStore()
    if d.lstat("objects") is None:
        return store
    with d.open_dir("objects") as objects:
        for name in sorted(objects.listdir()):
            where = objects.join(name)
            if name.startswith("."):
                continue  # a temporary file of an interrupted write
            try:
                raw = json.loads(objects.read_file(name, MAX_STATE_BYTES))
            except (ValueError, UnicodeDecodeError) as err:
                raise UsageError(f"unreadable object file: {err}", path=where) from err
            obj = build_object(raw, {}, 1, where)
            if isinstance(obj, Pod) or object_file_name(obj) != name:
                raise UsageError("not an object file memlab wrote", path=where)
            validation.check(obj)
            store.put(obj)
    return store


@contextmanager
def locked(d: Dir):
    """Serialise writers (a TUI and `memlab k8s apply` in another terminal)."""
    fd = os.open(".lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                 dir_fd=d.fd)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def process_alive(pid: int | None, argv0: str | None) -> bool:
    if not pid:
        return False
    try:
        argv = read_cmdline(pid)
    except MemlabError:
        return False
    return bool(argv) and (argv0 is None or os.fsdecode(argv[0]) == argv0)


_RUNTIME_ID = re.compile(r"[\w+.-]{1,200}")  # runc's container id rule


def _trusted_program(path: str) -> bool:
    """pod.json names the runtime memlab runs for `k8s exec`/`ps`: only a file that
    neither pod.json's writer nor anyone else but root can change."""
    try:
        st = os.stat(path)
    except OSError:
        return False
    return _stat.S_ISREG(st.st_mode) and st.st_uid == 0 and not st.st_mode & 0o022


def _refuse(why: str, d: Dir) -> UsageError:
    return UsageError(f"not a memlab pod directory: {why}; refusing to use it", path=d.path)


def _check_state(state, d: Dir) -> dict:
    """pod.json as memlab writes it: the marker that D is memlab's pod directory."""
    if not isinstance(state, dict) or state.get("schema") != SCHEMA:
        raise _refuse(f"{STATE_FILE} is not schema {SCHEMA}", d)
    if state.get("owner") != os.geteuid():
        raise _refuse(f"{STATE_FILE} names another owner than uid {os.geteuid()}", d)
    types = {"name": str, "namespace": str, "pod": dict, "container": str,
             "env": list, "volumes": list, "mounts": list}
    for key, typ in types.items():
        if not isinstance(state.get(key), typ):
            raise _refuse(f"{STATE_FILE}: {key!r} is not a {typ.__name__}", d)
    pid, argv = state.get("pid"), state.get("argv")
    if pid is not None and (type(pid) is not int or pid <= 0):
        raise _refuse(f"{STATE_FILE}: 'pid' is not a process id", d)
    if argv is not None and not (isinstance(argv, list) and
                                 all(isinstance(a, str) for a in argv)):
        raise _refuse(f"{STATE_FILE}: 'argv' is not a list of strings", d)
    for e in state["env"]:
        if not (isinstance(e, dict) and isinstance(e.get("name"), str)
                and isinstance(e.get("value"), str)
                and isinstance(e.get("from_secret", False), bool)):
            raise _refuse(f"{STATE_FILE}: an 'env' entry is not {{name, value, from_secret}}",
                          d)
    runtime = state.get("runtime")
    if runtime is not None and not (isinstance(runtime, str) and os.path.isabs(runtime)
                                    and _trusted_program(runtime)):
        raise _refuse(f"{STATE_FILE}: 'runtime' is not a root-owned program that only "
                      "root can change", d)
    for c in state.get("containers") or []:
        if not (isinstance(c, dict) and isinstance(c.get("name"), str)
                and isinstance(c.get("id"), str) and _RUNTIME_ID.fullmatch(c["id"])):
            raise _refuse(f"{STATE_FILE}: a 'containers' entry is not {{name, id}}", d)
    # The stored pod spec goes through the same checks as a manifest.
    pod = build_object(state["pod"], {}, 1, d.join(STATE_FILE))
    if not isinstance(pod, Pod):
        raise _refuse(f"{STATE_FILE}: 'pod' is not a Pod", d)
    validation.check(pod)
    if (pod.name, pod.namespace) != (state["name"], state["namespace"]):
        raise _refuse(f"{STATE_FILE}: 'name'/'namespace' do not match the pod", d)
    pod.container(state["container"])
    return state


def read_state(d: Dir) -> dict:
    """D's validated pod.json; D itself must be ours and 0700."""
    st = os.fstat(d.fd)
    if st.st_uid != os.geteuid() or _stat.S_IMODE(st.st_mode) & 0o077:
        raise _refuse(f"it must be uid {os.geteuid()}'s with mode 0700 (it is uid "
                      f"{st.st_uid}'s, {_stat.S_IMODE(st.st_mode):04o})", d)
    try:
        raw = d.read_file(STATE_FILE, MAX_STATE_BYTES)
    except FileNotFoundError as err:
        raise _refuse(f"no {STATE_FILE}", d) from err
    except OSError as err:
        raise _refuse(f"{STATE_FILE} is not a regular file ({err.strerror})", d) from err
    try:
        state = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as err:
        raise _refuse(f"unreadable {STATE_FILE} ({err})", d) from err
    return _check_state(state, d)


def claim_pod_dir(path: Path) -> Dir:
    """The pod directory, held: created 0700, an empty directory of ours, or a memlab pod
    directory whose process is gone (its volumes, objects and rootfs are cleared)."""
    name = check_name(path.name)
    if path.parent == default_pod_root():
        parent = open_state_dir(POD_ROOT_NAME)
    else:  # a root-owned sticky parent (/tmp) is fine: nobody can replace our entry
        parent = open_trusted(path.parent, create=True, strict=False)
    with parent:  # made 0700, or opened: no symlink, ours, not writable by others
        d = parent.mkdir(name, 0o700)
    try:
        if not d.listdir():
            os.fchmod(d.fd, 0o700)
            return d
        state = read_state(d)
        argv0 = (state.get("argv") or [None])[0]
        if process_alive(state.get("pid"), argv0):
            raise UsageError(f"pod {state['name']!r} is already running here "
                             f"(pid {state['pid']})", path=d.path)
        for sub in ("volumes", "objects", "rootfs", "bundles", "containers"):
            d.rmtree(sub)  # fd-based: a link here is removed, never followed
        d.unlink(STATE_FILE)
        return d
    except BaseException:
        d.close()
        raise


def check_reusable(path: Path) -> None:
    """Refuse early (before anything is written) what claim_pod_dir would refuse."""
    if path.parent == default_pod_root():
        check_state_root()
    if not os.path.lexists(path):
        return
    with open_trusted(path) as d:
        if d.listdir():
            read_state(d)


def load_state(pod_dir: str | os.PathLike) -> dict:
    """POD_DIR's pod.json, validated: the directory reached without a symlink, ours and
    0700, the state of schema memlab.pod/1 with owner = euid and a valid Pod spec.
    `env` entries are {"name", "value", "source", "from_secret"}; `pid` an int or None."""
    with open_trusted(pod_dir) as d:
        return read_state(d)


def pod_dir_running(pod_dir: str | os.PathLike) -> int | None:
    """The pid of the pod directory's process if it still runs, else None (the pod was
    stopped: an apply still updates the files, but no process sees them)."""
    state = load_state(os.path.abspath(pod_dir))
    if state.get("runtime"):
        main = [c for c in state.get("containers") or [] if c.get("main")]
        st = Runtime(state["runtime"]).state(main[0]["id"]) if main else None
        return st.get("pid") if st and st.get("status") == "running" else None
    return state.get("pid") if process_alive(state.get("pid"),
                                              (state.get("argv") or [None])[0]) else None


def volume_tree(host_dir: str) -> list[dict]:
    """The volume directory as `ls -la` would show it: name, type, mode, link target,
    size; ts dir contents included (nested paths)."""
    out = []
    if not os.path.isdir(host_dir):
        return out
    for root, dirs, files in os.walk(host_dir):
        dirs.sort()
        for name in sorted(dirs + files):
            full = os.path.join(root, name)
            rel = os.path.relpath(full, host_dir)
            st = os.lstat(full)
            entry = {"path": rel, "mode": f"{_stat.S_IMODE(st.st_mode):04o}"}
            if _stat.S_ISLNK(st.st_mode):
                entry.update(type="symlink", target=os.readlink(full))
            elif _stat.S_ISDIR(st.st_mode):
                entry.update(type="dir")
            else:
                entry.update(type="file", size=st.st_size)
            out.append(entry)
        dirs[:] = [x for x in dirs if not os.path.islink(os.path.join(root, x))]
    return sorted(out, key=lambda e: e["path"])


def default_pod_root() -> Path:
    """<per-user state dir>/pods (memlab.k8s.podroot.pod_root) as a Path."""
    return Path(pod_root())
