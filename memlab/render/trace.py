"""A traced system call and the change it made, as JSON (schema memlab.trace/1,
docs/json.md#trace) and as text lines (what `memlab trace` prints, and what a
front end can show under a sample command)."""

from __future__ import annotations

from typing import Any

from memlab.model import Region, hexaddr
from memlab.render.json import region as region_json
from memlab.render.layout import human_size
from memlab.render.safe import printable
from memlab.trace.decode import call_text, decoded_args, errno_name, result_value
from memlab.trace.mapdiff import Change
from memlab.trace.session import Traced

SCHEMA = "memlab.trace/1"


def change_json(c: Change) -> dict[str, Any]:
    return {"change": c.kind, "start": hexaddr(c.start), "end": hexaddr(c.end),
            "before": [region_json(r) for r in c.before],
            "after": [region_json(r) for r in c.after]}


def traced_json(t: Traced, pid: int) -> dict[str, Any]:
    c = t.call
    return {"schema": SCHEMA, "type": "call", "pid": pid, "tid": c.tid,
            "syscall": c.name, "nr": c.nr, "args": decoded_args(c),
            "result": result_value(c), "errno": errno_name(c),
            "changes": [change_json(ch) for ch in t.changes],
            "regions": t.regions_after}


def _where(r: Region) -> str:
    name = r.path if r.path is not None else "anon"
    return printable(name + (" (deleted)" if r.deleted else ""))


def _line(r: Region) -> str:
    return f"{r.start:x}-{r.end:x} {r.perms} {_where(r)}"


def change_lines(c: Change) -> list[str]:
    """One or more lines for one change, without indent."""
    if c.kind == "added":
        return [f"+ {_line(r)} ({human_size(r.size)})" for r in c.after]
    if c.kind == "removed":
        return [f"- {_line(r)} ({human_size(r.size)})" for r in c.before]
    if c.kind in ("grown", "shrunk"):
        b, a = c.before[0], c.after[0]
        return [f"~ {c.kind} {_line(a)}: {human_size(b.size)} -> {human_size(a.size)} "
                f"(was {b.start:x}-{b.end:x})"]
    if c.kind == "protection":
        b, a = c.before[0], c.after[0]
        return [f"~ protection {a.start:x}-{a.end:x} {_where(a)}: {b.perms} -> {a.perms}"]
    if c.kind == "replaced" and len(c.before) + len(c.after) > 6:
        return [f"~ replaced {c.start:x}-{c.end:x}: {len(c.before)} regions -> "
                f"{len(c.after)}"]
    was = ", ".join(f"{r.start:x}-{r.end:x} {r.perms}" for r in c.before)
    now = ", ".join(f"{r.start:x}-{r.end:x} {r.perms}" for r in c.after)
    return [f"~ {c.kind} {_where(c.before[0])}: {was} -> {now}"]


def traced_lines(t: Traced, pid: int) -> list[str]:
    """The call as strace writes it (with [tid] for a thread that is not the main
    one), then each change indented."""
    head = call_text(t.call)
    if t.call.tid != pid:
        head = f"[{t.call.tid}] {head}"
    if t.call.name in ("execve", "execveat") and len(t.changes) > 3 \
            and not t.call.is_error:
        return [printable(head), f"    the whole map replaced: {t.regions_after} regions"]
    out = [printable(head)]
    for ch in t.changes:
        out.extend("    " + line for line in change_lines(ch))
    if t.regions_after is None:
        out.append("    (maps not readable around this call: no change shown)")
    elif not t.changes and not t.call.is_error:
        out.append("    (no change to the map)")
    return out
