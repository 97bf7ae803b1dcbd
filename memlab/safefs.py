"""Writing and deleting as a possibly-root user without trusting anyone else's directory.

One rule for every path memlab writes or deletes (SECURITY.md): it lies in a
directory owned by the effective user, not writable by group or others, reached from "/"
one component at a time with openat(O_DIRECTORY|O_NOFOLLOW) on a held directory fd,
and every later step (mkdir, create, rename, symlink, unlink, rmtree) is relative to
that fd.  A symlink someone plants afterwards cannot redirect anything: openat(2) with
O_NOFOLLOW fails with ELOOP on it, unlinkat(2) and renameat(2) never follow a final
symlink, and shutil.rmtree(dir_fd=...) is fd-based (os.fwalk) and removes links as links.

Ancestors of a trusted directory may be owned by root too (/, /tmp, /run/user), and a
root-owned sticky directory (/tmp: a user can only remove or rename their own entries
there, fs/namei.c may_delete -> check_sticky) counts as safe to pass through.
Anything else is refused with UnsafePath: one line, exit 2, nothing touched.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat as _stat

from memlab.errors import UsageError

O_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
MAX_READ = 64 << 20  # read_file's default bound: a state file is a few KiB


class UnsafePath(UsageError):
    """A directory memlab must not write in (another owner, loose mode, a symlink)."""


def check_name(name: str) -> str:
    """NAME is one directory entry: no '/', not '.' or '..', not empty, no NUL."""
    if not name or name in (".", "..") or "/" in name or "\0" in name:
        raise UnsafePath(f"not a plain file name: {name!r}")
    return name


def _dir_problem(st: os.stat_result, *, ancestor: bool) -> str | None:
    euid = os.geteuid()
    if not _stat.S_ISDIR(st.st_mode):
        return "not a directory"
    if st.st_uid != euid and not (ancestor and st.st_uid == 0):
        return f"owned by uid {st.st_uid}, not {euid}"
    if st.st_mode & 0o022:
        if ancestor and st.st_uid == 0 and st.st_mode & _stat.S_ISVTX:
            return None  # /tmp: others cannot rename or remove root's entries
        return f"writable by group or others (mode {_stat.S_IMODE(st.st_mode):04o})"
    return None


class Dir:
    """A trusted directory held open by fd; every operation is relative to it."""

    def __init__(self, fd: int, path: str):
        self.fd = fd
        self.path = path

    # -- lifetime
    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> "Dir":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()

    def join(self, *names: str) -> str:
        return os.path.join(self.path, *names)

    def _refuse(self, name: str, why: str) -> UnsafePath:
        return UnsafePath(f"refusing to use {why}", path=self.join(name))

    # -- directories
    def open_dir(self, name: str, *, ancestor: bool = False) -> "Dir":
        """The subdirectory NAME, never through a symlink, owned by us (or root for an
        ancestor) and not writable by others."""
        check_name(name)
        try:
            fd = os.open(name, O_DIR, dir_fd=self.fd)
        except OSError as err:
            if err.errno in (errno.ELOOP, errno.ENOTDIR):
                raise self._refuse(name, "it: not a directory, or a symlink (memlab follows "
                                   "none where it writes: give the real path)") from err
            raise
        try:
            problem = _dir_problem(os.fstat(fd), ancestor=ancestor)
            if problem:
                raise self._refuse(name, f"it: {problem}")
        except BaseException:
            os.close(fd)
            raise
        return Dir(fd, self.join(name))

    def mkdir(self, name: str, mode: int = 0o700) -> "Dir":
        """Create NAME (MODE, whatever the umask) or open it if it is a trusted dir."""
        check_name(name)
        try:
            os.mkdir(name, mode, dir_fd=self.fd)
        except FileExistsError:
            try:
                return self.open_dir(name)
            except FileNotFoundError as err:  # someone else's entry came and went
                raise self._refuse(name, "it: it changed while memlab opened it") from err
        d = self.open_dir(name)
        os.fchmod(d.fd, mode)
        return d

    def makedirs(self, names, mode: int = 0o700) -> "Dir":
        """mkdir -p of the components NAMES below this directory."""
        cur = Dir(os.dup(self.fd), self.path)
        for name in names:
            nxt = cur.mkdir(name, mode)
            cur.close()
            cur = nxt
        return cur

    def listdir(self) -> list[str]:
        return os.listdir(self.fd)

    def lstat(self, name: str) -> os.stat_result | None:
        try:
            return os.stat(check_name(name), dir_fd=self.fd, follow_symlinks=False)
        except FileNotFoundError:
            return None

    def is_dir(self, name: str) -> bool:
        st = self.lstat(name)
        return st is not None and _stat.S_ISDIR(st.st_mode)

    # -- files
    def write_file(self, name: str, data: bytes, mode: int = 0o600) -> None:
        """Replace NAME atomically: a new file (O_EXCL|O_NOFOLLOW) renamed over it."""
        check_name(name)
        tmp = f".{name}.tmp"
        self.unlink(tmp, missing_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                     mode, dir_fd=self.fd)
        try:
            os.fchmod(fd, mode)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
        os.rename(tmp, name, src_dir_fd=self.fd, dst_dir_fd=self.fd)

    def create_file(self, name: str, data: bytes, mode: int) -> int:
        """Create NAME exclusively (O_EXCL: a file or a link already there fails) with
        exactly MODE; returns the number of bytes written."""
        check_name(name)
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                     mode, dir_fd=self.fd)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fchmod(fd, mode)
        finally:
            os.close(fd)
        return len(data)

    def read_file(self, name: str, limit: int = MAX_READ) -> bytes:
        """NAME's bytes, never through a symlink, only a regular file, at most LIMIT."""
        check_name(name)
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK,
                     dir_fd=self.fd)
        with os.fdopen(fd, "rb") as f:
            if not _stat.S_ISREG(os.fstat(fd).st_mode):
                raise self._refuse(name, "it: not a regular file")
            data = f.read(limit + 1)
        if len(data) > limit:
            raise self._refuse(name, f"it: larger than {limit} bytes")
        return data

    # -- links and removal (none of these follow a final symlink)
    def symlink(self, target: str, name: str) -> None:
        os.symlink(target, check_name(name), dir_fd=self.fd)

    def readlink(self, name: str) -> str:
        return os.readlink(check_name(name), dir_fd=self.fd)

    def rename(self, old: str, new: str) -> None:
        os.rename(check_name(old), check_name(new), src_dir_fd=self.fd, dst_dir_fd=self.fd)

    def unlink(self, name: str, missing_ok: bool = False) -> None:
        try:
            os.unlink(check_name(name), dir_fd=self.fd)
        except FileNotFoundError:
            if not missing_ok:
                raise

    def rmtree(self, name: str) -> None:
        """Remove NAME: a tree (fd-based, links removed as links), a file or a link."""
        st = self.lstat(name)
        if st is None:
            return
        if _stat.S_ISDIR(st.st_mode):
            shutil.rmtree(name, dir_fd=self.fd)
        else:
            self.unlink(name, missing_ok=True)


def _components(path: str | os.PathLike) -> list[str]:
    p = os.path.abspath(os.fspath(path))  # lexical: ".." is resolved before any lookup
    return [c for c in p.split("/") if c]


def open_trusted(path: str | os.PathLike, *, create: bool = False, mode: int = 0o700,
                 strict: bool = True) -> Dir:
    """Walk from "/" to PATH without following a symlink; each ancestor owned by root or
    us and not writable by others (unless a root-owned sticky dir), PATH itself owned by
    us and not writable by others (STRICT; else judged as an ancestor: a directory to
    create entries in, like /tmp).  CREATE: make missing components (MODE)."""
    parts = _components(path)
    cur = Dir(os.open("/", O_DIR), "/")
    try:
        problem = _dir_problem(os.fstat(cur.fd), ancestor=True)
        if problem:
            raise UnsafePath(f"refusing to use /: {problem}")
        for i, name in enumerate(parts):
            last = i == len(parts) - 1
            if create and cur.lstat(name) is None:
                try:
                    os.mkdir(name, mode, dir_fd=cur.fd)
                except FileExistsError:
                    pass
                else:
                    nxt = cur.open_dir(name)
                    os.fchmod(nxt.fd, mode)
                    cur.close()
                    cur = nxt
                    continue
            try:
                nxt = cur.open_dir(name, ancestor=not (last and strict))
            except FileNotFoundError as err:
                raise UnsafePath("no such directory", path=cur.join(name)) from err
            except UnsafePath:
                raise
            except OSError as err:  # EACCES: a directory we may not search
                raise UnsafePath(f"cannot open the directory: {err.strerror}",
                                 path=cur.join(name)) from err
            cur.close()
            cur = nxt
        return cur
    except BaseException:
        cur.close()
        raise
