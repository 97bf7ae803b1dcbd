"""Acceptance on real processes: every sleeper variant, launched and self-reporting.

ELF symbol + load bias must equal the address the sample printed about itself, and every
PT_LOAD's union of maps lines must be exactly [PAGE_DOWN(vaddr+bias),
PAGE_ALIGN(vaddr+memsz+bias)).
"""

from __future__ import annotations

from memlab.collect import snapshot
from memlab.elf import analyse, load, page_down, page_up
from memlab.elf.attach import snapshot_with_elf
from memlab.render.json import snapshot as to_json

REPORTED = (("main", ("main",)), ("etext", ("etext",)), ("edata", ("edata", "_edata")),
            ("end", ("end", "_end")))


def test_symbol_plus_bias_equals_self_report(running):
    name, child = running
    snap = snapshot(child.pid)
    emap = analyse(snap, report=child.report)
    assert emap.available, emap.reason
    assert emap.bias.consistent is True, emap.bias
    for key, names in REPORTED:
        assert emap.symbol_address(*names) == int(child.report[key], 16), (name, key)
    if name in ("sleeper-nopie", "sleeper-static"):
        assert emap.bias.value == 0  # ET_EXEC: linked where it runs
    else:
        assert emap.bias.value % 4096 == 0 and emap.bias.value > 0


def test_every_pt_load_is_covered_exactly(running):
    name, child = running
    snap = snapshot(child.pid)
    emap = analyse(snap)
    info, bias = emap.info, emap.bias.value
    assert len(emap.segments) == len(info.loads) == 4
    for m, seg in zip(emap.segments, info.loads):
        lo, hi = page_down(seg.vaddr + bias), page_up(seg.vaddr + seg.memsz + bias)
        assert (m.start, m.end) == (lo, hi)
        # the union of the lines: contiguous, and exactly the expected range
        assert m.regions[0].start == lo and m.regions[-1].end == hi, (name, m.to_dict())
        for a, b in zip(m.regions, m.regions[1:]):
            assert a.end == b.start
        assert m.verdict == "exact"
    rw = emap.segments[-1]
    # RELRO split (ld.so, or libc start-up when static): r--p then rw-p
    assert [r.perms for r in rw.regions[:2]] == ["r--p", "rw-p"]
    if name.startswith("sleeper-static"):
        # the .bss tail beyond the last file page: a separate anonymous line
        assert rw.regions[-1].path is None and len(rw.regions) == 3
        assert any("anonymous" in n for n in rw.notes)


def test_snapshot_with_elf_section(running):
    name, child = running
    snap = snapshot_with_elf(child.pid)
    d = to_json(snap)
    elf = d["elf"]
    assert elf["available"] and elf["all_segments_exact"]
    assert snap.elf.available and snap.elf.info.kind == elf["file"]["kind"]
    assert d["elf"]["file"]["kind"] == load(child.exe).kind
    syms = {s["name"]: s["address"] for s in d["elf"]["symbols"]}
    assert syms["main"] == child.report["main"]
    assert d["elf"]["bias"]["consistent"] is True


def test_heap_evidence(running):
    name, child = running
    emap = analyse(snapshot(child.pid), report=child.report)
    ev = emap.heap
    end = int(child.report["end"], 16)
    assert ev.end_symbol == end
    assert ev.brk == int(child.report["sbrk"], 16)
    first = int(child.report["malloc"], 16)
    assert ev.first_alloc == first and ev.start_brk <= first < ev.brk
    assert ev.heap_region is not None and ev.heap_region.start == ev.start_brk
    if name == "sleeper-static-pie":
        assert ev.heap_below_binary and ev.end_to_start_brk < 0
        assert "BELOW" in ev.explanation
    else:
        assert not ev.heap_below_binary
        # PAGE_ALIGN(&_end) + randomisation (ASLR is on here: kernel-facts 5)
        assert ev.page_round_up == page_up(end) - end
        assert 0 <= ev.randomisation <= (1 << 30) + 4096
        assert "randomisation" in ev.explanation or "round-up" in ev.explanation
    if name in ("sleeper", "sleeper-nopie"):
        assert ev.first_alloc_offset == 0x2A0  # after glibc's tcache (kernel-facts 5)


def test_no_aslr_heap_is_only_page_round_up(variant):
    from memlab.launch import launch
    from tests.helpers import sample

    with launch(sample(variant), hold="ready", env=[b"A=1"], no_aslr=True) as child:
        emap = analyse(snapshot(child.pid), report=child.report)
    ev = emap.heap
    if variant == "sleeper-static-pie":
        assert ev.heap_below_binary
    else:
        # fs/binfmt_elf.c: start_brk = ELF_PAGEALIGN(elf_brk) and no randomisation
        assert ev.randomisation == 0 and ev.start_brk == page_up(ev.end_symbol)
        assert "only the page round-up" in ev.explanation


def test_libc_environ_points_at_current_envp(running):
    name, child = running
    emap = analyse(snapshot(child.pid))
    assert emap.libc is not None and emap.libc.environ is not None
    assert emap.libc.environ_value == int(child.report["environ"], 16)


def test_refresh_memo_follows_changes():
    """The section is memoised per (process, maps, brk ...): a refresh after the heap
    grew must show the new brk, not the remembered one."""
    from memlab.elf import snapshot_section
    from memlab.launch import launch
    from tests.helpers import sample

    with launch(sample("sleeper"), hold="ready", env=[b"A=1"]) as child:
        first = snapshot_section(snapshot(child.pid))
        again = snapshot_section(snapshot(child.pid))
        assert again == first and again is not first
        child.command("malloc 1000000")  # > 128 KiB: an mmap, the maps change
        for _ in range(3):  # 300 kB in brk-sized pieces: past the first 132 KiB
            child.command("malloc 100000")
        later = snapshot_section(snapshot(child.pid))
    assert later["heap"]["brk"] != first["heap"]["brk"]
    assert later["heap"]["gaps"]["heap_size"] > first["heap"]["gaps"]["heap_size"]
    assert first["libc"]["environ_value"] is None  # live values only with live=True


def test_heap_walk_finds_first_malloc(running):
    """Without the self-report, the first malloc is found by walking glibc's chunk
    headers from start_brk: the chunk after the tcache (dynamic glibc)."""
    name, child = running
    ev = analyse(snapshot(child.pid), walk_heap=True).heap
    if name.startswith("sleeper-static"):
        # static glibc sbrk'd its TLS block first: zeros, not a chunk header, at start_brk
        assert ev.chunks == () and any("TLS" in n for n in ev.notes)
        assert ev.first_alloc is None
        return
    assert ev.chunks and ev.chunks[0].address == ev.start_brk
    for a, b in zip(ev.chunks, ev.chunks[1:]):
        assert a.address + a.size == b.address
    if name in ("sleeper", "sleeper-nopie"):
        assert ev.chunks[0].size == 0x290
        assert ev.first_alloc == int(child.report["malloc"], 16)
        assert ev.first_alloc_source.startswith("heap walk")
