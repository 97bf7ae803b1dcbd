"""core_snapshot(path) -> Snapshot: a core file read into the same record a live process
gives (memlab.collect.snapshot), with extra["source"] = "core".

What comes from where:

- regions: one per PT_LOAD (permissions from p_flags), named and given their file
  offset by the NT_FILE entry that covers them; an NT_FILE mapping no PT_LOAD covers
  (gcore leaves out read-only file mappings the process never wrote) is a region with
  unknown permissions ("????") and no bytes.  The kernel names neither [stack], [vdso]
  nor [heap] in a core: memlab names the segment holding AT_EXECFN "[stack]", the one
  at AT_SYSINFO_EHDR "[vdso]" and the one at the vsyscall address "[vsyscall]"; the
  heap is not told apart from other anonymous memory (brk is not in the core).
- stat: pid from NT_PRSTATUS, comm, state, ppid and uid from NT_PRPSINFO; the
  exec-time addresses (start_stack, arg_start .. env_end) found on the stack as below;
  the others (start_code, start_brk ...) are not in a core and are 0.
- auxv: NT_AUXV; the initial stack's copy is compared with it (auxv_matches_proc).
- env and stack: decoded from the stack segment's bytes by the live decoders
  (memlab.analysis.envblock, memlab.analysis.initstack), once the initial stack is
  found (locate_initial_stack).
"""

from __future__ import annotations

import bisect
import struct
from collections.abc import Sequence

from memlab.analysis.bytesmemory import BytesMemory
from memlab.analysis.classify import classify
from memlab.analysis.envblock import locate_env_block
from memlab.analysis.initstack import decode_initial_stack
from memlab.core.reader import CoreFile, CoreInfo, CoreSegment
from memlab.errors import UnreadableMemory
from memlab.kernel.abi import (AT_EXECFN, AT_NULL, AT_PHDR, COREDUMP_FILTER_BITS,
                               COREDUMP_FILTER_DEFAULT, MAX_ARG_STRLEN, VSYSCALL_ADDR)
from memlab.model import AuxvEntry, ProcStat, Region, Snapshot, region_at, text

AT_SYSINFO_EHDR = 33  # include/uapi/linux/auxvec.h via arch/x86: the vDSO's ELF header
# The most of the stack segment memlab reads in one go (collect.STACK_WINDOW_MAX's rule).
STACK_WINDOW_MAX = 8 << 20
MAX_ARGS = 1 << 20


class StackFound:
    """Where the initial stack is, as create_elf_tables left it."""

    def __init__(self, sp: int, argc: int, envc: int, arg_start: int, arg_end: int,
                 env_end: int):
        self.sp, self.argc, self.envc = sp, argc, envc
        self.arg_start, self.arg_end, self.env_end = arg_start, arg_end, env_end


def locate_initial_stack(memory, stack_base: int, stack_bytes: bytes,
                         auxv: Sequence[AuxvEntry]) -> tuple[StackFound | None, list[str]]:
    """Find argc, argv[], envp[] and the string ranges without /proc/PID/stat.

    A live process's /proc/PID/stat gives startstack (where argc is) and arg_start ..
    env_end; a core file has neither, and the registers' rsp is wherever the program's
    stack is now.  But fs/binfmt_elf.c create_elf_tables copied mm->saved_auxv -- the
    very bytes of the NT_AUXV note -- onto the stack right above envp[]'s NULL:

        sp -> argc | argv[0..argc-1] | NULL | envp[0..envc-1] | NULL | auxv ... AT_NULL

    So: search the stack segment for the auxv vector (with its AT_NULL pair, 8-aligned;
    the highest match, as the vector sits near the top).  Walking down from it: the envp
    slots up to argv's NULL (unsetenv leaves NULLs at the end of envp: they are skipped,
    the kernel's envc counts them), then argv's pointers down to the word that equals
    their count: argc, at sp.  The string ranges are then computed as create_elf_tables
    computes mm->arg_start .. mm->env_end: from argv[0] (where the kernel copied the
    argument strings, fs/exec.c copy_strings), argc strings, then envc strings, each
    NUL-terminated.  env_end must be AT_EXECFN (the exec path lies right above the env
    strings, copied first by do_execveat_common): that is checked.
    """
    warnings: list[str] = []
    if not auxv:
        return None, ["the core has no NT_AUXV note: the initial stack cannot be found"]
    needle = struct.pack(f"<{2 * len(auxv) + 2}Q",
                         *[v for a in auxv for v in (a.type, a.value)], AT_NULL, 0)
    pos = stack_bytes.rfind(needle)
    while pos >= 0 and pos & 7:
        pos = stack_bytes.rfind(needle, 0, pos + len(needle) - 1)
    if pos < 0:
        return None, ["the auxv of NT_AUXV is not on the stack segment: the initial "
                      "stack was overwritten or is not in the core"]
    auxv_addr = stack_base + pos
    words = memoryview(stack_bytes)[:pos].cast("Q")
    i = len(words) - 1  # envp's NULL
    if i < 0 or words[i] != 0:
        return None, [f"no NULL below the auxv at 0x{auxv_addr:x}: not an initial stack"]
    i -= 1
    while i >= 0 and words[i] == 0:  # slots unsetenv emptied
        i -= 1
    while i >= 0 and words[i] != 0:
        i -= 1
    if i < 0:
        return None, ["no argv NULL below envp[] on the stack"]
    argv_null = i
    envc = len(words) - 1 - (argv_null + 1)
    i -= 1
    while i >= 0 and words[i] != argv_null - i - 1:
        if words[i] == 0 or argv_null - i > MAX_ARGS:
            return None, ["no argc below argv[] on the stack: the initial stack was "
                          "overwritten"]
        i -= 1
    if i < 0:
        return None, ["no argc below argv[] on the stack"]
    sp = stack_base + 8 * i
    argc = words[i]
    if argc == 0:
        return None, ["argc is 0: no argv[0] to find the argument strings from"]
    p = arg_start = words[i + 1]
    try:
        for _ in range(argc):
            p += len(memory.read_cstring(p, MAX_ARG_STRLEN)) + 1
        arg_end = p
        for _ in range(envc):
            p += len(memory.read_cstring(p, MAX_ARG_STRLEN)) + 1
    except UnreadableMemory as err:
        return None, [f"the argument and environment strings are not readable ({err})"]
    execfn = next((a.value for a in auxv if a.type == AT_EXECFN), None)
    if execfn is not None and p != execfn:
        warnings.append(f"the env strings end at 0x{p:x}, not at AT_EXECFN 0x{execfn:x}: "
                        "argv[0] was changed or the strings were overwritten")
    return StackFound(sp, argc, envc, arg_start, arg_end, p), warnings


def _regions(info: CoreInfo, stack_addr: int | None, vdso: int | None) -> list[Region]:
    """One region per PT_LOAD, plus the NT_FILE mappings no PT_LOAD covers, in address
    order, named by NT_FILE."""
    files = sorted(info.files, key=lambda f: f.start)
    starts = [f.start for f in files]
    segments = sorted(info.segments, key=lambda s: s.start)
    seg_starts = [s.start for s in segments]
    rows = []
    for s in segments:
        i = bisect.bisect_right(starts, s.start) - 1
        f = files[i] if i >= 0 and s.start < files[i].end else None
        path, offset = None, 0
        if f is not None:
            path, offset = f.path, f.file_offset + (s.start - f.start)
        elif stack_addr is not None and s.start <= stack_addr < s.end:
            path = "[stack]"
        elif vdso is not None and s.start == vdso:
            path = "[vdso]"
        elif s.start == VSYSCALL_ADDR:
            path = "[vsyscall]"
        rows.append((s.start, s.end, s.perms, offset, path))
    for f in files:
        # the last segment starting below f's end overlaps f if it ends above f's start
        j = bisect.bisect_left(seg_starts, f.end) - 1
        if j >= 0 and segments[j].end > f.start:
            continue  # covered (wholly or partly): the PT_LOADs already show it
        rows.append((f.start, f.end, "????", f.file_offset, f.path))
    rows.sort()
    out = []
    for start, end, perms, offset, path in rows:
        deleted = bool(path) and path.endswith(" (deleted)")
        if deleted:
            path = path[:-len(" (deleted)")]
        kind = "anon"
        if path is not None:
            kind = {"[stack]": "stack", "[vdso]": "vdso", "[vsyscall]": "vsyscall"}.get(
                path, "lib" if ".so" in path.rsplit("/", 1)[-1] else "file")
        out.append(Region(start, end, perms, offset, "00:00", 0, path, deleted, kind))
    return out


def _exe(info: CoreInfo) -> str | None:
    """The executable: the NT_FILE mapping that holds AT_PHDR (its program headers)."""
    phdr = next((a.value for a in info.auxv or () if a.type == AT_PHDR), None)
    if phdr is None:
        return None
    for f in info.files:
        if f.start <= phdr < f.end:
            return f.path
    return None


def _missing_warnings(info: CoreInfo, regions: Sequence[Region]) -> tuple[list[str], list]:
    """A sentence on what the core lacks, and one JSON row per region without bytes."""
    rows = []
    segs = {s.start: s for s in info.segments}
    for r in regions:
        s: CoreSegment | None = segs.get(r.start)
        present = 0 if s is None else s.filesz
        if present >= r.size:
            continue
        if s is None:
            why = "no PT_LOAD: the dumper left this file mapping out"
        elif r.path and not r.is_special and present:
            why = ("file-backed: only its first page (the ELF header, coredump_filter bit "
                   "4) is in the core")
        elif r.path and not r.is_special:
            why = ("file-backed and never written: a kernel core leaves it out unless "
                   "coredump_filter has bit 2 (file-backed private) or 3 (shared)")
        elif "r" not in r.perms:
            why = "not readable (a guard page or PROT_NONE reservation)"
        else:
            why = "not dumped (coredump_filter, or memory the kernel cannot dump: [vvar])"
        rows.append({"start": f"0x{r.start:x}", "end": f"0x{r.end:x}", "label": r.label,
                     "bytes_in_core": present, "why": why})
    warnings = []
    if rows:
        default = ", ".join(b for i, b in enumerate(COREDUMP_FILTER_BITS)
                            if COREDUMP_FILTER_DEFAULT >> i & 1)
        warnings.append(f"{len(rows)} of {len(regions)} regions have no (or only some) "
                        f"bytes in the core (written by {info.writer}; the kernel dumps "
                        f"what /proc/PID/coredump_filter selects, by default {default})")
    return warnings, rows


def snapshot_from_core(core: CoreFile) -> Snapshot:
    info = core.info
    warnings: list[str] = []
    thread = info.threads[0]
    auxv = info.auxv or ()
    if info.auxv is None:
        warnings.append("the core has no NT_AUXV note")
    values = {a.type: a.value for a in auxv}
    stack_seg = core.segment_at(values.get(AT_EXECFN, 0)) or core.segment_at(thread.rsp)
    found = None
    memory = None
    if stack_seg is None:
        warnings.append("no segment holds AT_EXECFN or the stack pointer: no stack")
    else:
        base = max(stack_seg.start, stack_seg.start + stack_seg.filesz - STACK_WINDOW_MAX)
        data = core.read_partial(base, stack_seg.start + stack_seg.filesz - base)
        memory = BytesMemory(base, data, fallback=core)
        if not data:
            warnings.append(f"the stack segment 0x{stack_seg.start:x}..0x{stack_seg.end:x} "
                            "has no bytes in the core")
        else:
            found, w = locate_initial_stack(memory, base, data, auxv)
            warnings.extend(w)
    stack_addr = stack_seg.start if stack_seg is not None else None
    regions = _regions(info, stack_addr, values.get(AT_SYSINFO_EHDR))
    proc = info.process
    stat = ProcStat(
        pid=thread.pid, comm=proc.comm if proc else "", state=proc.state if proc else "?",
        ppid=proc.ppid if proc else thread.ppid, start_code=0, end_code=0,
        start_stack=found.sp if found else 0, start_data=0, end_data=0, start_brk=0,
        arg_start=found.arg_start if found else 0, arg_end=found.arg_end if found else 0,
        env_start=found.arg_end if found else 0, env_end=found.env_end if found else 0,
        exit_code=None)
    exe = _exe(info)
    regions_t = classify(regions, stat, exe)
    env = stack = None
    argv: tuple[str, ...] = ()
    if found is not None and memory is not None:
        env, w = locate_env_block(stat, regions_t, memory, None)
        # a core has no /proc/PID/environ to cross-check against: say that instead
        warnings.extend(x for x in w if not x.startswith("/proc/PID/environ not readable"))
        stack, w = decode_initial_stack(
            memory, found.sp, stack_end=stack_seg.end, arg_start=stat.arg_start,
            arg_end=stat.arg_end, env_start=stat.env_start, env_end=stat.env_end,
            env_count=found.envc,
            env_strings={e.address: e.raw for e in env.entries} if env else None,
            proc_auxv=auxv if info.auxv is not None else None)
        warnings.extend(w.replace("/proc/PID/auxv", "NT_AUXV") for w in w)
        if stack is not None:
            argv = tuple(text(a.string) for a in stack.argv)
    elif proc is not None and proc.psargs:
        argv = tuple(proc.psargs.split(" "))
        warnings.append("argv taken from NT_PRPSINFO's pr_psargs (its first 80 bytes)")
    missing_w, missing = _missing_warnings(info, regions_t)
    warnings.extend(missing_w)
    extra = {
        "source": "core",
        "core": {
            "path": info.path, "size": info.size, "writer": info.writer,
            "signal": thread.signal, "threads": [t.pid for t in info.threads],
            "registers": {"rip": f"0x{thread.rip:x}", "rsp": f"0x{thread.rsp:x}"},
            "rsp_region": (r.label if (r := region_at(regions_t, thread.rsp)) else None),
            "psargs": proc.psargs if proc else None,
            "missing": missing,
        },
    }
    return Snapshot(pid=thread.pid, exe=exe, argv=argv, stat=stat, regions=regions_t,
                    auxv=tuple(auxv), proc_environ=None, env=env, stack=stack,
                    uid=proc.uid if proc else None, warnings=tuple(warnings), extra=extra)


def core_snapshot(path: str) -> Snapshot:
    """The snapshot of the core file at path (CoreFileError, exit 2, when it is not
    one)."""
    with CoreFile(path) as core:
        return snapshot_from_core(core)
