"""parse_environ / parse_cmdline on bytes captured in tests/data (see its README)."""

from __future__ import annotations

import pytest

from memlab.errors import ParseError
from memlab.render import json as json_form
from memlab.procfs.environ import parse_cmdline, parse_environ, split_nul
from tests.helpers import REPO

DATA = REPO / "tests" / "data"
# the exact env tests/data/capture.py gave the process (raw execve)
RAW_ENV = [b"A=1", b"NO_EQUALS_SIGN", b"", b"BAD_UTF8=\xff\xfe\x80", b"SPACES=x y  z",
           b"EQUALS==a=b", b"EMPTY=", b"UTF8=h\xc3\xa9llo"]


def load(name: str) -> bytes:
    return (DATA / name).read_bytes()


def test_captured_block_byte_exact_in_order():
    entries = parse_environ(load("environ_raw.bin"))
    assert [e.raw for e in entries] == RAW_ENV
    assert all(e.address is None for e in entries)


def test_entry_without_equals_kept():
    e = parse_environ(load("environ_raw.bin"))[1]
    assert e.raw == b"NO_EQUALS_SIGN" and not e.has_equals
    assert e.name == "NO_EQUALS_SIGN" and e.value == ""
    assert json_form.env_entry(e)["no_equals"] is True and json_form.env_entry(e)["value"] is None


def test_empty_string_entry_kept():
    e = parse_environ(load("environ_raw.bin"))[2]
    assert e.raw == b"" and not e.has_equals


def test_non_utf8_kept_raw():
    e = parse_environ(load("environ_raw.bin"))[3]
    assert e.value_bytes == b"\xff\xfe\x80" and not e.is_utf8
    assert e.value == "\\xff\\xfe\\x80"  # display form, the bytes stay exact


def test_value_split_on_first_equals_only():
    entries = {e.name: e for e in parse_environ(load("environ_raw.bin")) if e.has_equals}
    assert entries["EQUALS"].value_bytes == b"=a=b"
    assert entries["EMPTY"].value_bytes == b""
    assert entries["SPACES"].value == "x y  z"
    assert entries["UTF8"].value == "héllo" and entries["UTF8"].is_utf8


def test_addresses_from_base():
    data = load("environ_raw.bin")
    base = 0x7FFD_0000_1000
    entries = parse_environ(data, base=base)
    for e in entries:
        off = e.address - base
        assert data[off:off + len(e.raw)] == e.raw
        assert data[off + len(e.raw)] == 0  # each string ends at its NUL
    assert entries[0].address == base
    # entries follow each other: next address = this one + length + NUL
    for a, b in zip(entries, entries[1:]):
        assert b.address == a.address + len(a.raw) + 1


def test_empty_environment():
    assert load("environ_empty.bin") == b""
    assert parse_environ(load("environ_empty.bin")) == []


@pytest.mark.parametrize("data, expected", [
    (b"", []),
    (b"\0", [b""]),  # one empty string
    (b"\0\0", [b"", b""]),
    (b"A=1\0", [b"A=1"]),  # the trailing NUL terminates, adds nothing
    (b"A=1", [b"A=1"]),  # terminator overwritten: the tail still counts
    (b"A=1\0B", [b"A=1", b"B"]),
    (b"A=1\0\0", [b"A=1", b""]),
])
def test_trailing_nul_handling(data, expected):
    assert [e.raw for e in parse_environ(data)] == expected
    assert parse_cmdline(data) == expected


def test_round_trip():
    data = load("environ_raw.bin")
    assert b"".join(e.raw + b"\0" for e in parse_environ(data)) == data


def test_cmdline_captured():
    assert parse_cmdline(load("cmdline_raw.bin")) == [
        b"/bin/sh", b"-c", b"/bin/sleep 30", b"arg with spaces", b""]


def test_split_nul_offsets():
    assert split_nul(b"ab\0\0cd") == [(0, b"ab"), (3, b""), (4, b"cd")]


def test_not_bytes_is_parse_error():
    with pytest.raises(ParseError):
        parse_environ("A=1")  # type: ignore[arg-type]
    with pytest.raises(ParseError):
        parse_environ(b"A=1", base=-1)
