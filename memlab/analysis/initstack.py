"""Decode the initial stack execve built, starting at /proc/PID/stat's startstack.

Layout (fs/binfmt_elf.c create_elf_tables; docs/kernel-facts.md#the-initial-stack),
from startstack upwards:

    argc | argv[0..argc-1] | NULL | envp[0..envc-1] | NULL | auxv (type, value)... AT_NULL
    ... alignment | 16 AT_RANDOM bytes | platform string "x86_64" | random padding
    (arch_align_stack, 0..8 KiB) | argument strings (arg_start) | env strings | exec path

A running program may have changed what it finds here: glibc's `environ` IS the envp array
until setenv needs a bigger one, so setenv of an existing name replaces a pointer in place
and unsetenv shifts the pointers down (stdlib/setenv.c); setproctitle-style code rewrites
argv[].  The decoder never trusts a pointer: it checks each one, reports what changed as a
warning and marks the result `complete=False` instead of failing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from memlab.errors import UnreadableMemory
from memlab.kernel.abi import (AT_BASE_PLATFORM, AT_EXECFN, AT_NULL, AT_PLATFORM, AT_RANDOM,
                               MAX_ARG_STRLEN)
from memlab.model import AuxvEntry, InitialStack, StackString, records

MAX_ARGS = 1 << 20  # far above what ARG_MAX lets execve pass
MAX_AUXV = 64  # the kernel writes at most AT_VECTOR_SIZE/2 (about 26) pairs on x86_64
STRING_LIMIT = MAX_ARG_STRLEN  # no argv/envp string execve copied is longer


def _cstring(memory, addr: int) -> bytes | None:
    try:
        return memory.read_cstring(addr, STRING_LIMIT)
    except UnreadableMemory:
        return None


def _read_pointer_array(memory, addr: int, limit: int) -> list[int]:
    """Pointers from addr up to (not including) the first NULL, at most `limit`."""
    out: list[int] = []
    chunk = 32
    while len(out) < limit:
        n = min(chunk, limit - len(out) + 1)
        try:
            values = memory.read_u64s(addr + 8 * len(out), n)
        except UnreadableMemory:
            if chunk == 1:
                raise
            chunk = 1
            continue
        if 0 in values:
            return out + values[:values.index(0)]
        out += values
        chunk = min(chunk * 2, 1024)
    raise UnreadableMemory(f"no NULL within {limit} pointers from 0x{addr:x}")


def _read_auxv(memory, addr: int, expected: int | None = None
               ) -> tuple[list[tuple[int, int]], bool]:
    """(type, value) pairs from addr until AT_NULL (excluded).  Returns (pairs, saw
    AT_NULL).  One read for the whole vector when possible (`expected` pairs and the
    AT_NULL first, when /proc/PID/auxv says how many), pair by pair otherwise."""
    try:
        flat = []
        if expected is not None and expected < MAX_AUXV:
            flat = memory.read_u64s(addr, 2 * expected + 2)
        if AT_NULL not in flat[0::2]:
            flat = memory.read_u64s(addr, 2 * MAX_AUXV)
    except UnreadableMemory:
        flat = []
        for i in range(MAX_AUXV):
            try:
                pair = memory.read_u64s(addr + 16 * i, 2)
            except UnreadableMemory:
                break
            flat += pair
            if pair[0] == AT_NULL:
                break
    types = flat[0::2]
    ended = AT_NULL in types
    if ended:
        types = types[:types.index(AT_NULL)]
    return list(zip(types, flat[1::2])), ended


def _strings(memory, slots_base: int, pointers: Sequence[int], what: str,
             lo: int | None, hi: int | None, warnings: list[str],
             known: Mapping[int, bytes] | None = None) -> tuple[tuple[StackString, ...], bool]:
    """Resolve each pointer to its string; check it lies in [lo, hi) when known.
    `known` maps addresses to the strings already split out of the same bytes (the env
    block): a pointer found there needs no second look at memory."""
    moved = []
    unreadable = []
    strings = list(map((known or {}).get, pointers))  # the env block's: no memory read
    if None in strings:
        check = lo is not None and hi is not None
        for i, p in enumerate(pointers):
            if strings[i] is not None:
                continue
            try:
                strings[i] = memory.read_cstring(p, STRING_LIMIT)
            except UnreadableMemory:
                unreadable.append(i)
                strings[i] = b""
            else:
                if check and not lo <= p < hi:
                    moved.append(i)
    rows = zip(range(slots_base, slots_base + 8 * len(pointers), 8), pointers, strings)
    for i in unreadable[:5]:
        warnings.append(f"{what}[{i}] = 0x{pointers[i]:x} points to unreadable memory")
    if moved:
        which = ", ".join(f"{what}[{i}]" for i in moved[:5]) + (" ..." if len(moved) > 5 else "")
        area = "argument" if what == "argv" else "environment"
        warnings.append(f"{which} now point outside the {area} strings execve copied "
                        f"(0x{lo:x}..0x{hi:x}): the program changed its {what} array")
    return tuple(records(StackString, rows)), not moved and not unreadable


def decode_initial_stack(
    memory,
    sp: int,
    *,
    stack_end: int | None = None,
    arg_start: int | None = None,
    arg_end: int | None = None,
    env_start: int | None = None,
    env_end: int | None = None,
    env_count: int | None = None,
    env_strings: Mapping[int, bytes] | None = None,
    proc_auxv: Sequence[AuxvEntry] | None = None,
) -> tuple[InitialStack | None, list[str]]:
    """Decode argc, argv[], envp[], auxv and the info block from sp (= startstack).

    The keyword arguments come from /proc/PID/stat (arg/env ranges), the env block
    (env_count = how many strings execve copied; env_strings = {address: NAME=value} of
    those strings, NUL-terminated ones only) and /proc/PID/auxv; each is optional and
    only sharpens the checks.  Returns (stack or None, warnings); never raises for what a
    running process did to its own stack.
    """
    warnings: list[str] = []
    complete = True
    if not sp:
        return None, ["startstack is 0: no initial stack to decode"]
    try:
        argc = memory.read_u64(sp)
    except UnreadableMemory as err:
        return None, [f"startstack 0x{sp:x} is not readable ({err})"]
    max_args = MAX_ARGS if stack_end is None else max(0, (stack_end - sp) // 8 - 3)
    if argc > min(max_args, MAX_ARGS):
        return None, [f"startstack 0x{sp:x} holds {argc}, not a plausible argc: "
                      "the program overwrote its initial stack"]

    # argv[]: exactly argc pointers, then NULL.
    argv_base = sp + 8
    try:
        slots = memory.read_u64s(argv_base, argc + 1)
    except UnreadableMemory as err:
        return None, [f"argv[] at 0x{argv_base:x} is not readable ({err})"]
    if slots[argc] != 0:
        warnings.append(f"argv[{argc}] is 0x{slots[argc]:x}, not NULL: "
                        "the initial stack was changed")
        complete = False
    argv_lo = arg_start or None
    argv_hi = arg_end or env_start or None
    argv, ok = _strings(memory, argv_base, slots[:argc], "argv", argv_lo, argv_hi, warnings)
    complete &= ok

    # envp[]: up to the first NULL is what libc's environ holds now; the kernel wrote
    # env_count pointers, so the auxv starts after env_count + 1 slots whatever libc did.
    envp_base = argv_base + 8 * (argc + 1)
    try:
        env_ptrs = _read_pointer_array(memory, envp_base,
                                       MAX_ARGS if env_count is None else env_count + 64)
    except UnreadableMemory as err:
        return None, [f"envp[] at 0x{envp_base:x} has no readable NULL end ({err})"]
    # unsetenv leaves a NULL in every slot it vacated; a real auxv never starts with
    # AT_NULL, so skip those to find where the kernel's vector begins.
    after = envp_base + 8 * (len(env_ptrs) + 1)
    try:
        while after - envp_base < 8 * 4096 and memory.read_u64(after) == 0:
            after += 8
    except UnreadableMemory:
        pass
    candidates = [after]
    if env_count is not None and env_count != len(env_ptrs):
        candidates.insert(0, envp_base + 8 * (env_count + 1))
        warnings.append(f"envp[] on the stack now ends after {len(env_ptrs)} pointers but "
                        f"execve copied {env_count} strings: unsetenv/putenv changed libc's "
                        "environ array in place")
        complete = False
    envp, ok = _strings(memory, envp_base, env_ptrs, "envp", env_start or None,
                        env_end or None, warnings, env_strings)
    complete &= ok

    # auxv: choose the candidate whose first pair is /proc/PID/auxv's first pair.
    auxv_address = candidates[0]
    if proc_auxv:
        first = (proc_auxv[0].type, proc_auxv[0].value)
        for c in candidates:
            try:
                if tuple(memory.read_u64s(c, 2)) == first:
                    auxv_address = c
                    break
            except UnreadableMemory:
                continue
    pairs, ended = _read_auxv(memory, auxv_address,
                              len(proc_auxv) if proc_auxv is not None else None)
    if not ended:
        warnings.append(f"no AT_NULL after {len(pairs)} auxv pairs at 0x{auxv_address:x}")
        complete = False
    auxv_matches = None
    if proc_auxv is not None:
        auxv_matches = pairs == list(proc_auxv)  # an AuxvEntry is its (type, value) tuple
        if not auxv_matches:
            warnings.append("the auxv read from the stack differs from /proc/PID/auxv")
    # Equal pairs: share /proc's entries instead of building the same objects again.
    auxv = tuple(proc_auxv) if auxv_matches else tuple(records(AuxvEntry, pairs))
    values = dict(pairs)

    at_random = None
    if AT_RANDOM in values:
        try:
            at_random = memory.read(values[AT_RANDOM], 16)
        except UnreadableMemory as err:
            warnings.append(f"AT_RANDOM bytes not readable ({err})")
    platform = _cstring(memory, values[AT_PLATFORM]) if AT_PLATFORM in values else None
    execfn_addr = values.get(AT_EXECFN)
    execfn = _cstring(memory, execfn_addr) if execfn_addr else None

    # Padding: arch_align_stack() moved p down by a random amount below the argument
    # strings before the platform string and AT_RANDOM bytes were pushed.
    top = arg_start or (argv[0].address if argv and complete else None)
    info_ends = []
    if platform is not None:
        info_ends.append(values[AT_PLATFORM] + len(platform) + 1)
    if AT_BASE_PLATFORM in values:
        base_platform = _cstring(memory, values[AT_BASE_PLATFORM])
        if base_platform is not None:
            info_ends.append(values[AT_BASE_PLATFORM] + len(base_platform) + 1)
    if at_random is not None:
        info_ends.append(values[AT_RANDOM] + 16)
    padding = None
    if top and info_ends and 0 <= top - max(info_ends) <= 1 << 16:
        padding = top - max(info_ends)

    stack = InitialStack(
        sp=sp,
        argc=argc,
        argv=argv,
        envp=envp,
        auxv=auxv,
        auxv_address=auxv_address,
        auxv_matches_proc=auxv_matches,
        at_random=at_random,
        platform=platform.decode("utf-8", "backslashreplace") if platform is not None else None,
        execfn=execfn.decode("utf-8", "backslashreplace") if execfn is not None else None,
        execfn_address=execfn_addr,
        padding=padding,
        complete=complete,
    )
    return stack, warnings
