"""Run a pod's container on this machine as kubelet would, and apply object updates.

run:   validate every object -> resolve every configMap/secret volume (FailedMount) ->
       compute the environment (CreateContainerConfigError) -> only then write the pod
       directory: objects, one AtomicWriter volume dir per volume, a mountPath map,
       pod.json -> execve the container's process with exactly that environment.
apply: validate the new object against the stored one (immutable, type) -> store it ->
       re-run AtomicWriter for every volume that projects it, as kubelet's sync loop
       would (here at once, not after the 60-90 s sync period).  The running process's
       environment does not change: it was fixed at execve (kubernetes#22368).

Pod directory (default $XDG_RUNTIME_DIR/memlab-pods/<pod>, else /tmp/memlab-pods/<pod>):
    pod.json                        state: pod spec, container, pid, env, volumes, mounts
    objects/ConfigMap_<ns>_<name>.json   the API objects as the API server stores them
    volumes/kubernetes.io~configmap/<volume>/   what kubelet bind-mounts at mountPath
    rootfs/<mountPath> -> ../volumes/...        where mountPath points on this machine
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
from memlab.k8s.podroot import default_pod_root
from memlab.k8s.volumes import (FailedMount, VolumeSource, read_volume, resolve,
                                setup_volume, unsupported_volumes, volume_sources)

SCHEMA = "memlab.pod/1"
STATE_FILE = "pod.json"
DEFAULT_SAMPLE = "sleeper"
ENV_NOTE = ("the environment of a running process never changes: it was copied onto its "
            "stack at execve (kubernetes#22368); a restarted container would get new values")


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

def _object_file(pod_dir: Path, obj: Manifest) -> Path:
    return pod_dir / "objects" / f"{obj.kind}_{obj.namespace}_{obj.name}.json"


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


def _write_json_atomic(path: Path, data: dict, mode: int = 0o600) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, ensure_ascii=False)
        f.write("\n")
    os.replace(tmp, path)


def _load_objects(pod_dir: Path) -> ObjectStore:
    store = ObjectStore()
    for p in sorted((pod_dir / "objects").glob("*.json")):
        raw = json.loads(p.read_text(encoding="utf-8"))
        store.put(build_object(raw, {}, 1, str(p)))
    return store


@contextmanager
def _locked(pod_dir: Path):
    """Serialise writers (a TUI and `memlab k8s apply` in another terminal)."""
    fd = os.open(pod_dir / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
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

    def __enter__(self) -> "PodRun":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- pod directory
    def _write_pod_dir(self) -> None:
        d = self.pod_dir
        _claim_pod_dir(d)
        (d / "objects").mkdir(mode=0o700, exist_ok=True)
        for obj in self.store:
            _write_json_atomic(_object_file(d, obj), object_to_api(obj))
        for vs in self._payload_sources:
            self.writes[vs.name] = setup_volume(vs, self.pod, self.store, d)
        for m in self.mounts:
            link = Path(m.mapped_path)
            link.parent.mkdir(parents=True, exist_ok=True)
            if link.is_symlink():
                link.unlink()
            os.symlink(os.path.relpath(m.host_dir, link.parent), link)
        self._save_state()

    def _save_state(self) -> None:
        launched = self.launched
        state = {
            "schema": SCHEMA,
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
        _write_json_atomic(self.pod_dir / STATE_FILE, state)

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
        self.store = _load_objects(self.pod_dir)
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


def _check_own_dir(root: Path) -> None:
    """The shared default root (/tmp/memlab-pods) must be ours and not a symlink: another
    user could otherwise plant a pod.json or a link where memlab writes (and deletes)."""
    try:
        st = os.lstat(root)
    except FileNotFoundError:
        return  # created 0700 by _claim_pod_dir, once everything is valid
    if _stat.S_ISLNK(st.st_mode) or not _stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid():
        raise UsageError(f"refusing to use {root}: not a directory owned by uid "
                         f"{os.geteuid()} (pass --pod-dir DIR)", path=str(root))


def _claim_pod_dir(d: Path) -> None:
    """Create D (0700), or reuse it if it is a memlab pod dir whose process is gone."""
    if d.exists() or d.is_symlink():
        if d.is_symlink() or not d.is_dir():
            raise UsageError("not a directory (a pod directory must be a real directory)",
                             path=str(d))
        state_path = d / STATE_FILE
        if not state_path.exists():
            if any(d.iterdir()):
                raise UsageError("not a memlab pod directory (no pod.json) and not empty: "
                                 "refusing to use it", path=str(d))
            return
        try:
            state = json.loads(state_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise UsageError(f"unreadable {STATE_FILE}: {err}", path=str(d)) from err
        argv0 = (state.get("argv") or [None])[0]
        if _process_alive(state.get("pid"), argv0):
            raise UsageError(f"pod {state.get('name')!r} is already running here "
                             f"(pid {state.get('pid')})", path=str(d))
        for sub in ("volumes", "objects", "rootfs"):
            if (d / sub).is_symlink():
                raise UsageError(f"{sub} is a symlink: refusing to reuse this pod "
                                 "directory", path=str(d))
            if (d / sub).exists():
                shutil.rmtree(d / sub)
        state_path.unlink()
        return
    d.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    d.mkdir(mode=0o700)


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
        root = default_pod_root()
        _check_own_dir(root)
        pod_dir = root / pod.name
    pod_dir = Path(pod_dir).absolute()
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
        mapped = str(pod_dir / "rootfs" / vm["mountPath"].lstrip("/"))
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
    d = Path(pod_dir)
    try:
        state = json.loads((d / STATE_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise UsageError(f"not a memlab pod directory (no {STATE_FILE})",
                         path=str(d)) from err
    except ValueError as err:
        raise UsageError(f"unreadable {STATE_FILE}: {err}", path=str(d)) from err
    if state.get("schema") != SCHEMA:
        raise UsageError(f"unknown pod state schema {state.get('schema')!r}", path=str(d))
    return state


def pod_dir_running(pod_dir: str | os.PathLike) -> int | None:
    """The pid of the pod directory's process if it still runs, else None (the pod was
    stopped: an apply still updates the files, but no process sees them)."""
    state = load_state(Path(pod_dir).absolute())
    return state.get("pid") if _process_alive(state.get("pid"),
                                              (state.get("argv") or [None])[0]) else None


def apply_to_pod_dir(pod_dir: str | os.PathLike, manifest) -> list[ApplyResult]:
    """`memlab k8s apply OBJ.yaml --pod DIR`: works from any process.

    Validates every document first (nothing written if one fails), then per object:
    store it, re-run AtomicWriter for each volume projecting it, report env drift."""
    d = Path(pod_dir).absolute()
    state = load_state(d)
    docs = text_or_path(manifest)
    ns = state["namespace"]
    for obj in docs:
        if isinstance(obj, Pod):
            raise UsageError(f"{obj.where()}: a Pod's spec cannot be updated in place "
                             "(most fields are immutable): stop it and run it again")
        if obj.namespace != ns:
            raise UsageError(f"{obj.where()}: {obj.kind} {obj.namespace}/{obj.name} is not in "
                             f"the pod's namespace {ns!r}")
    results: list[ApplyResult] = []
    with _locked(d):
        store = _load_objects(d)
        for obj in docs:  # validate all before writing any
            validation.check(obj, store.get(obj.kind, obj.namespace, obj.name))
        pod = build_object(state["pod"], {}, 1, str(d / STATE_FILE))
        container = pod.container(state["container"])
        frozen = {e["name"]: (e["value"], e.get("from_secret", False))
                  for e in state["env"]}
        for obj in docs:
            old = store.get(obj.kind, obj.namespace, obj.name)
            same = old is not None and object_to_api(old) == object_to_api(obj)
            action = "created" if old is None else ("unchanged" if same else "updated")
            _write_json_atomic(_object_file(d, obj), object_to_api(obj))
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
