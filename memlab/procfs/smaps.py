"""/proc/PID/smaps and /proc/PID/smaps_rollup: what each mapping costs in memory.

smaps repeats every maps line (the header) followed by "Name:   N kB" lines
(fs/proc/task_mmu.c show_smap -> __show_smap; Documentation/filesystems/proc.rst
"/proc/<pid>/smaps"):

    7f1c2a000000-7f1c2a021000 rw-p 00000000 00:00 0
    Size:                132 kB
    Rss:                   8 kB
    Pss:                   8 kB
    ...
    VmFlags: rd wr mr mw me ac sd

smaps_rollup is the same with ONE header ("[rollup]") and the sums over all mappings
(show_smaps_rollup); its Pss is summed before it is rounded to kB, so it may exceed the
sum of the per-mapping Pss lines by up to 1 kB per mapping.

memlab keeps the fields in memlab.kernel.abi.SMAPS_FIELDS, in bytes.  Lines it does not
know (Pss_Dirty, KSM, THPeligible, VmFlags, fields of later kernels) are skipped.

Speed: one regular expression matches each mapping's header and its eight fields in one
go (the kernel's own text is regular), checked against the count of "Rss:" lines, with
a line-by-line scan as the fallback; a 60,000-mapping process gives 43 MB of smaps,
read by the kernel in 0.19 s and parsed here in about 0.2 s (0.45 s by the scan), while
`pmap -X` takes 0.8 s for the same process (tests/bench/bench_procfs.py,
docs/benchmarks.md).  Reading smaps makes the kernel walk every page table entry, so
collect.snapshot reads it only when asked (memory=True).
"""

from __future__ import annotations

import functools
import re

from memlab.errors import ParseError
from memlab.kernel.abi import SMAPS_FIELDS
from memlab.model import RegionMemory
from memlab.procfs._io import read_proc_file

_NAMES = b"|".join(SMAPS_FIELDS)
_SCAN = (
    rb"^(?:([0-9a-f]{1,16})-([0-9a-f]{1,16}) "  # a header: start-end of a mapping
    rb"|(" + _NAMES + rb"): +([0-9]{1,20}) kB$)"  # or one field we keep
)
_INDEX = {name: RegionMemory._fields.index(key) for name, key in SMAPS_FIELDS.items()}
# The fast path: one match per mapping, its fields in the order __show_smap prints them
# (RegionMemory's order but AnonHugePages before Swap), skipping the field lines between
# (they start with a capital; a header with a hex digit, so no match runs into the next
# mapping).  Used when every header line has its match; otherwise (another kernel's
# order, a field missing) the line-by-line scan above decides.
_LINE_HEX = b"\n[0-9a-f]"
_HEX = b"0123456789abcdef"
_ORDER = (b"Rss", b"Pss", b"Shared_Clean", b"Shared_Dirty", b"Private_Clean",
          b"Private_Dirty", b"AnonHugePages", b"Swap")
_BLOCK = (
    rb"^([0-9a-f]{1,16})-([0-9a-f]{1,16}) [^\n]*\n"
    + b"".join(rb"(?:[A-Z][^\n]*\n)*?" + name + rb": +([0-9]{1,20}) kB\n" for name in _ORDER)
)


@functools.cache
def _compiled() -> tuple[re.Pattern, re.Pattern]:
    """The two patterns, compiled on first use: compiling them costs 1.4 ms, which every
    `memlab inspect` would pay at import although only -X reads smaps."""
    return re.compile(_SCAN, re.M), re.compile(_BLOCK, re.M)


def parse_smaps(data: bytes) -> list[tuple[int, int, RegionMemory]]:
    """(start, end, RegionMemory) for each mapping of /proc/PID/smaps, in order.

    Empty input (a kernel thread) -> [].  A field line before the first header, or a
    header whose end is below its start, raises ParseError."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ParseError(f"smaps data must be bytes, not {type(data).__name__}")
    data = bytes(data)
    fast = _parse_blocks(data)
    if fast is not None:
        return fast
    out: list[tuple[int, int, RegionMemory]] = []
    values: list[int] | None = None
    start = end = 0
    index = _INDEX
    for s, e, name, kb in _compiled()[0].findall(data):
        if s:
            if values is not None:
                out.append((start, end, RegionMemory(*values)))
            start, end = int(s, 16), int(e, 16)
            if end < start:
                raise ParseError(f"smaps header 0x{start:x}-0x{end:x}: end below start")
            values = [0] * 8
        elif values is None:
            raise ParseError(f"smaps field {name.decode()} before any mapping header")
        else:
            values[index[name]] = int(kb) << 10
    if values is not None:
        out.append((start, end, RegionMemory(*values)))
    return out


def _parse_blocks(data: bytes) -> list[tuple[int, int, RegionMemory]] | None:
    """parse_smaps's fast path (see _BLOCK), or None to let the scan decide."""
    rows = _compiled()[1].findall(data)
    # every line that starts with a hex digit (a header) matched: no mapping left out
    if not rows or len(rows) != len(re.findall(_LINE_HEX, data)) + (data[:1] in _HEX):
        return None
    out = []
    for s, e, rss, pss, sc, sd, pc, pd, huge, swap in rows:
        start, end = int(s, 16), int(e, 16)
        if end < start:
            return None
        out.append((start, end, RegionMemory(int(rss) << 10, int(pss) << 10, int(sc) << 10,
                                             int(sd) << 10, int(pc) << 10, int(pd) << 10,
                                             int(swap) << 10, int(huge) << 10)))
    return out


def parse_smaps_rollup(data: bytes) -> RegionMemory:
    """The totals of /proc/PID/smaps_rollup (ParseError when it holds no block)."""
    blocks = parse_smaps(data)
    if len(blocks) != 1:
        raise ParseError(f"smaps_rollup holds {len(blocks)} blocks, expected 1")
    return blocks[0][2]


def read_smaps(pid: int, tid: int | None = None) -> list[tuple[int, int, RegionMemory]]:
    """Parsed /proc/PID/smaps (AccessDenied, NoSuchProcess, ZombieProcess)."""
    return parse_smaps(read_proc_file(pid, "smaps", tid=tid))


def read_smaps_rollup(pid: int, tid: int | None = None) -> RegionMemory | None:
    """Parsed /proc/PID/smaps_rollup; None for a process without memory (empty)."""
    data = read_proc_file(pid, "smaps_rollup", tid=tid)
    return parse_smaps_rollup(data) if data else None
