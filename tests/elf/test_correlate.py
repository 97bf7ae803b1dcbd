"""load_bias / segment_map on real ElfInfo with hand-made maps lines (pure)."""

from __future__ import annotations

import pytest

from memlab.elf import load, load_bias, segment_map
from memlab.elf.correlate import AT_ENTRY, AT_PHDR
from memlab.model import AuxvEntry, Region
from tests.helpers import sample

BIAS = 0x555555554000


def reg(start, end, perms="r--p", path="/x", offset=0):
    return Region(start, end, perms, offset, "00:00", 1 if path else 0, path)


def pie_lines(info, bias=BIAS, relro_split=True):
    """The maps lines the kernel + ld.so make for a PIE sleeper."""
    out = []
    for seg in info.loads:
        s = (seg.vaddr + bias) & ~0xFFF
        e = (seg.vaddr + seg.memsz + bias + 0xFFF) & ~0xFFF
        if "W" in seg.perms and relro_split:
            out.append(reg(s, s + 0x1000, "r--p", offset=seg.offset & ~0xFFF))
            out.append(reg(s + 0x1000, e, "rw-p", offset=(seg.offset & ~0xFFF) + 0x1000))
        else:
            perms = seg.perms.lower() + "p"
            out.append(reg(s, e, perms, offset=seg.offset & ~0xFFF))
    return out


def test_bias_from_auxv_consistent():
    info = load(sample("sleeper"))
    auxv = [AuxvEntry(AT_PHDR, info.phdr.vaddr + BIAS), AuxvEntry(AT_ENTRY, info.e_entry + BIAS)]
    b = load_bias(info, auxv, pie_lines(info), lambda r: r.path == "/x")
    assert b.value == BIAS and b.source == "AT_ENTRY" and b.consistent is True
    assert b.from_maps == BIAS and b.note is None


def test_bias_mismatch_is_reported():
    info = load(sample("sleeper"))
    auxv = {"AT_ENTRY": info.e_entry + BIAS, "AT_PHDR": info.phdr.vaddr + BIAS + 0x1000}
    b = load_bias(info, auxv)
    assert b.consistent is False and "disagree" in b.note


def test_bias_without_auxv_uses_maps():
    info = load(sample("sleeper"))
    b = load_bias(info, [], pie_lines(info), lambda r: r.path == "/x")
    assert b.value == BIAS and b.source == "maps" and b.consistent is None
    nothing = load_bias(info, None)
    assert nothing.value is None and nothing.source == "none"


def test_segment_map_exact_with_relro_split():
    info = load(sample("sleeper"))
    maps = segment_map(info, pie_lines(info), BIAS)
    assert [m.verdict for m in maps] == ["exact"] * 4
    rw = maps[-1]
    assert [r.perms for r in rw.regions] == ["r--p", "rw-p"]
    assert any(n.startswith("RELRO") for n in rw.notes)


def test_segment_map_partial_covers_unmapped():
    info = load(sample("sleeper"))
    lines = pie_lines(info)
    text = info.loads[1]
    # drop the text line: unmapped; cut the data line: partial
    no_text = [r for r in lines if "x" not in r.perms]
    assert segment_map(info, no_text, BIAS)[1].verdict == "unmapped"
    # the RW segment keeps its RELRO r--p line but loses the rw-p one: a hole
    assert segment_map(info, lines[:-1], BIAS)[-1].verdict == "partial"
    # an anonymous line merged past the end of the segment: covers, not exact
    last = lines[-1]
    merged = lines[:-1] + [reg(last.start, last.end + 0x3000, "rw-p")]
    m = segment_map(info, merged, BIAS)[-1]
    assert m.verdict == "covers" and any("beyond" in n for n in m.notes)
    assert text.perms == "R-X"


@pytest.mark.parametrize("bias", [0, 0x1000, 0x7F0000000000])
def test_expected_range_is_page_rounded(bias):
    info = load(sample("sleeper-static-pie"))
    for m in segment_map(info, [], bias):
        assert m.start % 4096 == 0 and m.end % 4096 == 0
        assert m.start <= m.segment.vaddr + bias < m.segment.vaddr + m.segment.memsz + bias <= m.end
        assert m.verdict == "unmapped"
