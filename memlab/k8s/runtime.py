"""The OCI runtime memlab runs pods with (runc, or crun), and the host mounts it needs.

Like containerd under kubelet, memlab hands each container to the runtime as an OCI
bundle (memlab.k8s.bundle) and drives it with the runtime's command line:
    runc --root R run --bundle B --pid-file F ID     the container, in the foreground
    runc --root R exec ID CMD...                      `kubectl exec`
    runc --root R state ID / delete --force ID
R is per user, under memlab's state dir (memlab.statedir): <state dir>/runc.

`runc run` is started with memlab.launch (its process group is memlab's, so the reaper
kills it).  The container's init calls setsid (runc's nsexec.c), so it leaves that group:
a cleanup shim (memlab.k8s.podshim) outlives memlab only to `delete --force` the
containers and unmount the pod's tmpfs volumes when memlab is gone, however it went.

The short control commands (state, delete, exec) run with subprocess (vfork + exec,
no Python in the child), as memlab.exposure.observers does: they are tools memlab waits
for, not processes it holds.

Without a runtime, or without root (runc needs it as used here: namespaces, mounts),
memlab simulates: every output then says SIMULATED.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass

from memlab.errors import MemlabError
from memlab.procfs.mountinfo import read_mount_points
from memlab.statedir import open_state_dir, state_root

SIMULATED = "simulated: no container runtime (install runc)"
RUNTIMES = ("runc", "crun")
NETWORK_NOTE = "network: the host's (no network namespace: memlab sets up no pod network)"

# mount(2) / umount2(2) flags (include/uapi/linux/mount.h, include/linux/fs.h)
MS_NOSUID = 0x2
MS_NODEV = 0x4
MNT_DETACH = 0x2
UMOUNT_NOFOLLOW = 0x8


class RuntimeError_(MemlabError):
    """The runtime refused or failed (exit 1)."""


def find_runtime(path: str | None = None) -> str | None:
    """--runtime PATH (must be an executable file), else runc or crun on PATH."""
    if path:
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            raise RuntimeError_(f"--runtime: not an executable file: {path}")
        return os.path.abspath(path)
    for name in RUNTIMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def why_simulated(path: str | None) -> str | None:
    """None when the runtime can run pods here, else why not (for the output)."""
    if path is None:
        return SIMULATED
    if os.geteuid() != 0:
        return "simulated: the container runtime needs root here (rootless runc is not set up)"
    return None


def container_id(pod_dir: str, pod_name: str, container: str) -> str:
    """A runtime id unique per pod directory (runc: ^[\\w+-\\.]+$)."""
    h = hashlib.sha256(os.fsencode(pod_dir)).hexdigest()[:8]
    return f"memlab-{pod_name}-{container}-{h}"[:200]


@dataclass
class Runtime:
    path: str

    @property
    def root(self) -> str:
        with open_state_dir("runc"):
            pass  # made 0700, ours, no link (memlab.statedir)
        return os.path.join(state_root(), "runc")

    def base(self) -> list[str]:
        return [self.path, "--root", self.root]

    def run_args(self, bundle: str, cid: str, pid_file: str) -> list[str]:
        """Arguments after the runtime's path for `run` (memlab.launch adds argv[0])."""
        return ["--root", self.root, "run", "--bundle", bundle, "--pid-file", pid_file, cid]

    def _call(self, *args: str, timeout: float = 20.0, stdin=None
              ) -> subprocess.CompletedProcess:
        try:
            return subprocess.run([*self.base(), *args], capture_output=True, timeout=timeout,
                                  stdin=stdin if stdin is not None else subprocess.DEVNULL,
                                  close_fds=True)
        except (OSError, subprocess.TimeoutExpired) as err:
            raise RuntimeError_(f"{os.path.basename(self.path)} {args[0]}: {err}") from err

    def state(self, cid: str) -> dict | None:
        r = self._call("state", cid)
        if r.returncode != 0:
            return None
        try:
            return json.loads(r.stdout)
        except ValueError:
            return None

    def delete(self, cid: str) -> None:
        self._call("delete", "--force", cid)

    def list(self) -> list[dict]:
        r = self._call("list", "--format", "json")
        try:
            return json.loads(r.stdout) or [] if r.returncode == 0 else []
        except ValueError:
            return []

    def exec(self, cid: str, argv: list[str], timeout: float = 60.0
             ) -> subprocess.CompletedProcess:
        return self._call("exec", cid, *argv, timeout=timeout)


# --- host mounts (the pod's tmpfs volumes) ---------------------------------------------------

def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def mount_tmpfs(dir_fd: int, mode: int = 0o755) -> None:
    """Mount a tmpfs on the directory held by DIR_FD (through /proc/self/fd: the very
    directory checked, never a path a link could redirect), as kubelet's emptyDir does
    for a Secret volume (medium Memory: pkg/volume/emptydir/empty_dir.go setupTmpfs)."""
    target = f"/proc/self/fd/{dir_fd}".encode()
    opts = f"mode={mode:o},size=65536k".encode()
    if _libc().mount(b"tmpfs", target, b"tmpfs", MS_NOSUID | MS_NODEV, opts) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount tmpfs: {os.strerror(err)}")


def mount_overlay(dir_fd: int, lower: str, upper: str, work: str) -> None:
    """An overlay on the directory held by DIR_FD: the container's rootfs, as containerd's
    overlayfs snapshotter mounts it (lowerdir the image, upperdir its own layer)."""
    target = f"/proc/self/fd/{dir_fd}".encode()
    for p in (lower, upper, work):
        if any(c in p for c in ",:\\"):
            raise MemlabError(f"overlay: a path with ',', ':' or '\\' cannot be a layer: {p}")
    opts = f"lowerdir={lower},upperdir={upper},workdir={work}".encode()
    if _libc().mount(b"overlay", target, b"overlay", 0, opts) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount overlay: {os.strerror(err)}")


def umount(path: str) -> None:
    """Lazy unmount, never following a link at the last component; absent: no error."""
    if _libc().umount2(os.fsencode(path), MNT_DETACH | UMOUNT_NOFOLLOW) != 0:
        err = ctypes.get_errno()
        if err not in (22, 2):  # EINVAL: not a mount point; ENOENT: gone
            raise OSError(err, f"umount {path}: {os.strerror(err)}")


def mounted_below(prefix: str) -> list[str]:
    """Mount points at or below PREFIX in memlab's mount namespace (/proc/self/mountinfo,
    field 5; octal escapes as fs/proc_namespace.c show_mountinfo writes them)."""
    return [p for p in read_mount_points("self")
            if p == prefix or p.startswith(prefix.rstrip("/") + "/")]


# --- the cleanup shim -------------------------------------------------------------------

class Shim:
    """memlab's side of memlab.k8s.podshim: tell it what to clean; close() = clean now."""

    def __init__(self, runtime: Runtime):
        r, w = os.pipe()
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "podshim.py")
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-I", "-S", script, *runtime.base()], stdin=r,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, close_fds=True,
                start_new_session=True, cwd="/", env={})
        except OSError:
            os.close(w)
            raise
        finally:
            os.close(r)
        self._fd = w

    def tell(self, kind: str, value: str) -> None:
        if self._fd >= 0 and "\n" not in value:
            try:
                os.write(self._fd, f"{kind} {value}\n".encode())
            except BrokenPipeError:
                pass

    def close(self, wait: bool = True) -> None:
        """EOF: the shim cleans everything it was told, then exits."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
            if wait:
                try:
                    self.proc.wait(30)
                except subprocess.TimeoutExpired:
                    pass
