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

Each Region gets the kind its line names by itself (path_kind: heap, stack, vdso, vvar,
vsyscall, lib, file, anon).  The executable's own kinds (text, rodata, data, bss) need
stat and readlink(exe): memlab.analysis.classify adds those.
"""

from __future__ import annotations

import re

from memlab.errors import ParseError
from memlab.model import Region
from memlab.procfs import _cproc  # None when not compiled: parse_maps_line, line by line
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


# Kernel-named mappings (fs/proc/task_mmu.c show_map_vma, arch/x86/entry/vdso).  New
# names appear over kernel versions ([vvar_vclock] in 6.x, [uprobes], [anon:...]):
# anything not listed here is "anon" and keeps its name.
_SPECIAL = {
    "[heap]": "heap",
    "[stack]": "stack",
    "[vdso]": "vdso",
    "[vvar]": "vvar",
    "[vvar_vclock]": "vvar",
    "[vsyscall]": "vsyscall",
}


def special_kind(path: str) -> str:
    """Kind of a `[name]` mapping; `[stack:TID]` is a thread stack on kernels < 4.5."""
    kind = _SPECIAL.get(path)
    if kind is None and path.startswith("[stack:"):
        kind = "stack"
    return kind or "anon"


def is_shared_library(path: str) -> bool:
    """libc.so.6, ld-linux-x86-64.so.2, libfoo.so: a `.so` in the file name."""
    if ".so" not in path:
        return False
    name = path.rsplit("/", 1)[-1]
    return name.endswith(".so") or ".so." in name


def path_kind(path: str | None) -> str:
    """The kind a maps path names by itself (the executable's lines are "file" here)."""
    if not path:
        return "anon"
    if path[:1] == "[" and path[-1:] == "]":
        return special_kind(path)
    if is_shared_library(path):
        return "lib"
    if path[:1] == "/":
        return "file"  # the executable, locale archives, gconv cache, /memfd:..., fonts
    return "anon"  # e.g. an unknown non-bracketed kernel name


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
    # file names are bytes to the kernel: surrogateescape (os.fsdecode) keeps odd ones
    # round-trip
    path = raw_path.decode("utf-8", "surrogateescape") if raw_path else None
    return Region(
        start=start,
        end=end,
        perms=perms.decode("ascii"),
        offset=int(offset, 16),
        dev=dev.decode("ascii"),
        inode=int(inode),
        path=path,
        deleted=deleted,
        kind=path_kind(path),
    )


# path -> (path, path_kind(path)) for the C parser: a library spans 4-5 lines, every
# snapshot sees the same paths again, and Regions of the same path share one str (equal
# maps compare by identity).  Bounded, like the set of files mapped on a machine.
_KNOWN_PATHS: dict = {}
_KNOWN_MAX = 4096
assert len(Region._fields) == 9, "_cproc.c builds 9-field Regions"


def parse_maps(data: bytes) -> list[Region]:
    """Parse the bytes of /proc/PID/maps.  Empty input (a kernel thread) -> [].
    Anything that is not a maps line raises ParseError."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ParseError(f"maps data must be bytes, not {type(data).__name__}")
    data = bytes(data)
    if not data:
        return []
    if _cproc is not None:
        fast = _cproc.parse_maps(data, Region, path_kind, _KNOWN_PATHS)
        if len(_KNOWN_PATHS) >= _KNOWN_MAX:  # after: one huge maps cannot keep it big
            _KNOWN_PATHS.clear()
        if fast is not None:
            return fast
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()  # the final newline
    return [parse_maps_line(line, i) for i, line in enumerate(lines, 1)]


def read_maps(pid: int) -> list[Region]:
    """The regions of a live process (AccessDenied, NoSuchProcess, ZombieProcess)."""
    return parse_maps(read_proc_file(pid, "maps"))
