"""Actions that reproduce kubelet: validate manifests as the API server would, run a
Pod here (its configMap/secret volumes and env), apply a change, measure it again."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

from memlab.errors import MemlabError, UsageError
from memlab.inputfile import MANIFEST, read_input_text
from memlab.k8s import validation
from memlab.k8s.manifests import load_text
from memlab.k8s.pod import run
from memlab.k8s.poddir import volume_tree
from memlab.lessons.actions.registry import (ActionResult, Bound, RunContext, Skipped, action,
                                             argv_text, bounded)
from memlab.lessons.measure import env_facts
from memlab.model import EnvEntry

# k8s_validate's fill: twice what a ConfigMap or Secret may hold (1 MiB, MaxSecretSize in
# kubernetes pkg/apis/core/types.go) is enough to show the API server's refusal.
MAX_FILL = 2 << 20

# where `file = "x.yaml"` is looked up after the lesson's directory: the article's manifests
EXAMPLES_DIR = Path(validation.__file__).resolve().parent / "examples"


def _starts_pod(p: dict[str, Any], lesson_dir: Path) -> list[str]:
    """k8s_run: the sample given as `exec`, else the Pod's container command."""
    if p.get("exec"):
        return [argv_text([p["exec"], *p.get("exec_args", ())])]
    try:
        text = _manifest(RunContext(lesson_dir=lesson_dir), p)
        pod = next(o for o in load_text(text) if o.kind == "Pod")
        c = pod.container()
        argv = list(c.get("command") or []) + list(c.get("args") or [])
    except (MemlabError, StopIteration) as err:
        return [f"the Pod's container command (the manifest does not load: {err})"]
    return [argv_text(argv) if argv else "memlab's sleeper sample (no command given)"]

def _manifest(ctx: RunContext, p: dict[str, Any], key: str = "manifest") -> str:
    """Inline YAML (`manifest = '''...'''`) or a file (`file = "x.yaml"`), looked up next
    to the lesson, then in memlab's k8s examples (the article's manifests)."""
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
    text = _manifest(ctx, p)
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
        "env": run.env_dict(), "env_names": sorted(run.env_dict()),
        "env_sources": {e.name: e.source for e in run.env},
        "proc_environ": environ,
        "files": {k: v.decode("utf-8", "backslashreplace") for k, v in run.volume_files().items()},
        "data_targets": run.data_targets(),
        "tree": {name: [e["path"] for e in t] for name, t in trees.items()},
        "links": {name: {e["path"]: e["target"] for e in t if e.get("type") == "symlink"}
                  for name, t in trees.items()},
        "mounts": mounts, "warnings": list(run.warnings),
    }


@action("k8s_run", optional=("manifest", "file", "objects", "exec", "exec_args"),
        starts=_starts_pod)
def _k8s_run(ctx: RunContext, p: dict[str, Any], save: str | None) -> ActionResult:
    """Run a Pod here as kubelet would: validate, lay out its configMap/secret volumes
    (AtomicWriter), compute its env, execve its process with it.  `objects` are more
    manifests (inline YAML or file names)."""
    objects = [_manifest(ctx, {"file": o} if "\n" not in str(o) else {"manifest": o})
               for o in p.get("objects", [])]
    name = save or "pod"
    old = ctx.objects.pop(name, None)
    if old is not None:  # the step is run again: the old pod makes way, as on restart
        old.stop()
    pod = run(_manifest(ctx, p), objects, pod_dir=ctx.workdir / f"pod-{name}",
              exec_sample=p.get("exec"), exec_args=[str(a) for a in p.get("exec_args", [])])
    ctx.exits.callback(pod.stop)
    ctx.objects[name] = pod
    if pod.launched is not None:
        ctx.processes[name] = pod.launched
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
    results = pod.apply(_manifest(ctx, p))
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
