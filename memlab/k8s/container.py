"""One container of a pod, run by the OCI runtime (memlab.k8s.runtime): its bundle
(<pod dir>/bundles/<container>/: config.json + rootfs), its `runc run`, its host pid.

kubelet's files for the container live in the pod directory, laid out as on a node
(/var/lib/kubelet/pods/<uid>/...):
    etc-hosts                                  bind-mounted at /etc/hosts
    hostname                                   at /etc/hostname (containerd's sandbox file)
    containers/<container>/termination-log     at /dev/termination-log
"""

from __future__ import annotations

import json
import os
import time

from memlab.errors import LaunchError, MemlabError, NoSuchProcess
from memlab.k8s import bundle as oci
from memlab.k8s import rootfs
from memlab.k8s.runtime import Runtime, container_id
from memlab.launch import Launched, launch
from memlab.procfs.stat import read_stat
from memlab.safefs import Dir, check_name

PID_FILE = "pid"
# runc's init process names itself while it sets the container up
# (libcontainer/nsenter/nsexec.c: prctl(PR_SET_NAME, "runc:[2:INIT]")); the pid file is
# written then, before it execs the container's program (libcontainer/standard_init_linux.go)
RUNC_INIT_COMM = "runc:["


class ContainerRun:
    """A container's bundle written below the pod directory, and its `runc run`."""

    def __init__(self, runtime: Runtime, pod_dir: Dir, pod_name: str, name: str,
                 config: dict, init: bool = False, on_mount=None, image: str = ""):
        self.runtime = runtime
        self.name = check_name(name)
        self.init = init
        self.id = container_id(pod_dir.path, pod_name, name)
        self.config = config
        self.bundle = os.path.join(pod_dir.path, "bundles", self.name)
        self.launched: Launched | None = None
        self.host_pid: int | None = None
        self.sandbox = False
        with pod_dir.makedirs(["bundles", self.name], 0o700) as b:
            for stale in (PID_FILE, "rootfs", "upper", "work"):
                b.rmtree(stale) if b.is_dir(stale) else b.unlink(stale, missing_ok=True)
            rootfs.build(b, on_mount or (lambda path: None), image)
            b.write_file("config.json", json.dumps(config, indent=2).encode(), 0o600)

    def start(self, timeout: float) -> "ContainerRun":
        """`runc run` in the foreground (memlab holds it; the container's stdin/stdout
        are memlab's pipes), then wait for the pid file: the container's host pid."""
        pid_file = os.path.join(self.bundle, PID_FILE)
        self.launched = launch(self.runtime.path,
                               self.runtime.run_args(self.bundle, self.id, pid_file),
                               None, hold="none", timeout=timeout)
        deadline = time.monotonic() + timeout
        while True:
            try:
                with open(pid_file, "rb") as f:
                    text = f.read().strip()
                if text:
                    self.host_pid = int(text)
                    self._wait_for_exec(deadline)
                    return self
            except (FileNotFoundError, ValueError):
                pass
            if not self.launched.alive:
                # an init container may finish before we look: its pid is gone anyway
                if self.init and self.launched.wait() == 0:
                    return self
                lines = [ln for ln in self.launched.stderr_tail().splitlines() if ln.strip()]
                raise LaunchError(f"container {self.name}: the runtime failed: "
                                  f"{(lines or ['no message'])[-1].strip()[-400:]}")
            if time.monotonic() > deadline:
                raise LaunchError(f"container {self.name}: not started within {timeout}s")
            time.sleep(0.002)

    def _wait_for_exec(self, deadline: float) -> None:
        """Until the pid holds the container's program, not runc's init: before that its
        /proc/PID/environ is runc's (_LIBCONTAINER_*), not the env kubelet computed."""
        while True:
            try:
                if not read_stat(self.host_pid).comm.startswith(RUNC_INIT_COMM):
                    return
            except NoSuchProcess:
                return  # an init container that already finished
            if time.monotonic() > deadline:
                raise LaunchError(f"container {self.name}: runc's init did not exec the "
                                  "container's program in time")
            time.sleep(0.002)

    def wait(self, timeout: float | None = None) -> int | None:
        return self.launched.wait(timeout) if self.launched else None

    @property
    def alive(self) -> bool:
        return self.launched is not None and self.launched.alive

    def stop(self) -> None:
        try:
            self.runtime.delete(self.id)
        except MemlabError:
            pass
        if self.launched is not None:
            self.launched.kill()


def command_args(container: dict, expanded: list[str], exec_override: list[str] | None
                 ) -> tuple[list[str], str]:
    """(args, note) for process.args: what the runtime execs inside the rootfs."""
    image = container.get("image", "")
    if exec_override:
        first = rootfs.lookup(exec_override[0])
        if first is None:
            raise MemlabError(f"--exec: no program {exec_override[0]!r} in memlab's rootfs "
                              "(busybox applets, sleeper, hotreload)")
        return [first, *exec_override[1:]], (f"running {exec_override[0]!r} in place of "
                                            f"image {image!r} (--exec)")
    if not expanded:
        return [rootfs.DEFAULT_PROGRAM], (
            f"image {image!r} has no command in the manifest and memlab has no images: "
            "its rootfs runs the sample sleeper instead (choose with --exec)")
    if rootfs.lookup(expanded[0]) is None:
        raise MemlabError(f"image {image!r}: memlab cannot provide {expanded[0]!r} (its "
                          "rootfs has busybox applets, sleeper and hotreload; choose one "
                          "with --exec)")
    return expanded, f"running the container's command {expanded!r} in runc"


def write_node_files(pod_dir: Dir, hostname: str, names: list[str]) -> dict[str, str]:
    """etc-hosts, hostname and each container's termination-log; their host paths."""
    hosts = (b"# Kubernetes-managed hosts file (memlab).\n127.0.0.1\tlocalhost\n"
             b"::1\tlocalhost ip6-localhost ip6-loopback\n")
    pod_dir.write_file("etc-hosts", hosts, 0o644)
    pod_dir.write_file("hostname", hostname.encode() + b"\n", 0o644)
    out = {"hosts": pod_dir.join("etc-hosts"), "hostname": pod_dir.join("hostname")}
    for n in names:
        with pod_dir.makedirs(["containers", check_name(n)], 0o755) as c:
            c.write_file("termination-log", b"", 0o666)
            out[f"termination-log:{n}"] = c.join("termination-log")
    return out


__all__ = ["ContainerRun", "command_args", "write_node_files", "oci"]
