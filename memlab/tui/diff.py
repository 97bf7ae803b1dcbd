"""What changed between two snapshots: the bytes of the env block, and the mappings.

Pure functions on model objects (no textual), so the teaching sentences are unit-tested:
after `unsetenv` the env block bytes are unchanged (libc only edits its `environ`
pointer array, stdlib/setenv.c unsetenv); after `scrub` they are overwritten.
"""

from __future__ import annotations

from dataclasses import dataclass

from memlab.model import Region, Snapshot
from memlab.sizes import human_size


def changed_offsets(old: bytes, new: bytes) -> frozenset[int]:
    """Offsets (into `new`) whose byte differs from `old` or did not exist in it."""
    n = min(len(old), len(new))
    diff = {i for i in range(n) if old[i] != new[i]}
    diff.update(range(n, len(new)))
    return frozenset(diff)


def env_changed_addresses(old: Snapshot | None, new: Snapshot) -> frozenset[int]:
    """Absolute addresses of env-block bytes that differ from the previous snapshot of
    the same process (empty when there is no comparable previous block)."""
    if old is None or old.pid != new.pid or old.env is None or new.env is None:
        return frozenset()
    o, n = old.env, new.env
    if o.start == n.start and o.raw == n.raw:
        return frozenset()  # the usual live refresh: one compare, not one per byte
    lo, hi = max(o.start, n.start), min(o.start + len(o.raw), n.start + len(n.raw))
    out = set()
    for addr in range(lo, hi):
        if o.raw[addr - o.start] != n.raw[addr - n.start]:
            out.add(addr)
    # bytes only the new block covers count as changed
    out.update(a for a in range(n.start, n.start + len(n.raw)) if not lo <= a < hi)
    return frozenset(out)


def _key(r: Region) -> tuple[int, str | None]:
    return (r.start, r.path)


@dataclass(frozen=True)
class RegionChange:
    region: Region
    change: str  # "new", "grew", "shrank"
    delta: int  # bytes (0 for new)


def region_changes(old: Snapshot | None, new: Snapshot) -> dict[tuple[int, str | None], RegionChange]:
    """Mappings that appeared or changed size, keyed by (start, path).  The heap grows
    at its end (brk), so [heap] keeps its start and shows up as "grew"."""
    if old is None or old.pid != new.pid:
        return {}
    out: dict[tuple[int, str | None], RegionChange] = {}
    for r, prev in _pairs(old, new):
        if prev is None:
            out[_key(r)] = RegionChange(r, "new", r.size)
        elif prev.size != r.size:
            out[_key(r)] = RegionChange(r, "grew" if r.size > prev.size else "shrank",
                                        r.size - prev.size)
    return out


def _pairs(old: Snapshot, new: Snapshot) -> list[tuple[Region, Region | None]]:
    """Each new mapping with the old one it continues: the same (start, path), else an
    old mapping of the same path and permissions it overlaps.  The kernel merges a new
    anonymous mmap into the mapping next to it (mm/vma.c vma_merge_new_range): that
    mapping then starts lower, and is the old one grown, not a new one."""
    before = {_key(r): r for r in old.regions}
    out: list[tuple[Region, Region | None]] = []
    for r in new.regions:
        prev = before.get(_key(r))
        if prev is None:
            prev = next((o for o in old.regions if o.path == r.path and o.perms == r.perms
                         and o.start < r.end and r.start < o.end), None)
        out.append((r, prev))
    return out


def gone_regions(old: Snapshot | None, new: Snapshot) -> list[Region]:
    """Old mappings that no new mapping continues (_pairs)."""
    if old is None or old.pid != new.pid:
        return []
    kept = {_key(prev) for _r, prev in _pairs(old, new) if prev is not None}
    return [r for r in old.regions if _key(r) not in kept]


def has_visible_change(old: Snapshot | None, new: Snapshot) -> bool:
    """A change the views highlight (env bytes, mappings): a live refresh that brings
    none keeps the highlights of the last one that did."""
    return bool(env_changed_addresses(old, new) or region_changes(old, new)
                or gone_regions(old, new))


def answer_sentence(answer: dict | None, line: str | None = None) -> str:
    """What a sample's answer (c_samples/sleeper.c) to `line` means, in one sentence."""
    if not isinstance(answer, dict):
        return "done"
    words = (line or "").split()
    cmd = answer.get("cmd") or (words[0] if words else None)
    name = answer.get("name") or (words[1] if len(words) > 1 else "the variable")
    addr, length = answer.get("address"), answer.get("length")
    where = f" ({length} bytes at {addr})" if addr and length is not None else ""
    if cmd == "setenv":
        return (f"getenv(\"{name}\") now returns a new string"
                + (f" at {addr}" if addr else "") + " (setenv copies it to the heap); "
                "the env block's bytes are untouched")
    if cmd == "unsetenv":
        if answer.get("was_set") is False:
            return f"{name} was not set: nothing changed"
        return (f"{name} is gone from libc's environ array; its bytes stay in the env "
                "block, so /proc/PID/environ still shows them")
    if cmd == "scrub":
        return f"overwrote {name}'s value with X, in place{where}"
    if cmd == "copy":
        return f"copied {name}'s value to the heap (strdup){where}: it now lives twice"
    if cmd == "malloc":
        size = answer.get("size") or (words[1] if len(words) > 1 else "?")
        return (f"malloc({size}) returned {addr or 'a block'}"
                + (f"; the program break is at {answer['sbrk']}" if answer.get("sbrk")
                   else ""))
    return "done"


def summarize(old: Snapshot | None, new: Snapshot, command: str | None = None) -> list[str]:
    """One sentence per change a learner should notice after a command.  That the env
    block did not change is said only after the commands it teaches (setenv, unsetenv),
    or when no command is given."""
    lines: list[str] = []
    if old is None or old.pid != new.pid:
        return ["a new process: nothing to compare with"]
    verb = (command or "").split(" ", 1)[0]
    if old.env is not None and new.env is not None:
        changed = env_changed_addresses(old, new)
        if changed:
            n = len(changed)
            lines.append(f"env block: {n} byte{'s' if n != 1 else ''} changed "
                         f"(0x{min(changed):x}..0x{max(changed):x}), highlighted in the Env view")
        elif command is None or verb in ("setenv", "unsetenv"):
            lines.append("env block: no byte changed — the original strings are still in "
                         "memory, and /proc/PID/environ still shows them")
        old_names = {e.name for e in old.proc_environ or ()}
        new_names = {e.name for e in new.proc_environ or ()}
        if old.proc_environ is not None and new.proc_environ is not None:
            gone, came = old_names - new_names, new_names - old_names
            if gone:
                lines.append("/proc/PID/environ no longer shows: " + ", ".join(sorted(gone)))
            if came:
                lines.append("/proc/PID/environ now shows: " + ", ".join(sorted(came)))
    for ch in region_changes(old, new).values():
        r = ch.region
        if ch.change == "new":
            lines.append(f"new mapping {r.label} at 0x{r.start:x} ({human_size(r.size)}, "
                         f"{r.perms})")
        else:
            lines.append(f"{r.label} {ch.change} by {human_size(abs(ch.delta))} "
                         f"(now {human_size(r.size)}, 0x{r.start:x}..0x{r.end:x})")
    for r in gone_regions(old, new):
        lines.append(f"mapping {r.label} at 0x{r.start:x} is gone")
    return lines
