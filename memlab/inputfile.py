"""Reading a file the user named: a manifest, an --env-file, a lesson, a secret file.

memlab runs as root in its lessons and demos, so a file name it is given may be a FIFO
(open() blocks until a writer comes), /dev/zero (read() never ends), a directory, a
device whose open() has side effects, a symlink loop or a huge file.  read_input()
refuses all of them with one line (exit 2) before reading more than the kind's limit:

  - the name is resolved once with O_PATH (no read, no device open, no FIFO wait;
    symlinks are followed: a symlink to a manifest is fine, a loop is ELOOP);
  - the inode must be a regular file (fstat of that O_PATH descriptor);
  - the same inode is then opened for reading through /proc/self/fd/N, so what is read
    is what was checked (the kernel checks read permission on that open, as for any
    open; fs/proc/fd.c proc_fd_permission lets a task reopen its own descriptors even
    when it is not dumpable, as an observer that dropped to another uid is);
  - at most `limit` bytes are read; a file with more is refused.
"""

from __future__ import annotations

import errno
import os
import stat
from typing import NamedTuple

from memlab.errors import UsageError

MiB = 1 << 20


class InputKind(NamedTuple):
    what: str  # how messages name the file: "manifest", "env file", ...
    limit: int  # the most bytes memlab reads


# A manifest: a Secret holds at most 1 MiB (MaxSecretSize, kubernetes
# pkg/apis/core/types.go), about 1.4 MiB in base64; YAML nodes are bounded apart
# (memlab.k8s.manifests).
MANIFEST = InputKind("manifest", 2 * MiB)
# A lesson: memlab's own are under 20 KiB.
LESSON = InputKind("lesson file", 1 * MiB)
# An env file: execve takes at most 3/4 of _STK_LIM (6 MiB) of argument and environment
# strings (fs/exec.c bprm_stack_limits), so a bigger file could never be passed anyway;
# 8 MiB leaves room for comments.
ENV_FILE = InputKind("env file", 8 * MiB)
# A secret file tried by `memlab exposure PID --file`: a Secret's value is at most 1 MiB.
SECRET_FILE = InputKind("secret file", 1 * MiB)


class InputFileError(UsageError):
    """A named file memlab will not read: `msg` says why, `path` which file."""


def _kind_of(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def open_regular(path: str | os.PathLike, what: str,
                 error: type[UsageError] = InputFileError,
                 limit: int | None = None) -> int:
    """A read descriptor on the regular file at PATH, by the rule above (resolve with
    O_PATH, fstat, reopen that inode); anything else raises `error` naming `what`.  With
    limit, a file whose size is over it raises _too_big's message."""
    shown = os.fsdecode(path)
    try:
        pfd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError as err:
        why = ("a symlink loop (too many levels of symbolic links)"
               if err.errno == errno.ELOOP else err.strerror)
        raise error(f"cannot read {what}: {why}", path=shown) from err
    try:
        st = os.fstat(pfd)
        if not stat.S_ISREG(st.st_mode):
            raise error(f"cannot read {what}: {_kind_of(st.st_mode)}, not a regular file",
                        path=shown)
        if limit is not None and st.st_size > limit:
            raise error(_too_big_msg(what, limit), path=shown)
        try:
            return os.open(f"/proc/self/fd/{pfd}", os.O_RDONLY | os.O_CLOEXEC | os.O_NOCTTY)
        except OSError as err:
            raise error(f"cannot read {what}: {err.strerror}", path=shown) from err
    finally:
        os.close(pfd)


def read_input(path: str | os.PathLike, kind: InputKind) -> bytes:
    """The bytes of the regular file at PATH, at most kind.limit of them; anything else
    is an InputFileError (its __cause__ is the OSError, if one)."""
    path = os.fspath(path)
    shown = os.fsdecode(path)
    fd = open_regular(path, kind.what, limit=kind.limit)
    try:
        chunks: list[bytes] = []
        left = kind.limit + 1  # one more byte tells a file over the limit
        while left > 0:
            chunk = os.read(fd, min(left, MiB))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as err:
        raise InputFileError(f"cannot read {kind.what}: {err.strerror}", path=shown) from err
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > kind.limit:  # it grew after fstat, or reports no size (/proc, /sys)
        raise _too_big(kind, shown)
    return data


def read_input_text(path: str | os.PathLike, kind: InputKind) -> str:
    """read_input() decoded as UTF-8; other bytes are an InputFileError naming the offset."""
    data = read_input(path, kind)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InputFileError(f"{kind.what} is not UTF-8 text (byte {err.start})",
                             path=os.fsdecode(path)) from err


def _too_big_msg(what: str, limit: int) -> str:
    return f"{what} too big: memlab reads at most {limit // MiB} MiB of a {what}"


def _too_big(kind: InputKind, shown: str) -> InputFileError:
    return InputFileError(_too_big_msg(kind.what, kind.limit), path=shown)
