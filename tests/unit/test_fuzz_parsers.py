"""Hypothesis: the /proc parsers raise nothing but ParseError on any bytes, and
round-trip what the kernel would print."""

from __future__ import annotations

import os
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memlab.errors import ParseError
from memlab.model import Region
from memlab.procfs.auxv import parse_auxv
from memlab.procfs.environ import parse_cmdline, parse_environ
from memlab.procfs import maps
from memlab.procfs.maps import parse_maps, path_kind
from memlab.procfs import stat
from memlab.procfs.stat import parse_stat, parse_stat_python
from memlab.procfs.status import parse_status
from tests.helpers import REPO

DATA = REPO / "tests" / "data"
PARSERS = [parse_maps, parse_stat, parse_auxv, parse_environ, parse_cmdline, parse_status]
CAPTURED = sorted(p.read_bytes() for p in DATA.iterdir() if p.suffix in (".txt", ".bin"))
FUZZ = settings(max_examples=300, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])


def only_parse_error(parser, data: bytes) -> None:
    try:
        parser(data)
    except ParseError:
        pass  # the one exception a parser may raise


@FUZZ
@given(st.binary(max_size=600))
def test_random_bytes_only_parse_error(data):
    for parser in PARSERS:
        only_parse_error(parser, data)


@FUZZ
@given(st.sampled_from(CAPTURED), st.data())
def test_mutated_captures_only_parse_error(original, data):
    buf = bytearray(original)
    for _ in range(data.draw(st.integers(1, 8))):
        if not buf:
            break
        i = data.draw(st.integers(0, len(buf) - 1))
        op = data.draw(st.sampled_from(["set", "delete", "insert"]))
        byte = data.draw(st.sampled_from([0, 10, 32, 40, 41, 45, 58, 91, 93, 255, 48]))
        if op == "set":
            buf[i] = byte
        elif op == "delete":
            del buf[i]
        else:
            buf.insert(i, byte)
    for parser in PARSERS:
        only_parse_error(parser, bytes(buf))


# ---------------------------------------------------------------- round trips
_u64 = st.integers(0, 2**64 - 1)
_path = st.one_of(
    st.none(),
    # a file really named "x (deleted)" is ambiguous in maps (d_path appends the same
    # suffix): the kernel's format cannot round-trip it, so it is left out here
    st.binary(min_size=0, max_size=40).map(lambda b: b"/" + b)
    .filter(lambda b: b"\n" not in b and b"\0" not in b and not b.endswith(b" (deleted)")),
    st.sampled_from([b"[heap]", b"[stack]", b"[vvar]", b"[anon:x y]", b"[future]"]),
)


@st.composite
def regions(draw):
    start = draw(_u64)
    end = draw(st.integers(start, 2**64 - 1))
    path = draw(_path)
    deleted = path is not None and path.startswith(b"/") and draw(st.booleans())
    return dict(start=start, end=end, perms=draw(st.sampled_from(["r--p", "rw-s", "---p", "r-xp"])),
                offset=draw(_u64), dev=f"{draw(st.integers(0, 4095)):02x}:{draw(st.integers(0, 255)):02x}",
                inode=draw(st.integers(0, 2**64 - 1)), path=path, deleted=deleted)


def kernel_line(r: dict) -> bytes:
    """As fs/proc/task_mmu.c prints it: %08lx fields, pad to column 73, then the name."""
    prefix = (f"{r['start']:08x}-{r['end']:08x} {r['perms']} {r['offset']:08x} "
              f"{r['dev']} {r['inode']} ").encode()
    if r["path"] is None:
        return prefix
    return prefix.ljust(73) + r["path"] + (b" (deleted)" if r["deleted"] else b"")


@FUZZ
@given(st.lists(regions(), max_size=8))
def test_maps_round_trip(rs):
    data = b"".join(kernel_line(r) + b"\n" for r in rs)
    parsed = parse_maps(data)
    assert len(parsed) == len(rs)
    for got, want in zip(parsed, rs):
        path = want.pop("path")
        path = None if path is None else os.fsdecode(path)
        assert got == Region(path=path, kind=path_kind(path), **want)


_comm = st.binary(min_size=0, max_size=15).filter(lambda b: b"\0" not in b and b"\n" not in b)


@FUZZ
@given(_comm, st.sampled_from("RSDZTtXIP"), st.lists(st.integers(-2**63, 2**64 - 1),
                                                      min_size=49, max_size=49))
def test_stat_round_trip(comm, state, numbers):
    line = b"4242 (" + comm + b") " + state.encode() + b" " + \
        b" ".join(str(n).encode() for n in numbers) + b"\n"
    s = parse_stat(line)
    assert s.pid == 4242 and s.state == state
    assert s.comm == comm.decode("utf-8", "backslashreplace")
    assert s.ppid == numbers[0]  # field 4
    assert s.start_code == numbers[26 - 4] and s.start_stack == numbers[28 - 4]
    assert s.env_end == numbers[51 - 4] and s.exit_code == numbers[52 - 4]


@FUZZ
@given(st.lists(st.tuples(st.integers(1, 2**64 - 1), _u64), max_size=30))
def test_auxv_round_trip(pairs):
    data = b"".join(struct.pack("=QQ", t, v) for t, v in pairs) + b"\0" * 16
    assert [(e.type, e.value) for e in parse_auxv(data)] == pairs


@FUZZ
@given(st.lists(st.binary(max_size=30).filter(lambda b: b"\0" not in b), max_size=20),
       st.integers(0, 2**47))
def test_environ_round_trip(strings, base):
    data = b"".join(s + b"\0" for s in strings)
    entries = parse_environ(data, base)
    assert [e.raw for e in entries] == strings
    assert parse_cmdline(data) == strings
    for e in entries:
        assert data[e.address - base:].startswith(e.raw + b"\0")


def _line_by_line(data: bytes) -> list[Region]:
    """parse_maps's reference path: one regex per line (what the fast path must equal)."""
    from memlab.procfs.maps import parse_maps_line

    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return [parse_maps_line(line, i) for i, line in enumerate(lines, 1)]


def _outcome(fn, data: bytes):
    try:
        return fn(data)
    except ParseError:
        return ParseError


@FUZZ
@given(st.lists(regions(), max_size=8), st.sampled_from([b"", b"\r", b" ", b"\n", b"x"]),
       st.integers(0, 400), st.booleans())
def test_maps_whole_text_parse_equals_line_by_line(rs, junk, where, final_newline):
    """The C fast path of parse_maps (_cproc.c) gives the same Regions as the
    line-by-line parser, and fails where it raises (junk spliced anywhere, with or
    without the final newline)."""
    data = b"\n".join(kernel_line(r) for r in rs) + (b"\n" if final_newline else b"")
    data = data[:where] + junk + data[where:]
    assert _outcome(parse_maps, data) == _outcome(_line_by_line, data)


def test_the_c_parser_is_built():
    """make setup builds memlab/procfs/_cproc.c (pyproject ext-modules, optional so
    that memlab installs without a compiler); CI must run it, or every comparison
    here compares the Python parsers with themselves."""
    assert maps._cproc is not None, "memlab.procfs._cproc was not compiled"
    assert stat._cproc is maps._cproc


@pytest.mark.parametrize("line", [
    b"1-2 r--p 0 00:00 99999999999999999999",  # 20 digits: above 2**64
    b"1-2 r--p 0 00:00 123456789012345678901",  # 21 digits: not an inode
    b"1-12345678901234567 r--p 0 00:00 0",  # 17 hex digits
    b"1-A r--p 0 00:00 0",  # upper case hex
    b"1-2 r--p 0 " + b"0" * 70 + b":00 1 /x",  # a long major number is fine
    b"1-2 r--p 0 0:00 1",  # 1-digit major
    b"1-2 r--p 0 00:00 1\t/x",  # tab, not space
    b"1-2 r--p 0 00:00 1     ",  # only padding: anonymous
    b"1-2 r--p 0 00:00 1 /x\r",  # \r belongs to the path
    b"1-2 r--p 0 00:00 1 /\xff\xfe (deleted)",  # non-UTF-8, deleted
    b"1-2 r--p 0 00:00 1 (deleted)",  # a name "(deleted)", not the suffix
    b"1-2 r--p 0 00:00 1 [anon:x] (deleted)",
    b"2-1 r--p 0 00:00 0",  # end below start
    b"1-2 rw-x 0 00:00 0",  # perms: s or p last
    b"1-2 r--p 0 00:00 0\n\n1-2 r--p 0 00:00 0\n",  # an empty line inside
    b"1-2 r--p 0 00:00 0\x00",
])
def test_c_and_python_parsers_agree_on_edge_lines(line):
    assert _outcome(parse_maps, line) == _outcome(_line_by_line, line)
    assert _outcome(parse_maps, line + b"\n") == _outcome(_line_by_line, line + b"\n")


_stat_junk = st.sampled_from([b"", b" ", b"\t", b"\n", b"-", b"--", b"x", b"(", b")", b"0" * 21,
                              b"\xff", b"1_0", b" 99999999999999999999"])


@FUZZ
@given(_comm, st.sampled_from("RSZ9 "), st.lists(st.integers(-2**63, 2**64 - 1),
                                                  min_size=45, max_size=52),
       _stat_junk, st.integers(0, 600))
def test_stat_c_and_python_agree(comm, state, numbers, junk, where):
    """The C parse_stat (_cproc.c) returns what the Python one returns, and fails
    where it raises (then the Python one runs): kernel-like lines with junk spliced
    in anywhere, too few fields, negative and 20-digit numbers."""
    line = b"4242 (" + comm + b") " + state.encode() + b" " + \
        b" ".join(str(n).encode() for n in numbers) + b"\n"
    line = line[:where] + junk + line[where:]
    assert _outcome(parse_stat, line) == _outcome(parse_stat_python, line)


def test_c_stat_takes_the_kernel_line_on():
    """The fast path really runs on a kernel line (not None, then Python)."""
    data = (DATA / "stat_python3.txt").read_bytes()
    assert stat._cproc.parse_stat(data, type(parse_stat(data)),
                                  stat._ADDRESS_FIELDS) == parse_stat_python(data)


# Each parser with a C fast path, and its Python reference.
FAST_AND_REFERENCE = [pytest.param(parse_maps, _line_by_line, id="maps"),
                      pytest.param(parse_stat, parse_stat_python, id="stat")]


@pytest.mark.parametrize("fast,reference", FAST_AND_REFERENCE)
@pytest.mark.parametrize("data", CAPTURED)
def test_captured_files_same_outcome_c_and_python(fast, reference, data):
    assert _outcome(fast, data) == _outcome(reference, data)


@pytest.mark.parametrize("fast,reference", FAST_AND_REFERENCE)
@FUZZ
@given(data=st.binary(max_size=400))
def test_random_bytes_same_outcome_c_and_python(fast, reference, data):
    assert _outcome(fast, data) == _outcome(reference, data)
