"""The ASLR experiment: launch a program N times and see which bases move.

Per run (one fresh execve each): the executable's lowest mapping (text base), start_brk,
the first mapping of the mmap area (ld.so for a dynamic program, the binary itself for a
static-PIE), the top of [stack], [vdso], the env block start and start_brk - &_end.  Per
column, the bits that differed between runs are the entropy actually observed (an under-
estimate for few runs).  With --no-aslr (personality ADDR_NO_RANDOMIZE, like `setarch
-R`) every column is constant.

Where the randomness comes from (x86_64, 6.x): PIE base = ELF_ET_DYN_BASE + random
(fs/binfmt_elf.c, arch/x86/kernel/process.c arch_mmap_rnd: 28 bits of pages); mmap_base
below the randomised stack gap (arch/x86/mm/mmap.c); stack top randomised (fs/exec.c
setup_arg_pages + arch_align_stack); brk via arch_randomize_brk (up to 1 GiB); vdso in
the mmap area.
"""

from __future__ import annotations

import os
import textwrap
from dataclasses import dataclass
from typing import Any, Callable

from memlab.elf.attach import snapshot_with_elf
from memlab.errors import UsageError
from memlab.launch import launch
from memlab.model import Snapshot, hexaddr
from memlab.sizes import human_size
from memlab.samples import list_samples, resolve_target

SCHEMA = "memlab.aslr/1"
# (key, heading, what it is)
COLUMNS = (
    ("text", "text", "lowest mapping of the executable (its load base)"),
    ("start_brk", "start_brk", "where the kernel put the heap (stat field 47)"),
    ("mmap", "mmap", "highest mapping below the stack gap (ld.so / static-PIE binary)"),
    ("stack_top", "stack top", "end of [stack]"),
    ("vdso", "vdso", "start of [vdso]"),
    ("env_start", "env block", "env_start (stat field 50)"),
)


@dataclass(frozen=True)
class AslrRow:
    run: int
    pid: int
    values: dict[str, int | None]
    end_symbol: int | None  # &_end at run time
    heap_below_binary: bool

    @property
    def brk_minus_end(self) -> int | None:
        b, e = self.values.get("start_brk"), self.end_symbol
        return None if b is None or e is None else b - e

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"run": self.run, "pid": self.pid}
        d.update({k: hexaddr(v) for k, v in self.values.items()})
        d["end_symbol"] = hexaddr(self.end_symbol)
        d["start_brk_minus_end"] = self.brk_minus_end
        d["heap_below_binary"] = self.heap_below_binary
        return d


@dataclass(frozen=True)
class ColumnEntropy:
    key: str
    values_seen: int  # how many runs had a value
    distinct: int
    changed_mask: int  # OR of (value XOR first value)

    @property
    def changed_bits(self) -> int:
        return bin(self.changed_mask).count("1")

    @property
    def constant(self) -> bool:
        return self.changed_mask == 0

    @property
    def bit_range(self) -> tuple[int, int] | None:
        if not self.changed_mask:
            return None
        return ((self.changed_mask & -self.changed_mask).bit_length() - 1,
                self.changed_mask.bit_length() - 1)

    def to_dict(self) -> dict[str, Any]:
        r = self.bit_range
        return {"values_seen": self.values_seen, "distinct": self.distinct,
                "constant": self.constant, "changed_mask": hexaddr(self.changed_mask),
                "changed_bits": self.changed_bits,
                "low_bit": r[0] if r else None, "high_bit": r[1] if r else None}


@dataclass(frozen=True)
class AslrResult:
    target: str
    exe: str
    kind: str | None  # pie / no-pie / static / static-pie
    no_aslr: bool
    hold: str
    rows: tuple[AslrRow, ...]
    columns: dict[str, ColumnEntropy]
    notes: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "target": self.target, "exe": self.exe, "kind": self.kind,
                "no_aslr": self.no_aslr, "hold": self.hold, "runs": len(self.rows),
                "rows": [r.to_dict() for r in self.rows],
                "columns": {k: c.to_dict() for k, c in self.columns.items()},
                "brk_minus_end": _entropy([r.brk_minus_end for r in self.rows]).to_dict(),
                "notes": list(self.notes)}


def _entropy(values: list[int | None], key: str = "") -> ColumnEntropy:
    seen = [v for v in values if v is not None]
    mask = 0
    for v in seen[1:]:
        mask |= (v ^ seen[0]) & ((1 << 64) - 1)
    return ColumnEntropy(key, len(seen), len(set(seen)), mask)


def measure(snap: Snapshot) -> tuple[dict[str, int | None], int | None, bool, str | None]:
    """(column values, &_end, heap below binary, ELF kind) of one snapshot."""
    regions = sorted(snap.regions, key=lambda r: r.start)
    exe_regs = [r for r in regions if r.kind in ("text", "rodata", "data", "bss")]
    stack = next((r for r in regions if r.kind == "stack"), None)
    vdso = next((r for r in regions if r.path == "[vdso]"), None)
    mmap = None
    if stack is not None:
        below = [r for r in regions if r.end <= stack.start and r.kind not in
                 ("vdso", "vvar", "heap", "stack") and r.kind not in ("bss",)
                 and not (r.kind in ("text", "rodata", "data") and r.start < 1 << 44)]
        if below:
            top = below[-1]
            # a library (or the static-PIE binary): its lowest line is its base
            mmap = min((r.start for r in below if top.path and not top.is_special
                        and r.path == top.path), default=top.start)
    st = snap.stat
    values = {
        "text": exe_regs[0].start if exe_regs else None,
        "start_brk": None if st.masked else st.start_brk,
        "mmap": mmap,
        "stack_top": stack.end if stack else None,
        "vdso": vdso.start if vdso else None,
        "env_start": None if st.masked else st.env_start,
    }
    elf = snap.elf or None
    heap = elf.heap if elf is not None else None
    kind = elf.info.kind if elf is not None and elf.info is not None else None
    return (values, heap.end_symbol if heap is not None else None,
            heap is not None and heap.heap_below_binary, kind)


def choose_hold(target: str) -> str:
    """Samples speak (hold at "ready": the heap exists); anything else is held at its
    first instruction (it may not even stay alive, like `true`)."""
    exe = os.path.realpath(resolve_target(target))
    samples = {os.path.realpath(s.path) for s in list_samples() if s.built}
    return "ready" if exe in samples else "exec"


# Each run launches the target once; a thousand runs are minutes of work already.
MAX_RUNS = 1000


def run_experiment(target: str, runs: int = 5, *, no_aslr: bool = False,
                   args: tuple[str, ...] = (), env: list[bytes] | None = None,
                   hold: str | None = None,
                   progress: Callable[[int, int], None] | None = None) -> AslrResult:
    if type(runs) is not int or not 1 <= runs <= MAX_RUNS:
        raise UsageError(f"--runs must be a whole number from 1 to {MAX_RUNS}, not {runs!r}")
    hold = hold or choose_hold(target)
    rows = []
    kind = None
    exe = target
    for i in range(runs):
        if progress:
            progress(i + 1, runs)
        with launch(target, args, env, no_aslr=no_aslr, hold=hold) as child:
            exe = child.exe
            snap = snapshot_with_elf(child.pid)
        values, end, below, k = measure(snap)
        kind = kind or k
        rows.append(AslrRow(i + 1, snap.pid, values, end, below))
    columns = {key: _entropy([r.values[key] for r in rows], key) for key, _, _ in COLUMNS}
    return AslrResult(target, exe, kind, no_aslr, hold, tuple(rows), columns,
                      tuple(_notes(rows, columns, kind, no_aslr, hold)))


def _notes(rows, columns, kind, no_aslr, hold) -> list[str]:
    notes = []
    if any(r.heap_below_binary for r in rows):
        notes.append("static-PIE: the heap (start_brk) lies BELOW the binary -- the kernel "
                     "loads a static-PIE in the mmap area and moves its brk to "
                     "ELF_ET_DYN_BASE (fs/binfmt_elf.c); start_brk - _end is negative")
    if kind in ("no-pie", "static"):
        notes.append(f"{kind}: the executable is linked at fixed addresses (ET_EXEC): its "
                     "text never moves, only heap/stack/mmap do")
    if no_aslr:
        moving = [k for k, c in columns.items() if not c.constant]
        notes.append("ADDR_NO_RANDOMIZE: every column constant" if not moving else
                     "ADDR_NO_RANDOMIZE, yet these changed: " + ", ".join(moving))
    elif len(rows) > 1:
        notes.append("observed entropy = bits that differed between runs: a lower bound "
                     "(x86_64: 28 bits of pages for mmap/PIE, 22 for stack pages, brk "
                     "within 1 GiB)")
    if hold == "exec":
        notes.append("held at the first instruction: libraries and [heap] are not there "
                     "yet (start_brk is)")
    return notes


def render_text(res: AslrResult) -> str:
    """Plain text, 80 columns: one row per run (hex without 0x), then per column the
    changed bits, then start_brk - _end per run."""
    lines = [f"ASLR experiment: {len(res.rows)} run(s) of {res.exe}",
             f"{res.kind or 'unknown kind'}, "
             f"{'ASLR off (ADDR_NO_RANDOMIZE)' if res.no_aslr else 'ASLR on'}, "
             f"held at {res.hold}; addresses in hex"]
    head = " #" + "".join(f" {h:<12}" for _, h, _ in COLUMNS)
    lines.append(head.rstrip())
    for r in res.rows:
        cells = "".join(f" {('%x' % r.values[k]) if r.values[k] is not None else '-':<12}"
                        for k, _, _ in COLUMNS)
        lines.append(f"{r.run:>2}{cells}".rstrip())
    lines.append("")
    lines.append("changed bits between runs (observed entropy):")
    for key, heading, _what in COLUMNS:
        c = res.columns[key]
        if c.values_seen == 0:
            desc = "not available"
        elif c.constant:
            desc = "constant"
        else:
            lo, hi = c.bit_range
            desc = f"{c.changed_bits:>2} bits (bits {lo}..{hi}), {c.distinct} distinct"
        lines.append(f"  {heading:<10} {desc}")

    lines.append("")
    lines.append("start_brk - _end per run:")
    for r in res.rows:
        d = r.brk_minus_end
        if d is None:
            txt = "unknown"
        else:
            txt = f"{d:#x} ({'-' if d < 0 else ''}{human_size(abs(d))})"
            if r.heap_below_binary:
                txt += "  heap BELOW the binary"
        lines.append(f"  run {r.run:>2}: {txt}")
    if res.notes:
        lines.append("")
        for n in res.notes:
            lines.extend(textwrap.wrap(f"note: {n}", 79, subsequent_indent="      "))
    return "\n".join(lines) + "\n"
