"""decode_initial_stack on initial stacks captured from real processes (tests/data/initstack),
on hand-corrupted copies of them, and on random bytes."""

from __future__ import annotations

import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memlab.analysis.initstack import decode_initial_stack
from memlab.analysis.bytesmemory import BytesMemory
from memlab.errors import UnreadableMemory
from memlab.kernel.abi import AT_EXECFN, AT_PLATFORM, AT_RANDOM
from memlab.procfs.environ import parse_environ
from memlab.render import json as json_form
from tests.data.initstack import CASES, load_case


def decode(case, memory=None, **overrides):
    s = case.stat
    kw = dict(stack_end=case.stack_region.end, arg_start=s.arg_start, arg_end=s.arg_end,
              env_start=s.env_start, env_end=s.env_end,
              env_count=len(parse_environ(case.environ)), proc_auxv=case.auxv)
    kw.update(overrides)
    return decode_initial_stack(memory or case.memory(), s.start_stack, **kw)


def test_all_cases_captured():
    assert {"sleep_exec", "sleep_exec_noaslr", "sleeper_envp_changed",
            "sleeper_static_pie_exec"} <= set(CASES)


@pytest.mark.parametrize("name", [c for c in CASES if c != "sleeper_envp_changed"])
def test_pristine_stack_decodes_completely(name):
    case = load_case(name)
    stack, warnings = decode(case)
    assert warnings == []
    assert stack.complete
    sp = case.stat.start_stack
    # argc, then argv[] right above it (fs/binfmt_elf.c create_elf_tables)
    assert stack.sp == sp
    assert stack.argc == len(case.cmdline) == len(case.meta["argv"])
    assert [a.slot for a in stack.argv] == [sp + 8 + 8 * i for i in range(stack.argc)]
    assert [a.string for a in stack.argv] == case.cmdline
    assert stack.argv[0].address == case.stat.arg_start
    # envp[] after argv's NULL; its strings are the env block, in order, at env_start..
    envp_base = sp + 8 * (stack.argc + 2)
    assert [e.slot for e in stack.envp] == [envp_base + 8 * i for i in range(len(stack.envp))]
    proc = parse_environ(case.environ, base=case.stat.env_start)
    assert [(e.address, e.string) for e in stack.envp] == [(p.address, p.raw) for p in proc]
    assert [e.encode() for e in case.meta["env"]] == [e.string for e in stack.envp]
    # auxv after envp's NULL, identical to /proc/PID/auxv (mm->saved_auxv)
    assert stack.auxv_address == envp_base + 8 * (len(stack.envp) + 1)
    assert stack.auxv_matches_proc is True
    assert [(a.type, a.value) for a in stack.auxv] == [(a.type, a.value) for a in case.auxv]
    values = {a.type: a.value for a in case.auxv}
    # the info block: AT_RANDOM's 16 bytes below the platform string, both below argv
    assert len(stack.at_random) == 16
    assert stack.at_random == case.stack_bytes[values[AT_RANDOM] - case.base:][:16]
    assert stack.platform == "x86_64"
    assert values[AT_RANDOM] + 16 == values[AT_PLATFORM]
    assert stack.execfn_address == values[AT_EXECFN] == case.stat.env_end
    assert stack.execfn == case.meta["exe"] or stack.execfn == case.meta["argv"][0] \
        or stack.execfn.endswith("/" + case.meta["argv"][0])
    # random padding between the platform string and the argument strings
    assert stack.padding == case.stat.arg_start - (values[AT_PLATFORM] + len("x86_64") + 1)


def test_padding_is_alignment_only_without_aslr():
    stack, _ = decode(load_case("sleep_exec_noaslr"))
    assert 0 <= stack.padding < 16  # arch_align_stack: `sp & ~0xf`, no random part
    assert stack.sp < 0x7ffffffff000  # the un-randomised stack top


def test_padding_is_random_with_aslr():
    paddings = [decode(load_case(n))[0].padding
                for n in ("sleep_exec", "sleeper_ready", "sleeper_static_ready")]
    assert all(0 <= p < 8192 + 16 for p in paddings)
    assert any(p >= 16 for p in paddings)


def test_envp_changed_in_place_by_libc():
    """unsetenv A shifted envp[] down and setenv B pointed a slot at the heap: the decoder
    says so, still finds the auxv where the kernel put it, and never raises."""
    case = load_case("sleeper_envp_changed")
    stack, warnings = decode(case)
    assert not stack.complete
    assert len(stack.envp) == 3  # 4 strings were copied; one pointer was removed
    assert any("execve copied 4 strings" in w for w in warnings)
    assert stack.auxv_matches_proc is True
    # without the env block count, the first NULL is taken; /proc's auxv picks the spot
    stack2, _ = decode(case, env_count=None)
    assert [(a.type, a.value) for a in stack2.auxv][:1] == [(case.auxv[0].type,
                                                             case.auxv[0].value)]


def _patched(case, addr, value):
    data = bytearray(case.stack_bytes)
    struct.pack_into("<Q", data, addr - case.base, value)
    return BytesMemory(case.base, bytes(data))


def test_argv_pointer_rewritten_outside_the_arg_block():
    """A program that rewrote argv[] (setproctitle style) gives a warning, not a crash."""
    case = load_case("sleep_exec")
    sp = case.stat.start_stack
    env0 = case.stat.env_start  # a readable string, but outside arg_start..arg_end
    stack, warnings = decode(case, memory=_patched(case, sp + 16, env0))
    assert not stack.complete
    assert stack.argv[1].address == env0
    assert any("argv[1]" in w and "changed its argv" in w for w in warnings)


def test_argv_pointer_to_unmapped_memory():
    case = load_case("sleep_exec")
    stack, warnings = decode(case, memory=_patched(case, case.stat.start_stack + 8, 0x1000))
    assert not stack.complete
    assert stack.argv[0].string == b""
    assert any("argv[0] = 0x1000" in w for w in warnings)


def test_argc_overwritten_with_garbage():
    case = load_case("sleep_exec")
    stack, warnings = decode(case, memory=_patched(case, case.stat.start_stack, 1 << 40))
    assert stack is None
    assert "not a plausible argc" in warnings[0]


def test_argv_not_null_terminated():
    case = load_case("sleep_exec")
    sp = case.stat.start_stack
    stack, warnings = decode(case, memory=_patched(case, sp + 8 * (1 + 2), 0x1234))
    assert not stack.complete
    assert any("not NULL" in w for w in warnings)


def test_auxv_differs_from_proc():
    case = load_case("sleep_exec")
    stack, _ = decode(case)
    slot = stack.auxv_address + 8  # value of the first pair (AT_SYSINFO_EHDR)
    stack2, warnings = decode(case, memory=_patched(case, slot, 0xdead000),
                              env_count=None, proc_auxv=case.auxv)
    assert stack2.auxv_matches_proc is False
    assert any("differs from /proc/PID/auxv" in w for w in warnings)


def test_without_proc_auxv_nothing_is_compared():
    stack, _ = decode(load_case("sleep_exec"), proc_auxv=None)
    assert stack.auxv_matches_proc is None
    assert stack.platform == "x86_64"


def test_unreadable_startstack_and_zero():
    case = load_case("sleep_exec")
    assert decode_initial_stack(case.memory(), 0)[0] is None
    stack, warnings = decode_initial_stack(case.memory(), 0x1000)
    assert stack is None and "not readable" in warnings[0]


def test_to_dict_masks_secret_envp_unless_reveal():
    stack, _ = decode(load_case("sleep_exec"))
    masked = [e["string"] for e in json_form.initial_stack(stack)["envp"]]
    assert "DB_PASSWORD=***" in masked and "A=1" in masked
    assert "DB_PASSWORD=hunter2" in [e["string"] for e in json_form.initial_stack(stack, reveal=True)["envp"]]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(min_size=0, max_size=2048), offset=st.integers(0, 2100),
       env_count=st.none() | st.integers(0, 50))
def test_random_bytes_never_raise(data, offset, env_count):
    base = 0x7ffd00000000
    mem = BytesMemory(base, data)
    stack, warnings = decode_initial_stack(mem, base + offset, stack_end=base + len(data),
                                           env_count=env_count)
    assert stack is None or isinstance(stack.argc, int)
    assert all(isinstance(w, str) for w in warnings)


def test_bytes_memory_reads():
    mem = BytesMemory(0x1000, b"ab\0cd" + struct.pack("<QQ", 7, 9))
    assert mem.read_cstring(0x1000) == b"ab"
    assert mem.read_cstring(0x1003, limit=1) == b"c"
    assert mem.read_u64s(0x1005, 2) == [7, 9]
    assert mem.read(0x1003, 2) == b"cd"
    with pytest.raises(UnreadableMemory):
        mem.read(0x0fff, 2)
    with pytest.raises(UnreadableMemory):
        mem.read_cstring(0x1003 + 100)
    with pytest.raises(UnreadableMemory):  # no NUL before the end of the window
        BytesMemory(0, b"abc").read_cstring(0)
