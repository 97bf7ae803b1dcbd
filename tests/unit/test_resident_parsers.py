"""smaps, smaps_rollup, pagemap and task syscall parsers on captured bytes
(tests/data/README.md, "Resident memory"), and fuzzed with hypothesis."""

from __future__ import annotations

import json
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memlab.analysis.threads import THREAD_STACK, label_thread_stacks
from memlab.errors import ParseError
from memlab.kernel.abi import PAGE_SIZE, PM_PFN_MASK, PM_PRESENT, PM_SOFT_DIRTY, PM_SWAP
from memlab.model import MemoryUsage, Region, RegionMemory
from memlab.procfs.maps import parse_maps
from memlab.procfs.pagemap import parse_pagemap
from memlab.procfs.smaps import parse_smaps, parse_smaps_rollup
from memlab.procfs.stat import num_threads
from memlab.procfs.tasks import parse_task_syscall, stat_kstkesp
from tests.helpers import REPO

DATA = REPO / "tests" / "data"
SMAPS = (DATA / "smaps_sleeper.txt").read_bytes()
ROLLUP = (DATA / "smaps_rollup_sleeper.txt").read_bytes()
PAGEMAP = (DATA / "pagemap_touch7of99.bin").read_bytes()
PAGEMAP_AT = json.loads((DATA / "pagemap_touch7of99.json").read_bytes())
FUZZ = settings(max_examples=300, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])


def kb_field(block: bytes, name: bytes) -> int:
    for line in block.splitlines():
        if line.startswith(name + b":"):
            return int(line.split()[1]) * 1024
    raise AssertionError(name)


# --------------------------------------------------------------------------- smaps
def test_smaps_one_block_per_maps_line_in_order():
    blocks = parse_smaps(SMAPS)
    headers = b"\n".join(line for line in SMAPS.splitlines()
                         if line[:1] in b"0123456789abcdef" and b"-" in line[:33])
    regions = parse_maps(headers + b"\n")
    assert [(s, e) for s, e, _ in blocks] == [(r.start, r.end) for r in regions]
    assert len(blocks) > 20


def test_smaps_values_are_the_kb_lines_in_bytes():
    blocks = parse_smaps(SMAPS)
    texts = SMAPS.split(b"\nSize:")  # text of block i+1 starts after its header
    start, end, mem = blocks[0]
    first = texts[1]
    assert mem.rss == kb_field(first, b"Rss")
    assert mem.pss == kb_field(first, b"Pss")
    assert mem.private_clean == kb_field(first, b"Private_Clean")
    # the heap: private dirty, as much resident as dirty
    heap = SMAPS.index(b"[heap]")
    heap_start = int(SMAPS[SMAPS.rindex(b"\n", 0, heap) + 1:].split(b"-")[0], 16)
    mem = next(m for s, _, m in blocks if s == heap_start)
    assert mem.rss == mem.private_dirty > 0 and mem.swap == 0


def test_smaps_totals_equal_rollup_except_pss_rounding():
    blocks = parse_smaps(SMAPS)
    total = MemoryUsage(tuple(m for _, _, m in blocks)).total()
    rollup = parse_smaps_rollup(ROLLUP)
    assert rollup.rss == kb_field(ROLLUP, b"Rss") == total.rss
    for field in ("shared_clean", "shared_dirty", "private_clean", "private_dirty",
                  "swap", "anon_huge"):
        assert getattr(rollup, field) == getattr(total, field), field
    # show_smaps_rollup sums Pss before rounding to kB: at most 1 kB per mapping apart
    assert 0 <= rollup.pss - total.pss < 1024 * len(blocks)


def test_smaps_bad_input():
    assert parse_smaps(b"") == []
    with pytest.raises(ParseError, match="before any mapping"):
        parse_smaps(b"Rss:   4 kB\n")
    with pytest.raises(ParseError, match="end below start"):
        parse_smaps(b"2000-1000 rw-p 00000000 00:00 0\nRss:  4 kB\n")
    with pytest.raises(ParseError, match="expected 1"):
        parse_smaps_rollup(SMAPS)
    with pytest.raises(ParseError):
        parse_smaps("text")  # type: ignore[arg-type]
    # unknown fields (a later kernel's) are skipped
    [(_, _, mem)] = parse_smaps(b"1000-2000 rw-p 00000000 00:00 0\nNewThing:  9 kB\n"
                                b"Rss:  4 kB\nVmFlags: rd wr\n")
    assert mem == RegionMemory(rss=4096)


@FUZZ
@given(st.binary(max_size=800))
def test_smaps_random_bytes_only_parse_error(data):
    for parser in (parse_smaps, parse_smaps_rollup):
        try:
            parser(data)
        except ParseError:
            pass


@FUZZ
@given(st.data())
def test_smaps_mutated_capture_only_parse_error(data):
    buf = bytearray(SMAPS[:3000])
    for _ in range(data.draw(st.integers(1, 8))):
        i = data.draw(st.integers(0, len(buf) - 1))
        buf[i] = data.draw(st.integers(0, 255))
    try:
        blocks = parse_smaps(bytes(buf))
    except ParseError:
        return
    assert all(s <= e and all(v >= 0 for v in m) for s, e, m in blocks)


# --------------------------------------------------------------------------- pagemap
def test_pagemap_touch_7_of_99():
    start = int(PAGEMAP_AT["start"], 16)
    runs = parse_pagemap(PAGEMAP, start)
    assert [(r.state, r.pages) for r in runs] == [("present", 7), ("untouched", 92)]
    assert runs[0].start == start and runs[1].start == start + 7 * PAGE_SIZE
    assert runs[0].exclusive and not runs[0].file
    assert runs[0].pfns is not None and len(runs[0].pfns) == 7  # captured by root
    assert runs[1].pfns is None and runs[1].end == start + 99 * PAGE_SIZE


def test_pagemap_without_frame_numbers():
    # what an unprivileged reader gets (pagemap_open: no CAP_SYS_ADMIN -> PFN bits 0)
    entries = struct.unpack(f"<{len(PAGEMAP) // 8}Q", PAGEMAP)
    hidden = struct.pack(f"<{len(entries)}Q", *(e & ~PM_PFN_MASK for e in entries))
    runs = parse_pagemap(hidden, int(PAGEMAP_AT["start"], 16))
    assert [(r.state, r.pages, r.pfns) for r in runs] == [("present", 7, None),
                                                          ("untouched", 92, None)]


def test_pagemap_states_and_flags():
    entries = [PM_PRESENT | 5, PM_PRESENT | PM_SOFT_DIRTY | 6, PM_SWAP | 0x21, 0, 0]
    runs = parse_pagemap(struct.pack("<5Q", *entries), 0x1000)
    assert [(r.state, r.pages, r.soft_dirty) for r in runs] == [
        ("present", 1, False), ("present", 1, True), ("swapped", 1, False),
        ("untouched", 2, False)]
    assert runs[0].pfns == (5,) and runs[2].pfns is None  # a swap entry is no frame


def test_pagemap_bad_input():
    assert parse_pagemap(b"", 0) == []
    with pytest.raises(ParseError, match="whole number"):
        parse_pagemap(b"\0" * 7, 0)
    with pytest.raises(ParseError, match="aligned"):
        parse_pagemap(b"\0" * 8, 0x1001)


@FUZZ
@given(st.binary(max_size=400), st.integers(0, 1 << 40))
def test_pagemap_random_bytes(data, page):
    try:
        runs = parse_pagemap(data, page * PAGE_SIZE)
    except ParseError:
        assert len(data) % 8
        return
    assert sum(r.pages for r in runs) == len(data) // 8


# --------------------------------------------------------------------------- threads
def test_task_syscall_blocked_gives_sp():
    raw = (DATA / "task_syscall_blocked.txt").read_bytes()
    assert parse_task_syscall(raw) == int(raw.split()[-2], 16)
    assert parse_task_syscall(b"running\n") is None
    assert parse_task_syscall(b"-1 0x7ffd1000 0x401000\n") == 0x7FFD1000


@FUZZ
@given(st.binary(max_size=200))
def test_task_syscall_only_parse_error(data):
    try:
        parse_task_syscall(data)
    except ParseError:
        pass


def test_stat_num_threads_and_kstkesp():
    leader = (DATA / "stat_leader_exited.txt").read_bytes()
    assert num_threads(leader) == 2  # tests/data/README.md
    assert num_threads((DATA / "stat_python3.txt").read_bytes()) == 1
    assert num_threads(b"garbage") == 1
    assert stat_kstkesp((DATA / "stat_python3.txt").read_bytes()) == 0


def test_label_thread_stacks():
    regions = [Region(0x1000, 0x2000, "---p", 0, "00:00", 0, None),
               Region(0x2000, 0x9000, "rw-p", 0, "00:00", 0, None),
               Region(0xA000, 0xB000, "rw-p", 0, "00:00", 0, "[stack]", kind="stack")]
    out, threads = label_thread_stacks(regions, [(7, 0x8F00, "syscall"),
                                                 (8, None, ""), (9, 0xA100, "syscall")])
    assert [r.kind for r in out] == ["anon", THREAD_STACK, "stack"]
    assert threads[0].region_start == 0x2000 and threads[0].guard
    assert threads[1].region_start is None
    assert threads[2].region_start == 0xA000  # on [stack]: the region keeps its kind


def _scan_only(data: bytes):
    """parse_smaps with its fast path switched off (the line-by-line reference)."""
    from memlab.procfs import smaps

    fast, smaps._parse_blocks = smaps._parse_blocks, lambda _data: None
    try:
        return smaps.parse_smaps(data)
    finally:
        smaps._parse_blocks = fast


def test_smaps_fast_path_equals_the_scan():
    from memlab.procfs.smaps import _parse_blocks

    assert _parse_blocks(SMAPS) is not None  # the capture takes the fast path
    assert _parse_blocks(SMAPS) == _scan_only(SMAPS)
    # Swap printed before AnonHugePages (not this kernel's order): the scan decides
    swapped = (b"1000-2000 rw-p 00000000 00:00 0\nRss:  8 kB\nPss:  8 kB\n"
               b"Shared_Clean:  0 kB\nShared_Dirty:  0 kB\nPrivate_Clean:  0 kB\n"
               b"Private_Dirty:  8 kB\nSwap:  4 kB\nAnonHugePages:  0 kB\n")
    assert _parse_blocks(swapped) is None
    [(_, _, mem)] = parse_smaps(swapped)
    assert (mem.rss, mem.private_dirty, mem.swap) == (8192, 8192, 4096)


@FUZZ
@given(st.data())
def test_smaps_fast_path_never_disagrees(data):
    from memlab.procfs.smaps import _parse_blocks

    buf = bytearray(SMAPS[:4000])
    for _ in range(data.draw(st.integers(1, 6))):
        i = data.draw(st.integers(0, len(buf) - 1))
        buf[i] = data.draw(st.sampled_from(b"\n0123456789abcdef -:kBRss"))
    fast = _parse_blocks(bytes(buf))
    if fast is None:
        return
    try:
        scan = _scan_only(bytes(buf))
    except ParseError:
        return  # the scan refuses what the fast path read: no worse than garbage in
    # every complete mapping agrees; the scan also lists a trailing header cut short
    # (no fields: all zero), which the kernel never prints
    assert fast == scan[:len(fast)]
    assert all(m == RegionMemory() for _, _, m in scan[len(fast):])
