"""parse_auxv and the AT_* table, on /proc/PID/auxv captured in tests/data."""

from __future__ import annotations

import re
import struct
from pathlib import Path

import pytest

from memlab.errors import ParseError
from memlab.kernel.abi import AT_NAMES, AT_NUMBERS, auxv_name
from memlab.procfs.auxv import parse_auxv
from memlab.render import json as json_form
from tests.helpers import REPO

DATA = REPO / "tests" / "data"
# kernel-facts section 1: the order create_elf_tables writes on x86_64 6.x
X86_ORDER = ["AT_SYSINFO_EHDR", "AT_MINSIGSTKSZ", "AT_HWCAP", "AT_PAGESZ", "AT_CLKTCK",
             "AT_PHDR", "AT_PHENT", "AT_PHNUM", "AT_BASE", "AT_FLAGS", "AT_ENTRY",
             "AT_UID", "AT_EUID", "AT_GID", "AT_EGID", "AT_SECURE", "AT_RANDOM",
             "AT_HWCAP2", "AT_EXECFN", "AT_PLATFORM", "AT_RSEQ_FEATURE_SIZE",
             "AT_RSEQ_ALIGN"]


def load(name: str) -> bytes:
    return (DATA / name).read_bytes()


@pytest.mark.parametrize("name", ["auxv_python3.bin", "auxv_static.bin"])
def test_captured_vector_in_kernel_order(name):
    entries = parse_auxv(load(name))
    assert [e.name for e in entries] == X86_ORDER
    values = {e.name: e.value for e in entries}
    assert values["AT_PAGESZ"] == 4096
    assert values["AT_CLKTCK"] == 100
    assert values["AT_PHENT"] == 56  # sizeof(Elf64_Phdr)
    assert values["AT_UID"] == values["AT_EUID"] == 0  # captured as root
    assert values["AT_SECURE"] == 0
    assert values["AT_RSEQ_FEATURE_SIZE"] == 28 and values["AT_RSEQ_ALIGN"] == 32


def test_static_binary_has_no_interpreter():
    values = {e.name: e.value for e in parse_auxv(load("auxv_static.bin"))}
    assert values["AT_BASE"] == 0  # no ld.so
    assert values["AT_PHDR"] == 0x400040  # non-PIE: headers right after the ELF header


def test_dynamic_binary_has_interpreter():
    values = {e.name: e.value for e in parse_auxv(load("auxv_python3.bin"))}
    assert values["AT_BASE"] > 0
    # the stack strings sit below AT_EXECFN, above AT_RANDOM
    assert values["AT_RANDOM"] < values["AT_PLATFORM"] < values["AT_EXECFN"]


def test_at_null_excluded_and_stops_the_vector():
    data = load("auxv_static.bin")
    assert data[-16:] == b"\0" * 16
    trailing = data + struct.pack("=QQ", 6, 4096)  # after AT_NULL: ignored
    assert parse_auxv(trailing) == parse_auxv(data)
    assert all(e.type != 0 for e in parse_auxv(data))


def test_every_uapi_value_named():
    # include/uapi/linux/auxvec.h + arch/x86/include/uapi/asm/auxvec.h
    expected = {0: "AT_NULL", 1: "AT_IGNORE", 2: "AT_EXECFD", 3: "AT_PHDR", 4: "AT_PHENT",
                5: "AT_PHNUM", 6: "AT_PAGESZ", 7: "AT_BASE", 8: "AT_FLAGS", 9: "AT_ENTRY",
                10: "AT_NOTELF", 11: "AT_UID", 12: "AT_EUID", 13: "AT_GID", 14: "AT_EGID",
                15: "AT_PLATFORM", 16: "AT_HWCAP", 17: "AT_CLKTCK", 23: "AT_SECURE",
                24: "AT_BASE_PLATFORM", 25: "AT_RANDOM", 26: "AT_HWCAP2",
                27: "AT_RSEQ_FEATURE_SIZE", 28: "AT_RSEQ_ALIGN", 29: "AT_HWCAP3",
                30: "AT_HWCAP4", 31: "AT_EXECFN", 32: "AT_SYSINFO", 33: "AT_SYSINFO_EHDR",
                51: "AT_MINSIGSTKSZ"}
    for number, name in expected.items():
        assert AT_NAMES[number] == name
        assert AT_NUMBERS[name] == number


def test_installed_headers_agree():
    """Whatever this machine's uapi headers define, the table names the same way."""
    found = 0
    for header in ("/usr/include/linux/auxvec.h", "/usr/include/x86_64-linux-gnu/asm/auxvec.h"):
        path = Path(header)
        if not path.exists():
            continue
        for name, number in re.findall(r"#\s*define\s+(AT_\w+)\s+(\d+)", path.read_text()):
            if name != "AT_VECTOR_SIZE_ARCH":
                assert AT_NAMES[int(number)] == name
                found += 1
    if not found:
        pytest.skip("no kernel headers installed")


@pytest.mark.parametrize("t", [38, 52, 99, 2**64 - 1])
def test_unknown_type_shown_as_number(t):
    (entry,) = parse_auxv(struct.pack("=QQQQ", t, 7, 0, 0))
    assert (entry.type, entry.value) == (t, 7)
    assert entry.name == auxv_name(t) == str(t)
    assert json_form.auxv_entry(entry)["type"] == str(t)


def test_empty_is_no_entries():
    assert parse_auxv(b"") == []


@pytest.mark.parametrize("cut", [1, 8, 15, 17])
def test_truncated_raises(cut):
    with pytest.raises(ParseError):
        parse_auxv(load("auxv_python3.bin")[:-cut])


def test_missing_terminator_raises_unless_allowed():
    data = load("auxv_python3.bin")[:-16]
    with pytest.raises(ParseError):
        parse_auxv(data)
    assert len(parse_auxv(data, require_null=False)) == len(X86_ORDER)


def test_to_dict():
    d = json_form.auxv_entry(parse_auxv(load("auxv_static.bin"))[3])
    assert d == {"type": "AT_PAGESZ", "type_number": 6, "value": 4096, "hex": "0x1000"}
