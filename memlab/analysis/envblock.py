"""Find the environment block execve copied to the top of the stack, and check it.

fs/exec.c copy_strings() puts the `NAME=value\\0` strings just below the executable's path
at the top of the new stack; create_elf_tables (fs/binfmt_elf.c) records the range in
mm->env_start .. mm->env_end, which /proc/PID/stat shows as fields 50 and 51 and which
/proc/PID/environ reads back (fs/proc/base.c environ_read).  memlab reads the same range
through the process's memory and compares the two: they must be byte-identical.
"""

from __future__ import annotations

from collections.abc import Sequence

from memlab.errors import UnreadableMemory
from memlab.model import EnvBlock, ProcStat, Region, region_at
from memlab.procfs.environ import parse_environ

# ARG_MAX is a quarter of the stack rlimit (fs/exec.c get_arg_page); with an unlimited
# stack it can be large, but a "block" bigger than this is garbage, not an environment.
MAX_BLOCK = 64 << 20


def locate_env_block(stat: ProcStat, regions: Sequence[Region], memory,
                     proc_environ: bytes | None) -> tuple[EnvBlock | None, list[str]]:
    """Read env_start..env_end through `memory` (None: unreadable), split it into entries with addresses,
    compare with the bytes of /proc/PID/environ and place it in its region.

    Returns (block or None, warnings).  When memory cannot be read but /proc/PID/environ
    could, the block is built from environ's bytes (they come from the same range) and
    `matches_proc_environ` is None: nothing was cross-checked.
    """
    warnings: list[str] = []
    if stat.masked:
        return None, ["env_start/env_end are hidden by the kernel (no ptrace read access)"]
    start, end = stat.env_start, stat.env_end
    if start == 0 and end == 0:
        return None, ["the process has no environment block (env_start = env_end = 0)"]
    if end < start or end - start > MAX_BLOCK:
        return None, [f"env_start 0x{start:x} / env_end 0x{end:x} do not describe a block"]

    matches: bool | None
    raw, why = None, "memory not readable"
    if memory is not None:
        try:
            raw = memory.read(start, end - start)
        except UnreadableMemory as err:
            why = f"memory not readable ({err})"
    if raw is None:
        if proc_environ is None:
            return None, [f"the env block could not be read: {why}, "
                          "nor /proc/PID/environ"]
        warnings.append(f"env block taken from /proc/PID/environ: {why}")
        raw = proc_environ
        matches = None
    else:
        if proc_environ is None:
            matches = None
            warnings.append("/proc/PID/environ not readable: env block not cross-checked")
        else:
            matches = raw == proc_environ
            if not matches:
                warnings.append("the env block read from memory differs from "
                                "/proc/PID/environ (did the process change while memlab "
                                "was reading it?)")

    region = region_at(regions, start)
    if region is None:
        warnings.append(f"env_start 0x{start:x} is in no mapping")
    arg_end = stat.arg_end if stat.arg_end else None
    block = EnvBlock(
        start=start,
        end=end,
        raw=raw,
        entries=tuple(parse_environ(raw, base=start)),
        region=region.label if region else None,
        matches_proc_environ=matches,
        distance_to_stack_top=(region.end - end) if region else None,
        distance_to_args=(start - arg_end) if arg_end is not None else None,
    )
    return block, warnings
