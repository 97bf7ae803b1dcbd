"""memlab's per-user state directory: where pods (and anything else memlab keeps) live.

$XDG_RUNTIME_DIR/memlab when XDG_RUNTIME_DIR is a directory owned by the effective user
and not writable by group or others (pam_systemd's /run/user/UID), else
/tmp/memlab-<euid>.  Created 0700.  An existing one must be a real directory (not a
symlink) owned by the effective user without group/other write; otherwise memlab
refuses with one line (exit 2) and never chmods or chowns it: someone else made it.
"""

from __future__ import annotations

import os
import stat as _stat

from memlab.safefs import Dir, UnsafePath, open_trusted

APP = "memlab"


def _runtime_dir() -> str | None:
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if not runtime or not os.path.isabs(runtime):
        return None
    try:
        st = os.lstat(runtime)
    except OSError:
        return None
    if (_stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid()
            and not st.st_mode & 0o022):
        return runtime
    return None  # sudo keeps the invoking user's XDG_RUNTIME_DIR: not root's


def state_root() -> str:
    """Where the per-user state lives (nothing is created or checked beyond choosing).
    A str, not a pathlib.Path: every `memlab env`/`inspect` names it (to look for pod
    Secrets), and pathlib's import (with urllib.parse and ipaddress) costs 5 ms."""
    runtime = _runtime_dir()
    if runtime is not None:
        return os.path.join(runtime, APP)
    return f"/tmp/{APP}-{os.geteuid()}"


def check_state_root() -> str:
    """The state root, refused (UnsafePath, exit 2) if it exists and is not a real
    directory of ours without group/other write.  Creates nothing."""
    root = state_root()
    try:
        st = os.lstat(root)
    except FileNotFoundError:
        st = None
    if st is not None:  # the message says why; open_trusted checks again on the fd
        if _stat.S_ISLNK(st.st_mode) or not _stat.S_ISDIR(st.st_mode):
            raise UnsafePath("refusing to use memlab's state directory: not a directory "
                             "(a symlink?)", path=str(root))
        if st.st_uid != os.geteuid() or st.st_mode & 0o022:
            raise UnsafePath(f"refusing to use memlab's state directory: owned by uid "
                             f"{st.st_uid} with mode {_stat.S_IMODE(st.st_mode):04o} (it "
                             f"must be uid {os.geteuid()}'s and not writable by others)",
                             path=str(root))
    return root


def open_state_dir(*sub: str) -> Dir:
    """The state root (or SUB below it), created 0700 where missing, held open."""
    with open_trusted(check_state_root(), create=True) as d:
        return d.makedirs(sub)


def missing_dirs(*sub: str) -> list[str]:
    """The state root and SUB directories below it that do not exist yet, deepest
    first: what open_state_dir(*sub) will create (remove_empty_dirs undoes it)."""
    path, out = state_root(), []
    for name in ("", *sub):
        path = os.path.join(path, name) if name else path
        if not os.path.lexists(path):
            out.insert(0, path)
    return out


def remove_empty_dirs(paths: list[str]) -> None:
    """rmdir each path (deepest first) if it is still an empty directory; reached
    from its parent without following a link (memlab.safefs).  A directory someone
    put something in stays."""
    for path in paths:
        try:
            with open_trusted(os.path.dirname(path), strict=False) as parent:
                os.rmdir(os.path.basename(path), dir_fd=parent.fd)
        except (OSError, UnsafePath):
            continue
