"""parse_stat on /proc/PID/stat files captured in tests/data (see its README)."""

from __future__ import annotations

import pytest

from memlab.errors import ParseError
from memlab.render import json as json_form
from memlab.kernel.abi import PF_KTHREAD
from memlab.procfs.stat import parse_flags, parse_stat, split_stat
from tests.helpers import REPO

DATA = REPO / "tests" / "data"


def load(name: str) -> bytes:
    return (DATA / name).read_bytes()


def test_every_field_of_a_live_process():
    data = load("stat_python3.txt")
    f = data.split()  # comm "python3" has no spaces: plain split gives proc(5) numbering
    s = parse_stat(data)
    assert s.pid == int(f[0])  # 1 pid
    assert s.comm == "python3"  # 2 comm, without its parentheses
    assert s.state == "S"  # 3 state (sleeping in time.sleep)
    assert s.ppid == int(f[3])  # 4 ppid
    assert s.start_code == int(f[25])  # 26 startcode
    assert s.end_code == int(f[26])  # 27 endcode
    assert s.start_stack == int(f[27])  # 28 startstack
    assert s.start_data == int(f[44])  # 45 start_data
    assert s.end_data == int(f[45])  # 46 end_data
    assert s.start_brk == int(f[46])  # 47 start_brk
    assert s.arg_start == int(f[47])  # 48 arg_start
    assert s.arg_end == int(f[48])  # 49 arg_end
    assert s.env_start == int(f[49])  # 50 env_start
    assert s.env_end == int(f[50])  # 51 env_end
    assert s.exit_code == int(f[51]) == 0  # 52 exit_code
    assert not s.masked and s.has_mm and not s.is_zombie


def test_layout_invariants_of_a_real_process():
    for name in ("stat_python3.txt", "stat_static.txt", "stat_raw.txt"):
        s = parse_stat(load(name))
        assert s.start_code < s.end_code <= s.start_data < s.end_data <= s.start_brk
        assert s.start_stack < s.arg_start < s.arg_end == s.env_start < s.env_end


def test_static_binary_text_at_0x400000():
    s = parse_stat(load("stat_static.txt"))
    assert s.comm == "pause-static"
    assert 0x400000 <= s.start_code < 0x500000


def test_comm_with_spaces_and_parentheses():
    s = parse_stat(load("stat_comm_parens.txt"))
    assert s.comm == "a) (b c) d"
    assert s.state == "S"
    assert s.has_mm and not s.masked
    # the fields after comm are not shifted: the same layout invariants hold
    assert s.arg_end == s.env_start < s.env_end


def test_masked_fields_are_recognised():
    s = parse_stat(load("stat_masked.txt"))
    assert s.masked
    assert (s.start_code, s.end_code, s.start_stack) == (1, 1, 0)
    assert s.env_start == s.env_end == s.arg_start == 0
    assert not s.has_mm  # 1 and 0 are not addresses
    assert json_form.proc_stat(s)["env_start"] == "hidden"
    assert json_form.proc_stat(s)["start_code"] == "hidden"


def test_pid1_read_by_root_is_masked_here():
    s = parse_stat(load("stat_pid1.txt"))
    assert s.pid == 1 and s.masked


def test_kernel_thread_all_zero_not_masked():
    data = load("stat_kthreadd.txt")
    s = parse_stat(data)
    assert (s.pid, s.comm, s.ppid) == (2, "kthreadd", 0)
    assert not s.masked and not s.has_mm
    assert all(getattr(s, f) == 0 for f in ("start_code", "end_code", "start_stack",
                                            "env_start", "env_end"))
    assert parse_flags(data) & PF_KTHREAD


def test_user_process_is_not_a_kernel_thread():
    assert not parse_flags(load("stat_python3.txt")) & PF_KTHREAD


def test_zombie():
    s = parse_stat(load("stat_zombie.txt"))
    assert s.state == "Z" and s.is_zombie
    assert not s.masked and not s.has_mm
    assert s.exit_code == 7 << 8  # wait status of _exit(7)


def test_split_numbering_matches_proc_5():
    pid, comm, fields = split_stat(load("stat_comm_parens.txt"))
    assert comm == b"a) (b c) d"
    assert fields[2] == b"S"  # field 3
    assert int(fields[3]) == parse_stat(load("stat_comm_parens.txt")).ppid  # field 4


def test_exit_code_optional_on_older_kernels():
    data = load("stat_python3.txt").split()
    s = parse_stat(b" ".join(data[:51]))
    assert s.exit_code is None and s.env_end > 0


@pytest.mark.parametrize("bad", [
    b"",
    b"1234 python S 1",  # no parentheses
    b"(x) S 1 " + b"0 " * 60,  # no pid
    b"12 (x) S 1 2 3",  # too few fields
    b"12 (x) 9 " + b"0 " * 60,  # state not a letter
    b"12 (x) S " + b"0 " * 30 + b"zz " + b"0 " * 30,  # a field that is not a number
    b"12 (x) S " + b"1_0 " * 60,  # int() would accept 1_0; the kernel never prints it
])
def test_malformed_raises_parse_error(bad):
    with pytest.raises(ParseError):
        parse_stat(bad)
