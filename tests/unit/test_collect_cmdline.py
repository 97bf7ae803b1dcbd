"""collect._cmdline: argv from the stack window where get_mm_cmdline would read exactly
those bytes, /proc/PID/cmdline otherwise (captured stacks, tests/data/initstack)."""

from __future__ import annotations

import pytest

from memlab import collect
from memlab.analysis.bytesmemory import BytesMemory
from tests.data.initstack import CASES, HERE, load_case

FILE = b"from-proc\0"


@pytest.fixture
def proc_reads(monkeypatch):
    """Stand-in for read_proc_file: records the names asked for, answers FILE."""
    asked = []

    def read(pid, name, *, tid=None):
        asked.append(name)
        return FILE

    monkeypatch.setattr(collect, "read_proc_file", read)
    return asked


@pytest.mark.parametrize("name", CASES)
def test_window_gives_the_bytes_proc_cmdline_gave(name, proc_reads):
    case = load_case(name)
    raw = (HERE / name / "cmdline").read_bytes()
    assert collect._cmdline(1, case.stat, case.memory()) == raw
    assert proc_reads == []


def test_overwritten_final_nul_asks_the_kernel(proc_reads):
    """setproctitle overwrote the NUL at arg_end - 1: get_mm_cmdline then follows the
    string into the env area (get_mm_proctitle); memlab lets the kernel do that."""
    case = load_case("sleeper_ready")
    data = bytearray(case.stack_bytes)
    data[case.stat.arg_end - 1 - case.base] = ord("x")
    assert collect._cmdline(1, case.stat, BytesMemory(case.base, data)) == FILE
    assert proc_reads == ["cmdline"]


@pytest.mark.parametrize("change", [
    {"env_end": 0},  # get_mm_cmdline: not spawned far enough, the file is empty
    {"arg_end": 0},  # arg_start >= arg_end: empty as well
])
def test_kernel_special_cases_ask_the_kernel(change, proc_reads):
    case = load_case("sleeper_ready")
    assert collect._cmdline(1, case.stat._replace(**change), case.memory()) == FILE
    assert proc_reads == ["cmdline"]


def test_window_without_the_arguments_asks_the_kernel(proc_reads):
    case = load_case("sleeper_ready")
    arg_off = case.stat.arg_end - case.base
    short = BytesMemory(case.base, case.stack_bytes[:arg_off - 1])
    assert collect._cmdline(1, case.stat, short) == FILE
    assert collect._cmdline(1, case.stat, None) == FILE
    assert proc_reads == ["cmdline", "cmdline"]
