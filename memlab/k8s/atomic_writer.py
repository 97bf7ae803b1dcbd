"""kubelet's AtomicWriter (pkg/volume/util/atomic_writer.go), step for step.

A volume directory looks like:
    ..2025_03_14_09_26_53.123456789/   the files (0755 dir; each file chmod'ed to its mode)
    ..data -> ..2025_03_14_09_26_53.123456789
    game.properties -> ..data/game.properties     one link per TOP-LEVEL name
Every step is relative to the volume directory's held fd (memlab.safefs): nothing is
reached through a path a planted symlink could redirect.
Write(payload) validates the paths, finds the old ts dir through `..data`, and unless the
payload is byte-identical and nothing is to be removed (then it only recreates missing
user-visible links) it writes a new ts dir, points `..data_tmp` at it, renames
`..data_tmp` over `..data` (the one atomic step readers can observe), creates missing
links, removes stale top-level links and deletes the old ts dir.
"""

from __future__ import annotations

import datetime as _dt
import errno
import os
import posixpath
import re
import secrets
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Mapping

from memlab.errors import MemlabError
from memlab.safefs import O_DIR, Dir, UnsafePath, open_trusted

DATA_DIR_NAME = "..data"
NEW_DATA_DIR_NAME = "..data_tmp"
MAX_FILE_NAME_LENGTH = 255
MAX_PATH_LENGTH = 4096


class AtomicWriteError(MemlabError):
    """An invalid payload path, or a filesystem error while writing a volume."""


@dataclass(frozen=True)
class FileProjection:
    data: bytes
    mode: int = 0o644
    fs_user: int | None = None


@dataclass
class WriteResult:
    written: bool  # False: byte-identical payload, nothing new written
    ts_dir: str  # name of the ts dir `..data` points at after the write
    old_ts_dir: str | None  # the previous one ("" / None when there was none)
    removed: list[str] = field(default_factory=list)  # user-visible names removed
    links_created: list[str] = field(default_factory=list)  # user-visible links (re)made

    def to_dict(self) -> dict:
        return {"written": self.written, "ts_dir": self.ts_dir,
                "old_ts_dir": self.old_ts_dir, "removed": self.removed,
                "links_created": self.links_created}


def validate_path(target: str) -> None:
    """validatePath: the rules a payload path must follow (messages as kubelet's)."""
    if target == "":
        raise AtomicWriteError(f'invalid path: must not be empty: "{target}"')
    if posixpath.isabs(target):
        raise AtomicWriteError(f"invalid path: must be relative path: {target}")
    if len(target) > MAX_PATH_LENGTH:
        raise AtomicWriteError(
            f"invalid path: must be less than or equal to {MAX_PATH_LENGTH} characters")
    items = target.split("/")
    for item in items:
        if item == "..":
            raise AtomicWriteError(f"invalid path: must not contain '..': {target}")
        if len(item) > MAX_FILE_NAME_LENGTH:
            raise AtomicWriteError("invalid path: filenames must be less than or equal to "
                                   f"{MAX_FILE_NAME_LENGTH} characters")
    if items[0].startswith("..") and len(items[0]) > 2:
        raise AtomicWriteError(f"invalid path: must not start with '..': {target}")


def clean(path: str) -> str:
    """Go's filepath.Clean for the relative paths validate_path lets through."""
    return posixpath.normpath(path) if path else "."


def validate_payload(payload: Mapping[str, FileProjection]) -> dict[str, FileProjection]:
    out: dict[str, FileProjection] = {}
    for k, v in payload.items():
        validate_path(k)
        out[clean(k)] = v
    return out


def timestamp_prefix(now: _dt.datetime | None = None) -> str:
    """time.Now().UTC().Format("..2006_01_02_15_04_05.")"""
    now = now or _dt.datetime.now(_dt.timezone.utc)
    return now.astimezone(_dt.timezone.utc).strftime("..%Y_%m_%d_%H_%M_%S.")


# The ts dir name kubelet makes: os.MkdirTemp(dir, "..2006_01_02_15_04_05.") appends a
# random number.  `..data` is read back only if it names such a directory beside it.
TS_DIR_RE = re.compile(r"\.\.\d{4}_\d{2}_\d{2}_\d{2}_\d{2}_\d{2}\.\d+")


def data_target(d: Dir) -> str | None:
    """Where D's `..data` points: a ts dir name in D, or None when there is no `..data`.

    kubelet trusts the link (it made it); memlab may be handed a pod directory, so any
    other target (absolute, with '..', not a real directory beside it) is refused: Go's
    filepath.Join(dir, "/abs") stays below dir, Python's os.path.join drops dir."""
    try:
        target = d.readlink(DATA_DIR_NAME)
    except FileNotFoundError:
        return None
    except OSError as err:  # EINVAL: a file or a directory, not a link
        raise UnsafePath(f"refusing to use this volume: {DATA_DIR_NAME} is not a symlink",
                         path=d.path) from err
    if not TS_DIR_RE.fullmatch(target) or not d.is_dir(target):
        raise UnsafePath(f"refusing to use this volume: {DATA_DIR_NAME} must point at a "
                         f"timestamped directory beside it, not {target!r}", path=d.path)
    return target


def _open_below(dir_fd: int, rel: str, flags: int, mode: int = 0o777) -> int:
    """Open REL (a cleaned, validated payload path) below DIR_FD, no symlink followed at
    any step; with os.O_CREAT the missing directories are made (MkdirAll(ModePerm))."""
    *parents, leaf = rel.split("/")
    fd = os.dup(dir_fd)
    try:
        for name in parents:
            if flags & os.O_CREAT:
                try:
                    os.mkdir(name, 0o777, dir_fd=fd)
                except FileExistsError:
                    pass
            nxt = os.open(name, O_DIR, dir_fd=fd)
            os.close(fd)
            fd = nxt
        return os.open(leaf, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=fd)
    finally:
        os.close(fd)


class AtomicWriter:
    """TARGET_DIR: a held trusted directory (memlab.safefs.Dir), or a path opened as one
    (from "/", no symlink followed, ours) for each call."""

    def __init__(self, target_dir: str | os.PathLike | Dir, log_context: str = ""):
        self._dir = target_dir if isinstance(target_dir, Dir) else None
        self.target_dir = target_dir.path if isinstance(target_dir, Dir) else \
            os.fspath(target_dir)
        self.log_context = log_context

    @contextmanager
    def _held(self) -> Iterator[Dir]:
        if self._dir is not None:
            yield self._dir
        else:
            with open_trusted(self.target_dir) as d:
                yield d

    # (2) ..data -> old ts dir
    def current_ts_dir(self) -> str | None:
        with self._held() as d:
            return data_target(d)

    def write(self, payload: Mapping[str, FileProjection],
              set_perms: Callable[[Dir, str], None] | None = None) -> WriteResult:
        with self._held() as d:
            return self._write(d, payload, set_perms)

    def _write(self, d: Dir, payload, set_perms) -> WriteResult:
        # (1) validate and clean every path
        payload = validate_payload(payload)
        # (2)
        old_ts_dir = data_target(d)
        to_remove: set[str] = set()
        if old_ts_dir:
            old_fd = os.open(old_ts_dir, O_DIR, dir_fd=d.fd)
            try:
                # (3) paths in the old ts dir that are not in the new payload
                to_remove = self._paths_to_remove(payload, old_fd)
                # (4) identical content and nothing to remove: only recreate missing links
                unchanged = not self._should_write_payload(payload, old_fd)
            finally:
                os.close(old_fd)
            if unchanged and not to_remove:
                links = self._create_user_visible_files(d, payload)
                return WriteResult(False, old_ts_dir, old_ts_dir, [], links)
        # (5) the new ts dir, 0755 whatever the umask
        ts_name = self._new_timestamp_dir(d)
        try:
            # (6) the files, each with its exact mode
            self._write_payload_to_dir(d, payload, ts_name)
            # (7) ownership (fsGroup) before anyone can see it
            if set_perms is not None:
                set_perms(d, ts_name)
            # (8) ..data_tmp -> ts dir
            d.symlink(ts_name, NEW_DATA_DIR_NAME)
        except OSError as err:
            d.rmtree(ts_name)
            raise AtomicWriteError(f"{self.log_context}: cannot write volume: {err}",
                                   path=self.target_dir) from err
        try:
            # (9) the atomic switch: rename(2) ..data_tmp over ..data
            d.rename(NEW_DATA_DIR_NAME, DATA_DIR_NAME)
            # (10) user-visible links for new top-level names
            links = self._create_user_visible_files(d, payload)
            # (11) remove user-visible paths no longer in the payload (top level only)
            removed = self._remove_user_visible_paths(d, to_remove)
            # (12) the old ts dir (fd-based: links in it are removed, never followed)
            if old_ts_dir:
                d.rmtree(old_ts_dir)
        except OSError as err:
            raise AtomicWriteError(f"{self.log_context}: cannot update volume: {err}",
                                   path=self.target_dir) from err
        return WriteResult(True, ts_name, old_ts_dir, removed, links)

    @staticmethod
    def _paths_to_remove(payload, old_fd: int) -> set[str]:
        paths: set[str] = set()
        for root, dirs, files, _fd in os.fwalk(".", dir_fd=old_fd):
            for name in dirs + files:
                paths.add(posixpath.normpath(posixpath.join(root, name)))
        new_paths: set[str] = set()
        for p in payload:
            # every parent of a payload path, so non-empty dirs are not scheduled
            while p:
                new_paths.add(p)
                p = posixpath.dirname(p)
        return paths - new_paths

    @staticmethod
    def _should_write_payload(payload, old_fd: int) -> bool:
        for rel, proj in payload.items():
            try:
                fd = _open_below(old_fd, rel, os.O_RDONLY | os.O_NONBLOCK)
            except OSError:  # missing, or not a plain path of files and directories
                return True
            with os.fdopen(fd, "rb") as f:
                if not stat.S_ISREG(os.fstat(fd).st_mode) or \
                        f.read(len(proj.data) + 1) != proj.data:
                    return True
        return False  # mode differences alone do not count (shouldWriteFile)

    def _new_timestamp_dir(self, d: Dir) -> str:
        # os.MkdirTemp(dir, prefix): prefix + a random uint32 in decimal, mode 0700 ...
        prefix = timestamp_prefix()
        for _ in range(10000):
            name = prefix + str(secrets.randbits(32))
            try:
                os.mkdir(name, 0o700, dir_fd=d.fd)
            except FileExistsError:
                continue
            # ... then "0755 permissions are needed to allow 'group' and 'other' to
            # recurse the directory tree", whatever the umask.
            fd = os.open(name, O_DIR, dir_fd=d.fd)
            try:
                os.fchmod(fd, 0o755)
            finally:
                os.close(fd)
            return name
        raise AtomicWriteError("cannot create a timestamped directory", path=self.target_dir)

    @staticmethod
    def _write_payload_to_dir(d: Dir, payload, ts_name: str) -> None:
        ts_fd = os.open(ts_name, O_DIR, dir_fd=d.fd)
        try:
            for rel, proj in payload.items():
                fd = _open_below(ts_fd, rel, os.O_WRONLY | os.O_CREAT | os.O_EXCL, proj.mode)
                try:
                    view = memoryview(proj.data)
                    while view:
                        view = view[os.write(fd, view):]
                    os.fchmod(fd, proj.mode)  # the open mode was masked by the umask
                    if proj.fs_user is not None:
                        os.fchown(fd, proj.fs_user, -1)
                finally:
                    os.close(fd)
        finally:
            os.close(ts_fd)

    @staticmethod
    def _create_user_visible_files(d: Dir, payload) -> list[str]:
        made = []
        for rel in payload:
            link = rel.split("/", 1)[0]
            try:
                d.readlink(link)
            except FileNotFoundError:
                d.symlink(posixpath.join(DATA_DIR_NAME, link), link)
                made.append(link)
            except OSError as err:
                # kubelet creates the link only when Readlink says IsNotExist; anything
                # else there (EINVAL: a real file/dir) is left alone, as it does.
                if err.errno != errno.EINVAL:
                    raise
        return sorted(set(made))

    @staticmethod
    def _remove_user_visible_paths(d: Dir, paths: set[str]) -> list[str]:
        removed = []
        last_err: OSError | None = None
        for p in sorted(paths):
            if "/" in p:  # only links in the volume root
                continue
            try:
                d.unlink(p)
                removed.append(p)
            except OSError as err:
                last_err = err
        if last_err is not None:
            raise last_err
        return removed
