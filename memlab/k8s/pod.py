"""Run a pod's container on this machine as kubelet would.

prepare: validate every object -> resolve every configMap/secret volume (FailedMount) ->
         compute the environment (CreateContainerConfigError); writes nothing.
start:   only then write the pod directory (memlab.k8s.poddir): objects, one AtomicWriter
         volume dir per volume, a mountPath map, pod.json -> execve the container's
         process with exactly that environment.
PodRun.apply (memlab.k8s.apply) updates objects and volumes afterwards.

The container's command is NOT rewritten: /etc/config in a command still means the
host's /etc/config (memlab does not create mount namespaces); read the mapped path
rootfs/etc/config instead.  Arguments given to a bundled stand-in sample (--exec) that
start with a mountPath ARE mapped, since memlab chose that program.

Children never outlive memlab (memlab.launch): the process is killed when the PodRun
is stopped or memlab exits.  Launch from the main thread (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import os
import posixpath
import shutil
import stat as _stat
import time
from collections.abc import Iterator
from pathlib import Path

from memlab.errors import LaunchError, MemlabError, UsageError
from memlab.k8s import validation
from memlab.k8s import bundle as oci
from memlab.k8s import rootfs
from memlab.k8s import runtime as rt
from memlab.k8s.apply import ApplyResult, apply_to_pod_dir
from memlab.k8s.atomic_writer import AtomicWriter, WriteResult
from memlab.k8s.container import ContainerRun, command_args, write_node_files
from memlab.k8s.envvars import (EnvVar, container_environment, expand_command_and_args,
                                pod_hostname, to_execve)
from memlab.k8s.manifests import Manifest, ObjectStore, Pod, text_or_path
from memlab.k8s.poddir import (SCHEMA, STATE_FILE, Mount, check_reusable, claim_pod_dir,
                               default_pod_root,
                               json_bytes, load_objects, mount_components, object_file_name,
                               object_to_api, volume_tree)
from memlab.k8s.serviceaccount import admit
from memlab.k8s.volumes import (VolumeSource, read_volume, resolve, setup_volume,
                                unsupported_volumes, volume_dir_names, volume_sources)
from memlab.launch import launch
from memlab.procfs._io import read_proc_file
from memlab.safefs import Dir, check_name, open_trusted
from memlab.samples import is_sample_path, resolve_target
from memlab.secrets import Masker

DEFAULT_SAMPLE = "sleeper"
# the pod sandbox: what kubelet's pause container does, with busybox (memlab.k8s.rootfs)
PAUSE = {"name": "_pause"}  # "_" is not in a DNS-1123 label: no container has this name
PAUSE_ARGS = ("/bin/sleep", "2147483647")


# --- command resolution ----------------------------------------------------------------------

def _on_path(name: str) -> str | None:
    return shutil.which(name)


def resolve_command(container: dict, env: list[EnvVar], exec_sample: str | None,
                    exec_args: list[str], mounts: list[Mount]) -> tuple[str, list[str], str]:
    """(target, args, note): what to execve for the container here.

    kubelet expands $(VAR) in command and args with the env it built, not the runtime's
    HOSTNAME or the image's PATH (envvars.expand_command_and_args)."""
    command, args = expand_command_and_args(container, env)
    # notes quote the manifest's words, never their expansion: $(DB_PASSWORD) in args
    # becomes the Secret's value (memlab.secrets)
    written = list(container.get("command") or []) + list(container.get("args") or [])
    image = container.get("image", "")
    if exec_sample:
        mapped = [map_arg(a, mounts) for a in exec_args]
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


def map_arg(arg: str, mounts: list[Mount]) -> str:
    """A container path below a mountPath as the simulation sees it (the mapped path;
    the longest mountPath wins); any other argument unchanged."""
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


# --- the pod ------------------------------------------------------------------------------

MEMORY_BACKED = frozenset({"secret", "projected", "downwardAPI"})  # volume kinds on tmpfs

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
        # the runtime (memlab.k8s.runtime): None = simulated, and why
        self.runtime: rt.Runtime | None = None
        self.simulated: str | None = rt.SIMULATED
        self.containers_run: list[ContainerRun] = []
        self.main: ContainerRun | None = None
        self.security = oci.security(pod.spec, container)
        self._shim: rt.Shim | None = None
        self._tmpfs: list[str] = []
        self._process_argv: list[str] | None = None

    # -- properties
    @property
    def name(self) -> str:
        return self.pod.name

    @property
    def pid(self) -> int | None:
        """The container's process as the node sees it (its host pid)."""
        if self.main is not None:
            return self.main.host_pid
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
        exec_args = list(exec_args or [])
        if self.runtime is not None:
            return self._start_runtime(exec_sample, exec_args, timeout)
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
        if self.simulated:
            note = f"{self.simulated}; {note}"
        wrap = self.simulated_user()
        if wrap:
            # runAsUser/runAsGroup/supplementalGroups for real: setpriv(1) sets the ids,
            # then execs the program (its argv and env as given)
            note += (f"; runs as uid {self.security.uid} gid {self.security.gid} "
                     "(setpriv: memlab is root)")
            self.launched = launch("setpriv", [*wrap, exe, *args], to_execve(list(self.env)),
                                   hold="ready" if sample else "none", timeout=timeout)
            self._process_argv = [exe, *args]
        else:
            self.launched = launch(target, args, to_execve(list(self.env)),
                                   hold="ready" if sample else "none", timeout=timeout)
        self.target, self.args, self.note = target, args, note
        self._save_state()
        return self

    def stop(self) -> int | None:
        """Kill the container's process (if running) and record it; the pod directory
        stays for inspection.  Returns the exit code (negative: signal)."""
        if self.runtime is not None:
            return self._stop_runtime()
        if self.launched is None:
            return None
        self.launched.kill()
        self._save_state()
        return self.launched.returncode

    # -- the runtime (memlab.k8s.runtime): one runc container per container of the pod
    def _container_config(self, c: dict, env: list[EnvVar], args: list[str],
                          ns: dict[str, str | None], sandbox: bool = False) -> dict:
        by_name = {vs.name: vs for vs in self._payload_sources}
        if sandbox:
            return oci.config(args=args, env=[], cwd="/", hostname=self.hostname,
                              sec=oci.Security(read_only_root=True), mounts=[],
                              namespaces=ns)
        mounts = [oci.bind("/etc/hosts", self.pod_dir.joinpath("etc-hosts").as_posix(), False),
                  oci.bind("/etc/hostname", str(self.pod_dir / "hostname"), False),
                  oci.bind(c.get("terminationMessagePath") or "/dev/termination-log",
                           str(self.pod_dir / "containers" / check_name(c["name"]) /
                               "termination-log"), False)]
        for vm in c.get("volumeMounts") or []:
            vs = by_name.get(vm["name"])
            if vs is None:
                continue
            src = vs.host_dir(self.pod_dir)
            if vm.get("subPath"):
                # kubelet resolves the subPath once, at container start, and bind-mounts
                # what it names then (pkg/volume/util/subpath doSafeMakeDir/prepareSubpath):
                # the file of today's ts dir; a later ..data swap never reaches it.
                src = os.path.realpath(os.path.join(src, vm["subPath"]))
                if not src.startswith(os.path.realpath(vs.host_dir(self.pod_dir)) + "/"):
                    raise MemlabError(f"subPath {vm['subPath']!r} leaves volume {vs.name!r}")
            # API data volumes are always mounted read-only (ReadOnlyAPIDataVolumes)
            mounts.append(oci.bind(vm["mountPath"], src, True))
        # the memlab image's python3 and source: this machine's, read-only (rootfs)
        mounts += [oci.bind(dest, src, True) for dest, src in
                   rootfs.host_binds(c.get("image", ""))]
        sec = oci.security(self.pod.spec, c)
        return oci.config(args=args, env=[os.fsdecode(e) for e in to_execve(env)],
                          cwd=c.get("workingDir") or "/", hostname=self.hostname, sec=sec,
                          mounts=mounts, namespaces=ns)

    @property
    def hostname(self) -> str:
        return pod_hostname(self.pod)  # HOSTNAME in the env says the same

    def _start_runtime(self, exec_sample: str | None, exec_args: list[str],
                       timeout: float) -> "PodRun":
        command, cargs = expand_command_and_args(self.container, self.env)
        expanded = command + cargs
        if expanded and not self.container.get("command"):
            expanded = []  # args alone go to the image's entrypoint, which memlab lacks
        override = [exec_sample, *exec_args] if exec_sample else None
        args, note = command_args(self.container, expanded, override)
        inits = [(ic, *self._other_process(ic)) for ic in
                 self.pod.spec.get("initContainers") or []]
        others = [(c, *self._other_process(c)) for c in self.pod.containers
                  if c.get("name") != self.container.get("name")]
        share = bool(self.pod.spec.get("shareProcessNamespace"))
        sandbox = bool(inits or others or share)
        self._shim = rt.Shim(self.runtime)
        try:
            self._write_pod_dir()
            assert self._dir is not None
            names = [c["name"] for c, _, _ in inits] + [c["name"] for c in self.pod.containers]
            write_node_files(self._dir, self.hostname, names)
            ns: dict[str, str | None] = {"pid": None, "ipc": None, "uts": None, "mnt": None}
            if sandbox:
                # the pod sandbox (kubelet's pause container) holds the IPC and UTS
                # namespaces every container joins, and with shareProcessNamespace the
                # PID namespace, where it is PID 1
                pause = self._run(PAUSE, [], list(PAUSE_ARGS), self._host_ns(ns), timeout,
                                  sandbox=True)
                base = f"/proc/{pause.host_pid}/ns"
                ns = {"pid": f"{base}/pid" if share else None, "ipc": f"{base}/ipc",
                      "uts": f"{base}/uts", "mnt": None}
            ns = self._host_ns(ns)
            for ic, ienv, iargs in inits:  # in order, each to completion (kubelet)
                cr = self._run(ic, ienv, iargs, ns, timeout, init=True)
                code = cr.wait()
                self.runtime.delete(cr.id)
                if code != 0:
                    raise MemlabError(f"init container {ic['name']!r} exited {code}: the "
                                      "pod's containers do not start (Init:Error)")
            for c in self.pod.containers:  # in the manifest's order, as kubelet starts them
                if c.get("name") == self.container.get("name"):
                    self.main = self._run(self.container, list(self.env), args, ns, timeout)
                    self.launched = self.main.launched
                else:
                    _, cenv, cargs = next(o for o in others if o[0] is c)
                    self._run(c, cenv, cargs, ns, timeout)
        except BaseException:
            self._stop_runtime()
            raise
        self._process_argv = args
        self.target, self.args, self.note = args[0], args[1:], note
        self._save_state()
        return self

    def _other_process(self, c: dict) -> tuple[list[EnvVar], list[str]]:
        """(env, args) of a container other than the one memlab follows."""
        cenv = container_environment(self.pod, c, self.store)
        command, args = expand_command_and_args(c, cenv)
        cargs = command + args if command else []
        return cenv, command_args(c, cargs, None)[0]

    def _run(self, c: dict, env: list[EnvVar], args: list[str], ns: dict, timeout: float,
             init: bool = False, sandbox: bool = False) -> ContainerRun:
        assert self._dir is not None and self._shim is not None and self.runtime
        cr = ContainerRun(self.runtime, self._dir, self.pod.name, c["name"],
                          self._container_config(c, env, args, ns, sandbox), init=init,
                          on_mount=self._mounting, image="" if sandbox else c.get("image", ""))
        self._shim.tell("c", cr.id)
        self.containers_run.append(cr)
        cr.sandbox = sandbox
        return cr.start(timeout)

    def simulated_user(self) -> list[str]:
        """setpriv's options for the pod's user and groups, when memlab is root and the
        security context asks for another user (else [])."""
        sec = self.security
        if os.geteuid() != 0 or not (sec.uid or sec.gid or sec.groups):
            return []
        if _on_path("setpriv") is None:
            raise MemlabError("runAsUser/runAsGroup in the simulation needs setpriv "
                              "(util-linux), or a container runtime (install runc)")
        groups = ["--groups", ",".join(map(str, sec.groups))] if sec.groups else \
            ["--clear-groups"]
        return ["--reuid", str(sec.uid), "--regid", str(sec.gid), *groups, "--"]

    def _host_ns(self, ns: dict[str, str | None]) -> dict[str, str | None]:
        """hostPID/hostIPC: no namespace of that type, the host's (as kubelet asks the
        runtime for NamespaceMode NODE)."""
        out = dict(ns)
        if self.pod.spec.get("hostPID"):
            out.pop("pid", None)
        if self.pod.spec.get("hostIPC"):
            out.pop("ipc", None)
        return out

    def _mounting(self, path: str) -> None:
        """A host mount is about to be made: the shim learns it first, then memlab."""
        assert self._shim is not None
        self._shim.tell("m", path)
        self._tmpfs.append(path)

    def _stop_runtime(self) -> int | None:
        code = None
        for cr in reversed(self.containers_run):
            cr.stop()
        if self.main is not None and self.main.launched is not None:
            code = self.main.launched.returncode
        for path in reversed(self._tmpfs):
            try:
                rt.umount(path)
            except OSError:
                pass
        self._tmpfs.clear()
        if self._shim is not None:
            self._shim.close()
            self._shim = None
        self._save_state()
        return code

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
        d = claim_pod_dir(self.pod_dir)
        self._dir = d
        with d.mkdir("objects") as objects:
            for obj in self.store:
                objects.write_file(object_file_name(obj), json_bytes(object_to_api(obj)))
        for vs in self._payload_sources:
            if self.runtime is not None:
                # the volume root: traversable by the container's uid (kubelet's emptyDir
                # wrapper makes it 0777; memlab 0755: no other uid may write below the
                # pod directory, memlab.safefs); secret, projected and downwardAPI
                # volumes on a tmpfs, as kubelet mounts them: their plugins wrap an
                # emptyDir of medium Memory (pkg/volume/{secret,projected,downwardapi}
                # wrappedVolumeSpec), never on disk
                with d.makedirs(volume_dir_names(vs), 0o750) as vd:
                    os.fchmod(vd.fd, 0o755)
                    if vs.kind in MEMORY_BACKED:
                        self._mounting(vd.path)
                        rt.mount_tmpfs(vd.fd)
            self.writes[vs.name] = setup_volume(vs, self.pod, self.store, d)
        if self.runtime is not None:
            self._save_state()
            return
        for m in self.mounts:
            parts = mount_components(m.mount_path)
            with d.makedirs(["rootfs", *parts[:-1]]) as parent:
                st = parent.lstat(parts[-1])
                if st is not None and _stat.S_ISLNK(st.st_mode):
                    parent.unlink(parts[-1])
                if m.sub_path:
                    # a real subPath is the file bound once at start: a copy made now
                    # tells the same story (it never updates)
                    data = read_volume(m.host_dir).get(posixpath.normpath(m.sub_path))
                    if data is not None:
                        parent.write_file(parts[-1], data, 0o444)
                        continue
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
            "pid": self.pid if launched else None,
            # in a runtime the program may exec another (busybox sh -c execs its last
            # command): the runtime's state says whether the container runs, not argv[0]
            "argv": (self._process_argv or launched.argv)
            if launched and self.runtime is None else None,
            "exe": launched.exe if launched else None,
            "running": bool(launched and launched.alive),
            "runtime": self.runtime.path if self.runtime else None,
            "runtime_root": self.runtime.root if self.runtime else None,
            "simulated": self.simulated,
            "containers": [{"name": cr.name, "id": cr.id, "init": cr.init,
                            "sandbox": cr.sandbox, "main": cr is self.main,
                            "host_pid": cr.host_pid, "bundle": cr.bundle}
                           for cr in self.containers_run],
            "security": self.security.to_dict(),
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
        self._dir.write_file(STATE_FILE, json_bytes(state))

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
        data = read_proc_file(self.pid, "environ")
        return [e for e in data.split(b"\0") if e]

    def apply(self, manifest: str | os.PathLike) -> list[ApplyResult]:
        """Apply ConfigMap/Secret YAML (text or a path) to this pod, as `kubectl apply`
        + kubelet's sync would.  The env of the running process does not change."""
        results = apply_to_pod_dir(self.pod_dir, manifest)
        with open_trusted(self.pod_dir) as d:
            self.store = load_objects(d)
        return results

    def shown_argv(self, reveal: bool = False) -> list[str] | None:
        """The process's argv with its secrets masked (memlab.secrets.Masker): flags
        like --password=x, URL passwords, and the values taken from a Secret, which
        $(VAR) expansion may have put into args."""
        if self.launched is None:
            return None
        argv = self._process_argv or self.launched.argv
        masker = Masker.build([f"{e.name}={e.value}".encode("utf-8", "surrogateescape")
                               for e in self.env], argv,
                              names=[e.name for e in self.env if e.from_secret],
                              values=[e.value.encode("utf-8", "surrogateescape")
                                      for e in self.env if e.from_secret],
                              reveal=reveal)
        return masker.argv(argv)

    def to_dict(self, reveal: bool = False) -> dict:
        return {
            "schema": SCHEMA, "pod": self.pod.name, "namespace": self.pod.namespace,
            "container": self.container.get("name"), "pod_dir": str(self.pod_dir),
            "pid": self.pid, "argv": self.shown_argv(reveal),
            "exe": self.launched.exe if self.launched else None, "note": self.note,
            "simulated": self.simulated,
            "runtime": self.runtime.path if self.runtime else None,
            "network": rt.NETWORK_NOTE if self.runtime else None,
            "containers": [{"name": cr.name, "id": cr.id, "init": cr.init,
                            "sandbox": cr.sandbox, "host_pid": cr.host_pid}
                           for cr in self.containers_run],
            "security": self.security.to_dict(),
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


def prepare(pod_manifest: str | os.PathLike | Pod, objects=(), *,
            container: str | None = None, pod_dir: str | os.PathLike | None = None,
            runtime: str | bool | None = False) -> PodRun:
    """Everything kubelet checks before a container starts; writes nothing.

    pod_manifest: a Pod, or YAML (text or path) holding exactly one Pod (it may also hold
    the ConfigMaps/Secrets).  objects: more manifests (paths, texts or Manifest objects).
    Raises ManifestError/ValidationError (exit 2), FailedMount, CreateContainerConfigError.
    runtime: False simulates (a host process); True finds runc/crun on PATH; a path names
    the runtime.  Without a usable runtime memlab simulates and says so (.simulated).
    """
    docs: list[Manifest] = []
    if isinstance(pod_manifest, Manifest):
        docs.append(pod_manifest)
    else:
        docs.extend(text_or_path(pod_manifest))
    for o in objects:
        docs.extend([o] if isinstance(o, Manifest) else text_or_path(o))
    docs = validation.expand_workloads(docs)  # a DaemonSet runs its pod template
    pods = [d for d in docs if isinstance(d, Pod)]
    if len(pods) != 1:
        raise UsageError(f"expected exactly one Pod in the manifests, found {len(pods)}")
    for d in docs:
        validation.check(d)
    store = ObjectStore(d for d in docs if not isinstance(d, Pod))
    pod = admit(pods[0], store)  # uid, serviceAccountName, kube-api-access volume
    c = pod.container(container)
    warnings = validation.pod_warnings(pod)
    runtime_obj, simulated = None, rt.SIMULATED
    if runtime is False and rt.find_runtime() is not None:
        simulated = ("simulated: the container runs as a host process here "
                     "(`memlab k8s run` runs it in the container runtime)")
    if runtime is not False:
        path = rt.find_runtime(runtime if isinstance(runtime, str) else None)
        simulated = rt.why_simulated(path)
        if simulated is None:
            runtime_obj = rt.Runtime(path)
            bad = unsupported_volumes(pod)
            if bad:
                raise MemlabError(f"volume {bad[0]!r}: memlab does not support this volume "
                                  "type (configMap, secret, downwardAPI and projected only)")
    for name in unsupported_volumes(pod):
        warnings.append(f"volume {name!r}: only configMap, secret, downwardAPI and projected "
                        "volumes are supported; "
                        "it is skipped")
    if pod_dir is None:
        pod_dir = default_pod_root() / check_name(pod.name)  # a DNS-1123 subdomain
    pod_dir = Path(os.path.abspath(pod_dir))
    check_reusable(pod_dir)
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
            how = ("a bind mount of that file" if runtime_obj else
                   "simulated by a copy of that file")
            warnings.append(f"volumeMount {vm['mountPath']!r} uses subPath: kubelet resolves "
                            f"it to one file once, at container start ({how}); it never "
                            "updates after an apply (kubernetes#50345)")
        mapped = os.path.join(pod_dir, "rootfs", *mount_components(vm["mountPath"]))
        mounts.append(Mount(vm["name"], vm["mountPath"], vs.host_dir(pod_dir), mapped,
                            bool(vm.get("readOnly")), vm.get("subPath", "")))
    pr = PodRun(pod, c, store, env, sources, pod_dir, mounts, warnings)
    pr.runtime, pr.simulated = runtime_obj, simulated
    return pr


def run(pod_manifest, objects=(), *, container: str | None = None,
        pod_dir: str | os.PathLike | None = None, exec_sample: str | None = None,
        exec_args: list[str] | None = None, timeout: float = 5.0,
        runtime: str | bool | None = False) -> PodRun:
    """prepare() then start(): the TUI/CLI entry point.  Call from the main thread."""
    pr = prepare(pod_manifest, objects, container=container, pod_dir=pod_dir,
                 runtime=runtime)
    return pr.start(exec_sample, exec_args, timeout)
