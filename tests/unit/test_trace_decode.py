"""decode: the calls as strace writes them, from the raw numbers."""

from __future__ import annotations

import errno
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from memlab.kernel.abi import SYSCALL_NUMBERS
from memlab.trace.decode import (
    Call,
    call_text,
    decoded_args,
    map_flag_names,
    parse_calls,
    prot_names,
    result_value,
)


def call(name: str, nr: int, *args: int, rval: int = 0, error: bool = False,
         path: bytes | None = None) -> Call:
    return Call(1, nr, name, (*args, *([0] * (6 - len(args)))), path, rval, error)


def test_mmap_as_strace_writes_it():
    c = call("mmap", 9, 0, 100003840, 3, 0x22, 0xFFFFFFFF, 0, rval=0x7F0000000000)
    assert call_text(c) == ("mmap(NULL, 100003840, PROT_READ|PROT_WRITE, "
                            "MAP_PRIVATE|MAP_ANONYMOUS, -1, 0x0) = 0x7f0000000000")
    assert decoded_args(c)["fd"] == -1
    assert result_value(c) == "0x7f0000000000"


def test_failure_shows_errno():
    c = call("mprotect", 10, 0x1000, 4096, 7, rval=-errno.ENOMEM, error=True)
    assert call_text(c) == ("mprotect(0x1000, 4096, PROT_READ|PROT_WRITE|PROT_EXEC) = "
                            "-1 ENOMEM (Cannot allocate memory)")
    assert c.errno == errno.ENOMEM and result_value(c) is None


def test_flags():
    assert prot_names(0) == ["PROT_NONE"]
    assert map_flag_names(0x02 | 0x10 | 0x800) == ["MAP_PRIVATE", "MAP_FIXED",
                                                   "MAP_DENYWRITE"]
    assert map_flag_names(0x01 | 0x80000000) == ["MAP_SHARED", "0x80000000"]


def test_execve_and_brk():
    c = call("execve", 59, 0x5000, 0x6000, 0x7000, path=b"/bin/true")
    assert call_text(c) == 'execve("/bin/true", 0x6000, 0x7000) = 0'
    assert call_text(call("brk", 12, 0, rval=0x555555559000)) == "brk(NULL) = 0x555555559000"


def test_parse_calls():
    assert parse_calls("brk, mmap,brk") == ("brk", "mmap")
    with pytest.raises(ValueError, match="cannot trace 'open'"):
        parse_calls("brk,open")
    with pytest.raises(ValueError):
        parse_calls(" , ")


@given(st.sampled_from(sorted(SYSCALL_NUMBERS)), st.lists(
    st.integers(0, (1 << 64) - 1), min_size=6, max_size=6),
    st.integers(-(1 << 63), (1 << 63) - 1), st.booleans(),
    st.one_of(st.none(), st.binary(max_size=40)))
def test_any_registers_decode_to_one_line(name, args, rval, error, path):
    if error:
        rval = -(abs(rval) % 4096 or 1)  # the kernel's -errno range
    c = Call(7, SYSCALL_NUMBERS[name], name, tuple(args), path, rval, error)
    text = call_text(c)
    assert text.startswith(name + "(") and "\n" not in text
    json.dumps(decoded_args(c))  # JSON-able
    assert (result_value(c) is None) == error
