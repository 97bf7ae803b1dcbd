"""/proc/PID/mountinfo and /proc/PID/ns/*: a process's mounts and namespaces.

mountinfo lines (fs/proc_namespace.c show_mountinfo): mount id, parent id, major:minor,
root (the path inside the filesystem that is mounted here: a bind mount's source),
mount point, options, optional fields, "-", fs type, source, super options.  Paths have
space, tab, newline and backslash escaped as \\ooo (seq_path_root with " \\t\\n\\\\").
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from memlab.procfs._io import check_pid, proc_path, read_proc_file, translate

_OCTAL = re.compile(rb"\\([0-7]{3})")
NAMESPACES = ("mnt", "pid", "ipc", "uts", "net", "user", "cgroup")


def _unescape(b: bytes) -> str:
    return os.fsdecode(_OCTAL.sub(lambda m: bytes([int(m.group(1), 8)]), b))


@dataclass(frozen=True)
class MountEntry:
    mount_id: int
    root: str  # for a bind mount: the source path within its filesystem
    mount_point: str
    options: str
    fstype: str
    source: str

    def to_dict(self) -> dict:
        return {"mount_point": self.mount_point, "root": self.root, "fstype": self.fstype,
                "source": self.source, "options": self.options}


def parse_mountinfo(data: bytes) -> list[MountEntry]:
    out = []
    for line in data.splitlines():
        fields = line.split(b" ")
        try:
            sep = fields.index(b"-", 6)
            out.append(MountEntry(int(fields[0]), _unescape(fields[3]), _unescape(fields[4]),
                                  fields[5].decode("ascii", "replace"),
                                  fields[sep + 1].decode("ascii", "replace"),
                                  _unescape(fields[sep + 2])))
        except (ValueError, IndexError):
            continue  # not a mountinfo line
    return out


def read_mountinfo(pid: int | str) -> list[MountEntry]:
    """The mounts PID sees ("self": memlab's own)."""
    if pid == "self":
        with open(proc_path("self", "mountinfo"), "rb") as f:
            return parse_mountinfo(f.read())
    return parse_mountinfo(read_proc_file(pid, "mountinfo"))


def read_mount_points(pid: int | str) -> list[str]:
    return [m.mount_point for m in read_mountinfo(pid)]


def namespaces(pid: int | str) -> dict[str, str]:
    """{"mnt": "mnt:[4026531841]", ...}: equal strings mean the same namespace."""
    if pid != "self":
        pid = check_pid(pid)
    out = {}
    for ns in NAMESPACES:
        path = proc_path(pid, f"ns/{ns}")
        try:
            out[ns] = os.readlink(path)
        except FileNotFoundError:
            continue
        except OSError as err:
            raise translate(err, pid if pid != "self" else os.getpid(), path, "ns") from err
    return out
