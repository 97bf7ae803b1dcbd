"""/proc/PID/maps: one Region per line, in the kernel's order.

Line format (fs/proc/task_mmu.c show_vma_header_prefix + show_map_vma):

    start-end perms offset major:minor inode<padding>path

The path field is what makes parsing tricky:
- it may contain spaces (a file called "my lib.so"), so it is everything after the
  padding, never a whitespace-split field;
- it is empty for an anonymous mapping (the line ends after "inode ");
- a file unlinked while mapped ends in " (deleted)" (d_path adds it): stripped, and
  Region.deleted is set;
- the kernel names some mappings itself: [heap], [stack], [vdso], [vvar],
  [vvar_vclock] (6.13+), [vsyscall], [anon:NAME] (prctl PR_SET_VMA_ANON_NAME, 5.17+),
  [anon_shmem:NAME] ... New names appear over kernel versions, so none is hard-coded here.
- [vsyscall] lives at 0xffffffffff600000, above 2**63: addresses are unbounded ints.
"""

from __future__ import annotations

import re

from memlab.errors import ParseError
from memlab.model import Region
from memlab.procfs._io import read_proc_file

_DELETED = b" (deleted)"
_LINE = re.compile(
    rb"([0-9a-f]{1,16})-([0-9a-f]{1,16}) "  # start-end
    rb"([r-][w-][x-][sp]) "  # perms (s = shared, p = private)
    rb"([0-9a-f]{1,16}) "  # file offset
    rb"([0-9a-f]{2,}:[0-9a-f]{2,}) "  # device major:minor
    rb"([0-9]{1,20})"  # inode
    rb"(?: +(.*))?",  # padding, then the path (may be empty or hold spaces)
    re.DOTALL,
)


def parse_maps_line(line: bytes, lineno: int = 1) -> Region:
    m = _LINE.fullmatch(line)
    if m is None:
        raise ParseError(f"maps line {lineno} is malformed: {line[:120]!r}")
    start_hex, end_hex, perms, offset, dev, inode, raw_path = m.groups()
    start, end = int(start_hex, 16), int(end_hex, 16)
    if end < start:
        raise ParseError(f"maps line {lineno}: end 0x{end:x} below start 0x{start:x}")
    deleted = raw_path is not None and raw_path.endswith(_DELETED)
    if deleted:
        raw_path = raw_path[: -len(_DELETED)]
    return Region(
        start=start,
        end=end,
        perms=perms.decode("ascii"),
        offset=int(offset, 16),
        dev=dev.decode("ascii"),
        inode=int(inode),
        # file names are bytes to the kernel: surrogateescape (os.fsdecode) keeps odd
        # ones round-trip
        path=raw_path.decode("utf-8", "surrogateescape") if raw_path else None,
        deleted=deleted,
    )


# _LINE for the whole text at once, on str: the fast path of parse_maps.  Decoding the
# text in one go gives the same path strings as decoding each path (the other fields are
# ASCII; UTF-8 errors do not cross a newline).  Without DOTALL `.` stops at the newline
# (the kernel escapes one in a path as \012, fs/proc/task_mmu.c seq_file_path).
_LINES = re.compile(
    r"^([0-9a-f]{1,16})-([0-9a-f]{1,16}) ([r-][w-][x-][sp]) ([0-9a-f]{1,16}) "
    r"([0-9a-f]{2,}:[0-9a-f]{2,}) ([0-9]{1,20})(?: +(.*))?$",
    re.MULTILINE,
)
_DELETED_STR = _DELETED.decode()


def _parse_maps_fast(data: bytes) -> list[Region] | None:
    """All lines with one findall and one decode; None when any line is not well formed
    (parse_maps then goes line by line to name it).  A third cheaper than line by line
    (0.5 us a line: one regex call and one decode instead of one each per line)."""
    text = data.decode("utf-8", "surrogateescape")
    rows = _LINES.findall(text)
    # One match at most per line (anchored at ^ and $): as many matches as lines means
    # every line matched.
    if len(rows) != text.count("\n") + (not text.endswith("\n")):
        return None
    out = []
    append = out.append
    for start_hex, end_hex, perms, offset, dev, inode, path in rows:
        start, end = int(start_hex, 16), int(end_hex, 16)
        if end < start:
            return None
        deleted = path.endswith(_DELETED_STR)
        if deleted:
            path = path[: -len(_DELETED_STR)]
        append(Region(start, end, perms, int(offset, 16), dev, int(inode), path or None,
                      deleted))
    return out


def parse_maps(data: bytes) -> list[Region]:
    """Parse the bytes of /proc/PID/maps.  Empty input (a kernel thread) -> [].
    Anything that is not a maps line raises ParseError."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ParseError(f"maps data must be bytes, not {type(data).__name__}")
    data = bytes(data)
    if not data:
        return []
    fast = _parse_maps_fast(data)
    if fast is not None:
        return fast
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()  # the final newline
    return [parse_maps_line(line, i) for i, line in enumerate(lines, 1)]


def read_maps(pid: int) -> list[Region]:
    """The regions of a live process (AccessDenied, NoSuchProcess, ZombieProcess)."""
    return parse_maps(read_proc_file(pid, "maps"))
