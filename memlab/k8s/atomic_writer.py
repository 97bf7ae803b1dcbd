"""kubelet's AtomicWriter (pkg/volume/util/atomic_writer.go), step for step.

A volume directory looks like:
    ..2025_03_14_09_26_53.123456789/   the files (0755 dir; each file chmod'ed to its mode)
    ..data -> ..2025_03_14_09_26_53.123456789
    game.properties -> ..data/game.properties     one link per TOP-LEVEL name
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
import secrets
from dataclasses import dataclass, field
from typing import Callable, Mapping

from memlab.errors import MemlabError

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


class AtomicWriter:
    def __init__(self, target_dir: str | os.PathLike, log_context: str = ""):
        self.target_dir = os.fspath(target_dir)
        self.log_context = log_context

    # (2) ..data -> old ts dir
    def current_ts_dir(self) -> str | None:
        try:
            return os.readlink(os.path.join(self.target_dir, DATA_DIR_NAME))
        except FileNotFoundError:
            return None

    def write(self, payload: Mapping[str, FileProjection],
              set_perms: Callable[[str], None] | None = None) -> WriteResult:
        # (1) validate and clean every path
        payload = validate_payload(payload)
        # (2)
        old_ts_dir = self.current_ts_dir()
        old_ts_path = os.path.join(self.target_dir, old_ts_dir) if old_ts_dir else ""
        to_remove: set[str] = set()
        if old_ts_dir:
            # (3) paths in the old ts dir that are not in the new payload
            to_remove = self._paths_to_remove(payload, old_ts_path)
            # (4) identical content and nothing to remove: only recreate missing links
            if not self._should_write_payload(payload, old_ts_path) and not to_remove:
                links = self._create_user_visible_files(payload)
                return WriteResult(False, old_ts_dir, old_ts_dir, [], links)
        # (5) the new ts dir, 0755 whatever the umask
        ts_path = self._new_timestamp_dir()
        ts_name = os.path.basename(ts_path)
        try:
            # (6) the files, each with its exact mode
            self._write_payload_to_dir(payload, ts_path)
            # (7) ownership (fsGroup) before anyone can see it
            if set_perms is not None:
                set_perms(ts_name)
            # (8) ..data_tmp -> ts dir
            tmp_link = os.path.join(self.target_dir, NEW_DATA_DIR_NAME)
            os.symlink(ts_name, tmp_link)
        except OSError as err:
            _remove_all(ts_path)
            raise AtomicWriteError(f"{self.log_context}: cannot write volume: {err}",
                                   path=self.target_dir) from err
        try:
            # (9) the atomic switch: rename(2) ..data_tmp over ..data
            os.rename(tmp_link, os.path.join(self.target_dir, DATA_DIR_NAME))
            # (10) user-visible links for new top-level names
            links = self._create_user_visible_files(payload)
            # (11) remove user-visible paths no longer in the payload (top level only)
            removed = self._remove_user_visible_paths(to_remove)
            # (12) the old ts dir
            if old_ts_dir:
                _remove_all(old_ts_path)
        except OSError as err:
            raise AtomicWriteError(f"{self.log_context}: cannot update volume: {err}",
                                   path=self.target_dir) from err
        return WriteResult(True, ts_name, old_ts_dir, removed, links)

    def _paths_to_remove(self, payload, old_ts_path: str) -> set[str]:
        paths: set[str] = set()
        if not os.path.isdir(old_ts_path):
            return paths
        for root, dirs, files in os.walk(old_ts_path):
            for name in dirs + files:
                paths.add(os.path.relpath(os.path.join(root, name), old_ts_path))
        new_paths: set[str] = set()
        for p in payload:
            # every parent of a payload path, so non-empty dirs are not scheduled
            while p:
                new_paths.add(p)
                p = posixpath.dirname(p)
        return paths - new_paths

    @staticmethod
    def _should_write_payload(payload, old_ts_path: str) -> bool:
        for rel, proj in payload.items():
            path = os.path.join(old_ts_path, rel)
            if not os.path.lexists(path):
                return True
            with open(path, "rb") as f:
                if f.read() != proj.data:
                    return True
        return False  # mode differences alone do not count (shouldWriteFile)

    def _new_timestamp_dir(self) -> str:
        # os.MkdirTemp(dir, prefix): prefix + a random uint32 in decimal, mode 0700 ...
        prefix = timestamp_prefix()
        for _ in range(10000):
            path = os.path.join(self.target_dir, prefix + str(secrets.randbits(32)))
            try:
                os.mkdir(path, 0o700)
            except FileExistsError:
                continue
            # ... then "0755 permissions are needed to allow 'group' and 'other' to
            # recurse the directory tree", whatever the umask.
            os.chmod(path, 0o755)
            return path
        raise AtomicWriteError("cannot create a timestamped directory", path=self.target_dir)

    @staticmethod
    def _write_payload_to_dir(payload, ts_path: str) -> None:
        for rel, proj in payload.items():
            full = os.path.join(ts_path, rel)
            os.makedirs(os.path.dirname(full), 0o777, exist_ok=True)  # MkdirAll(ModePerm)
            fd = os.open(full, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, proj.mode)
            try:
                view = memoryview(proj.data)
                while view:
                    view = view[os.write(fd, view):]
            finally:
                os.close(fd)
            os.chmod(full, proj.mode)  # the open mode was masked by the umask
            if proj.fs_user is not None:
                os.chown(full, proj.fs_user, -1)

    def _create_user_visible_files(self, payload) -> list[str]:
        made = []
        for rel in payload:
            link = rel.split("/", 1)[0]
            visible = os.path.join(self.target_dir, link)
            try:
                os.readlink(visible)
            except FileNotFoundError:
                os.symlink(posixpath.join(DATA_DIR_NAME, link), visible)
                made.append(link)
            except OSError as err:
                # kubelet creates the link only when Readlink says IsNotExist; anything
                # else there (EINVAL: a real file/dir) is left alone, as it does.
                if err.errno != errno.EINVAL:
                    raise
        return sorted(set(made))

    def _remove_user_visible_paths(self, paths: set[str]) -> list[str]:
        removed = []
        last_err: OSError | None = None
        for p in sorted(paths):
            if "/" in p:  # only links in the volume root
                continue
            try:
                os.remove(os.path.join(self.target_dir, p))
                removed.append(p)
            except OSError as err:
                last_err = err
        if last_err is not None:
            raise last_err
        return removed


def _remove_all(path: str) -> None:
    """os.RemoveAll: the tree, without following symlinks; absent is fine."""
    import shutil
    try:
        shutil.rmtree(path)
    except FileNotFoundError:
        pass
