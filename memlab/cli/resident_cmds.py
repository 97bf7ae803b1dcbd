"""memlab pages: which pages of a process are in RAM, in swap, or never touched
(/proc/PID/pagemap, memlab.procfs.pagemap), drawn one cell per page or per group of
pages; and the text of `memlab inspect --memory` (a pmap -X column set)."""

from __future__ import annotations

import argparse

from memlab.cli._output import add_json_flag, pid_arg, print_json
from memlab.errors import UsageError

SCHEMA_PAGES = "memlab.pages/1"
ROW_CELLS = 64  # cells per picture row
MAX_ROWS = 8  # rows per region: past ROW_CELLS * MAX_ROWS pages, a cell is a group
PFN_HIDDEN = ("frame numbers hidden: the kernel gives them only to CAP_SYS_ADMIN "
              "(fs/proc/task_mmu.c pagemap_open); presence, swap and flags are exact")

PAGES_EPILOG = """\
examples:
  memlab pages 1234                   every region, one picture each
  memlab pages 1234 '[heap]'          one region: by name ([heap], [stack], libc.so.6),
                                      kind (heap, stack, thread-stack) or an address in it
  memlab pages 1234 0x7f12a000-0x7f12f000    exactly these pages
  memlab pages 1234 --json

Cells: █ present in RAM, S swapped out, · never touched (or dropped). Past 512 pages a
cell stands for a group of pages: █ all present, ▓ half or more, ░ some, · none.
malloc reserves address space; the first write to a page commits it (try the sleeper's
`reserve 1000000` then `touch ADDR 10`).  Exit 3 when the process exits mid-read.
"""


def register(sub) -> None:
    p = sub.add_parser("pages", help="which pages are resident, swapped or untouched",
                       epilog=PAGES_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Read /proc/PID/pagemap for a region (or all) and draw "
                       "each page: present, swapped, never touched.")
    p.add_argument("pid", type=pid_arg, metavar="PID")
    p.add_argument("where", nargs="?", metavar="ADDR|START-END|REGION",
                   help="an address (hex) in a region, a hex range, a region name or kind "
                   "(default: every region)")
    add_json_flag(p)
    p.set_defaults(func=cmd_pages)


# --------------------------------------------------------------------------- selection
def _hex(text: str) -> int | None:
    t = text.lower()
    t = t[2:] if t.startswith("0x") else t
    if not t or len(t) > 16 or any(c not in "0123456789abcdef" for c in t):
        return None
    return int(t, 16)


def select(regions, where: str | None) -> list[tuple[object, int, int]]:
    """(region, start, end) to read: every region below the user limit by default, the
    one holding ADDR, the pages of START-END, or the regions named/of that kind."""
    from memlab.kernel.abi import TASK_SIZE_MAX, page_down, page_up

    user = [r for r in regions if r.start < TASK_SIZE_MAX]
    if where is None:
        return [(r, r.start, r.end) for r in user]
    lo, sep, hi = where.partition("-")
    if sep and _hex(lo) is not None and _hex(hi) is not None:
        start, end = page_down(_hex(lo)), page_up(_hex(hi))
        if end <= start:
            raise UsageError(f"empty range {where!r}: END must be above START")
        out = [(r, max(r.start, start), min(r.end, end)) for r in user
               if r.start < end and r.end > start]
        if not out:
            raise UsageError(f"no mapping in {where}")
        return out
    addr = _hex(where) if where[:1] != "[" else None
    if addr is not None:
        for r in user:
            if r.contains(addr):
                return [(r, r.start, r.end)]
        if where.lower().startswith("0x"):
            raise UsageError(f"no mapping holds {where}")
    base = where.rsplit("/", 1)[-1]
    out = [(r, r.start, r.end) for r in user
           if r.kind == where or r.path == where
           or (r.path and r.path.rsplit("/", 1)[-1] == base)]
    if not out:
        raise UsageError(f"no region named {where!r} (an address in hex, START-END, a "
                         "path, [heap], [stack] or a kind such as heap or thread-stack)")
    return out


# --------------------------------------------------------------------------- picture
def cells(runs) -> tuple[str, int]:
    """The picture of runs as a string of cells, and how many pages one cell is."""
    total = sum(r.pages for r in runs)
    per = max(1, -(-total // (ROW_CELLS * MAX_ROWS)))
    if per == 1:
        return "".join(("█" if r.state == "present" else "S" if r.state == "swapped"
                        else "·") * r.pages for r in runs), 1
    out, present, swapped, seen = [], 0, 0, 0
    for r in runs:
        for _ in range(r.pages):
            present += r.state == "present"
            swapped += r.state == "swapped"
            seen += 1
            if seen == per:
                out.append(_group_cell(present, swapped, seen))
                present = swapped = seen = 0
    if seen:
        out.append(_group_cell(present, swapped, seen))
    return "".join(out), per


def _group_cell(present: int, swapped: int, n: int) -> str:
    if present == n:
        return "█"
    if present * 2 >= n:
        return "▓"
    if present:
        return "░"
    return "S" if swapped else "·"


def counts(runs) -> dict[str, int]:
    c = {"pages": 0, "present": 0, "swapped": 0, "untouched": 0, "soft_dirty": 0}
    for r in runs:
        c["pages"] += r.pages
        c[r.state] += r.pages
        c["soft_dirty"] += r.pages if r.soft_dirty else 0
    return c


def run_json(r) -> dict:
    from memlab.model import hexaddr

    d = {"start": hexaddr(r.start), "pages": r.pages, "state": r.state,
         "soft_dirty": r.soft_dirty, "exclusive": r.exclusive, "file": r.file}
    if r.guard:
        d["guard"] = True
    if r.pfns is not None:
        d["pfns"] = list(r.pfns)
    return d


def cmd_pages(args) -> int:
    from memlab.collect import snapshot
    from memlab.model import hexaddr
    from memlab.procfs.pagemap import PagemapReader

    snap = snapshot(args.pid)
    chosen = select(snap.regions, args.where)
    read = []
    with PagemapReader(snap.pid) as reader:
        for region, start, end in chosen:
            read.append((region, start, end, reader.runs(start, end)))
    any_present = any(r.state == "present" for *_, runs in read for r in runs)
    pfns_visible = any(r.pfns for *_, runs in read for r in runs)
    notes = [PFN_HIDDEN] if any_present and not pfns_visible else []
    if args.json:
        print_json({"schema": SCHEMA_PAGES, "pid": snap.pid, "exe": snap.exe,
                    "pfns_visible": pfns_visible if any_present else None,
                    "regions": [{"start": hexaddr(s), "end": hexaddr(e),
                                 "region_start": hexaddr(reg.start), "perms": reg.perms,
                                 "kind": reg.kind, "path": reg.path, **counts(runs),
                                 "runs": [run_json(r) for r in runs]}
                                for reg, s, e, runs in read],
                    "notes": notes, "warnings": list(snap.warnings)})
        return 0
    from memlab.cli._output import console
    from memlab.cli._text import human_size
    from memlab.render.safe import printable

    con = console()
    con.print(printable(f"pid {snap.pid}  {snap.exe or '(exe unknown)'}  "
                        "█ present  S swapped  · untouched"), markup=False,
              highlight=False, soft_wrap=True)
    for reg, s, e, runs in read:
        c = counts(runs)
        picture, per = cells(runs)
        label = reg.label if reg.kind != "thread-stack" else _thread_label(snap, reg)
        con.print(printable(
            f"{s:#x}-{e:#x} {reg.perms} {reg.kind:<12} {human_size(e - s):>6}  "
            f"{c['present']}/{c['pages']} pages present ({human_size(c['present'] << 12)})"
            + (f", {c['swapped']} swapped" if c["swapped"] else "")
            + (f"  one cell = {per} pages" if per > 1 else "") + f"  {label}"),
            markup=False, highlight=False, soft_wrap=True, style="bold")
        for i in range(0, len(picture), ROW_CELLS):
            con.print("  " + picture[i:i + ROW_CELLS], markup=False, highlight=False, soft_wrap=True)
    for note in notes:
        con.print(f"note: {note}", style="yellow", markup=False, highlight=False, soft_wrap=True)
    for w in snap.warnings:
        con.print(printable(f"warning: {w}"), style="yellow", markup=False,
                  highlight=False, soft_wrap=True)
    return 0


def _thread_label(snap, region) -> str:
    tids = [t.tid for t in snap.threads if t.region_start == region.start]
    return f"stack of thread {tids[0]}" if tids else "a thread's stack"


# --------------------------------------------------------------------------- inspect -X
def memory_table(snap):
    """regions with pmap -X's columns (kB, as pmap prints them), then the sum and
    smaps_rollup's totals."""
    from memlab.cli._text import KIND_STYLE, Text, _filled, _table, ptext
    from memlab.model import RegionMemory

    t = _table("memory map with what each region costs (/proc/PID/smaps, kB)")
    heads = ("start", "perms", "size", "rss", "pss", "shr_clean", "shr_dirty",
             "prv_clean", "prv_dirty", "swap", "anon_huge")
    for h in heads:
        t.add_column(h, justify="left" if h == "perms" else "right", no_wrap=True)
    t.add_column("kind", no_wrap=True)
    t.add_column("path", overflow="fold")
    per_region = snap.memory.regions if snap.memory else (None,) * len(snap.regions)
    tids = {th.region_start: th.tid for th in snap.threads}

    def kb(m, field):
        return "-" if m is None else str(getattr(m, field) >> 10)

    fields = RegionMemory._fields
    rows = []
    for r, m in zip(snap.regions, per_region):
        kind = r.kind + (f" {tids[r.start]}" if r.start in tids else "")
        rows.append((f"{r.start:x}", r.perms, str(r.size >> 10),
                     *(kb(m, f) for f in fields), Text(kind, style=KIND_STYLE.get(r.kind, "")),
                     ptext(r.label)))
    if snap.memory is not None:
        total_size = sum(r.size for r in snap.regions) >> 10
        rows.append(("total", "", str(total_size),
                     *(kb(snap.memory.total(), f) for f in fields), "", ""))
        if snap.memory.rollup is not None:
            rows.append(("rollup", "", "", *(kb(snap.memory.rollup, f) for f in fields),
                         "", "/proc/PID/smaps_rollup"))
    return _filled(t, rows)
