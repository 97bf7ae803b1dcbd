"""memlab search: every occurrence, at the right address, across chunk boundaries."""

from __future__ import annotations

import ctypes
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memlab.errors import AccessDenied, NoSuchProcess, UsageError
from memlab.exposure.search import parse_needle, render_context, search
from memlab.launch import launch
from memlab.model import Region
from tests.exposure.conftest import requires_root
from tests.helpers import NOBODY, run_as


def address_of(buf: bytearray) -> int:
    return ctypes.addressof(ctypes.c_char.from_buffer(buf))


def region_over(buf: bytearray) -> Region:
    start = address_of(buf)
    return Region(start, start + len(buf), "rw-p", 0, "00:00", 0, None)


def naive_positions(data: bytes, needle: bytes) -> list[int]:
    out, pos = [], data.find(needle)
    while pos >= 0:
        out.append(pos)
        pos = data.find(needle, pos + 1)
    return out


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(min_size=1, max_size=3000),
       needle=st.binary(min_size=1, max_size=12),
       plants=st.lists(st.integers(min_value=0, max_value=3000), max_size=6),
       chunk=st.integers(min_value=1, max_value=700))
def test_chunked_search_equals_a_naive_find(data, needle, plants, chunk):
    """Overlapping matches, matches straddling chunk edges, needle longer than a chunk:
    the streamed search finds exactly what bytes.find finds, once each."""
    raw = bytearray(data)
    for p in plants:
        raw[p:p] = needle
    buf = bytearray(raw)  # the memory that is searched (this very process)
    region = region_over(buf)
    result = search(os.getpid(), needle, regions=[region], chunk=chunk)
    got = [h.address - region.start for h in result.hits]
    assert got == naive_positions(bytes(buf), needle)
    assert result.bytes_scanned == len(buf)


def test_hits_are_where_the_sample_says_they_are():
    value = "needle-7f3a9c0e55"
    with launch("sleeper", env=[b"HOME=/", b"PLANTED=" + value.encode()],
                hold="ready") as p:
        block = int(p.command("getenv PLANTED")["address"], 16)
        heap = int(p.command("copy PLANTED")["address"], 16)
        result = search(p.pid, value.encode())
        hits = {h.address: h for h in result.hits}
        assert block in hits and hits[block].region == "[stack]"
        assert hits[block].kind == "stack"
        assert heap in hits and hits[heap].region == "[heap]"
        assert hits[heap].offset == heap - min(
            h.address - h.offset for h in result.hits if h.region == "[heap]")
        # Context: the env-block hit shows its name, the value masked.
        assert "PLANTED=[***]" in hits[block].context(value.encode())
        assert "[vsyscall]" in {r for r, _ in result.skipped}
        assert result.method == "process_vm_readv"


def test_max_hits_truncates():
    buf = bytearray(b"ab" * 5000)
    result = search(os.getpid(), b"ab", regions=[region_over(buf)], max_hits=10)
    assert len(result.hits) == 10 and result.truncated


def test_progress_is_called_up_to_the_total():
    buf = bytearray(3 << 20)
    seen = []
    search(os.getpid(), b"zz", regions=[region_over(buf)],
           progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (len(buf), len(buf))
    assert len(seen) == 3  # one call per 1 MiB chunk


@requires_root
def test_search_as_another_uid_is_denied():
    with launch("sleeper", env=[b"X=1"], hold="ready") as p:
        with pytest.raises(AccessDenied):
            run_as(NOBODY, search, p.pid, b"X=1")


def test_search_of_a_gone_process():
    with launch("sleeper", env=[b"X=1"], hold="ready") as p:
        pid = p.pid
    with pytest.raises(NoSuchProcess):
        search(pid, b"X")


@pytest.mark.parametrize("text,hex_input,want", [
    ("hunter2", False, b"hunter2"),
    ("de ad be ef", True, b"\xde\xad\xbe\xef"),
    ("deadbeef", True, b"\xde\xad\xbe\xef"),
    ("de:ad", True, b"\xde\xad"),
])
def test_parse_needle(text, hex_input, want):
    assert parse_needle(text, hex_input=hex_input) == want


@pytest.mark.parametrize("text,hex_input", [("", False), ("xyz", True), ("", True)])
def test_bad_needles_are_usage_errors(text, hex_input):
    with pytest.raises(UsageError):
        parse_needle(text, hex_input=hex_input)


def test_context_masks_the_hit_and_secret_neighbours():
    before = b"\0\0\0\0\0HOME=/\0API_TOKEN=tok\0DB_PASSWORD="
    after = b"tail\0LANG=C\0\0\0\0"
    masked = render_context(before, b"hunter2", after, reveal=False)
    assert masked == "\\0*5HOME=/\\0API_TOKEN=***\\0DB_PASSWORD=[***]\\0LANG=C\\0*4"
    assert "hunter2" not in masked and "tok" not in masked
    revealed = render_context(before, b"hunter2", after, reveal=True)
    assert "DB_PASSWORD=[hunter2]tail" in revealed and "API_TOKEN=tok" in revealed


@given(st.binary(max_size=64), st.binary(min_size=1, max_size=16), st.binary(max_size=64))
def test_masked_context_never_shows_the_needle_as_a_whole(before, needle, after):
    out = render_context(before, needle, after, reveal=False)
    assert "[***]" in out
