"""What a system call did to the map: two readings of /proc/PID/maps -> changes (pure).

Lines present in both readings (same start, end, perms, offset, device, inode, path)
did not change.  The others are grouped by overlapping addresses, and each group is
named by its shape:

  added      new lines where there were none (mmap in a hole)
  removed    lines gone, nothing in their place (munmap of whole regions)
  grown      one line became one longer line with the same start or end
             (brk moving the heap's end, mmap merged into a neighbour, mremap in place)
  shrunk     the same, shorter (munmap of an end, brk down)
  protection one line, same addresses and backing, other permissions (mprotect of a
             whole region)
  split      one line became several (mprotect or munmap of the middle)
  merged     several lines became one (mprotect making neighbours alike:
             mm/vma.c merges adjacent areas with the same flags and backing)
  replaced   anything else (MAP_FIXED over several regions, execve's new map)
"""

from __future__ import annotations

from typing import NamedTuple

from memlab.model import Region


class Change(NamedTuple):
    kind: str
    before: tuple[Region, ...]
    after: tuple[Region, ...]

    @property
    def start(self) -> int:
        return min(r.start for r in (*self.before, *self.after))

    @property
    def end(self) -> int:
        return max(r.end for r in (*self.before, *self.after))


def _key(r: Region) -> tuple:
    return (r.start, r.end, r.perms, r.offset, r.dev, r.inode, r.path, r.deleted)


def _shape(before: list[Region], after: list[Region]) -> str:
    if not before:
        return "added"
    if not after:
        return "removed"
    if len(before) == 1 and len(after) == 1:
        b, a = before[0], after[0]
        if (b.start, b.end) == (a.start, a.end):
            same_backing = (b.offset, b.dev, b.inode, b.path) == (a.offset, a.dev,
                                                                   a.inode, a.path)
            return "protection" if same_backing and b.perms != a.perms else "replaced"
        if b.start == a.start or b.end == a.end:
            if a.start <= b.start and a.end >= b.end:
                return "grown"
            if a.start >= b.start and a.end <= b.end:
                return "shrunk"
        return "replaced"
    lo_b, hi_b = before[0].start, before[-1].end
    if len(before) == 1 and all(lo_b <= r.start and r.end <= hi_b for r in after):
        return "split"
    lo_a, hi_a = after[0].start, after[-1].end
    if len(after) == 1 and all(lo_a <= r.start and r.end <= hi_a for r in before):
        return "merged"
    return "replaced"


def diff(before: list[Region], after: list[Region]) -> list[Change]:
    """The changes from one maps reading to the next, in address order."""
    old = {_key(r) for r in before}
    new = {_key(r) for r in after}
    gone = [r for r in before if _key(r) not in new]
    came = [r for r in after if _key(r) not in old]
    # sweep both lists in address order; a group grows while the next line overlaps it
    items = sorted([(r.start, r.end, 0, r) for r in gone] + [(r.start, r.end, 1, r)
                                                               for r in came],
                   key=lambda t: (t[0], t[1], t[2]))
    changes: list[Change] = []
    group: list[tuple] = []
    hi = -1
    for item in items:
        if group and item[0] >= hi:
            changes.append(_close(group))
            group = []
        group.append(item)
        hi = max(hi, item[1]) if len(group) > 1 else item[1]
    if group:
        changes.append(_close(group))
    return changes


def _close(group: list[tuple]) -> Change:
    b = sorted((t[3] for t in group if t[2] == 0), key=lambda r: r.start)
    a = sorted((t[3] for t in group if t[2] == 1), key=lambda r: r.start)
    return Change(_shape(b, a), tuple(b), tuple(a))
