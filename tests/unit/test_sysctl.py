"""memlab.procfs.sysctl: vm.mmap_min_addr, parsed from the file's bytes."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from memlab.procfs.sysctl import parse_int, read_mmap_min_addr


def test_parse_int():
    assert parse_int(b"65536\n") == 65536
    assert parse_int(b"0\n") == 0
    assert parse_int(b"") is None and parse_int(b"-1\n") is None and parse_int(b"x") is None


@given(st.binary(max_size=40))
def test_parse_int_never_raises(data):
    n = parse_int(data)
    assert n is None or n >= 0


def test_read_mmap_min_addr_is_this_machines():
    with open("/proc/sys/vm/mmap_min_addr", "rb") as f:
        assert read_mmap_min_addr() == int(f.read())
