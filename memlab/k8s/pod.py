"""Run a pod's container on this machine as kubelet would, and apply object updates.

run:   validate every object -> resolve every configMap/secret volume (FailedMount) ->
       compute the environment (CreateContainerConfigError) -> only then write the pod
       directory: objects, one AtomicWriter volume dir per volume, a mountPath map,
       pod.json -> execve the container's process with exactly that environment.
apply: validate the new object against the stored one (immutable, type) -> store it ->
       re-run AtomicWriter for every volume that projects it, as kubelet's sync loop
       would (here at once, not after the 60-90 s sync period).  The running process's
       environment does not change: it was fixed at execve (kubernetes#22368).

Pod directory (default <state dir>/pods/<pod>: the per-user state dir of memlab.statedir,
$XDG_RUNTIME_DIR/memlab when that is the user's own, else /tmp/memlab-<euid>):
    pod.json                        state (schema memlab.pod/1, owner uid): pod spec,
                                    container, pid, env, volumes, mounts
    objects/ConfigMap_<ns>_<name>.json   the API objects as the API server stores them
    volumes/kubernetes.io~configmap/<volume>/   what kubelet bind-mounts at mountPath
    rootfs/<mountPath> -> ../volumes/...        where mountPath points on this machine
A directory is memlab's pod directory only if it is owned by the effective user, mode
0700, and holds a pod.json that validates (schema, owner = euid, a valid Pod spec).
`run` reuses one (or an empty directory) and refuses anything else; `apply` refuses
anything else.  Every write and delete goes through a held directory fd
(memlab.safefs): a symlink planted in the pod directory is never followed.
The container's command is NOT rewritten: /etc/config in a command still means the
host's /etc/config (memlab does not create mount namespaces); read the mapped path
rootfs/etc/config instead.  Arguments given to a bundled stand-in sample (--exec) that
start with a mountPath ARE mapped, since memlab chose that program.

Children never outlive memlab (memlab.launch): the process is killed when the PodRun
is stopped or memlab exits.  Launch from the main thread (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import fcntl
import json
import os
import posixpath
import shutil
import stat as _stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from memlab.errors import LaunchError, MemlabError, UsageError
from memlab.k8s import validation
from memlab.k8s.atomic_writer import AtomicWriter, WriteResult
from memlab.k8s.envvars import (EnvVar, container_environment, expand, mapping_func_for,
                                make_environment, to_execve)
from memlab.k8s.manifests import (ConfigMap, Manifest, ObjectStore, Pod, Secret,
                                  build_object, text_or_path)
from memlab.k8s.podroot import POD_ROOT_NAME, default_pod_root
from memlab.k8s.volumes import (FailedMount, VolumeSource, read_volume, resolve,
                                setup_volume, unsupported_volumes, volume_sources)
from memlab.safefs import Dir, UnsafePath, check_name, open_trusted
from memlab.statedir import check_state_root, open_state_dir

SCHEMA = "memlab.pod/1"
STATE_FILE = "pod.json"
DEFAULT_SAMPLE = "sleeper"
ENV_NOTE = ("the environment of a running process never changes: it was copied onto its "
            "stack at execve (kubernetes#22368); a restarted container would get new values")


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


@dataclass
class ApplyResult:
    """What one apply did to one volume (or to nothing, when no volume uses the object)."""

    object: str  # "ConfigMap default/test-config"
    action: str  # "created" | "updated" | "unchanged"
    volume: str | None = None
    write: WriteResult | None = None
    event: str | None = None  # a FailedMount message when the payload is invalid now
    env_drift: dict | None = None  # name -> {"running": v, "on_restart": v}

    def to_dict(self, reveal: bool = True) -> dict:
        drift = None
        if self.env_drift is not None:
            drift = {k: {"running": _show(k, v["running"], v.get("secret"), reveal),
                         "on_restart": _show(k, v["on_restart"], v.get("secret"), reveal)}
                     for k, v in self.env_drift.items()}
        return {"object": self.object, "action": self.action, "volume": self.volume,
                "write": self.write.to_dict() if self.write else None,
                "event": self.event, "env_drift": drift}


def _show(name: str, value: str, secret: bool | None, reveal: bool) -> str:
    from memlab.secrets import display_value
    return display_value(name, value, reveal, bool(secret))


# --- command resolution ----------------------------------------------------------------------

def _on_path(name: str) -> str | None:
    return shutil.which(name)


def resolve_command(container: dict, env: list[EnvVar], exec_sample: str | None,
                    exec_args: list[str], mounts: list[Mount]) -> tuple[str, list[str], str]:
    """(target, args, note): what to execve for the container here.

    kubelet expands $(VAR) in command and args with the container's env
    (kubecontainer.ExpandContainerCommandAndArgs)."""
    mapping = mapping_func_for({e.name: e.value for e in env})
    command = [expand(c, mapping) for c in container.get("command") or []]
    args = [expand(a, mapping) for a in container.get("args") or []]
    # notes quote the manifest's words, never their expansion: $(DB_PASSWORD) in args
    # becomes the Secret's value (memlab.secrets)
    written = list(container.get("command") or []) + list(container.get("args") or [])
    image = container.get("image", "")
    if exec_sample:
        mapped = [_map_arg(a, mounts) for a in exec_args]
        return exec_sample, mapped, (f"running bundled sample {exec_sample!r} in place of "
                                     f"image {image!r} (--exec)")
    if not command:  # the image's ENTRYPOINT (unknown here) would run, with `args`
        return DEFAULT_SAMPLE, [], (f"image {image!r} has no command in the manifest and its "
                                    f"entrypoint does not run here: running bundled sample "
                                    f"{DEFAULT_SAMPLE!r} instead (choose one with --exec)")
    argv = command + args
    first = argv[0]
    if posixpath.basename(first) == "busybox" and not _on_path("busybox") and len(argv) > 1:
        # busybox APPLET ...: the applet is the program; use the local tool.
        argv, written = argv[1:], written[1:]
        first = argv[0]
    if "/" in first and os.access(first, os.X_OK):
        return first, argv[1:], f"running the container's command {written!r} here"
    local = _on_path(posixpath.basename(first))
    if local is None:
        return DEFAULT_SAMPLE, [], (f"the container's command {first!r} (image {image!r}) "
                                    f"does not exist on this machine: running bundled sample "
                                    f"{DEFAULT_SAMPLE!r} instead (choose one with --exec)")
    note = f"running the container's command {written!r} here"
    if "/" in first and local != first:
        note += f" ({first} is not here: using {local})"
        return local, argv[1:], note
    return posixpath.basename(first), argv[1:], note


def _map_arg(arg: str, mounts: list[Mount]) -> str:
    for m in sorted(mounts, key=lambda m: -len(m.mount_path)):
        mp = m.mount_path.rstrip("/")
        if arg == mp or arg.startswith(mp + "/"):
            return m.mapped_path + arg[len(mp):]
    return arg


def _hotreload_default_args(mounts: list[Mount], env: list[EnvVar]) -> list[str]:
    """hotreload with no arguments: the first file of the first mounted volume, and the
    first variable that came from a ConfigMap/Secret."""
    file_arg = "/nonexistent"
    for m in mounts:
        files = read_volume(m.host_dir)
        if files:
            file_arg = os.path.join(m.mapped_path, next(iter(files)))
            break
    name = next((e.name for e in env if "configmap" in e.source.lower()
                 or "secret" in e.source.lower()), "HOSTNAME")
    return [file_arg, name]


# --- state --------------------------------------------------------------------------------

def _object_file_name(obj: Manifest) -> str:
    # kind, a DNS-1123 label namespace and a DNS-1123 subdomain name: one plain name.
    return check_name(f"{obj.kind}_{obj.namespace}_{obj.name}.json")


def object_to_api(obj: Manifest) -> dict:
    """The object as the API server stores it (Secret: stringData merged into data)."""
    import base64
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
    else:
        raise TypeError(obj)
    if obj.immutable is not None:  # type: ignore[attr-defined]
        d["immutable"] = obj.immutable  # type: ignore[attr-defined]
    return d


def _json_bytes(data: dict) -> bytes:
    return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _load_objects(d: Dir) -> ObjectStore:
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
            if isinstance(obj, Pod) or _object_file_name(obj) != name:
                raise UsageError("not an object file memlab wrote", path=where)
            validation.check(obj)
            store.put(obj)
    return store


@contextmanager
def _locked(d: Dir):
    """Serialise writers (a TUI and `memlab k8s apply` in another terminal)."""
    fd = os.open(".lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                 dir_fd=d.fd)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _process_alive(pid: int | None, argv0: str | None) -> bool:
    if not pid:
        return False
    try:
        from memlab.procfs.environ import read_cmdline
        argv = read_cmdline(pid)
    except MemlabError:
        return False
    return bool(argv) and (argv0 is None or os.fsdecode(argv[0]) == argv0)


# --- the pod ------------------------------------------------------------------------------

class PodRun:
    """A pod prepared (validated, env computed, volumes resolved) and, once start()ed,
    running here.  The API the CLI and the TUI Pod panel use:

      .pid, .env (frozen list of EnvVar, sorted), .mounts, .pod_dir, .note
      .volume_files() -> {"/etc/config/KEY": bytes}   what the container reads now
      .volume_contents() -> {volume: {"KEY": bytes}}   per volume, mounted or not
      .data_targets() -> {volume: "..2026_..."}        where each ..data points now
      .proc_environ() -> list[bytes]                   /proc/PID/environ, live
      .apply(yaml_text_or_path) -> list[ApplyResult]
      .stop()
    """

    def __init__(self, pod: Pod, container: dict, store: ObjectStore, env: list[EnvVar],
                 sources: list[VolumeSource], pod_dir: Path, mounts: list[Mount],
                 warnings: list[str]):
        self.pod = pod
        self.container = container
        self.store = store
        self.env: tuple[EnvVar, ...] = tuple(env)
        self._payload_sources = list(sources)  # resolved once in prepare(): no FailedMount
        self.pod_dir = pod_dir
        self.mounts = mounts
        self.warnings = warnings
        self.launched = None
        self.target: str | None = None
        self.args: list[str] = []
        self.note = ""
        self.writes: dict[str, WriteResult] = {}
        self._dir: Dir | None = None  # the pod directory, held from start() on

    # -- properties
    @property
    def name(self) -> str:
        return self.pod.name

    @property
    def pid(self) -> int | None:
        return self.launched.pid if self.launched is not None else None

    @property
    def alive(self) -> bool:
        return self.launched is not None and self.launched.alive

    @property
    def volume_sources(self) -> list[VolumeSource]:
        return list(self._payload_sources)

    def env_dict(self) -> dict[str, str]:
        return {e.name: e.value for e in self.env}

    # -- start / stop
    def start(self, exec_sample: str | None = None, exec_args: list[str] | None = None,
              timeout: float = 5.0) -> "PodRun":
        from memlab.launch import launch
        from memlab.samples import is_sample_path, resolve_target
        exec_args = list(exec_args or [])
        target, args, note = resolve_command(self.container, list(self.env), exec_sample,
                                             exec_args, self.mounts)
        exe = resolve_target(target)  # UsageError before anything is written
        sample = is_sample_path(exe)
        try:
            self._write_pod_dir()
        except OSError as err:
            raise MemlabError(f"cannot write the pod directory: {err.strerror or err}",
                              path=err.filename or str(self.pod_dir)) from err
        if target == "hotreload" and not args:
            args = _hotreload_default_args(self.mounts, list(self.env))
        self.launched = launch(target, args, to_execve(list(self.env)),
                               hold="ready" if sample else "none", timeout=timeout)
        self.target, self.args, self.note = target, args, note
        self._save_state()
        return self

    def stop(self) -> int | None:
        """Kill the container's process (if running) and record it; the pod directory
        stays for inspection.  Returns the exit code (negative: signal)."""
        if self.launched is None:
            return None
        self.launched.kill()
        self._save_state()
        return self.launched.returncode

    def remove(self) -> None:
        """Delete the pod directory this PodRun made (call after stop()).  Only the very
        directory held since start() goes, reached from a trusted parent, fd-based."""
        d, self._dir = self._dir, None
        if d is None:
            return
        with d:
            held = os.fstat(d.fd)
            with open_trusted(self.pod_dir.parent, strict=False) as parent:
                st = parent.lstat(self.pod_dir.name)
                if st is not None and (st.st_dev, st.st_ino) == (held.st_dev, held.st_ino):
                    parent.rmtree(self.pod_dir.name)

    def __enter__(self) -> "PodRun":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- pod directory
    def _write_pod_dir(self) -> None:
        d = _claim_pod_dir(self.pod_dir)
        self._dir = d
        with d.mkdir("objects") as objects:
            for obj in self.store:
                objects.write_file(_object_file_name(obj), _json_bytes(object_to_api(obj)))
        for vs in self._payload_sources:
            self.writes[vs.name] = setup_volume(vs, self.pod, self.store, d)
        for m in self.mounts:
            parts = mount_components(m.mount_path)
            with d.makedirs(["rootfs", *parts[:-1]]) as parent:
                st = parent.lstat(parts[-1])
                if st is not None and _stat.S_ISLNK(st.st_mode):
                    parent.unlink(parts[-1])
                parent.symlink(os.path.relpath(m.host_dir, parent.path), parts[-1])
        self._save_state()

    def _save_state(self) -> None:
        if self._dir is None:
            return
        launched = self.launched
        state = {
            "schema": SCHEMA, "owner": os.geteuid(),
            "name": self.pod.name, "namespace": self.pod.namespace,
            "pod": self.pod.raw, "container": self.container.get("name"),
            "pid": launched.pid if launched else None,
            "argv": launched.argv if launched else None,
            "exe": launched.exe if launched else None,
            "running": bool(launched and launched.alive),
            "exit_code": launched.returncode if launched else None,
            "note": self.note,
            "env": [{"name": e.name, "value": e.value, "source": e.source,
                     "from_secret": e.from_secret} for e in self.env],
            "volumes": [{"name": vs.name, "kind": vs.kind, "object": vs.object_name,
                         "items": list(vs.items), "default_mode": vs.default_mode,
                         "optional": vs.optional, "host_dir": vs.host_dir(self.pod_dir)}
                        for vs in self._payload_sources],
            "mounts": [m.to_dict() for m in self.mounts],
            "saved_at": time.time(),
        }
        self._dir.write_file(STATE_FILE, _json_bytes(state))

    # -- what the container sees
    def volume_files(self) -> dict[str, bytes]:
        """mountPath/relative path -> bytes, read through the ..data links (live)."""
        return {path: data for path, data, _ in self.volume_entries()}

    def volume_entries(self) -> Iterator[tuple[str, bytes, bool]]:
        """(mountPath/relative path, bytes, from a Secret volume) for each file the
        container sees (live): what volume_files() reads, with what masks it on screen."""
        secret = {vs.name for vs in self._payload_sources if vs.kind == "secret"}
        for m in self.mounts:
            for rel, data in read_volume(m.host_dir).items():
                yield posixpath.join(m.mount_path, rel), data, m.volume in secret

    def volume_contents(self) -> dict[str, dict[str, bytes]]:
        """volume name -> {user-visible path: bytes}, mounted or not (live)."""
        return {vs.name: read_volume(vs.host_dir(self.pod_dir))
                for vs in self._payload_sources}

    def data_targets(self) -> dict[str, str | None]:
        return {vs.name: AtomicWriter(vs.host_dir(self.pod_dir)).current_ts_dir()
                for vs in self._payload_sources}

    def proc_environ(self) -> list[bytes]:
        """The running process's /proc/PID/environ entries (what execve gave it)."""
        if self.pid is None:
            raise LaunchError("the pod's process is not running")
        from memlab.procfs._io import read_proc_file
        data = read_proc_file(self.pid, "environ")
        return [e for e in data.split(b"\0") if e]

    def apply(self, manifest: str | os.PathLike) -> list[ApplyResult]:
        """Apply ConfigMap/Secret YAML (text or a path) to this pod, as `kubectl apply`
        + kubelet's sync would.  The env of the running process does not change."""
        results = apply_to_pod_dir(self.pod_dir, manifest)
        with open_trusted(self.pod_dir) as d:
            self.store = _load_objects(d)
        return results

    def shown_argv(self, reveal: bool = False) -> list[str] | None:
        """The process's argv with its secrets masked (memlab.secrets.Masker): flags
        like --password=x, URL passwords, and the values taken from a Secret, which
        $(VAR) expansion may have put into args."""
        if self.launched is None:
            return None
        from memlab.secrets import Masker

        masker = Masker.build([f"{e.name}={e.value}".encode("utf-8", "surrogateescape")
                               for e in self.env], self.launched.argv,
                              names=[e.name for e in self.env if e.from_secret],
                              values=[e.value.encode("utf-8", "surrogateescape")
                                      for e in self.env if e.from_secret],
                              reveal=reveal)
        return masker.argv(self.launched.argv)

    def to_dict(self, reveal: bool = False) -> dict:
        return {
            "schema": SCHEMA, "pod": self.pod.name, "namespace": self.pod.namespace,
            "container": self.container.get("name"), "pod_dir": str(self.pod_dir),
            "pid": self.pid, "argv": self.shown_argv(reveal),
            "exe": self.launched.exe if self.launched else None, "note": self.note,
            "env": [e.to_dict(reveal) for e in self.env],
            "volumes": {vs.name: {"kind": vs.kind, "object": vs.object_name,
                                  "host_dir": vs.host_dir(self.pod_dir),
                                  "data_target": AtomicWriter(
                                      vs.host_dir(self.pod_dir)).current_ts_dir(),
                                  "tree": volume_tree(vs.host_dir(self.pod_dir))}
                        for vs in self._payload_sources},
            "mounts": [m.to_dict() for m in self.mounts],
            "warnings": self.warnings,
        }


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
    # The stored pod spec goes through the same checks as a manifest.
    pod = build_object(state["pod"], {}, 1, d.join(STATE_FILE))
    if not isinstance(pod, Pod):
        raise _refuse(f"{STATE_FILE}: 'pod' is not a Pod", d)
    validation.check(pod)
    if (pod.name, pod.namespace) != (state["name"], state["namespace"]):
        raise _refuse(f"{STATE_FILE}: 'name'/'namespace' do not match the pod", d)
    pod.container(state["container"])
    return state


def _read_state(d: Dir) -> dict:
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


def _claim_pod_dir(path: Path) -> Dir:
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
        state = _read_state(d)
        argv0 = (state.get("argv") or [None])[0]
        if _process_alive(state.get("pid"), argv0):
            raise UsageError(f"pod {state['name']!r} is already running here "
                             f"(pid {state['pid']})", path=d.path)
        for sub in ("volumes", "objects", "rootfs"):
            d.rmtree(sub)  # fd-based: a link here is removed, never followed
        d.unlink(STATE_FILE)
        return d
    except BaseException:
        d.close()
        raise


def _check_reusable(path: Path) -> None:
    """prepare(): refuse early (nothing written) what _claim_pod_dir would refuse."""
    if path.parent == default_pod_root():
        check_state_root()
    if not os.path.lexists(path):
        return
    with open_trusted(path) as d:
        if d.listdir():
            _read_state(d)


def prepare(pod_manifest: str | os.PathLike | Pod, objects=(), *,
            container: str | None = None, pod_dir: str | os.PathLike | None = None
            ) -> PodRun:
    """Everything kubelet checks before a container starts; writes nothing.

    pod_manifest: a Pod, or YAML (text or path) holding exactly one Pod (it may also hold
    the ConfigMaps/Secrets).  objects: more manifests (paths, texts or Manifest objects).
    Raises ManifestError/ValidationError (exit 2), FailedMount, CreateContainerConfigError.
    """
    docs: list[Manifest] = []
    if isinstance(pod_manifest, Manifest):
        docs.append(pod_manifest)
    else:
        docs.extend(text_or_path(pod_manifest))
    for o in objects:
        docs.extend([o] if isinstance(o, Manifest) else text_or_path(o))
    pods = [d for d in docs if isinstance(d, Pod)]
    if len(pods) != 1:
        raise UsageError(f"expected exactly one Pod in the manifests, found {len(pods)}")
    pod = pods[0]
    for d in docs:
        validation.check(d)
    store = ObjectStore(d for d in docs if not isinstance(d, Pod))
    c = pod.container(container)
    warnings = []
    for name in unsupported_volumes(pod):
        warnings.append(f"volume {name!r}: only configMap and secret volumes are simulated; "
                        "it is skipped")
    if pod_dir is None:
        pod_dir = default_pod_root() / check_name(pod.name)  # a DNS-1123 subdomain
    pod_dir = Path(os.path.abspath(pod_dir))
    _check_reusable(pod_dir)
    # Volumes first (kubelet mounts before it builds the container config).
    sources = volume_sources(pod)
    for vs in sources:
        resolve(vs, pod, store)  # FailedMount now, before anything is written
    env = container_environment(pod, c, store)
    by_name = {vs.name: vs for vs in sources}
    mounts = []
    for vm in c.get("volumeMounts") or []:
        vs = by_name.get(vm["name"])
        if vs is None:
            warnings.append(f"volumeMount {vm['mountPath']!r}: volume {vm['name']!r} is not "
                            "simulated")
            continue
        if vm.get("subPath"):
            warnings.append(f"volumeMount {vm['mountPath']!r} uses subPath: a subPath mount "
                            "binds one resolved file once and never updates (kubernetes#50345);"
                            " memlab maps the whole volume")
        mapped = os.path.join(pod_dir, "rootfs", *mount_components(vm["mountPath"]))
        mounts.append(Mount(vm["name"], vm["mountPath"], vs.host_dir(pod_dir), mapped,
                            bool(vm.get("readOnly")), vm.get("subPath", "")))
    return PodRun(pod, c, store, env, sources, pod_dir, mounts, warnings)


def run(pod_manifest, objects=(), *, container: str | None = None,
        pod_dir: str | os.PathLike | None = None, exec_sample: str | None = None,
        exec_args: list[str] | None = None, timeout: float = 5.0) -> PodRun:
    """prepare() then start(): the TUI/CLI entry point.  Call from the main thread."""
    pr = prepare(pod_manifest, objects, container=container, pod_dir=pod_dir)
    return pr.start(exec_sample, exec_args, timeout)


# --- apply ----------------------------------------------------------------------------------

def load_state(pod_dir: str | os.PathLike) -> dict:
    """POD_DIR's pod.json, validated: the directory reached without a symlink, ours and
    0700, the state of schema memlab.pod/1 with owner = euid and a valid Pod spec.
    `env` entries are {"name", "value", "source", "from_secret"}; `pid` an int or None."""
    with open_trusted(pod_dir) as d:
        return _read_state(d)


def pod_dir_running(pod_dir: str | os.PathLike) -> int | None:
    """The pid of the pod directory's process if it still runs, else None (the pod was
    stopped: an apply still updates the files, but no process sees them)."""
    state = load_state(os.path.abspath(pod_dir))
    return state.get("pid") if _process_alive(state.get("pid"),
                                              (state.get("argv") or [None])[0]) else None


def apply_to_pod_dir(pod_dir: str | os.PathLike, manifest) -> list[ApplyResult]:
    """`memlab k8s apply OBJ.yaml --pod DIR`: works from any process.

    DIR must be memlab's pod directory (load_state).  Validates every document first
    (nothing written if one fails), then per object: store it, re-run AtomicWriter for
    each volume projecting it, report env drift."""
    docs = text_or_path(manifest)
    with open_trusted(os.path.abspath(pod_dir)) as d:
        state = _read_state(d)
        ns = state["namespace"]
        for obj in docs:
            if isinstance(obj, Pod):
                raise UsageError(f"{obj.where()}: a Pod's spec cannot be updated in place "
                                 "(most fields are immutable): stop it and run it again")
            if obj.namespace != ns:
                raise UsageError(f"{obj.where()}: {obj.kind} {obj.namespace}/{obj.name} is "
                                 f"not in the pod's namespace {ns!r}")
        with _locked(d):
            return _apply(d, state, docs)


def _apply(d: Dir, state: dict, docs: list[Manifest]) -> list[ApplyResult]:
    results: list[ApplyResult] = []
    store = _load_objects(d)
    for obj in docs:  # validate all before writing any
        validation.check(obj, store.get(obj.kind, obj.namespace, obj.name))
    pod = build_object(state["pod"], {}, 1, d.join(STATE_FILE))
    container = pod.container(state["container"])
    frozen = {e["name"]: (e["value"], e.get("from_secret", False)) for e in state["env"]}
    for obj in docs:
        old = store.get(obj.kind, obj.namespace, obj.name)
        same = old is not None and object_to_api(old) == object_to_api(obj)
        action = "created" if old is None else ("unchanged" if same else "updated")
        with d.mkdir("objects") as objects:
            objects.write_file(_object_file_name(obj), _json_bytes(object_to_api(obj)))
        store.put(obj)
        label = f"{obj.kind} {obj.namespace}/{obj.name}"
        drift = _env_drift(pod, container, store, frozen)
        touched = False
        for vs in volume_sources(pod):
            if vs.object_kind != obj.kind or vs.object_name != obj.name:
                continue
            touched = True
            try:
                wr = setup_volume(vs, pod, store, d)
                results.append(ApplyResult(label, action, vs.name, wr, None, drift))
            except FailedMount as err:  # kubelet keeps the old content, emits an event
                results.append(ApplyResult(label, action, vs.name, None, str(err), drift))
        if not touched:
            results.append(ApplyResult(label, action, None, None, None, drift))
    return results


def _env_drift(pod: Pod, container: dict, store: ObjectStore,
               frozen: dict[str, tuple[str, bool]]) -> dict:
    """Variables whose value a restarted container would see differently:
    name -> {"running", "on_restart", "secret"}."""
    try:
        fresh = {e.name: e for e in make_environment(pod, container, store)}
    except MemlabError as err:  # the restarted container would not even start
        return {"(restart)": {"running": "", "on_restart": str(err), "secret": False}}
    drift = {}
    for name in sorted(set(fresh) | {k for k in frozen if k not in ("HOSTNAME", "PATH")}):
        old = frozen.get(name)
        new = fresh.get(name)
        old_v = old[0] if old else None
        new_v = new.value if new else None
        if old_v != new_v:
            drift[name] = {"running": old_v if old_v is not None else "(unset)",
                           "on_restart": new_v if new_v is not None else "(unset)",
                           "secret": bool((old and old[1]) or (new and new.from_secret))}
    return drift


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
