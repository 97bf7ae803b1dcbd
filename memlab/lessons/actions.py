"""What a lesson step can DO: launch a sample, talk to it, take a snapshot, run the
exposure observers, apply Kubernetes manifests, run the ASLR experiment...

Each action is a thin adapter over memlab's library (memlab.launch, memlab.collect,
memlab.exposure, memlab.k8s, memlab.aslr, memlab.analysis.heap).  It declares which
building blocks it needs (`requires`: "module" or "module:attribute"); a lesson whose
blocks are missing is marked unavailable, with the missing names, instead of failing.
An action returns the measurement it made (plain data, see measure.py); the engine stores
it under the step's `save` name for checks to address as "$name.path".
"""

from __future__ import annotations

import importlib
import os
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from memlab.aslr import MAX_RUNS
from memlab.errors import LaunchError, MemlabError, UsageError


@dataclass(frozen=True)
class Skipped:
    """A measurement that was not made, and why (e.g. 'needs root')."""

    reason: str

    def __str__(self) -> str:
        return f"skipped: {self.reason}"


@dataclass
class ActionResult:
    value: Any
    note: str = ""  # one line for the learner: "launched sleeper as pid 123"


@dataclass
class RunContext:
    """What actions share while one lesson runs: launched processes (ended on close), a
    scratch directory, the lesson file's directory (for manifests next to it)."""

    lesson_dir: Path
    processes: dict[str, Any] = field(default_factory=dict)
    objects: dict[str, Any] = field(default_factory=dict)  # pods, held files, ...
    exits: ExitStack = field(default_factory=ExitStack)
    _workdir: Path | None = None

    @property
    def workdir(self) -> Path:
        if self._workdir is None:
            d = tempfile.mkdtemp(prefix="memlab-lesson-")
            self._workdir = Path(d)
            import shutil

            self.exits.callback(shutil.rmtree, d, True)
        return self._workdir

    def process(self, name: str):
        try:
            return self.processes[name]
        except KeyError:
            raise UsageError(f"no launched process saved as {name!r}") from None

    def close(self) -> None:
        self.exits.close()


@dataclass(frozen=True)
class Bound:
    """The numbers a parameter may take (FORMAT.md "Limits"): lo <= value <= hi, an
    integer if `integer`.  A lesson file is anyone's text: runs=1e9 must not run."""

    lo: float
    hi: float
    integer: bool = True

    def problem(self, value: Any) -> str | None:
        """None when VALUE is allowed, else what is wrong with it."""
        kind = "a whole number" if self.integer else "a number"
        ok_type = int if self.integer else (int, float)
        if isinstance(value, bool) or not isinstance(value, ok_type) or not (
                self.lo <= value <= self.hi):
            return f"must be {kind} from {_num(self.lo)} to {_num(self.hi)}, not {value!r}"
        return None


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


@dataclass(frozen=True)
class ActionSpec:
    name: str
    fn: Callable[[RunContext, dict[str, Any], str | None], ActionResult]
    params: tuple[str, ...]
    optional: tuple[str, ...]
    requires: tuple[str, ...]
    doc: str
    bounds: dict[str, Bound] = field(default_factory=dict)  # "param" or "param.key"
    # what the action would start (programs and their arguments), one line each, for a
    # lesson from outside memlab to list before it runs (None: starts no program)
    starts: Callable[[dict[str, Any], Path], list[str]] | None = None

    @property
    def all_params(self) -> tuple[str, ...]:
        return self.params + self.optional


ACTIONS: dict[str, ActionSpec] = {}


def action(name: str, params: Iterable[str] = (), optional: Iterable[str] = (),
           requires: Iterable[str] = (), bounds: dict[str, Bound] | None = None,
           starts: Callable[[dict[str, Any], Path], list[str]] | None = None):
    def register(fn):
        doc = (fn.__doc__ or "").strip().splitlines()[0] if fn.__doc__ else ""
        ACTIONS[name] = ActionSpec(name, fn, tuple(params), tuple(optional), tuple(requires),
                                   doc, dict(bounds or {}), starts)
        return fn
    return register


def _argv_text(argv: Iterable[Any]) -> str:
    import shlex

    return shlex.join(str(a) for a in argv)


def _starts_target(p: dict[str, Any], lesson_dir: Path) -> list[str]:
    """launch and aslr: TARGET ARGS (a bundled sample name, a path or a $PATH command)."""
    return [_argv_text([p.get("target", "sleeper"), *p.get("args", ())])]


def _starts_exposure(p: dict[str, Any], lesson_dir: Path) -> list[str]:
    return ["memlab's sleeper sample as the victims, and observer processes"]


def _starts_pod(p: dict[str, Any], lesson_dir: Path) -> list[str]:
    """k8s_run: the sample given as `exec`, else the Pod's container command."""
    if p.get("exec"):
        return [_argv_text([p["exec"], *p.get("exec_args", ())])]
    try:
        from memlab.k8s.manifests import load_text

        text = _manifest(RunContext(lesson_dir=lesson_dir), p)
        pod = next(o for o in load_text(text) if o.kind == "Pod")
        c = pod.container()
        argv = list(c.get("command") or []) + list(c.get("args") or [])
    except (MemlabError, StopIteration) as err:
        return [f"the Pod's container command (the manifest does not load: {err})"]
    return [_argv_text(argv) if argv else "memlab's sleeper sample (no command given)"]


def param_value(p: dict[str, Any], path: str) -> Any:
    """p["runs"] for "runs", p["fill"]["bytes"] for "fill.bytes"; None when absent."""
    value: Any = p
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def bounded(action_name: str, p: dict[str, Any], path: str, default: Any) -> Any:
    """A bounded parameter's value (checked again here: a "$ref" is only known now)."""
    value = param_value(p, path)
    if value is None:
        return default
    why = ACTIONS[action_name].bounds[path].problem(value)
    if why:
        raise UsageError(f"{action_name}: {path} {why}")
    return value


_REQ_CACHE: dict[str, str | None] = {}


# k8s_validate's fill: twice what a ConfigMap or Secret may hold (1 MiB, MaxSecretSize in
# kubernetes pkg/apis/core/types.go) is enough to show the API server's refusal.
MAX_FILL = 2 << 20

# Action parameters that name a program to run: a bundled sample or a command on $PATH.
PROGRAM_PARAMS = ("target", "exec")


def program_requirement(name: str) -> str:
    return f"program:{name}"


def _program_missing(name: str) -> str | None:
    """None when `name` can be launched here (a built sample, a path, a command)."""
    try:
        from memlab.samples import resolve_target
    except ImportError as err:
        return f"memlab.samples (not importable: {err})"
    try:
        resolve_target(name)
    except MemlabError as err:
        return f"program {name!r} ({err})"
    return None


def requirement_missing(req: str) -> str | None:
    """None when `module[:attr]` imports (and has attr) -- or, for "program:NAME", when
    that program can be launched -- else why not, in a few words."""
    if req.startswith("program:"):
        return _program_missing(req.split(":", 1)[1])  # not cached: `make samples` fixes it
    if req in _REQ_CACHE:
        return _REQ_CACHE[req]
    module, _, attr = req.partition(":")
    why: str | None = None
    try:
        mod = importlib.import_module(module)
    except ImportError as err:
        why = f"{module} (not importable: {err})"
    else:
        for part in filter(None, attr.split(".")):
            if not hasattr(mod, part):
                why = f"{module}.{attr} (absent)"
                break
            mod = getattr(mod, part)
    _REQ_CACHE[req] = why
    return why


def missing_requirements(reqs: Iterable[str]) -> list[str]:
    return [w for w in (requirement_missing(r) for r in reqs) if w]


def _env_assignments(env: Any) -> list[str]:
    if env is None:
        return []
    if isinstance(env, dict):
        return [f"{k}={v}" for k, v in env.items()]
    return [str(e) for e in env]


def _snapshot_facts(pid: int) -> dict[str, Any]:
    from memlab.collect import snapshot
    from memlab.lessons.measure import snapshot_facts

    return snapshot_facts(snapshot(pid))


# --------------------------------------------------------------------------- processes
@action("launch", optional=("target", "args", "env", "clear", "parent_env", "no_aslr", "hold"),
        requires=("memlab.launch:launch", "memlab.launch:build_env", "memlab.collect:snapshot"),
        starts=_starts_target)
def _launch(ctx: RunContext, p: dict[str, Any], save: str | None) -> ActionResult:
    """Start a sample (or any executable) with exactly the env given, then snapshot it."""
    from memlab.launch import build_env, launch
    from memlab.lessons.measure import report_facts

    clear = bool(p.get("clear", True))
    base = None
    if not clear:  # the child starts from its parent's (memlab's) environment, as fork gives
        base = {**os.environ, **{str(k): str(v) for k, v in p.get("parent_env", {}).items()}}
    env = build_env(_env_assignments(p.get("env")), [], clear, base)
    target = str(p.get("target", "sleeper"))
    proc = launch(target, tuple(str(a) for a in p.get("args", ())), env,
                  no_aslr=bool(p.get("no_aslr", False)), hold=str(p.get("hold", "ready")))
    ctx.exits.enter_context(proc)
    if save:
        old = ctx.processes.get(save)
        if old is not None:
            old.kill()
        ctx.processes[save] = proc
    facts = _snapshot_facts(proc.pid)
    facts["report"] = report_facts(proc.report)
    facts["passed_env"] = [e.decode("utf-8", "backslashreplace") for e in env]
    facts["parent_env_names"] = sorted(base) if base is not None else []
    held = " (held at its first instruction)" if getattr(proc, "held_at_exec", False) else ""
    return ActionResult(facts, f"launched {target} as pid {proc.pid}{held} "
                               f"with {len(env)} environment entries")


@action("command", params=("process", "line"), requires=("memlab.launch:launch",))
def _command(ctx: RunContext, p: dict[str, Any], save: str | None) -> ActionResult:
    """Send one command line to a launched sample (setenv, unsetenv, scrub, copy, ...)."""
    from memlab.lessons.measure import report_facts

    from memlab.secrets import mask_command

    proc = ctx.process(str(p["process"]))
    answer = proc.command(str(p["line"]))
    shown = mask_command(str(p["line"]))  # `setenv DB_PASSWORD x`: the value masked
    if isinstance(answer, dict) and answer.get("error"):
        raise MemlabError(f"the sample refused {shown!r}: {answer['error']}")
    return ActionResult(report_facts(answer), f"sent {shown!r} -> {_short(answer)}")


@action("snapshot", params=("process",), requires=("memlab.collect:snapshot",))
def _snapshot(ctx: RunContext, p: dict[str, Any], save: str | None) -> ActionResult:
    """Read the process again (maps, stat, auxv, environ, the env block, the stack)."""
    proc = ctx.process(str(p["process"]))
    facts = _snapshot_facts(proc.pid)
    return ActionResult(facts, f"snapshot of pid {proc.pid}: {len(facts['regions'])} mappings")


@action("poke", params=("process", "name", "value"), requires=("memlab.collect:snapshot",))
def _poke(ctx: RunContext, p: dict[str, Any], save: str | None) -> ActionResult:
    """Overwrite a variable's value IN the env block from outside (process_vm_writev)."""
    from memlab.lessons.poke import write_memory

    proc = ctx.process(str(p["process"]))
    from memlab.collect import snapshot

    snap = snapshot(proc.pid)
    name, value = str(p["name"]).encode(), str(p["value"]).encode()
    entries = snap.env.entries if snap.env else ()
    for e in entries:
        if e.name_bytes == name and e.address is not None:
            if len(value) != len(e.value_bytes):
                raise UsageError(f"poke: the new value must have the old one's length "
                                 f"({len(e.value_bytes)} bytes), got {len(value)}")
            address = e.address + len(name) + 1
            n = write_memory(proc.pid, address, value)
            return ActionResult({"address": address, "written": n, "uid": os.geteuid()},
                                f"wrote {n} bytes at 0x{address:x} in pid {proc.pid}")
    raise UsageError(f"poke: {p['name']} is not in the env block of pid {proc.pid}")


def _short(answer: Any) -> str:
    text = str(answer)
    return text if len(text) < 100 else text[:97] + "..."


# --------------------------------------------------------------------------- ELF / heap
@action("heap", params=("process",),
        requires=("memlab.collect:snapshot", "memlab.elf:analyse",
                  "memlab.analysis.heap:heap_evidence"))
def _heap(ctx: RunContext, p: dict[str, Any], save: str | None) -> ActionResult:
    """&_end (ELF symbol + load bias), start_brk, brk and the first malloc, side by side."""
    from memlab.collect import snapshot
    from memlab.elf import analyse

    proc = ctx.process(str(p["process"]))
    snap = snapshot(proc.pid)
    view = analyse(snap, report=proc.report)
    h = view.heap
    if h is None:
        raise MemlabError(f"no heap evidence for pid {proc.pid}: {view.reason}")
    report = proc.report or {}
    facts = {
        "end": h.end_symbol, "end_source": h.end_source, "start_brk": h.start_brk,
        "brk": h.brk, "first_alloc": h.first_alloc, "exe_low": h.exe_low,
        "exe_high": h.exe_high, "gap": h.end_to_start_brk, "page_round_up": h.page_round_up,
        "randomisation": h.randomisation, "first_alloc_offset": h.first_alloc_offset,
        "heap_size": h.heap_size, "below_binary": h.heap_below_binary,
        "explanation": h.explanation, "kind": view.info.kind if view.info else None,
        "reported_end": int(report["end"], 16) if report.get("end") else None,
        "regions": [r for r in _region_facts(snap)],
    }
    return ActionResult(facts, h.explanation)


def _region_facts(snap) -> list[dict[str, Any]]:
    from memlab.lessons.measure import region_fact

    return [region_fact(r) for r in snap.regions]


# --------------------------------------------------------------------------- exposure
@action("exposure", optional=("secret", "name"),
        requires=("memlab.exposure.matrix:demo", "memlab.exposure.matrix:demo_victims",
                  "program:sleeper"), starts=_starts_exposure)  # the demo's victims are sleeper samples
def _exposure(ctx: RunContext, p: dict[str, Any], save: str | None) -> ActionResult:
    """The access matrix: a victim with a secret in its env and in a 0400 file, read by
    observers as the same uid, another uid, root, and the same uid vs a non-dumpable
    victim.  Rows memlab cannot run (not root) are Skipped with exposure's reason."""
    from memlab.exposure.matrix import DEMO_NAME, DEMO_SECRET, demo

    secret = str(p["secret"]).encode() if "secret" in p else DEMO_SECRET
    matrix = demo(secret, str(p.get("name", DEMO_NAME)))
    rows: dict[str, Any] = {}
    for row in matrix.rows:
        if row.skipped:
            rows[row.key] = Skipped(row.skipped)
            continue
        rows[row.key] = {"uid": row.uid, **{c.channel: {
            "ok": c.ok, "errno": c.errno_name, "verdict": c.verdict,
            "secret_found": c.secret_found, "masked": c.masked} for c in row.cells}}
    facts = {"victim_uid": matrix.victim.uid, "file": matrix.victim.file,
             "memlab_uid": matrix.memlab_uid, "rows": rows, "notes": list(matrix.notes)}
    ran = [k for k, v in rows.items() if not isinstance(v, Skipped)]
    return ActionResult(facts, f"victim uid {matrix.victim.uid}; observers run: "
                               f"{', '.join(ran)}; skipped: "
                               f"{', '.join(k for k, _ in matrix.skipped) or 'none'}")


@action("search", params=("process", "text"), requires=("memlab.exposure.search:search",))
def _search(ctx: RunContext, p: dict[str, Any], save: str | None) -> ActionResult:
    """Find every copy of a byte string in the process's readable memory."""
    from memlab.exposure.search import search

    proc = ctx.process(str(p["process"]))
    result = search(proc.pid, str(p["text"]).encode())
    kinds = [h.kind for h in result.hits]
    facts = {"count": len(result.hits), "kinds": kinds,
             "regions": [h.region for h in result.hits],
             "addresses": [h.address for h in result.hits]}
    where = ", ".join(f"{h.region} 0x{h.address:x}" for h in result.hits[:4]) or "nowhere"
    return ActionResult(facts, f"found {len(result.hits)} copies: {where}")


# --------------------------------------------------------------------------- Kubernetes
def _manifest(ctx: RunContext, p: dict[str, Any], key: str = "manifest") -> str:
    """Inline YAML (`manifest = '''...'''`) or a file (`file = "x.yaml"`), looked up next
    to the lesson, then in memlab's k8s examples (the article's manifests,
    docs/article.md)."""
    if key in p:
        return str(p[key])
    from memlab.inputfile import MANIFEST, read_input_text

    name = str(p.get("file", ""))
    if not name or os.path.isabs(name) or ".." in Path(name).parts:
        # a lesson reads files next to it, never elsewhere (/etc/shadow, ../..)
        raise UsageError(f"manifest file {name!r}: give a relative path below the lesson's "
                         "directory, without '..'")
    for base in (ctx.lesson_dir, Path(__file__).resolve().parent.parent / "k8s" / "examples"):
        if os.path.lexists(base / name):
            if not (base / name).resolve().is_relative_to(base.resolve()):
                raise UsageError(f"manifest file {name!r} is a symlink out of "
                                 f"{base}: a lesson reads only files below its directory")
            return read_input_text(base / name, MANIFEST)
    raise UsageError(f"no manifest file {name!r} next to the lesson or in memlab's examples")


@action("k8s_validate", optional=("manifest", "file", "fill"),
        requires=("memlab.k8s.manifests:load_text", "memlab.k8s.validation:validate"),
        bounds={"fill.bytes": Bound(0, MAX_FILL)})
def _k8s_validate(ctx: RunContext, p: dict[str, Any], save: str | None) -> ActionResult:
    """Validate manifests as the API server would; measure each object (Secret data
    decoded, as stored) and the errors, in Kubernetes' own words.  `fill = {key, bytes}`
    adds a value of that many bytes to the first object's data (size limits)."""
    import base64

    from memlab.k8s import validation
    from memlab.k8s.manifests import load_text

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
    from memlab.lessons.measure import env_facts
    from memlab.model import EnvEntry

    try:
        environ = env_facts(EnvEntry(e) for e in run.proc_environ())
    except MemlabError as err:
        environ = Skipped(f"/proc/PID/environ not readable: {err}")
    trees = {}
    from memlab.k8s.pod import volume_tree

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
        requires=("memlab.k8s.pod:run", "memlab.k8s.pod:PodRun"), starts=_starts_pod)
def _k8s_run(ctx: RunContext, p: dict[str, Any], save: str | None) -> ActionResult:
    """Run a Pod here as kubelet would: validate, lay out its configMap/secret volumes
    (AtomicWriter), compute its env, execve its process with it.  `objects` are more
    manifests (inline YAML or file names)."""
    from memlab.k8s.pod import run

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


@action("k8s_apply", params=("pod",), optional=("manifest", "file"),
        requires=("memlab.k8s.pod:run",))
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


@action("k8s_state", params=("pod",), requires=("memlab.k8s.pod:run",))
def _k8s_state(ctx: RunContext, p: dict[str, Any], save: str | None) -> ActionResult:
    """Measure a running pod again: env (frozen), /proc/PID/environ, files, ..data."""
    pod = ctx.objects.get(str(p["pod"]))
    if pod is None:
        raise UsageError(f"no pod saved as {p['pod']!r}")
    return ActionResult(_pod_facts(pod), f"pod {pod.name}: pid {pod.pid}")


@action("wait_output", params=("process", "event"), optional=("timeout",),
        requires=("memlab.launch:launch",), bounds={"timeout": Bound(0, 60, integer=False)})
def _wait_output(ctx: RunContext, p: dict[str, Any], save: str | None) -> ActionResult:
    """Read the process's JSON output lines until one has "event" == event (or the
    timeout passes: then `seen` says what came instead); measures that line, `elapsed`
    seconds and `seen` (every event read, and the flags of inotify events)."""
    import json
    import time

    proc = ctx.process(str(p["process"]))
    timeout = float(bounded("wait_output", p, "timeout", 2.0))
    start = time.monotonic()
    seen: list[str] = []
    while (left := timeout - (time.monotonic() - start)) > 0:
        try:
            line = proc.read_stdout_line(timeout=left)
        except LaunchError:  # nothing more within the timeout: that is the measurement
            break
        if line is None:  # EOF: the process exited
            break
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        seen.append(str(obj.get("event")))
        if isinstance(obj.get("mask"), list):  # an inotify event: record its flags too
            seen.extend(str(m) for m in obj["mask"])
        if obj.get("event") == p["event"]:
            return ActionResult({**obj, "found": True, "seen": seen,
                                 "elapsed": round(time.monotonic() - start, 3)},
                                f"{p['event']} after {time.monotonic() - start:.2f} s")
    return ActionResult({"found": False, "seen": seen, "elapsed": timeout},
                        f"no {p['event']!r} within {timeout} s (saw: {', '.join(seen) or 'nothing'})")


# --------------------------------------------------------------------------- ASLR
@action("aslr", optional=("target", "runs", "no_aslr"),
        requires=("memlab.aslr:run_experiment",), bounds={"runs": Bound(1, MAX_RUNS)},
        starts=_starts_target)
def _aslr(ctx: RunContext, p: dict[str, Any], save: str | None) -> ActionResult:
    """Launch the target N times (default 3) and record per column (text, start_brk,
    mmap, stack_top, vdso, env_start) the value of each run and how many bits moved."""
    from memlab.aslr import COLUMNS, run_experiment

    res = run_experiment(str(p.get("target", "sleeper")), bounded("aslr", p, "runs", 3),
                         no_aslr=bool(p.get("no_aslr", False)))
    facts = {
        "kind": res.kind, "runs": len(res.rows), "notes": list(res.notes),
        "values": {key: [r.values.get(key) for r in res.rows] for key, _, _ in COLUMNS},
        "distinct": {k: c.distinct for k, c in res.columns.items()},
        "changed_bits": {k: c.changed_bits for k, c in res.columns.items()},
        "constant": {k: c.constant for k, c in res.columns.items()},
        "brk_minus_end": [r.brk_minus_end for r in res.rows],
        "heap_below_binary": [r.heap_below_binary for r in res.rows],
    }
    moved = ", ".join(f"{k} {c.changed_bits} bits" for k, c in res.columns.items())
    return ActionResult(facts, f"{len(res.rows)} runs of {res.target}: {moved}")


@action("observe", params=("process",), optional=("uid", "channels", "secret"),
        requires=("memlab.exposure.observers:observe", "memlab.exposure.observers:Target"),
        bounds={"uid": Bound(0, 2**32 - 2)})  # (uid_t)-1 means "unchanged" to setresuid

def _observe(ctx: RunContext, p: dict[str, Any], save: str | None) -> ActionResult:
    """One observer process (memlab forks; as `uid` if given, which needs root) tries
    the channels (default environ, maps, mem) on a launched process: per channel
    {ok, errno, verdict, secret_found}.  Without root, another uid is Skipped."""
    from memlab.collect import snapshot
    from memlab.exposure.observers import Identity, Target, can_switch_uid, observe

    proc = ctx.process(str(p["process"]))
    uid = bounded("observe", p, "uid", None)
    if uid is not None and int(uid) != os.geteuid() and not can_switch_uid():
        why = (f"an observer as uid {uid} needs root to switch uid; memlab runs as uid "
               f"{os.geteuid()} and never escalates")
        return ActionResult(Skipped(why), why)
    snap = snapshot(proc.pid)
    secret = p.get("secret")
    target = Target(pid=proc.pid, secrets=(str(secret).encode(),) if secret else (),
                    env_start=snap.stat.env_start, env_end=snap.stat.env_end,
                    regions=snap.regions)
    identity = Identity(int(uid), int(uid)) if uid is not None else Identity()
    channels = tuple(p.get("channels", ("environ", "maps", "mem")))
    result = observe(target, identity, observer=f"uid {uid}" if uid is not None else "memlab",
                     channels=channels)
    if result.error:
        raise MemlabError(f"the observer failed: {result.error}")
    cells = {c.channel: {"ok": c.ok, "errno": c.errno_name, "verdict": c.verdict,
                         "secret_found": c.secret_found} for c in result.cells}
    return ActionResult({"uid": result.uid, **cells},
                        f"observer as uid {result.uid}: " + ", ".join(
                            f"{k} {v['verdict']}" for k, v in cells.items()))
