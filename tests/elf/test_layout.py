"""memlab layout: the address-space picture, on real processes of every shape."""

from __future__ import annotations

import os
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from memlab.collect import snapshot
from memlab.elf.attach import snapshot_with_elf
from memlab.launch import launch
from memlab.render.json import snapshot as to_json
from memlab.render.layout import ADDR_END, Block, build_blocks, walk
from memlab.render.layout_svg import render_svg
from memlab.render.layout_text import render_plain
from memlab.safefs import open_trusted
from tests.helpers import sample, wait_until

GOLDEN = Path(__file__).parent / "golden"
REGEN = os.environ.get("MEMLAB_REGEN_GOLDEN") == "1"
SVG_NS = "{http://www.w3.org/2000/svg}"


def assert_well_ordered(blocks: list[Block]) -> None:
    """Top-level blocks tile [0, 2^64) from the highest address down; children tile
    their parent, also highest first."""
    assert blocks[0].end == ADDR_END and blocks[-1].start == 0
    for hi, lo in zip(blocks, blocks[1:]):
        assert hi.start == lo.end and hi.start > lo.start, (hi, lo)
    for b in blocks:
        assert b.start < b.end
        if b.children:
            assert b.children[0].end == b.end and b.children[-1].start == b.start
            for hi, lo in zip(b.children, b.children[1:]):
                assert hi.start == lo.end and hi.start > lo.start
        for m in b.markers:
            assert b.start <= m.address <= b.end


def assert_text_ok(text: str) -> None:
    lines = text.splitlines()
    assert all(len(line) <= 80 for line in lines), max(lines, key=len)
    addrs = [int(m.group(1), 16) for m in re.finditer(r"[┌├└]─ 0x([0-9a-f]+)", text)]
    assert addrs == sorted(addrs, reverse=True) and len(set(addrs)) == len(addrs)


def picture(pid: int):
    snap = snapshot_with_elf(pid)
    blocks = build_blocks(snap)
    assert_well_ordered(blocks)
    text = render_plain(blocks)
    assert_text_ok(text)
    return snap, blocks, text


def wait_for(pid: int, pred, timeout: float = 10.0):
    """The first snapshot of pid for which pred holds (the loader is still mapping)."""
    return wait_until(lambda: pred(snap := snapshot_with_elf(pid)) and snap, timeout,
                      what=f"pid {pid} loaded")


def test_sleep_held_at_exec():
    """Stripped PIE at its first instruction: only sleep, ld.so, [stack], vdso."""
    with launch("/usr/bin/sleep", ["30"], hold="exec", env=[b"A=1"]) as child:
        snap, blocks, text = picture(child.pid)
    kinds = [b.kind for b in blocks]
    assert "heap" not in kinds and "[stack]" in text and "ld-linux" in text
    assert "text sleep" in text and "◀ start_brk" in text and "◀ _end" in text
    assert to_json(snap)["elf"]["file"]["stripped"] is True


def test_sleep_running():
    with launch("/usr/bin/sleep", ["30"], hold="none", env=[b"A=1"]) as child:
        wait_for(child.pid, lambda s: any(r.path and "libc.so" in r.path for r in s.regions))
        snap, blocks, text = picture(child.pid)
    assert "libc.so.6" in text and "ld-linux" in text
    assert to_json(snap)["elf"]["all_segments_exact"]


def test_static_pie_heap_below_binary():
    with launch(sample("sleeper-static-pie"), hold="ready", env=[b"A=1"]) as child:
        snap, blocks, text = picture(child.pid)
    kinds = [b.kind for b in blocks]
    assert kinds.index("text") < kinds.index("heap")  # drawn higher = higher address
    assert "BELOW the binary" in text


def test_static_sample():
    with launch(sample("sleeper-static"), hold="ready", env=[b"A=1"]) as child:
        snap, blocks, text = picture(child.pid)
    kinds = [b.kind for b in blocks]
    assert "lib" not in kinds
    # heap above the binary; order: [heap] then bss, data, rodata, text, rodata (headers)
    exe = [b.kind for b in blocks if b.kind in ("heap", "bss", "data", "rodata", "text")]
    assert exe == ["heap", "bss", "data", "data", "rodata", "text", "rodata"]
    assert "◀ main" in text and "◀ _end" in text


# The system python3 (a large binary); $PATH may hold a pyenv shim (a shell script).
PYTHON3 = os.path.realpath("/usr/bin/python3" if os.path.exists("/usr/bin/python3")
                           else shutil.which("python3"))


def test_python3():
    with launch(PYTHON3, ["-c", "import time; time.sleep(30)"], hold="none",
                env=[b"A=1"]) as child:
        wait_for(child.pid, lambda s: s.exe == PYTHON3 and any(
            r.kind == "heap" for r in s.regions) and any(
            r.path and "libm.so" in r.path for r in s.regions))
        snap, blocks, text = picture(child.pid)
    assert "[heap]" in text and "libc.so.6" in text
    assert to_json(snap)["elf"]["available"]


def test_deleted_executable(tmp_path):
    path = tmp_path / "gone"
    shutil.copy2(sample("sleeper"), path)
    with launch(str(path), hold="ready", env=[b"A=1"]) as child:
        path.unlink()
        snap, blocks, text = picture(child.pid)
        report = child.report
    assert snap.exe.endswith(" (deleted)")
    elf = to_json(snap)["elf"]
    # read through /proc/PID/exe: the ELF memory map still works for a deleted file
    assert elf["available"] and elf["deleted"] and elf["all_segments_exact"]
    syms = {s["name"]: s["address"] for s in elf["symbols"]}
    assert syms["main"] == report["main"]
    assert "text gone" in text and "(file deleted)" in text, text


def test_unreadable_exe_degrades(tmp_path):
    """A process whose exe cannot be opened: the ELF emap says why, the picture is
    drawn from maps + stat."""
    from memlab.elf import analyse

    with launch(sample("sleeper"), hold="ready", env=[b"A=1"]) as child:
        snap = snapshot(child.pid)
    # the process is gone now: /proc/PID/exe cannot be opened any more
    emap = analyse(snap)
    assert not emap.available and "not readable" in emap.reason
    assert emap.heap is not None and emap.heap.start_brk == snap.stat.start_brk
    snap = snap._replace(elf=emap)
    blocks = build_blocks(snap)
    assert_well_ordered(blocks)
    text = render_plain(blocks)
    assert_text_ok(text)
    assert "◀ _end" not in text and "◀ start_brk" in text and "text sleeper" in text


def test_markers_and_stack_pieces():
    with launch(sample("sleeper"), hold="ready", env=[b"A=1", b"B=2"]) as child:
        snap, blocks, text = picture(child.pid)
        report = child.report
    marks = {m.label: m.address for _, b in walk(blocks) for m in b.markers}
    assert marks["main"] == int(report["main"], 16)
    assert marks["_end"] == int(report["end"], 16)
    assert marks["start_brk"] == snap.stat.start_brk
    assert marks["env_start"] == snap.stat.env_start
    assert marks["sp at exec"] == snap.stat.start_stack
    stack = next(b for b in blocks if b.kind == "stack")
    labels = [c.label for c in stack.children]
    # fs/exec.c: execfn at the very top, then env strings, then argv strings; the
    # pointer table at sp lower down
    order = ["execfn + end marker", "env strings (env block)", "argv strings",
             "argc, argv, envp, auxv"]
    assert [x for x in labels if x in order] == order
    env = next(c for c in stack.children if c.label.startswith("env strings"))
    assert (env.start, env.end) == (snap.stat.env_start, snap.stat.env_end)


def svg_labels(svg: str) -> list[tuple[str, int, int]]:
    root = ET.fromstring(svg)
    out = []
    for g in root.iter(f"{SVG_NS}g"):
        if g.get("class") != "block":
            continue
        label = next(t for t in g.iter(f"{SVG_NS}text") if t.get("class") == "label")
        out.append((label.text, int(g.get("data-start"), 16), int(g.get("data-end"), 16)))
    return out


def test_svg_matches_text_picture(tmp_path):
    with launch(sample("sleeper"), hold="ready", env=[b"A=1"]) as child:
        snap, blocks, text = picture(child.pid)
    svg = render_svg(blocks, "t & <test>")
    rows = svg_labels(svg)
    flat = [(b.label, b.start, b.end) for _, b in walk(blocks)]
    assert rows == flat
    # the same labels appear in the text picture, in the same order
    pos = 0
    for label, _, _ in rows:
        found = text.find(label[:20], pos)
        assert found >= 0, label
        pos = found
    root = ET.fromstring(svg)
    marks = [t.text for t in root.iter(f"{SVG_NS}text") if t.get("class") == "marker"]
    assert any(m.startswith("◀ _end ") for m in marks)
    assert any(m.startswith("◀ start_brk ") for m in marks)
    assert root.find(f"{SVG_NS}title").text == "t & <test>"
    tops = [s for (_, s, _e), (d, _) in zip(rows, walk(blocks)) if d == 0]
    assert tops == sorted(tops, reverse=True)


def normalise(blocks: list[Block]) -> list[Block]:
    """Golden-file view: the mmap area (libraries, vdso/vvar, anonymous maps and the
    gaps between them) depends on the libc build and kernel; fold it into one block
    from the bottom of the stack gap to the top of the heap / executable."""
    out: list[Block] = []
    fold: list[Block] = []
    seen_stack = False
    for b in blocks:
        if b.kind == "stack":
            seen_stack = True
            out.append(b)
            continue
        if seen_stack and b.kind in ("lib", "vdso", "vvar", "anon", "file", "gap"):
            fold.append(b)
            continue
        if fold:
            out.append(Block(fold[-1].start, fold[0].end, "gap", "mmap area (folded)",
                             "libraries, vdso, mmaps: vary with libc/kernel"))
            fold = []
            seen_stack = False
        out.append(b)
    return out


GOLDEN_ENV = [b"A=1"]
GOLDEN_MMAP_MIN_ADDR = 65536  # the usual vm.mmap_min_addr, fixed: the picture is not the host's
GOLDEN_PATH = "/tmp/memlab-golden/sleeper"


def golden_picture() -> str:
    # A fixed path (execfn and argv[0] are part of the stack), in the shared /tmp: the
    # directory must be ours and closed to others (safefs), or another user could swap
    # the binary this test then runs as root.
    with open_trusted(os.path.dirname(GOLDEN_PATH), create=True, mode=0o755) as d:
        d.write_file(os.path.basename(GOLDEN_PATH), Path(sample("sleeper")).read_bytes(),
                     0o755)
    with launch(GOLDEN_PATH, ["golden"], GOLDEN_ENV, no_aslr=True, hold="ready") as child:
        snap = snapshot_with_elf(child.pid)
    blocks = normalise(build_blocks(snap, GOLDEN_MMAP_MIN_ADDR))
    assert_well_ordered(blocks)
    return render_plain(blocks)


def test_golden_no_aslr_picture():
    """No ASLR + fixed path, argv and env: every address is deterministic.  Regenerate
    with MEMLAB_REGEN_GOLDEN=1 pytest tests/elf/test_layout.py -k golden (needed after
    a change of compiler, libc or kernel: the sample's own layout and the auxv count
    move the picture)."""
    text = golden_picture()
    assert text == golden_picture()  # deterministic run to run
    path = GOLDEN / "layout-sleeper-noaslr.txt"
    if REGEN or not path.exists():
        path.write_text(text, encoding="utf-8")
        if not REGEN:
            pytest.skip("golden file created; run again to compare")
    assert text == path.read_text(encoding="utf-8")


def _reason_as_other_user(snap):
    from memlab.elf import analyse, clear_cache

    clear_cache()  # this child must really try to open /proc/PID/exe
    from memlab.elf import memorymap

    memorymap._MEMO.clear()
    emap = analyse(snap)
    return emap.available, emap.reason, emap.heap.start_brk


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch uid")
def test_exe_denied_to_another_user_degrades():
    """/proc/PID/exe of a root process, opened as uid 65534: EACCES (fs/proc/base.c
    proc_exe_link needs PTRACE_MODE_READ_FSCREDS) -> maps + stat only, with the reason."""
    from tests.helpers import NOBODY, run_as

    with launch(sample("sleeper"), hold="ready", env=[b"A=1"]) as child:
        snap = snapshot(child.pid)  # read as root
        available, reason, start_brk = run_as(NOBODY, _reason_as_other_user, snap)
    assert available is False
    assert "permission denied" in reason and "maps + stat" in reason
    assert start_brk == snap.stat.start_brk


def test_low_area_is_the_mmap_min_addr_guard_then_unmapped():
    """Only [0, vm.mmap_min_addr) is refused to mmap (security/min_addr.c); the rest
    below the first mapping is ordinary unmapped space, labelled as such."""
    from memlab.procfs.sysctl import read_mmap_min_addr

    guard = read_mmap_min_addr()
    assert guard is not None and guard > 0  # 65536 on most distributions
    with launch(sample("sleeper"), hold="ready", env=[b"A=1"]) as child:
        snap = snapshot_with_elf(child.pid)
    blocks = build_blocks(snap, guard)
    assert_well_ordered(blocks)
    low, above = blocks[-1], blocks[-2]
    assert (low.start, low.end, low.kind) == (0, guard, "reserved")
    assert "mmap_min_addr" in low.label
    assert above.kind == "gap" and above.label == "unmapped"
    assert above.start == guard and above.end == min(r.start for r in snap.regions)
    text = render_plain(blocks)
    assert "reserved low area" not in text and "NULL guard" in text.splitlines()[-2]
    # unknown guard: one unmapped block that does not claim to be reserved
    blocks = build_blocks(snap)
    assert blocks[-1].kind == "gap" and blocks[-1].start == 0


def test_svg_is_as_wide_as_its_longest_note(tmp_path):
    """Notes right of the tower are drawn whole (AT_EXECFN with a long path, RELRO's
    section list) and the picture is wide enough for them, not cut at 1020 px."""
    from memlab.render.layout_svg import NOTE_CHAR_W

    long_dir = tmp_path / ("d" * 120)
    long_dir.mkdir()
    exe = long_dir / "sleeper"
    exe.write_bytes(Path(sample("sleeper")).read_bytes())
    exe.chmod(0o755)
    with launch(str(exe), hold="ready", env=[b"A=1"]) as child:
        snap = snapshot_with_elf(child.pid)
    blocks = build_blocks(snap, 65536)
    root = ET.fromstring(render_svg(blocks, "t"))
    width = int(root.get("width"))
    assert root.get("viewBox") == f"0 0 {width} {root.get('height')}"
    notes = [t for t in root.iter(f"{SVG_NS}text") if t.get("class") in ("what", "marker")]
    execfn = [t.text for t in notes if t.text.startswith("AT_EXECFN")]
    assert execfn and str(exe) in execfn[0]  # whole, not "AT_EXECFN '/…/c_samples/bin/s"
    assert not any(t.text.endswith("…") for t in notes)
    for t in notes:
        assert float(t.get("x")) + len(t.text) * NOTE_CHAR_W <= width, t.text
    assert width > 1020
