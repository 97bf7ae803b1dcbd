"""memlab.elf.reader / model on real files: the built samples and system binaries."""

from __future__ import annotations

import os
import shutil

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memlab.elf import clear_cache, load
from memlab.elf import reader
from memlab.errors import ParseError, UsageError
from tests.elf.conftest import VARIANTS
from tests.helpers import sample

KINDS = {"sleeper": "pie", "sleeper-nopie": "no-pie", "sleeper-static": "static",
         "sleeper-static-pie": "static-pie"}


@pytest.mark.parametrize("name", VARIANTS)
def test_kind_and_symbols_of_each_variant(name):
    info = load(sample(name))
    assert info.kind == KINDS[name]
    assert info.is_static == name.startswith("sleeper-static")
    assert info.is_pie == (name in ("sleeper", "sleeper-static-pie"))
    assert (info.interp is None) == info.is_static
    # gcc/glibc binaries built with -g keep .symtab: every core symbol comes from it
    assert info.has_symtab and not info.missing
    for n in ("main", "_start", "etext", "edata", "_edata", "__bss_start", "end", "_end"):
        assert info.symbol(n) is not None and info.symbol(n).source == ".symtab", n
    assert info.symbol("_start").value == info.e_entry
    # the linker symbols are ordered: text < etext <= edata <= __bss_start <= end
    v = {n: info.symbol(n).value for n in ("main", "etext", "edata", "__bss_start", "end")}
    assert v["main"] < v["etext"] <= v["edata"] <= v["__bss_start"] <= v["end"]
    # x86_64 gcc 12: R, RX, R, RW PT_LOADs
    assert [s.perms for s in info.loads] == ["R--", "R-X", "R--", "RW-"]
    # sleeper.c uses `environ`: a static binary carries libc's own definition; a
    # dynamic one gets a copy relocation, so the executable defines it too (.dynsym)
    env = info.symbol("environ")
    assert env is not None
    assert env.source == (".symtab" if info.is_static else ".dynsym")


def test_phdr_vaddr_without_pt_phdr():
    """Static non-PIE binaries have no PT_PHDR: AT_PHDR is derived from the PT_LOAD
    holding e_phoff (fs/binfmt_elf.c)."""
    info = load(sample("sleeper-static"))
    assert info.phdr is None
    assert info.phdr_vaddr == info.loads[0].vaddr + info.e_phoff


def test_stripped_system_binary_falls_back():
    info = load("/usr/bin/sleep")
    assert info.stripped and info.has_dynsym
    assert info.kind == "pie"
    start = info.symbol("_start")
    assert start is not None and start.source == "e_entry" and start.derived
    end = info.first("_end", "end")
    bss = info.section(".bss")
    assert end is not None and end.value == bss.addr + bss.size
    assert "main" in info.missing  # nothing tells where main is: said, not guessed
    d = info.to_dict()
    assert d["stripped"] is True and "main" in d["missing_symbols"]


def test_cache_hits_and_invalidates_on_new_mtime(tmp_path):
    clear_cache()
    copy = tmp_path / "sleeper"
    shutil.copy2(sample("sleeper"), copy)
    before = dict(reader.stats)
    a = load(str(copy))
    b = load(str(copy))
    assert a is b
    assert reader.stats["parsed"] == before["parsed"] + 1
    assert reader.stats["hits"] == before["hits"] + 1
    st = os.stat(copy)
    os.utime(copy, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    c = load(str(copy))
    assert c is not a and c == a  # re-parsed (new mtime), same content
    assert reader.stats["parsed"] == before["parsed"] + 2


def test_not_elf_and_missing(tmp_path):
    p = tmp_path / "x.txt"
    p.write_bytes(b"#!/bin/sh\necho hi\n")
    with pytest.raises(ParseError):
        load(str(p))
    with pytest.raises(UsageError):
        load(str(tmp_path / "nope"))
    with pytest.raises(UsageError):
        load(str(tmp_path))


HEAD = open(sample("sleeper"), "rb").read()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cut=st.integers(min_value=0, max_value=len(HEAD)),
       flips=st.lists(st.tuples(st.integers(0, 4095), st.integers(0, 255)), max_size=8))
def test_fuzzed_files_parse_or_raise_parse_error(tmp_path_factory, cut, flips):
    """Truncated or corrupted ELF files: an ElfInfo or a ParseError, nothing else."""
    data = bytearray(HEAD[:cut])
    for pos, val in flips:
        if pos < len(data):
            data[pos] = val
    p = tmp_path_factory.mktemp("fuzz") / "f"
    p.write_bytes(bytes(data))
    try:
        info = load(str(p))
    except ParseError:
        return
    assert info.e_type.startswith("ET_") or info.e_type.isdigit() or info.e_type
