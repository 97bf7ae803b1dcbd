"""The core-file reader on captured cores (tests/data/core, README there): the notes,
the segments, the initial stack found without /proc, and corrupt input fuzzed."""

from __future__ import annotations

import gzip
import os
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memlab.core.reader import (CoreFile, CoreFileError, is_elf_core, parse_nt_file,
                                parse_prpsinfo, parse_prstatus)
from memlab.core.snapshot import core_snapshot, locate_initial_stack, snapshot_from_core
from memlab.analysis.bytesmemory import BytesMemory
from memlab.errors import MemlabError, ParseError
from memlab.kernel.abi import AT_EXECFN, AT_NULL, AT_RANDOM
from memlab.model import AuxvEntry
from memlab.procfs.coredump import CorePattern
from tests.helpers import REPO

DATA = REPO / "tests" / "data" / "core"
# How both cores were made (tests/data/core/README.md): `env -i` with exactly these.
ENV = [b"DB_PASSWORD=hunter2-core", b"HOME=/nonexistent"]


@pytest.fixture(scope="module")
def cores(tmp_path_factory) -> dict[str, str]:
    out = {}
    d = tmp_path_factory.mktemp("cores")
    for name in ("kernel", "gcore"):
        path = d / f"{name}.core"
        path.write_bytes(gzip.decompress((DATA / f"{name}-sleeper-static.core.gz")
                                         .read_bytes()))
        out[name] = str(path)
    return out


@pytest.mark.parametrize("name", ["kernel", "gcore"])
def test_captured_core_decodes_env_block_and_initial_stack(cores, name):
    snap = core_snapshot(cores[name])
    assert snap.extra["source"] == "core"
    assert snap.extra["core"]["writer"] == ("kernel" if name == "kernel" else "gdb (gcore)")
    assert [e.raw for e in snap.env.entries] == ENV
    # the env block ends where the exec path starts (AT_EXECFN), as in a live process
    assert snap.env.end == snap.auxv_value("AT_EXECFN") == snap.stat.env_end
    assert snap.env.region == "[stack]" and snap.env.distance_to_args == 0
    st_ = snap.stack
    assert st_.complete and st_.argc == 1 and st_.auxv_matches_proc is True
    assert st_.argv[0].string.endswith(b"/sleeper-static")
    assert [e.string for e in st_.envp] == ENV
    assert st_.sp == snap.stat.start_stack and st_.execfn.endswith("/sleeper-static")
    assert snap.exe.endswith("/sleeper-static") and snap.stat.comm == "sleeper-static"
    assert snap.region_at(snap.env.start).path == "[stack]"
    # the executable's text is not in either core: listed as missing, with the reason
    missing = snap.extra["core"]["missing"]
    assert any(m["label"].endswith("/sleeper-static") and m["bytes_in_core"] == 0
               for m in missing)


def test_kernel_core_registers_and_signal(cores):
    with CoreFile(cores["kernel"]) as core:
        info = core.info
        assert info.threads[0].signal == 6  # SIGABRT, how it was made
        rsp = info.threads[0].rsp
        seg = core.segment_at(rsp)
        assert seg is not None and seg.perms == "rw-p"
        assert core.read(rsp, 8)  # the stack at the crash is in the core
        assert info.process.comm == "sleeper-static" and info.process.state == "R"
    snap = core_snapshot(cores["kernel"])
    assert snap.extra["core"]["rsp_region"] == "[stack]"


def test_core_memory_reads_match_the_env_entries(cores):
    with CoreFile(cores["gcore"]) as core:
        snap = snapshot_from_core(core)
        for e in snap.env.entries:
            assert core.read_cstring(e.address) == e.raw
        text = next(r for r in snap.regions if r.perms == "????")
        assert core.read_partial(text.start, 16) == b""
        with pytest.raises(MemlabError, match="not in the core"):
            core.read(text.start, 1)


@pytest.mark.parametrize("name", ["kernel", "gcore"])
@pytest.mark.parametrize("keep", [40, 63, 0.5, 0.9])
def test_truncated_core_is_one_clear_error(cores, name, keep, tmp_path):
    data = open(cores[name], "rb").read()
    n = keep if isinstance(keep, int) else int(len(data) * keep)
    path = tmp_path / "cut"
    path.write_bytes(data[:n])
    with pytest.raises(CoreFileError, match="truncated|shorter"):
        core_snapshot(str(path))


def test_not_a_core(tmp_path):
    text = tmp_path / "t.txt"
    text.write_text("hello\n")
    assert is_elf_core(str(text)) is False
    assert is_elf_core("/dev/zero") is None
    assert is_elf_core(str(tmp_path / "nope")) is None
    assert is_elf_core(str(REPO / "c_samples" / "sleeper.c")) is False
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert is_elf_core(str(fifo)) is None  # refused unopened: no wait for a writer
    with pytest.raises(CoreFileError, match="FIFO"):
        CoreFile(str(fifo))
    with pytest.raises(CoreFileError, match="regular file"):
        CoreFile("/dev/zero")
    with pytest.raises(CoreFileError, match="no ELF header"):
        CoreFile(str(text))


def test_locate_initial_stack_skips_slots_unsetenv_emptied():
    """argc 2, two argv strings, three env strings whose last envp slot unsetenv
    cleared (glibc shifts the pointers down and leaves NULL): envc is still 3, and the
    strings end at AT_EXECFN."""
    base = 0x7000
    strings = b"prog\0-v\0A=1\0B=22\0C=333\0/bin/prog\0"
    sbase = base + 0x200
    a0, a1 = sbase, sbase + 5
    e = [sbase + 8, sbase + 12, sbase + 17]
    execfn = sbase + 23
    auxv = [AuxvEntry(AT_RANDOM, sbase + 100), AuxvEntry(AT_EXECFN, execfn)]
    words = [2, a0, a1, 0, e[0], e[2], 0, 0,  # unsetenv("B"): C moved down, NULL left
             AT_RANDOM, sbase + 100, AT_EXECFN, execfn, AT_NULL, 0]
    head = struct.pack(f"<{len(words)}Q", *words)
    data = head + b"\0" * (0x200 - len(head)) + strings + b"\0" * 200
    found, warnings = locate_initial_stack(BytesMemory(base, data), base, data, auxv)
    assert warnings == []
    assert (found.sp, found.argc, found.envc) == (base, 2, 3)
    assert (found.arg_start, found.arg_end, found.env_end) == (a0, e[0], execfn)


def test_locate_initial_stack_without_the_auxv():
    data = b"\0" * 256
    found, warnings = locate_initial_stack(BytesMemory(0x1000, data), 0x1000, data,
                                           [AuxvEntry(AT_EXECFN, 0x1234)])
    assert found is None and "not on the stack" in warnings[0]


def test_core_pattern_names():
    assert CorePattern("core", False).file_name(42, "sleeper") == "core"
    assert CorePattern("core", True).file_name(42, "sleeper") == "core.42"
    assert CorePattern("core.%e.%p", True).file_name(42, "sl") == "core.sl.42"
    assert CorePattern("core.%t", False).file_name(42, "sl") is None  # time: unknown
    p = CorePattern("|/lib/systemd/systemd-coredump %P %u %g", False)
    assert p.piped and p.handler == "systemd-coredump" and p.file_name(1, "x") is None
    assert not CorePattern("/var/crash/core.%p", False).in_cwd


# --------------------------------------------------------------------------- fuzz
@given(st.binary(max_size=600))
def test_note_parsers_fuzz(desc):
    for parse in (parse_nt_file, parse_prstatus, parse_prpsinfo):
        try:
            parse(desc)
        except ParseError:
            pass


@given(st.integers(0, 40), st.lists(st.tuples(st.integers(0, 2**64 - 1),
                                              st.integers(0, 2**64 - 1),
                                              st.integers(0, 2**40)), max_size=5),
       st.lists(st.binary(max_size=20), max_size=6))
def test_nt_file_fuzz_structured(page_shift, triples, names):
    desc = struct.pack("<QQ", len(triples), 1 << page_shift)
    for t in triples:
        desc += struct.pack("<QQQ", *t)
    desc += b"\0".join(names) + b"\0"
    try:
        page, entries = parse_nt_file(desc)
    except ParseError:
        return
    assert len(entries) == len(triples) and page == 1 << page_shift
    assert all(e.start <= e.end for e in entries)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_corrupt_core_fuzz(cores, tmp_path, data):
    """Bytes of a real core changed at random: a snapshot or a CoreFileError (one line,
    exit 2), never another exception."""
    raw = bytearray(open(cores[data.draw(st.sampled_from(["kernel", "gcore"]))],
                         "rb").read())
    # the headers and the notes are where a parser can go wrong: aim there mostly
    with CoreFile(cores["kernel"]) as c:
        hot = [0, 64, c.info.size - 1]
    for _ in range(data.draw(st.integers(1, 8))):
        where = data.draw(st.one_of(st.integers(0, 1024),
                                    st.integers(0, len(raw) - 1),
                                    st.sampled_from(hot)))
        raw[min(where, len(raw) - 1)] = data.draw(st.integers(0, 255))
    path = tmp_path / "fuzzed.core"
    path.write_bytes(bytes(raw))
    try:
        snap = core_snapshot(str(path))
    except CoreFileError:
        return
    assert snap.extra["source"] == "core"
    os.unlink(path)
