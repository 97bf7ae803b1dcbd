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

from memlab.errors import MemlabError, UsageError


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
class ActionSpec:
    name: str
    fn: Callable[[RunContext, dict[str, Any], str | None], ActionResult]
    params: tuple[str, ...]
    optional: tuple[str, ...]
    requires: tuple[str, ...]
    doc: str

    @property
    def all_params(self) -> tuple[str, ...]:
        return self.params + self.optional


ACTIONS: dict[str, ActionSpec] = {}


def action(name: str, params: Iterable[str] = (), optional: Iterable[str] = (),
           requires: Iterable[str] = ()):
    def register(fn):
        doc = (fn.__doc__ or "").strip().splitlines()[0] if fn.__doc__ else ""
        ACTIONS[name] = ActionSpec(name, fn, tuple(params), tuple(optional), tuple(requires),
                                   doc)
        return fn
    return register


_REQ_CACHE: dict[str, str | None] = {}


def requirement_missing(req: str) -> str | None:
    """None when `module[:attr]` imports (and has attr), else why not, in a few words."""
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
        requires=("memlab.launch:launch", "memlab.launch:build_env", "memlab.collect:snapshot"))
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

    proc = ctx.process(str(p["process"]))
    answer = proc.command(str(p["line"]))
    if isinstance(answer, dict) and answer.get("error"):
        raise MemlabError(f"the sample refused {p['line']!r}: {answer['error']}")
    return ActionResult(report_facts(answer), f"sent {p['line']!r} -> {_short(answer)}")


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
