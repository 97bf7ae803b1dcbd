"""mapdiff on maps captured around real system calls of the sleeper (tests/data/trace,
tests/data/README.md says how), on lines built in the kernel's format for the shapes
the sleeper's start-up does not make, and fuzzed."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from memlab.model import Region
from memlab.procfs.maps import parse_maps
from memlab.trace.mapdiff import diff

DATA = Path(__file__).resolve().parent.parent / "data" / "trace"


def captured(name: str) -> tuple[list[Region], list[Region]]:
    return (parse_maps((DATA / f"{name}_before.txt").read_bytes()),
            parse_maps((DATA / f"{name}_after.txt").read_bytes()))


@pytest.mark.parametrize(("name", "kinds"), [
    ("mmap_added", ["added"]),  # ld.so's first anonymous page, in a hole
    ("mmap_split", ["split"]),  # libc's text MAP_FIXED over its reserved r--p span
    ("mmap_same", []),  # MAP_FIXED of the same file, offset and perms: no new line
    ("mmap_replaced", ["replaced"]),  # libc's bss: anon over the file's last pages
    ("mprotect_split", ["split"]),  # RELRO: the first pages of rw-p become r--p
    ("munmap_removed", ["removed"]),  # ld.so.cache unmapped
    ("brk_heap_added", ["added"]),  # the first brk: [heap] appears
    ("mmap_grown", ["grown"]),  # malloc(100 MB): merged into the anon region above
])
def test_captured_calls(name, kinds):
    before, after = captured(name)
    changes = diff(before, after)
    assert [c.kind for c in changes] == kinds


def test_captured_details():
    before, after = captured("mmap_grown")
    (c,) = diff(before, after)
    assert c.before[0].end == c.after[0].end and c.after[0].start < c.before[0].start
    assert c.after[0].size - c.before[0].size == 100003840  # malloc's mmap length
    before, after = captured("brk_heap_added")
    (c,) = diff(before, after)
    assert c.after[0].path == "[heap]" and not c.before
    before, after = captured("mprotect_split")
    (c,) = diff(before, after)
    assert len(c.before) == 1 and [r.perms for r in c.after] == ["r--p", "rw-p"]


def line(start: int, end: int, perms: str = "rw-p", path: str = "",
         offset: int = 0) -> bytes:
    # fs/proc/task_mmu.c show_map_vma: "%08lx-%08lx %c%c%c%c %08llx %02x:%02x %lu " + path
    dev, inode = ("fd:01", 42) if path and not path.startswith("[") else ("00:00", 0)
    return (f"{start:08x}-{end:08x} {perms} {offset:08x} {dev} {inode} ".ljust(73)
            + path + "\n").encode()


def maps(*lines: bytes) -> list[Region]:
    return parse_maps(b"".join(lines))


def test_built_shapes():
    heap = 0x555555559000
    # brk down: [heap] shrinks at its end
    (c,) = diff(maps(line(heap, heap + 0x42000, path="[heap]")),
                maps(line(heap, heap + 0x21000, path="[heap]")))
    assert c.kind == "shrunk"
    # brk up: grows
    (c,) = diff(maps(line(heap, heap + 0x21000, path="[heap]")),
                maps(line(heap, heap + 0x42000, path="[heap]")))
    assert c.kind == "grown"
    # mprotect of a whole region
    (c,) = diff(maps(line(0x7000, 0x9000, "rw-p")), maps(line(0x7000, 0x9000, "r--p")))
    assert c.kind == "protection"
    # mprotect making two neighbours alike: the kernel merges them
    (c,) = diff(maps(line(0x7000, 0x8000, "r--p"), line(0x8000, 0x9000, "rw-p")),
                maps(line(0x7000, 0x9000, "r--p")))
    assert c.kind == "merged"
    # munmap of the middle: split into two, with a hole
    (c,) = diff(maps(line(0x7000, 0xa000)), maps(line(0x7000, 0x8000),
                                                 line(0x9000, 0xa000)))
    assert c.kind == "split"
    # two separate changes in one diff, in address order
    changes = diff(maps(line(0x1000, 0x2000), line(0x7000, 0x8000, "r--p")),
                   maps(line(0x7000, 0x8000, "rw-p"), line(0x9000, 0xa000)))
    assert [c.kind for c in changes] == ["removed", "protection", "added"]


_region = st.builds(
    lambda start, pages, perms, anon: (start * 0x1000, (start + pages) * 0x1000, perms,
                                       anon),
    st.integers(0, 64), st.integers(1, 8), st.sampled_from(["r--p", "rw-p", "r-xp"]),
    st.booleans())


def _layout(items) -> list[Region]:
    """Non-overlapping lines from drawn ones (a later overlapping one is dropped)."""
    out: list[tuple] = []
    for start, end, perms, anon in sorted(items):
        if out and start < out[-1][1]:
            continue
        out.append((start, end, perms, anon))
    return maps(*(line(s, e, p, "" if a else "/lib/x.so") for s, e, p, a in out))


@given(st.lists(_region, max_size=12), st.lists(_region, max_size=12))
def test_diff_accounts_for_every_line(a, b):
    before, after = _layout(a), _layout(b)
    changes = diff(before, after)
    assert diff(before, before) == []
    gone = {r for c in changes for r in c.before}
    came = {r for c in changes for r in c.after}
    # applying the changes to before gives after
    assert (set(before) - gone) | came == set(after)
    assert gone <= set(before) and came <= set(after)
    # the changes are disjoint in address order
    for x, y in zip(changes, changes[1:]):
        assert x.end <= y.start
