"""Actions that set the ELF file beside the memory it became: the heap's evidence
(&_end, start_brk, brk, the first malloc) and the ASLR experiment."""

from __future__ import annotations

from typing import Any

from memlab.aslr import COLUMNS, MAX_RUNS, run_experiment
from memlab.collect import snapshot
from memlab.elf import analyse
from memlab.errors import MemlabError
from memlab.lessons.actions.process import starts_target
from memlab.lessons.actions.registry import ActionResult, Bound, RunContext, action, bounded
from memlab.lessons.measure import region_fact


@action("heap", params=("process",))
def _heap(ctx: RunContext, p: dict[str, Any], save: str | None) -> ActionResult:
    """&_end (ELF symbol + load bias), start_brk, brk and the first malloc, side by side."""
    proc = ctx.process(str(p["process"]))
    snap = snapshot(proc.pid)
    emap = analyse(snap, report=proc.report)
    h = emap.heap
    if h is None:
        raise MemlabError(f"no heap evidence for pid {proc.pid}: {emap.reason}")
    report = proc.report or {}
    facts = {
        "end": h.end_symbol, "end_source": h.end_source, "start_brk": h.start_brk,
        "brk": h.brk, "first_alloc": h.first_alloc, "exe_low": h.exe_low,
        "exe_high": h.exe_high, "gap": h.end_to_start_brk, "page_round_up": h.page_round_up,
        "randomisation": h.randomisation, "first_alloc_offset": h.first_alloc_offset,
        "heap_size": h.heap_size, "below_binary": h.heap_below_binary,
        "explanation": h.explanation, "kind": emap.info.kind if emap.info else None,
        "reported_end": int(report["end"], 16) if report.get("end") else None,
        "regions": [r for r in _region_facts(snap)],
        "pid": proc.pid,  # start_brk and brk are /proc/PID/stat fields 47 and 48
    }
    return ActionResult(facts, h.explanation)
def _region_facts(snap) -> list[dict[str, Any]]:
    return [region_fact(r) for r in snap.regions]

@action("aslr", optional=("target", "runs", "no_aslr"), bounds={"runs": Bound(1, MAX_RUNS)},
        starts=starts_target)
def _aslr(ctx: RunContext, p: dict[str, Any], save: str | None) -> ActionResult:
    """Launch the target N times (default 3) and record per column (text, start_brk,
    mmap, stack_top, vdso, env_start) the value of each run and how many bits moved."""
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
