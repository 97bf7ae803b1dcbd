"""classify() on maps + stat captured from real processes (tests/data/initstack) and on
lines written by hand in the kernel's format for cases this kernel cannot produce."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memlab.analysis.classify import KINDS, classify
from memlab.model import Region
from memlab.procfs.maps import parse_maps
from tests.data.initstack import CASES, load_case


def kinds_of(case, exe=None, stat=...):
    regions = classify(case.regions, case.stat if stat is ... else stat,
                       case.meta["exe"] if exe is None else exe)
    return regions, [(r.perms, r.kind, r.label) for r in regions]


def exe_kinds(regions, exe):
    return [(r.perms, r.kind) for r in regions if r.path == exe]


@pytest.mark.parametrize("name", CASES)
def test_every_line_gets_a_known_kind_in_order(name):
    case = load_case(name)
    regions, _ = kinds_of(case)
    assert [(r.start, r.end, r.path) for r in regions] == \
        [(r.start, r.end, r.path) for r in case.regions]
    assert all(r.kind in KINDS for r in regions)
    by_path = {r.path: r.kind for r in regions}
    assert by_path["[stack]"] == "stack"
    assert by_path["[vdso]"] == "vdso"
    assert by_path["[vvar]"] == "vvar" and by_path["[vvar_vclock]"] == "vvar"
    assert by_path["[vsyscall]"] == "vsyscall"
    # text is exactly the exe's executable line, and holds stat's start_code
    text = [r for r in regions if r.kind == "text"]
    assert len(text) == 1 and text[0].contains(case.stat.start_code)


@pytest.mark.parametrize("name", ["sleeper_ready", "sleeper_nopie_ready",
                                  "sleeper_static_pie_ready"])
def test_running_dynamic_or_relro_split_exe(name):
    """Five lines: headers, .text, .rodata, RELRO (read-only head of the RW PT_LOAD that
    holds start_data), .data."""
    case = load_case(name)
    regions, _ = kinds_of(case)
    exe = case.meta["exe"]
    assert exe_kinds(regions, exe) == [("r--p", "rodata"), ("r-xp", "text"),
                                       ("r--p", "rodata"), ("r--p", "data"),
                                       ("rw-p", "data")]
    relro = [r for r in regions if r.path == exe][3]
    assert relro.contains(case.stat.start_data)


def test_held_at_exec_relro_not_split_yet():
    """At the exec stop ld.so has not run: no mprotect yet, the RW PT_LOAD is one line."""
    case = load_case("sleep_exec")
    regions, _ = kinds_of(case)
    assert exe_kinds(regions, "/usr/bin/sleep") == [
        ("r--p", "rodata"), ("r-xp", "text"), ("r--p", "rodata"), ("rw-p", "data")]
    ld = [r.kind for r in regions if r.path and "ld-linux" in r.path]
    assert ld and set(ld) == {"lib"}
    assert not any(r.kind == "heap" for r in regions)  # no brk area before ld.so runs


def test_static_bss_tail_and_heap():
    case = load_case("sleeper_static_ready")
    regions, _ = kinds_of(case)
    exe = case.meta["exe"]
    last_exe = [r for r in regions if r.path == exe][-1]
    bss = [r for r in regions if r.kind == "bss"]
    assert len(bss) == 1 and bss[0].path is None and bss[0].start == last_exe.end
    report = case.meta["report"]
    assert bss[0].contains(int(report["end"], 16) - 1)  # &end - 1 is the last .bss byte
    heap = [r for r in regions if r.kind == "heap"]
    assert heap and heap[0].start == case.stat.start_brk


def test_static_pie_lives_in_the_mmap_area_heap_below():
    case = load_case("sleeper_static_pie_ready")
    regions, _ = kinds_of(case)
    text = next(r for r in regions if r.kind == "text")
    heap = next(r for r in regions if r.kind == "heap")
    assert text.start >= 0x7f0000000000 and heap.end < text.start
    assert [r.kind for r in regions if r.start == [x for x in regions
            if x.path == case.meta["exe"]][-1].end] == ["bss"]


def test_exe_found_from_start_code_when_readlink_failed():
    case = load_case("sleeper_ready")
    with_exe, _ = kinds_of(case)
    without, _ = kinds_of(case, exe="")
    assert [r.kind for r in with_exe] == [r.kind for r in without]


def test_deleted_exe_matches_by_path():
    case = load_case("sleeper_ready")
    exe = case.meta["exe"]
    deleted = [r._replace(deleted=True) if r.path == exe else r for r in case.regions]
    regions = classify(deleted, case.stat, exe + " (deleted)")
    assert [r.kind for r in regions if r.path == exe][:2] == ["rodata", "text"]


def test_masked_stat_falls_back_to_line_order():
    case = load_case("sleeper_ready")
    masked = case.stat._replace(masked=True, start_code=1, end_code=1, start_data=0,
                                start_brk=0, start_stack=0)
    regions, _ = kinds_of(case, stat=masked)
    assert exe_kinds(regions, case.meta["exe"]) == [
        ("r--p", "rodata"), ("r-xp", "text"), ("r--p", "rodata"), ("r--p", "data"),
        ("rw-p", "data")]
    assert classify(case.regions, None, None)[0].kind == "file"  # exe unknown: a file


HAND_MAPS = b"""\
55d0a0000000-55d0a0001000 r--p 00000000 fe:00 11 /opt/app/bin/app
55d0a0001000-55d0a0002000 r-xp 00001000 fe:00 11 /opt/app/bin/app
55d0a0002000-55d0a0003000 rw-p 00002000 fe:00 11 /opt/app/bin/app
55d0a0003000-55d0a0004000 rw-p 00000000 00:00 0 
7f0000000000-7f0000001000 r--p 00000000 fe:00 12 /usr/lib/libfoo.so
7f0000001000-7f0000002000 r--p 00000000 fe:00 13 /usr/lib/libbar.so.1.2
7f0000002000-7f0000003000 r--p 00000000 fe:00 14 /usr/lib/locale/locale-archive
7f0000003000-7f0000004000 rw-s 00000000 00:01 15 /memfd:memlab secret (deleted)
7f0000004000-7f0000005000 rw-p 00000000 00:00 0 [anon:glibc: malloc arena]
7f0000005000-7f0000006000 r-xp 00000000 00:00 0 [uprobes]
7f0000006000-7f0000007000 rw-p 00000000 00:00 0 [stack:1234]
7f0000007000-7f0000008000 r--p 00000000 fe:00 16 /data/my lib.so (deleted)
"""


def test_hand_written_lines_kinds():
    """Names this kernel cannot produce here ([anon:...] needs CONFIG_ANON_VMA_NAME;
    [stack:TID] is pre-4.5), in the format of fs/proc/task_mmu.c show_map_vma."""
    regions = classify(parse_maps(HAND_MAPS), None, "/opt/app/bin/app")
    got = [(r.kind, r.path) for r in regions]
    assert got == [
        ("rodata", "/opt/app/bin/app"), ("text", "/opt/app/bin/app"),
        ("data", "/opt/app/bin/app"),
        ("bss", None),  # anonymous, right after the exe's last line, no stat: bss
        ("lib", "/usr/lib/libfoo.so"), ("lib", "/usr/lib/libbar.so.1.2"),
        ("file", "/usr/lib/locale/locale-archive"),
        ("file", "/memfd:memlab secret"),
        ("anon", "[anon:glibc: malloc arena]"),  # unknown [names] keep their path
        ("anon", "[uprobes]"),
        ("stack", "[stack:1234]"),
        ("lib", "/data/my lib.so"),
    ]


def test_anon_after_exe_above_start_brk_is_not_bss():
    """With stat known, an anonymous line past start_brk is not .bss (it is brk memory
    the kernel did not name, or an unrelated mapping)."""
    case = load_case("sleeper_static_ready")
    regions = parse_maps(HAND_MAPS)
    stat = case.stat._replace(start_code=0x55d0a0001000, start_data=0x55d0a0002000,
                              start_brk=0x55d0a0003000)
    got = classify(regions, stat, "/opt/app/bin/app")
    assert got[3].kind == "anon"


def test_empty_maps():
    assert classify([], None, None) == ()


_paths = st.sampled_from([None, "/opt/app/bin/app", "[heap]", "[stack]", "[vdso]", "[x y]",
                          "[anon:a]", "/lib/libc.so.6", "/etc/x", "", "weird", "[", "]"])
_regions = st.lists(st.builds(
    lambda start, size, perms, path: Region(start, start + size, perms, 0, "00:00", 0,
                                            path or None),
    st.integers(0, 1 << 64), st.integers(0, 1 << 20),
    st.sampled_from(["r--p", "r-xp", "rw-p", "---p", "rwxs"]), _paths), max_size=30)


@settings(max_examples=300)
@given(regions=_regions, start_code=st.integers(0, 1 << 48),
       start_data=st.integers(0, 1 << 48), start_brk=st.integers(0, 1 << 48),
       exe=st.sampled_from([None, "", "/opt/app/bin/app", "/opt/app/bin/app (deleted)"]))
def test_random_maps_never_raise(regions, start_code, start_data, start_brk, exe):
    stat = load_case("sleep_exec").stat._replace(start_code=start_code,
                                                 start_data=start_data, start_brk=start_brk)
    out = classify(regions, stat, exe)
    assert [(r.start, r.end, r.path) for r in out] == [(r.start, r.end, r.path)
                                                       for r in regions]
    assert all(r.kind in KINDS for r in out)


def test_regions_built_by_hand_in_any_order():
    """classify does not rely on parse_maps: hand-made Regions (kind left "anon") get
    their path's kind, and the executable's lines may come in any order."""
    exe = "/opt/app/bin/app"
    lines = [Region(0x3000, 0x4000, "rw-p", 0x2000, "fe:00", 11, exe),
             Region(0x1000, 0x2000, "r-xp", 0x1000, "fe:00", 11, exe),
             Region(0x4000, 0x5000, "rw-p", 0, "00:00", 0, None),
             Region(0x9000, 0xa000, "rw-p", 0, "00:00", 0, "[heap]"),
             Region(0x7f0000, 0x7f1000, "r-xp", 0, "fd:01", 5, "/lib/libc.so.6")]
    assert [r.kind for r in classify(lines, None, exe)] == ["data", "text", "bss", "heap",
                                                             "lib"]
