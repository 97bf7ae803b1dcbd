"""parse_maps on /proc/PID/maps files captured in tests/data (see its README)."""

from __future__ import annotations

import pytest

from memlab.errors import ParseError
from memlab.kernel.abi import VSYSCALL_ADDR
from memlab.procfs.maps import parse_maps
from tests.helpers import REPO

DATA = REPO / "tests" / "data"


def load(name: str) -> bytes:
    return (DATA / name).read_bytes()


@pytest.mark.parametrize("name", ["maps_cat.txt", "maps_python3.txt", "maps_static.txt",
                                  "maps_edge.txt"])
def test_one_region_per_line_in_order(name):
    data = load(name)
    regions = parse_maps(data)
    assert len(regions) == data.count(b"\n")
    starts = [r.start for r in regions]
    assert starts == sorted(starts)
    assert all(r.start < r.end for r in regions)
    # each line starts with the region's own range, as the kernel printed it
    for line, r in zip(data.splitlines(), regions):
        assert line.startswith(f"{r.start:08x}-{r.end:08x} {r.perms} ".encode())


def test_fields_of_a_file_line():
    first = parse_maps(load("maps_cat.txt"))[0]
    line = load("maps_cat.txt").splitlines()[0].split()
    assert first.perms == line[1].decode()
    assert first.offset == int(line[2], 16)
    assert first.dev == line[3].decode()
    assert first.inode == int(line[4]) and first.inode > 0
    assert first.path == "/usr/bin/cat"
    assert first.deleted is False


def test_vsyscall_above_2_63():
    last = parse_maps(load("maps_cat.txt"))[-1]
    assert last.path == "[vsyscall]"
    assert last.start == VSYSCALL_ADDR and last.start > 2**63
    assert last.size == 4096
    assert last.perms == "--xp" and not last.readable


def test_kernel_named_regions_kept_verbatim():
    paths = {r.path for r in parse_maps(load("maps_cat.txt"))}
    assert {"[heap]", "[stack]", "[vdso]", "[vvar]", "[vvar_vclock]", "[vsyscall]"} <= paths


def test_anonymous_line_has_no_path():
    regions = parse_maps(load("maps_static.txt"))
    # the static binary's .bss tail: an anonymous rw-p line right after the file
    anon = [r for r in regions if r.path is None]
    assert anon, "static binaries have an anonymous .bss tail"
    assert anon[0].inode == 0 and anon[0].dev == "00:00"
    assert anon[0].label == "(anonymous)"
    before = regions[regions.index(anon[0]) - 1]
    assert before.path and before.path.endswith("pause-static")
    assert anon[0].start == before.end


def test_path_with_spaces_and_parentheses():
    r = [r for r in parse_maps(load("maps_edge.txt")) if r.path and "my lib" in r.path]
    assert len(r) == 1
    assert r[0].path.endswith("/my lib (v2).so")
    assert r[0].perms == "r--s" and not r[0].deleted


def test_deleted_suffix_stripped():
    regions = parse_maps(load("maps_edge.txt"))
    removed = [r for r in regions if r.path and r.path.endswith("/removed.bin")]
    assert len(removed) == 1 and removed[0].deleted
    assert removed[0].label.endswith("/removed.bin (deleted)")
    memfd = [r for r in regions if r.path == "/memfd:memlab secret"]
    assert len(memfd) == 1 and memfd[0].deleted
    assert all(not (r.path or "").endswith("(deleted)") for r in regions)


def test_prot_none_region_not_readable():
    regions = parse_maps(load("maps_edge.txt"))
    assert any(r.perms == "---s" and not r.readable for r in regions)


# [anon:NAME] cannot be captured here (no CONFIG_ANON_VMA_NAME): these lines follow the
# layout of fs/proc/task_mmu.c show_map_vma (pad to column 73, then the name).
def _line(start, end, perms, name: bytes) -> bytes:
    prefix = f"{start:x}-{end:x} {perms} 00000000 00:00 0 ".encode()
    return prefix.ljust(73) + name


@pytest.mark.parametrize("name", [b"[anon:memlab buffer]", b"[anon:]", b"[anon_shmem:x]",
                                  b"[uprobes]", b"[some future name]"])
def test_bracketed_names_never_hard_coded(name):
    (r,) = parse_maps(_line(0x7F0000000000, 0x7F0000001000, "rw-p", name) + b"\n")
    assert r.path == name.decode()
    assert r.is_special


def test_empty_is_no_regions():
    assert parse_maps(b"") == []


def test_missing_final_newline_is_fine():
    data = load("maps_cat.txt").rstrip(b"\n")
    assert len(parse_maps(data)) == data.count(b"\n") + 1


def test_non_utf8_path_round_trips():
    import os

    (r,) = parse_maps(_line(0x1000, 0x2000, "r--p", b"/tmp/\xff\xfe.so"))
    assert os.fsencode(r.path) == b"/tmp/\xff\xfe.so"


@pytest.mark.parametrize("bad", [
    b"garbage\n",
    b"1000-2000 r--p 0 00:00 0\n\n",  # blank line
    b"2000-1000 r--p 00000000 00:00 0 \n",  # end below start
    b"1000-2000 rwzp 00000000 00:00 0 \n",  # bad perms
    b"1000-2000 r--p 00000000 00:00 abc \n",  # inode not decimal
    b"1000 r--p 00000000 00:00 0 \n",
    b"1000-2000 r--p 00000000 00:00 0/x\n",  # no padding before the path
])
def test_malformed_raises_parse_error(bad):
    with pytest.raises(ParseError):
        parse_maps(bad)


def test_deleted_suffix_is_ambiguous_by_design():
    """d_path appends " (deleted)" to an unlinked file's name, so a file really named
    "x (deleted)" looks the same: memlab reads it as deleted (the kernel gives no way
    to tell; the inode could be stat'ed via /proc/PID/map_files)."""
    (r,) = parse_maps(_line(0x1000, 0x2000, "r--p", b"/tmp/x (deleted)"))
    assert r.path == "/tmp/x" and r.deleted
