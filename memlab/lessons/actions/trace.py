"""The syscall tracer as a lesson action: what a sample command asks of the kernel.

`trace` attaches to a launched sample (memlab.trace.session.trace_while: the same rights
as gdb, which memlab has over its own child), sends it one command line (`malloc N`,
`reserve N`) and measures the brk/mmap calls it made meanwhile, each as strace writes it
and with the change it made to /proc/PID/maps, plus VmSize and VmRSS from
/proc/PID/status before and after (fs/proc/task_mmu.c task_mem).

`fill_top` first uses up the free top of malloc's heap (glibc malloc/malloc.c: the
"top chunk" start-up already got from brk, 132 KiB by default), so that the next small
malloc must ask the kernel for more (sysmalloc -> brk) instead of carving the top.
"""

from __future__ import annotations

from typing import Any

from memlab.errors import MemlabError
from memlab.lessons.actions.registry import ActionResult, RunContext, action
from memlab.lessons.measure import report_facts
from memlab.procfs.status import read_status
from memlab.render.trace import change_lines
from memlab.trace.decode import call_text, result_value
from memlab.trace.session import trace_while

HEADER = 16  # glibc malloc's chunk header before the pointer it returns (x86_64)
TOP_KEEP = 48  # what fill_top leaves of the top chunk: less than malloc(100)'s 112 bytes


def _chunk(n: int) -> int:
    """glibc's chunk size for a request of n bytes (malloc/malloc.c request2size)."""
    return max(32, (n + 8 + 15) & ~15)


def _kib(status: dict[str, str], key: str) -> int:
    """A "VmRSS:	  1234 kB" value in bytes."""
    return int(status.get(key, "0 kB").split()[0]) * 1024


def _status_line(status: dict[str, str], key: str) -> str:
    """"VmRSS:\t    1744 kB": the number 8 wide, as fs/proc/task_mmu.c task_mem prints it
    (seq_put_decimal_ull_width(m, " kB", ..., 8) after the tab)."""
    num, _, unit = status.get(key, "0 kB").strip().partition(" ")
    return f"{key}:\t{num:>8} {unit or 'kB'}"


def fill_top(proc: Any) -> int:
    """malloc from the sample's heap until the top chunk has TOP_KEEP bytes left; each
    block must come from the top (where the top began), else the arithmetic is wrong and
    the action fails.  Returns the bytes left in the top."""
    first = proc.command("malloc 1000")
    top = int(first["address"], 16) - HEADER + _chunk(1000)
    brk = int(first["sbrk"], 16)
    while brk - top >= 144:  # 112 (malloc 100's chunk) + MINSIZE 32
        size = min(brk - top - TOP_KEEP, 65536)
        got = proc.command(f"malloc {size - 8}")
        if int(got["address"], 16) != top + HEADER or int(got["sbrk"], 16) != brk:
            raise MemlabError(f"fill_top: malloc did not carve the top as glibc does "
                              f"({got}, top 0x{top:x})")
        top += size
    return brk - top


@action("trace", params=("process", "line"), optional=("calls", "fill_top"))
def _trace(ctx: RunContext, p: dict[str, Any], save: str | None) -> ActionResult:
    """Trace the brk/mmap calls a launched sample makes while it runs one command line:
    `calls` [{name, line (strace's shape), result, length, changes}], `count`, `names`,
    per call name its count, `brk_result`, `mmap_result`, `mmap_length`, `mapping_start`,
    the sample's `reply`, and VmSize/VmRSS growth (`vm_growth`, `rss_growth`)."""
    proc = ctx.process(str(p["process"]))
    names = tuple(str(c) for c in p.get("calls", ("brk", "mmap")))
    top_left = fill_top(proc) if p.get("fill_top") else None
    before = read_status(proc.pid)
    line = str(p["line"])
    reply, traced = trace_while(proc.pid, lambda: proc.command(line), names)
    after = read_status(proc.pid)
    if isinstance(reply, dict) and reply.get("error"):
        raise MemlabError(f"the sample refused {line!r}: {reply['error']}")
    calls = []
    for t in traced:
        c = t.call
        region = next((r for ch in t.changes for r in ch.after
                       if r.start <= c.rval < r.end), None)
        calls.append({"name": c.name, "line": call_text(c), "result": result_value(c),
                      "rval": c.rval, "length": c.args[1] if c.name == "mmap" else None,
                      "changes": [x for ch in t.changes for x in change_lines(ch)],
                      "mapping_start": region.start if region else None})
    brks = [c for c in calls if c["name"] == "brk"]
    mmaps = [c for c in calls if c["name"] == "mmap"]
    facts: dict[str, Any] = {
        "reply": report_facts(reply), "calls": calls, "count": len(calls),
        "names": [c["name"] for c in calls], "lines": [c["line"] for c in calls],
        **{n: sum(1 for c in calls if c["name"] == n) for n in names},
        "brk_result": brks[-1]["rval"] if brks else None,
        "mmap_result": mmaps[-1]["rval"] if mmaps else None,
        "mmap_length": mmaps[-1]["length"] if mmaps else None,
        "mapping_start": mmaps[-1]["mapping_start"] if mmaps else None,
        "top_left": top_left,
        "vm_before": _kib(before, "VmSize"), "vm_after": _kib(after, "VmSize"),
        "rss_before": _kib(before, "VmRSS"), "rss_after": _kib(after, "VmRSS"),
        # the /proc/PID/status lines as the kernel printed them (fs/proc/task_mmu.c
        # task_mem), shown beside a verdict on the growth
        "status_lines": {when: {k: _status_line(s, k) for k in ("VmSize", "VmRSS")}
                         for when, s in (("before", before), ("after", after))},
        "pid": proc.pid,
    }
    facts["vm_growth"] = facts["vm_after"] - facts["vm_before"]
    facts["rss_growth"] = facts["rss_after"] - facts["rss_before"]
    shown = "; ".join(c["line"] for c in calls) or "no brk or mmap call"
    filled = f" (malloc's free top used up first: {top_left} bytes left)" if top_left else ""
    return ActionResult(facts, f"traced {line!r} in pid {proc.pid}{filled}: {shown}")
