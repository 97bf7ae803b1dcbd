"""Actions that reproduce kubelet: validate manifests as the API server would, run a
Pod here (its configMap/secret volumes and env), apply a change, measure it again."""

from __future__ import annotations

import base64
import os
import shutil
import stat
from pathlib import Path
from typing import Any

from memlab.errors import LaunchError, MemlabError, UsageError
from memlab.inputfile import MANIFEST, read_input_text
from memlab.k8s import validation
from memlab.k8s.envvars import to_execve
from memlab.k8s.manifests import load_text
from memlab.k8s.pod import map_arg, run
from memlab.k8s.poddir import volume_tree
from memlab.launch import launch
from memlab.procfs._io import read_proc_file
from memlab.procfs.mountinfo import parse_mountinfo
from memlab.lessons.actions.registry import (ActionResult, Bound, RunContext, Skipped, action,
                                             argv_text, bounded)
from memlab.lessons.measure import env_facts, file_facts
from memlab.model import EnvEntry

# what a learner needs for the container runtime's own evidence (runc exec, the pod's
# mounts, runAsUser): said in every skip
NEEDS_RUNTIME = "run the lesson as root with runc installed"

# k8s_validate's fill: twice what a ConfigMap or Secret may hold (1 MiB, MaxSecretSize in
# kubernetes pkg/apis/core/types.go) is enough to show the API server's refusal.
MAX_FILL = 2 << 20

# where `file = "x.yaml"` is looked up after the lesson's directory: the article's
# manifests (docs/article.md)
EXAMPLES_DIR = Path(validation.__file__).resolve().parent / "examples"


def _starts_pod(p: dict[str, Any], lesson_dir: Path) -> list[str]:
    """k8s_run: the sample given as `exec`, else the Pod's container command."""
    if p.get("exec"):
        return [argv_text([p["exec"], *p.get("exec_args", ())])]
    try:
        text = read_manifest(RunContext(lesson_dir=lesson_dir), p)
        pod = next(o for o in load_text(text) if o.kind == "Pod")
        c = pod.container()
        argv = list(c.get("command") or []) + list(c.get("args") or [])
    except (MemlabError, StopIteration) as err:
        return [f"the Pod's container command (the manifest does not load: {err})"]
    return [argv_text(argv) if argv else "memlab's sleeper sample (no command given)"]

def read_manifest(ctx: RunContext, p: dict[str, Any], key: str = "manifest") -> str:
    """Inline YAML (`manifest = '''...'''`) or a file (`file = "x.yaml"`), looked up next
    to the lesson, then in memlab's k8s examples (the article's manifests,
    docs/article.md)."""
    if key in p:
        return str(p[key])
    name = str(p.get("file", ""))
    if not name or os.path.isabs(name) or ".." in Path(name).parts:
        # a lesson reads files next to it, never elsewhere (/etc/shadow, ../..)
        raise UsageError(f"manifest file {name!r}: give a relative path below the lesson's "
                         "directory, without '..'")
    for base in (ctx.lesson_dir, EXAMPLES_DIR):
        if os.path.lexists(base / name):
            if not (base / name).resolve().is_relative_to(base.resolve()):
                raise UsageError(f"manifest file {name!r} is a symlink out of "
                                 f"{base}: a lesson reads only files below its directory")
            return read_input_text(base / name, MANIFEST)
    raise UsageError(f"no manifest file {name!r} next to the lesson or in memlab's examples")


@action("k8s_validate", optional=("manifest", "file", "fill"),
        bounds={"fill.bytes": Bound(0, MAX_FILL)})
def _k8s_validate(ctx: RunContext, p: dict[str, Any], save: str | None) -> ActionResult:
    """Validate manifests as the API server would; measure each object (Secret data
    decoded, as stored) and the errors, in Kubernetes' own words.  `fill = {key, bytes}`
    adds a value of that many bytes to the first object's data (size limits)."""
    text = read_manifest(ctx, p)
    try:
        objs = load_text(text, "<lesson manifest>")
    except MemlabError as err:  # malformed YAML / structure: that is the measurement
        return ActionResult({"ok": False, "errors": [str(err)], "error": str(err),
                             "objects": {}}, f"rejected: {err}")
    fill = p.get("fill")
    if fill and objs:
        objs[0].data[str(fill["key"])] = (b"x" if objs[0].kind == "Secret" else "x") \
            * bounded("k8s_validate", p, "fill.bytes", 0)
    objects: dict[str, Any] = {}
    errors: list[str] = []
    for obj in objs:
        errs = [str(e) for e in validation.validate(obj)]
        errors.extend(errs)
        data = getattr(obj, "data", {}) or {}
        raw = {k: v if isinstance(v, bytes) else str(v).encode() for k, v in data.items()}
        objects[obj.name] = {
            "kind": obj.kind, "type": getattr(obj, "type", None), "errors": errs,
            "valid": not errs, "keys": sorted(raw),
            "data": {k: v.decode("latin-1") for k, v in raw.items()},
            "data_hex": {k: v.hex() for k, v in raw.items()},
            "data_base64": {k: base64.b64encode(v).decode() for k, v in raw.items()},
            "size": sum(len(v) for v in raw.values()),
        }
    facts = {"ok": not errors, "errors": errors, "error": "; ".join(errors) or None,
             "objects": objects}
    return ActionResult(facts, "; ".join(errors) if errors else
                        "valid: " + ", ".join(f"{o['kind']} {n}" for n, o in objects.items()))


def _pod_facts(run: Any) -> dict[str, Any]:
    try:
        environ = env_facts(EnvEntry(e) for e in run.proc_environ())
    except MemlabError as err:
        environ = Skipped(f"/proc/PID/environ not readable: {err}")
    trees = {}
    for vs in run.volume_sources:
        trees[vs.name] = volume_tree(vs.host_dir(run.pod_dir))
    mounts = {}
    for m in run.mounts:
        try:
            listing = sorted(os.listdir(m.mapped_path))
        except OSError as err:
            listing = [f"({err.strerror})"]
        mounts[m.mount_path] = {"mapped_path": m.mapped_path, "host_dir": m.host_dir,
                                "listing": listing}
    return {
        "pid": run.pid, "pod_dir": str(run.pod_dir), "note": run.note,
        "runtime": run.runtime.path if run.runtime is not None else None,
        "simulated": run.simulated,
        "node_paths": {m.mount_path: _node_path(run, m) for m in run.mounts},
        "file_modes": _file_modes(run),
        "env": run.env_dict(), "env_names": sorted(run.env_dict()),
        "env_sources": {e.name: e.source for e in run.env},
        "proc_environ": environ,
        "files": {k: v.decode("utf-8", "backslashreplace") for k, v in run.volume_files().items()},
        "data_targets": run.data_targets(),
        "tree": {name: [e["path"] for e in t] for name, t in trees.items()},
        "links": {name: {e["path"]: e["target"] for e in t if e.get("type") == "symlink"}
                  for name, t in trees.items()},
        # how the learner reads `env` (kubelet's list, not the env block in memory):
        # the pod actions' table in memlab.lessons.words, in the lesson's language
        "mounts": mounts, "warnings": list(run.warnings),
    }


def _node_path(run: Any, m: Any) -> str:
    """Where the node (this machine) sees what the container sees at mountPath: through
    the container's root (/proc/PID/root, its mount namespace) in the runtime, else the
    simulation's mapped path (a link to the volume dir, or a subPath's copy)."""
    if run.runtime is not None and run.pid is not None:
        return f"/proc/{run.pid}/root{m.mount_path}"
    return m.mapped_path


def _file_modes(run: Any) -> dict[str, dict[str, Any]]:
    """mountPath/KEY -> the file's mode ("0400"), owner uid and gid, as kubelet left
    them in the volume dir (stat through the ..data link)."""
    out: dict[str, dict[str, Any]] = {}
    for m in run.mounts:
        if m.sub_path:
            continue
        try:
            names = [n for n in os.listdir(m.host_dir) if not n.startswith("..")]
        except OSError:
            continue
        for name in sorted(names):
            try:
                st = os.stat(os.path.join(m.host_dir, name))
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode):
                out[f"{m.mount_path.rstrip('/')}/{name}"] = file_facts(st, name)
    return out


class _InPod:
    """The container's process as lesson actions address it (snapshot, command,
    wait_output): the node's pid of the container's process, its stdin/stdout through
    the runtime's foreground `runc run` that memlab holds."""

    def __init__(self, pod: Any):
        self._pod = pod

    @property
    def pid(self) -> int | None:
        return self._pod.pid

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pod.launched, name)


@action("k8s_run", optional=("manifest", "file", "objects", "exec", "exec_args", "runtime"),
        starts=_starts_pod)
def _k8s_run(ctx: RunContext, p: dict[str, Any], save: str | None) -> ActionResult:
    """Run a Pod here as kubelet would: validate, lay out its configMap/secret volumes
    (AtomicWriter), compute its env, execve its process with it.  `objects` are more
    manifests (inline YAML or file names).  `runtime = true`: in the container runtime
    (runc) when memlab is root and runc is here, else simulated, and the note says so."""
    objects = [read_manifest(ctx, {"file": o} if "\n" not in str(o) else {"manifest": o})
               for o in p.get("objects", [])]
    name = save or "pod"
    old = ctx.objects.pop(name, None)
    if old is not None:  # the step is run again: the old pod makes way, as on restart
        old.stop()
    pod = run(read_manifest(ctx, p), objects, pod_dir=ctx.workdir / f"pod-{name}",
              exec_sample=p.get("exec"), exec_args=[str(a) for a in p.get("exec_args", [])],
              runtime=bool(p.get("runtime", False)))
    ctx.exits.callback(pod.stop)
    ctx.objects[name] = pod
    if pod.launched is not None:
        ctx.processes[name] = pod.launched if pod.runtime is None else _InPod(pod)
    facts = _pod_facts(pod)
    facts["report"] = pod.launched.report if pod.launched is not None else None
    return ActionResult(facts, f"pod {pod.name}: pid {pod.pid}; {pod.note}")


@action("k8s_apply", params=("pod",), optional=("manifest", "file"))
def _k8s_apply(ctx: RunContext, p: dict[str, Any], save: str | None) -> ActionResult:
    """`kubectl apply` + the kubelet sync that rewrites the pod's volumes (at once here;
    60-90 s in a cluster).  Measures the pod again afterwards."""
    pod = ctx.objects.get(str(p["pod"]))
    if pod is None:
        raise UsageError(f"no pod saved as {p['pod']!r}")
    results = pod.apply(read_manifest(ctx, p))
    facts = _pod_facts(pod)
    facts["results"] = [{"object": r.object, "action": r.action, "volume": r.volume,
                         "event": r.event, "env_drift": r.env_drift or {}} for r in results]
    facts["actions"] = [r.action for r in results]
    return ActionResult(facts, "; ".join(f"{r.object} {r.action}"
                                         + (f" (volume {r.volume})" if r.volume else "")
                                         for r in results))


@action("k8s_state", params=("pod",))
def _k8s_state(ctx: RunContext, p: dict[str, Any], save: str | None) -> ActionResult:
    """Measure a running pod again: env (frozen), /proc/PID/environ, files, ..data."""
    pod = ctx.objects.get(str(p["pod"]))
    if pod is None:
        raise UsageError(f"no pod saved as {p['pod']!r}")
    return ActionResult(_pod_facts(pod), f"pod {pod.name}: pid {pod.pid}")


def _pod(ctx: RunContext, name: Any) -> Any:
    pod = ctx.objects.get(str(name))
    if pod is None:
        raise UsageError(f"no pod saved as {name!r}")
    return pod


def _starts_exec(p: dict[str, Any], lesson_dir: Path) -> list[str]:
    return [argv_text(p.get("command") or []) + " (in the pod's container, or on this "
            "machine with the pod's env when simulated)"]


def _errno_of(stderr: str) -> str | None:
    """The errno a failed `cat`/`ls` reports, by its strerror text (busybox and
    coreutils print strerror(errno))."""
    for text, name in (("Permission denied", "EACCES"), ("No such file", "ENOENT"),
                       ("Not a directory", "ENOTDIR"), ("Is a directory", "EISDIR")):
        if text in stderr:
            return name
    return None


def _simulated_exec(pod: Any, argv: list[str]) -> tuple[str, str, int | None]:
    """What `runc exec` does, without a runtime: a NEW process started with the env the
    pod was given (the container config's process.env), not the running one's; paths
    below a mountPath mapped to the pod's rootfs; as the pod's user when memlab is root
    (setpriv, as the pod itself is started)."""
    args = [map_arg(a, pod.mounts) for a in argv[1:]]
    wrap = pod.simulated_user()
    target, targs = argv[0], args
    if wrap:
        exe = shutil.which(argv[0]) or argv[0]
        target, targs = "setpriv", [*wrap, exe, *args]
    child = launch(target, targs, to_execve(list(pod.env)), hold="none", timeout=10)
    with child:
        lines: list[str] = []
        while len(lines) < 10000:
            try:
                line = child.read_stdout_line(10)
            except LaunchError:
                break
            if line is None:
                break
            lines.append(line)
        code = child.wait(10)
        err = child.stderr_tail()
    return "\n".join(lines), err, code


@action("k8s_exec", params=("pod", "command"), starts=_starts_exec)
def _k8s_exec(ctx: RunContext, p: dict[str, Any], save: str | None) -> ActionResult:
    """`kubectl exec POD -- COMMAND`: the runtime starts a NEW process in the container
    from its config (`runc exec`: config.json's env, user, mounts) and memlab captures
    what it prints.  Simulated (no runtime): a new host process with the pod's env."""
    pod = _pod(ctx, p["pod"])
    argv = [str(a) for a in (p["command"] if isinstance(p["command"], list)
                             else [p["command"]])]
    if not argv:
        raise UsageError("k8s_exec: command is empty")
    if pod.runtime is not None and pod.main is not None:
        r = pod.runtime.exec(pod.main.id, argv, timeout=10)
        out = r.stdout.decode("utf-8", "backslashreplace").rstrip("\n")
        err = r.stderr.decode("utf-8", "backslashreplace").strip()
        code: int | None = r.returncode
        how, how_word = "runc exec", "how_runc"
        via_runtime: Any = None
    else:
        out, err, code = _simulated_exec(pod, argv)
        how = "simulated exec (a new host process with the pod's env)"
        how_word = "how_simulated"  # memlab.lessons.words
        via_runtime = Skipped(f"{pod.simulated}: `memlab k8s exec` needs the pod in the "
                              f"container runtime: {NEEDS_RUNTIME}")
    lines = out.split("\n") if out else []
    env = env_facts(EnvEntry(ln.encode("utf-8", "surrogateescape"))
                    for ln in lines if "=" in ln)
    env_lines = {n: f"{n}={v}" for n, v in env["values"].items()}  # NAME -> the line
    facts: dict[str, Any] = {
        "argv": argv, "output": out, "lines": lines, "stderr": err, "exit_code": code,
        "ok": code == 0, "errno": None if code == 0 else _errno_of(err), "env": env,
        "how": how, "simulated": pod.simulated if pod.runtime is None else None,
        "env_lines": env_lines,
        "via_runtime": via_runtime if via_runtime is not None else {
            "env": env, "env_lines": env_lines, "output": out},
        # how the learner reads these measurements (memlab.lessons.checks.describe_ref)
        # in words of the lesson's language: [memlab.lessons.words key, its fields]
        "_sources": {k: [f"exec_{k}", {"cmd": argv_text(argv), "how": how_word}]
                     for k in ("env", "output", "errno", "exit_code", "ok")},
    }
    return ActionResult(facts, f"{argv_text(argv)} via {how}: exit {code}"
                        + (f" ({err.splitlines()[-1]})" if err and code else ""))


@action("k8s_mountinfo", params=("pod", "path"))
def _k8s_mountinfo(ctx: RunContext, p: dict[str, Any], save: str | None) -> ActionResult:
    """The line of the container's /proc/PID/mountinfo for the mount at `path` (its
    mount point), as the kernel prints it: `line`, `fstype`, `source`, `options`,
    `mount_point`, `root`.  Simulated pods have no mounts of their own: skipped."""
    pod = _pod(ctx, p["pod"])
    path = str(p["path"])
    if pod.runtime is None or pod.pid is None:
        return ActionResult(Skipped(f"{pod.simulated}: the container's mounts (a tmpfs per "
                                    f"Secret volume) exist only in the container runtime: "
                                    f"{NEEDS_RUNTIME}"), "simulated: no mounts of its own")
    data = read_proc_file(pod.pid, "mountinfo")
    for raw in reversed(data.splitlines()):  # the last mount at a point is the one seen
        entries = parse_mountinfo(raw)
        if entries and entries[0].mount_point == path:
            e = entries[0]
            line = raw.decode("utf-8", "backslashreplace")
            return ActionResult({**e.to_dict(), "line": line, "pid": pod.pid,
                                 "_sources": {  # memlab.lessons.words
                                     "line": ["mountinfo_line", {"pid": pod.pid}],
                                     "fstype": ["mountinfo_fstype",
                                                {"pid": pod.pid, "path": path}]}},
                                f"/proc/{pod.pid}/mountinfo: {line}")
    raise MemlabError(f"no mount at {path} in /proc/{pod.pid}/mountinfo")
