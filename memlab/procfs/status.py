"""/proc/PID/status: "Key:\tvalue" lines (fs/proc/array.c proc_pid_status).

Readable by every uid.  memlab uses it for the owner's uids (who may read the rest)."""

from __future__ import annotations

from memlab.errors import ParseError
from memlab.procfs._io import read_proc_file


def parse_status(data: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    for lineno, line in enumerate(bytes(data).decode("utf-8", "backslashreplace")
                                  .splitlines(), 1):
        if not line:
            continue
        key, sep, value = line.partition(":")
        if not sep:
            raise ParseError(f"status line {lineno} has no ':': {line[:80]!r}")
        out[key] = value.strip()
    return out


def read_status(pid: int) -> dict[str, str]:
    return parse_status(read_proc_file(pid, "status"))


def parse_ids(value: str, what: str = "Uid") -> tuple[int, int, int, int]:
    """"0\t0\t0\t0" -> (real, effective, saved, filesystem)."""
    parts = value.split()
    if len(parts) != 4 or not all(p.isdigit() for p in parts):
        raise ParseError(f"status {what} is not four ids: {value!r}")
    real, effective, saved, fs = (int(p) for p in parts)
    return real, effective, saved, fs


def uids(pid: int) -> tuple[int, int, int, int]:
    """(real, effective, saved, filesystem) uid of the process."""
    return parse_ids(read_status(pid).get("Uid", ""), "Uid")


def gids(pid: int) -> tuple[int, int, int, int]:
    return parse_ids(read_status(pid).get("Gid", ""), "Gid")


def real_uid(pid: int) -> int:
    return uids(pid)[0]


def effective_uid(pid: int) -> int:
    return uids(pid)[1]
