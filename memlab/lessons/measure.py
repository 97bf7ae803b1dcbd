"""Turn what memlab read (a Snapshot, a sample's self-report) into measurements: plain
dicts of ints, strings, bools and lists that lesson checks address with "$name.path".

Addresses stay ints here (checks compare them); the names are the ones a lesson
writer sees in FORMAT.md ("env.start", "initstack.sp", "stack.end", ...).
"""

from __future__ import annotations

import os
import stat
from typing import Any, Iterable

from memlab.model import EnvEntry, Region, Snapshot


def region_fact(r: Region) -> dict[str, Any]:
    return {"start": r.start, "end": r.end, "size": r.size, "perms": r.perms,
            "offset": r.offset, "inode": r.inode, "path": r.path, "kind": r.kind,
            "dev": r.dev, "deleted": r.deleted}


def file_facts(st: os.stat_result, name: str) -> dict[str, Any]:
    """A file's mode ("0400"), owner and group, and its line as `ls -ln` prints it (mode
    bits, links, uid, gid, size, name): how the lessons show who may read a file."""
    return {"mode": f"{stat.S_IMODE(st.st_mode):04o}", "uid": st.st_uid, "gid": st.st_gid,
            "ls": f"{stat.filemode(st.st_mode)} {st.st_nlink} {st.st_uid} {st.st_gid} "
                  f"{st.st_size} {name}"}


def env_facts(entries: Iterable[EnvEntry]) -> dict[str, Any]:
    """names (in order), values by name, the `K=V` strings, and the raw block text."""
    entries = list(entries)
    return {
        "names": [e.name for e in entries],
        "values": {e.name: e.value for e in entries},
        "entries": [e.raw.decode("utf-8", "backslashreplace") for e in entries],
        "count": len(entries),
        "raw": b"\0".join(e.raw for e in entries).decode("latin-1"),
    }


def report_facts(report: dict | None) -> dict[str, Any] | None:
    """A sample's self-report with its "0x..." strings turned into ints."""
    if report is None:
        return None
    out: dict[str, Any] = {}
    for key, value in report.items():
        if isinstance(value, str) and value.startswith("0x"):
            out[key] = int(value, 16)
        elif key == "env" and isinstance(value, list):
            out[key] = [{"name": e.get("name"), "address": int(e["address"], 16)
                         if e.get("address") else None} for e in value]
        elif key == "entries" and isinstance(value, list):  # the `environ` command
            out[key] = [report_facts(e) if isinstance(e, dict) else e for e in value]
            out["names"] = [e.get("name") for e in value if isinstance(e, dict)]
        else:
            out[key] = value
    return out


def snapshot_facts(snap: Snapshot) -> dict[str, Any]:
    regions = [region_fact(r) for r in snap.regions]
    by_path = {r["path"]: r for r in regions if r["path"]}
    st = snap.stat
    facts: dict[str, Any] = {
        "pid": snap.pid,
        "exe": snap.exe,
        "argv": list(snap.argv),
        "uid": snap.uid,
        "regions": regions,
        "region_paths": [r["path"] for r in regions],
        "stack": by_path.get("[stack]"),
        "heap": by_path.get("[heap]"),
        "exe_regions": [r for r in regions if snap.exe and r["path"] == snap.exe],
        "auxv": {a.name: a.value for a in snap.auxv},
        "warnings": list(snap.warnings),
        "stat": {"masked": st.masked, "start_code": st.start_code, "end_code": st.end_code,
                 "start_data": st.start_data, "end_data": st.end_data,
                 "start_brk": st.start_brk, "start_stack": st.start_stack,
                 "arg_start": st.arg_start, "arg_end": st.arg_end,
                 "env_start": st.env_start, "env_end": st.env_end},
    }
    exe_regions = facts["exe_regions"]
    if exe_regions:
        facts["exe_low"] = min(r["start"] for r in exe_regions)
        facts["exe_high"] = max(r["end"] for r in exe_regions)
        # Each maps line of the executable starts where the previous one ends: the
        # loader maps the file's PT_LOADs back to back (fs/binfmt_elf.c elf_map).
        facts["exe_contiguous"] = all(a["end"] == b["start"]
                                      for a, b in zip(exe_regions, exe_regions[1:]))
        facts["exe_file_backed"] = all(r["inode"] != 0 for r in exe_regions)
    facts["proc_environ"] = env_facts(snap.proc_environ) if snap.proc_environ is not None \
        else None
    if snap.env is not None:
        e = snap.env
        facts["env"] = {"start": e.start, "end": e.end, "size": e.end - e.start,
                        "region": e.region, "matches_proc_environ": e.matches_proc_environ,
                        "distance_to_stack_top": e.distance_to_stack_top,
                        "distance_to_args": e.distance_to_args, **env_facts(e.entries)}
        if e.entries and e.entries[0].address is not None:
            facts["env"]["first_address"] = e.entries[0].address
    else:
        facts["env"] = None
    if snap.stack is not None:
        s = snap.stack
        facts["initstack"] = {
            "sp": s.sp, "argc": s.argc,
            "argv": [a.string.decode("utf-8", "backslashreplace") for a in s.argv],
            "argv_addresses": [a.address for a in s.argv],
            "argv_slots": [a.slot for a in s.argv],
            "envp": [e.string.decode("utf-8", "backslashreplace") for e in s.envp],
            "envp_addresses": [e.address for e in s.envp],
            "envp_slots": [e.slot for e in s.envp],
            "envp_count": len(s.envp),
            "auxv_address": s.auxv_address,
            "auxv_names": [a.name for a in s.auxv],
            "auxv_matches_proc": s.auxv_matches_proc,
            "at_random": s.at_random.hex() if s.at_random is not None else None,
            "at_random_len": len(s.at_random) if s.at_random is not None else 0,
            "at_random_address": facts["auxv"].get("AT_RANDOM"),
            "platform": s.platform,
            "platform_address": facts["auxv"].get("AT_PLATFORM"),
            "execfn": s.execfn,
            "execfn_address": s.execfn_address,
            # The path string ends with its NUL; above it, up to the end of [stack], the
            # kernel leaves 8 zero bytes (fs/exec.c: bprm->p = vm_end - sizeof(void *)).
            "execfn_end": (s.execfn_address + len(s.execfn.encode()) + 1
                           if s.execfn_address is not None and s.execfn is not None else None),
            "padding": s.padding,
            "complete": s.complete,
        }
        # The first slot of each array, for "ordered" checks (None when the array is empty).
        facts["initstack"]["argv_slot0"] = s.argv[0].slot if s.argv else None
        facts["initstack"]["envp_slot0"] = s.envp[0].slot if s.envp else None
        stack = facts["stack"]
        end = facts["initstack"]["execfn_end"]
        facts["initstack"]["bytes_above_execfn"] = (stack["end"] - end
                                                    if stack and end is not None else None)
    else:
        facts["initstack"] = None
    return facts
