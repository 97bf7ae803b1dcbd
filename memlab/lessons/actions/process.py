"""Actions on a launched process: launch a sample, send it a command, snapshot it, poke
its env block, wait for a line of its output."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from memlab.collect import snapshot
from memlab.errors import LaunchError, MemlabError, UsageError
from memlab.envbuild import build_env
from memlab.launch import launch
from memlab.lessons.actions.registry import (ActionResult, Bound, RunContext, action, argv_text,
                                             bounded)
from memlab.lessons.measure import report_facts, snapshot_facts
from memlab.lessons.poke import write_memory
from memlab.secrets import mask_command


def starts_target(p: dict[str, Any], lesson_dir: Path) -> list[str]:
    """launch and aslr: TARGET ARGS (a bundled sample name, a path or a $PATH command)."""
    return [argv_text([p.get("target", "sleeper"), *p.get("args", ())])]

def _env_assignments(env: Any) -> list[str]:
    if env is None:
        return []
    if isinstance(env, dict):
        return [f"{k}={v}" for k, v in env.items()]
    return [str(e) for e in env]


def _snapshot_facts(pid: int) -> dict[str, Any]:
    return snapshot_facts(snapshot(pid))


@action("launch", optional=("target", "args", "env", "clear", "parent_env", "no_aslr", "hold"),
        starts=starts_target)
def _launch(ctx: RunContext, p: dict[str, Any], save: str | None) -> ActionResult:
    """Start a sample (or any executable) with exactly the env given, then snapshot it."""
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


@action("command", params=("process", "line"))
def _command(ctx: RunContext, p: dict[str, Any], save: str | None) -> ActionResult:
    """Send one command line to a launched sample (setenv, unsetenv, scrub, copy, ...)."""
    proc = ctx.process(str(p["process"]))
    answer = proc.command(str(p["line"]))
    shown = mask_command(str(p["line"]))  # `setenv DB_PASSWORD x`: the value masked
    if isinstance(answer, dict) and answer.get("error"):
        raise MemlabError(f"the sample refused {shown!r}: {answer['error']}")
    return ActionResult(report_facts(answer), f"sent {shown!r} -> {_short(answer)}")


@action("snapshot", params=("process",))
def _snapshot(ctx: RunContext, p: dict[str, Any], save: str | None) -> ActionResult:
    """Read the process again (maps, stat, auxv, environ, the env block, the stack)."""
    proc = ctx.process(str(p["process"]))
    facts = _snapshot_facts(proc.pid)
    return ActionResult(facts, f"snapshot of pid {proc.pid}: {len(facts['regions'])} mappings")


@action("poke", params=("process", "name", "value"))
def _poke(ctx: RunContext, p: dict[str, Any], save: str | None) -> ActionResult:
    """Overwrite a variable's value IN the env block from outside (process_vm_writev)."""
    proc = ctx.process(str(p["process"]))
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

@action("wait_output", params=("process", "event"), optional=("timeout",),
        bounds={"timeout": Bound(0, 60, integer=False)})
def _wait_output(ctx: RunContext, p: dict[str, Any], save: str | None) -> ActionResult:
    """Read the process's JSON output lines until one has "event" == event (or the
    timeout passes: then `seen` says what came instead); measures that line, `elapsed`
    seconds and `seen` (every event read, and the flags of inotify events)."""
    proc = ctx.process(str(p["process"]))
    timeout = float(bounded("wait_output", p, "timeout", 2.0))
    start = time.monotonic()
    seen: list[str] = []
    lines: list[str] = []  # the lines as the process printed them (the inotify events)
    exited = False
    while (left := timeout - (time.monotonic() - start)) > 0:
        try:
            line = proc.read_stdout_line(timeout=left)
        except LaunchError:  # nothing more within the timeout: that is the measurement
            break
        if line is None:  # EOF: the process exited
            exited = True
            break
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        lines.append(line)
        seen.append(str(obj.get("event")))
        if isinstance(obj.get("mask"), list):  # an inotify event: record its flags too
            seen.extend(str(m) for m in obj["mask"])
        if obj.get("event") == p["event"]:
            return ActionResult({**obj, "found": True, "seen": seen, "lines": lines,
                                 "alive": proc.alive,
                                 "elapsed": round(time.monotonic() - start, 3)},
                                f"{p['event']} after {time.monotonic() - start:.2f} s")
    return ActionResult({"found": False, "seen": seen, "lines": lines,
                         "alive": not exited and proc.alive, "elapsed": timeout},
                        f"no {p['event']!r} within {timeout} s "
                        f"(saw: {', '.join(seen) or 'nothing'})")
