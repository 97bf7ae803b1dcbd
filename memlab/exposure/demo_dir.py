"""The exposure demo's directory: prepared by memlab alone, handed over read-only.

As root, the demo's victims run as another uid and need two things from it: a copy of
the sample they can execute (the repository may sit under a 0700 home directory) and a
0400 secret file of their own.  Root never works in a directory that uid can write: a
process of that uid could plant a symlink between two of root's steps and have root
write, chmod or chown whatever it points to.  So everything is made by root inside a
fresh directory only root can write (mkdtemp: 0700, then 0711 so every uid may traverse
but not list or write it), each file created with O_CREAT|O_EXCL|O_NOFOLLOW relative to
the directory's descriptor and its mode and owner set on the open descriptor (fchmod,
fchown), never by path.  The victim uid gets the ownership of its secret file only:
it may read it, but cannot add, rename or replace anything beside it.

The directory's ancestors must not be writable by another uid either (unless sticky,
like /tmp, where only an entry's owner may rename it): else that uid could move the
directory away and put its own tree at the path the victims and observers use.
"""

from __future__ import annotations

import os
import stat
import tempfile

from memlab.errors import MemlabError
from memlab.safefs import UnsafePath, open_trusted

_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def check_ancestors(path: str) -> None:
    """Every directory from / down to `path` belongs to root or to us, and no other uid
    may rename entries in it (not group/world-writable, or root's and sticky): the walk
    of memlab.safefs, judging `path` itself as such an ancestor.  MemlabError if not."""
    try:
        with open_trusted(os.path.realpath(path), strict=False):
            pass
    except UnsafePath as err:
        raise MemlabError("the temporary directory's parent may be changed by another "
                          f"user: {err}; set TMPDIR to a safe directory") from err


class DemoDir:
    """A fresh private directory; create files in it, open it to traversal, remove it.
    Every operation goes through the directory's descriptor."""

    def __init__(self, prefix: str = "memlab-exposure-") -> None:
        check_ancestors(tempfile.gettempdir())
        self.path = tempfile.mkdtemp(prefix=prefix)
        self._name = os.path.basename(self.path)
        self.fd = self._parent = -1
        try:
            self._parent = os.open(os.path.dirname(self.path), os.O_RDONLY
                                   | os.O_DIRECTORY | os.O_CLOEXEC)
            self.fd = os.open(self._name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
                              | os.O_CLOEXEC, dir_fd=self._parent)
            st = os.fstat(self.fd)
        except OSError:
            self.close()
            raise
        self._ino = (st.st_dev, st.st_ino)
        if st.st_uid != os.geteuid() or stat.S_IMODE(st.st_mode) != 0o700:
            self.remove()
            raise MemlabError("mkdtemp gave a directory that is not ours alone",
                              path=self.path)

    def create(self, name: str, data: bytes, mode: int,
               owner: tuple[int, int] | None = None) -> str:
        """A new file `name` holding `data`, with `mode` (and `owner`); its path."""
        if not name or "/" in name or name in (".", ".."):
            raise MemlabError(f"not a plain file name: {name!r}")
        fd = os.open(name, _CREATE, 0o600, dir_fd=self.fd)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fchmod(fd, mode)
            if owner is not None:
                os.fchown(fd, *owner)
        finally:
            os.close(fd)
        return os.path.join(self.path, name)

    def copy(self, source: str, name: str, mode: int) -> str:
        """A root-owned copy of the file at `source` (read as memlab), with `mode`."""
        with open(source, "rb") as f:
            return self.create(name, f.read(), mode)

    def open_to_traversal(self) -> None:
        """0711: every uid may reach the files by name; only memlab may write here."""
        os.fchmod(self.fd, 0o711)

    def remove(self) -> None:
        """Remove what memlab created (nothing else can be in it) and the directory,
        if the name in the parent is still this directory."""
        try:
            for name in os.listdir(self.fd):
                os.unlink(name, dir_fd=self.fd)
            st = os.stat(self._name, dir_fd=self._parent, follow_symlinks=False)
            if (st.st_dev, st.st_ino) == self._ino:
                os.rmdir(self._name, dir_fd=self._parent)
        except OSError:
            pass  # already gone
        finally:
            self.close()

    def close(self) -> None:
        for fd in (self.fd, self._parent):
            if fd >= 0:
                os.close(fd)
        self.fd = self._parent = -1
