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
    before = {_key(r): r for r in old.regions}
    out: dict[tuple[int, str | None], RegionChange] = {}
    for r in new.regions:
        prev = before.get(_key(r))
        if prev is None:
            out[_key(r)] = RegionChange(r, "new", r.size)
        elif prev.size != r.size:
            out[_key(r)] = RegionChange(r, "grew" if r.size > prev.size else "shrank",
                                        r.size - prev.size)
    return out


def summarize(old: Snapshot | None, new: Snapshot) -> list[str]:
    """One sentence per change a learner should notice after a command."""
    lines: list[str] = []
    if old is None or old.pid != new.pid:
        return ["a new process: nothing to compare with"]
    if old.env is not None and new.env is not None:
        changed = env_changed_addresses(old, new)
        if changed:
            lines.append(f"env block: {len(changed)} byte(s) changed "
                         f"(0x{min(changed):x}..0x{max(changed):x}), highlighted in the Env view")
        else:
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
                         f"(now {human_size(r.size)})")
    gone_maps = {_key(r) for r in old.regions} - {_key(r) for r in new.regions}
    for r in old.regions:
        if _key(r) in gone_maps:
            lines.append(f"mapping {r.label} at 0x{r.start:x} is gone")
    return lines
