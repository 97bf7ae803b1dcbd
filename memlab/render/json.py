"""The JSON form of memlab's records (docs/json.md), and where it is masked.

Addresses become lowercase "0x..." strings, bytes from the process text with backslash
escapes for bad bytes (memlab.model.text).  Every env value, env string and argv entry
goes through a memlab.secrets.Masker here and nowhere else: `reveal` False shows
secrets as `***`.  Built from plain dicts and lists: `json.dumps` writes them as is.
"""

from __future__ import annotations

from typing import Any

from memlab.kernel.abi import STAT_ADDRESS_FIELDS
from memlab.model import (AuxvEntry, EnvBlock, EnvEntry, InitialStack, MemoryUsage,
                          ProcStat, Region, RegionMemory, Snapshot, StackString,
                          ThreadStack, hexaddr, text)
from memlab.secrets import Masker

SCHEMA = "memlab.snapshot/1"


def _masker(reveal: bool, masker: Masker | None) -> Masker:
    """The masker a JSON form uses: the given one, else names/values rules only."""
    return masker if masker is not None else Masker(reveal=reveal)


def region(r: Region) -> dict[str, Any]:
    return {
        "start": hexaddr(r.start),
        "end": hexaddr(r.end),
        "size": r.size,
        "perms": r.perms,
        "offset": r.offset,
        "dev": r.dev,
        "inode": r.inode,
        "path": r.path,
        "deleted": r.deleted,
        "kind": r.kind,
    }


def region_memory(m: RegionMemory | None) -> dict[str, int] | None:
    """{rss, pss, shared_clean, ...} in bytes (docs/json.md), None when not measured."""
    return None if m is None else m._asdict()


def _regions(snap: Snapshot) -> list[dict[str, Any]]:
    """regions[]: each with `memory` when it was asked for (null when smaps was
    denied) and `tid` for a thread's stack."""
    out = [region(r) for r in snap.regions]
    if snap.memory is not None:
        for d, m in zip(out, snap.memory.regions):
            d["memory"] = region_memory(m)
    elif "smaps" in snap.extra.get("denied", ()):
        for d in out:
            d["memory"] = None
    if snap.threads:
        tids = {t.region_start: t.tid for t in snap.threads if t.region_start is not None}
        for d, r in zip(out, snap.regions):
            if r.start in tids and r.kind == "thread-stack":
                d["tid"] = tids[r.start]
    return out


def thread_stack(t: ThreadStack) -> dict[str, Any]:
    return {"tid": t.tid, "sp": hexaddr(t.sp), "sp_source": t.source or None,
            "region_start": hexaddr(t.region_start), "guard_below": t.guard}


def memory_usage(u: MemoryUsage) -> dict[str, Any]:
    return {"total": region_memory(u.total()), "rollup": region_memory(u.rollup)}


def proc_stat(s: ProcStat) -> dict[str, Any]:
    d: dict[str, Any] = {"pid": s.pid, "comm": s.comm, "state": s.state, "ppid": s.ppid,
                         "masked": s.masked}
    for name in STAT_ADDRESS_FIELDS:
        d[name] = "hidden" if s.masked else hexaddr(getattr(s, name))
    d["exit_code"] = s.exit_code
    return d


def auxv_entry(a: AuxvEntry) -> dict[str, Any]:
    return {"type": a.name, "type_number": a.type, "value": a.value,
            "hex": hexaddr(a.value)}


def env_entry(e: EnvEntry, reveal: bool = False,
              masker: Masker | None = None) -> dict[str, Any]:
    masker = _masker(reveal, masker)
    d: dict[str, Any] = {
        "name": e.name,
        "value": masker.env_value(e.name, e.value) if e.has_equals else None,
        "address": hexaddr(e.address),
        "length": len(e.raw),
    }
    if not e.has_equals:
        d["no_equals"] = True
    if not e.is_utf8:
        d["utf8"] = False
    return d


def env_block(b: EnvBlock, reveal: bool = False,
              masker: Masker | None = None) -> dict[str, Any]:
    masker = _masker(reveal, masker)
    return {
        "start": hexaddr(b.start),
        "end": hexaddr(b.end),
        "size": b.end - b.start,
        "region": b.region,
        "matches_proc_environ": b.matches_proc_environ,
        "distance_to_stack_top": b.distance_to_stack_top,
        "distance_to_args": b.distance_to_args,
        "entries": [env_entry(e, reveal, masker) for e in b.entries],
    }


def stack_string(s: StackString, shown: str | None = None) -> dict[str, Any]:
    """shown: the string as displayed (masked), default the string itself."""
    return {"slot": hexaddr(s.slot), "address": hexaddr(s.address),
            "string": text(s.string) if shown is None else shown}


def initial_stack(st: InitialStack, reveal: bool = False,
                  masker: Masker | None = None) -> dict[str, Any]:
    masker = _masker(reveal, masker)
    argv = masker.argv([text(a.string) for a in st.argv])
    return {
        "sp": hexaddr(st.sp),
        "argc": st.argc,
        "argv": [stack_string(a, shown) for a, shown in zip(st.argv, argv)],
        "envp": [stack_string(e, masker.env_string(text(e.string))) for e in st.envp],
        "auxv": [auxv_entry(a) for a in st.auxv],
        "auxv_address": hexaddr(st.auxv_address),
        "auxv_matches_proc": st.auxv_matches_proc,
        "at_random": st.at_random.hex() if st.at_random is not None else None,
        "platform": st.platform,
        "execfn": st.execfn,
        "execfn_address": hexaddr(st.execfn_address),
        "padding": st.padding,
        "complete": st.complete,
    }


def snapshot(snap: Snapshot, reveal: bool = False,
             masker: Masker | None = None) -> dict[str, Any]:
    """The whole snapshot.  reveal False: secrets masked (Masker.for_snapshot, which
    knows the pod's Secret values too) unless a masker is given."""
    if masker is None:
        masker = Masker.for_snapshot(snap, reveal)
    d: dict[str, Any] = {
        "schema": SCHEMA,
        "source": "process",  # extra["source"] says "core" for a core file
        "pid": snap.pid,
        "exe": snap.exe,
        "argv": masker.argv(snap.argv),
        "uid": snap.uid,
        "regions": _regions(snap),
        "stat": proc_stat(snap.stat),
        "auxv": [auxv_entry(a) for a in snap.auxv],
        "env": env_block(snap.env, reveal, masker) if snap.env else None,
        "stack": initial_stack(snap.stack, reveal, masker) if snap.stack else None,
        "warnings": list(snap.warnings),
    }
    d.update(snap.extra)
    if snap.memory is not None:
        d["memory"] = memory_usage(snap.memory)
    elif "smaps" in snap.extra.get("denied", ()):
        d["memory"] = None  # asked for, refused: a warning says why
    if snap.threads:
        d["threads"] = [thread_stack(t) for t in snap.threads]
    if snap.elf is not None:
        d["elf"] = snap.elf.to_dict(snap.regions) if snap.elf else None
    return d
