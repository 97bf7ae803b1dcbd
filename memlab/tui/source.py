"""Where the TUI gets its data: an injected source (the memray TUI split).

The app never touches /proc, launch or collect itself: it is handed a `DataSource` and
calls it from thread workers (snapshot, command, read_memory, list_processes) or, for
`launch`, from the event-loop thread (PR_SET_PDEATHSIG is per forking *thread*: a child
forked from a short-lived worker thread would be killed when that worker ends).

`LiveSource` is the real thing (memlab.collect / memlab.launch / memlab.procfs.mem).
The tests serve fixed Snapshot objects through a fake of their own (tests/tui/fakes.py).

This module does not import textual: the CLI builds a source before starting the app.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

from memlab.errors import (
    AccessDenied,
    LaunchError,
    NoSuchProcess,
    UnreadableMemory,
    UsageError,
)
from memlab.model import Snapshot
from memlab.render.trace import traced_lines
from memlab.trace.session import trace_while

# The demo environment `memlab tui` gives the default sample: one secret to find, one
# harmless value, and the usual variables a shell would pass.
DEMO_ENV_NAMES = ("DB_PASSWORD", "LOG_LEVEL", "PATH", "HOME", "LANG")


def demo_env() -> list[bytes]:
    return [
        b"DB_PASSWORD=hunter2",
        b"LOG_LEVEL=info",
        b"PATH=" + os.environb.get(b"PATH", b"/usr/local/bin:/usr/bin:/bin"),
        b"HOME=" + os.environb.get(b"HOME", b"/root"),
        b"LANG=C.UTF-8",
    ]


# The live snapshot reads /proc/PID/smaps too (Snapshot.memory: the Map view's resident
# figures, the Drive view's growth) up to this many mappings: past it smaps costs more
# than the rest of the refresh (0.2 s of parsing for 60,000: docs/benchmarks.md).
SMAPS_MAX_REGIONS = 5000

# The commands a launched sample understands on stdin (c_samples/*.c, memlab.launch).
SAMPLE_COMMANDS = ("setenv", "unsetenv", "scrub", "copy", "malloc", "reserve", "touch",
                   "threads")


def check_command(line: str) -> str:
    """Validate a drive-the-sample command line before it is sent: `setenv K V`,
    `unsetenv K`, `scrub K`, `copy K`, `malloc N`.  Returns it stripped."""
    words = line.split()
    if not words:
        raise UsageError("empty command")
    verb, args = words[0], words[1:]
    arity = {"setenv": 2, "unsetenv": 1, "scrub": 1, "copy": 1, "malloc": 1,
             "reserve": 1, "touch": 2, "threads": 1}
    if verb not in arity:
        raise UsageError(f"unknown command {verb!r}: use one of {', '.join(SAMPLE_COMMANDS)}")
    if verb == "setenv" and len(args) >= 2:
        return line.strip()  # the value may contain spaces
    if len(args) != arity[verb]:
        raise UsageError(f"{verb} takes {arity[verb]} argument(s)")
    if verb == "malloc" and not args[0].isdigit():
        raise UsageError("malloc takes a size in bytes")
    if verb in ("reserve", "threads") and not args[0].isdigit():
        raise UsageError(f"{verb} takes a number")
    if verb == "touch" and not args[1].isdigit():
        raise UsageError("touch takes ADDR (hex, from reserve) and a page count")
    return line.strip()


def exit_report(launched) -> str:
    """"/bin/sh exited: exit status 3; last stderr: oops" for a reaped Launched."""
    tail = launched.stderr_tail(1000).splitlines()[-5:]
    out = f"{os.path.basename(launched.exe)} exited: {launched.exit_description()}"
    if tail:
        out += "; last stderr: " + " | ".join(tail)
    return out


@dataclass(frozen=True)
class LaunchRequest:
    """What the launch panel asks for: a target, an exact env (None: inherit), no-ASLR."""

    target: str
    env: tuple[bytes, ...] | None
    no_aslr: bool = False
    args: tuple[str, ...] = ()


class DataSource:
    """The interface the TUI is given.  Methods may block: call them from workers,
    except `launch`, which must run on the event-loop thread."""

    pid: int | None = None
    # The process was started by this source: it can be driven (commands) and it is
    # ended when replaced or when the source stops.
    launched: bool = False
    # Bytes returned by read_memory so far: the hex-view bench counts them.
    bytes_read: int = 0
    last_launch: LaunchRequest | None = None

    def snapshot(self) -> Snapshot:
        raise NotImplementedError

    def launch(self, request: LaunchRequest) -> int:
        raise NotImplementedError

    def attach(self, pid: int) -> None:
        raise NotImplementedError

    def command(self, line: str) -> dict:
        raise NotImplementedError

    def command_traced(self, line: str) -> tuple[dict, list[str]]:
        """command(line), and the map-changing system calls it made the process do, as
        text lines (memlab.render.trace); no lines where nothing can trace."""
        return self.command(line), []

    def read_memory(self, addr: int, size: int) -> bytes | None:
        """The bytes at [addr, addr+size), or None when any of them cannot be read."""
        raise NotImplementedError

    def list_processes(self) -> list:
        raise NotImplementedError

    def sample_names(self) -> list[str]:
        return []

    def mmap_min_addr(self) -> int | None:
        """vm.mmap_min_addr (the map's low guard), or None when unknown."""
        return None

    def exited(self) -> str | None:
        """How the launched process ended, once it has (and it is reaped); else None."""
        return None

    def speaks_commands(self) -> bool:
        """The process on screen understands the sample commands (Drive, palette)."""
        return self.launched

    def started_by_memlab(self) -> bool:
        """The process on screen was started by this memlab (by the TUI, or by a
        lesson, which then attaches the TUI to it)."""
        return self.launched

    # -- optional panels (memlab.exposure): worker threads --------------------------
    def access_matrix(self, rows: tuple[str, ...] | None = None,
                      channels: tuple[str, ...] | None = None):
        """memlab.exposure.matrix.access_matrix for the process on screen."""
        raise UsageError("this source has no exposure data")

    def env_three_way(self, name: str):
        """memlab.exposure.removal.three_way_of: NAME as execve, /proc/PID/environ and libc's
        environ see it, plus every copy of its value in memory."""
        raise UsageError("this source has no exposure data")

    # -- optional panels (memlab.k8s) ------------------------------------------------
    def run_pod(self, manifest: str, exec_sample: str | None = "sleeper"):
        """Run a pod (memlab.k8s.pod.run) and make its process the one on screen.
        Event-loop thread only, like launch.  Returns the PodRun."""
        raise UsageError("this source cannot run pods")

    def pod_state(self) -> dict:
        """The running pod, live: {"env": [EnvVar], "proc_environ": {name: value},
        "files": {path: bytes}, "secret_files": {paths of files from a Secret volume},
        "data_targets": {volume: dir}, "pid", "name"}."""
        raise UsageError("no pod is running")

    def apply_pod(self, yaml_text: str) -> list:
        """Apply ConfigMap/Secret YAML to the running pod (memlab.k8s.pod.PodRun.apply)."""
        raise UsageError("no pod is running")

    def stop(self) -> None:
        """End the launched process (if any) and release resources.  Idempotent."""


class LiveSource(DataSource):
    """Reads a real process through memlab.collect and memlab.procfs.mem."""

    def __init__(self, *, launch_timeout: float = 3.0, command_timeout: float = 5.0,
                 pod_root: str | None = None, confirm_running: float = 0.3):
        self.launch_timeout = launch_timeout
        # a program that is not a sample counts as running once it survived this long
        self.confirm_running = confirm_running
        self.pod_root = pod_root  # where pod directories go (None: memlab.k8s default)
        self.pod = None  # memlab.k8s.pod.PodRun on screen
        self._made_dirs: list = []  # state dirs a pod made (removed again by stop)
        self._stopped_pods: list = []  # PodRuns replaced or stopped, not yet removed
        self.command_timeout = command_timeout
        self._launched = None  # memlab.launch.Launched
        self._is_sample = False  # it speaks the samples' command protocol
        self._reader = None  # memlab.procfs.mem.MemReader for self.pid
        self._lock = threading.Lock()
        self.pid = None
        self.bytes_read = 0

    # -- process lifecycle (event-loop thread) --------------------------------------
    @property
    def launched(self) -> bool:  # type: ignore[override]
        return self._launched is not None

    def speaks_commands(self) -> bool:
        return self._launched is not None and self._is_sample

    def started_by_memlab(self) -> bool:
        from memlab.launch import is_ours

        return self._launched is not None or is_ours(self.pid)

    def launch(self, request: LaunchRequest) -> int:
        # PR_SET_PDEATHSIG fires when the forking thread exits (prctl(2)): launching
        # from a worker thread would kill the child as soon as that worker finished.
        if threading.current_thread() is not threading.main_thread():
            raise LaunchError("launch must be called from the main (event-loop) thread")
        from memlab.launch import launch
        from memlab.samples import is_sample_path, resolve_target

        # A bundled sample says when it is ready (its JSON report); any other program
        # just starts (hold="ready" would wait for a report that never comes).
        hold = "ready" if is_sample_path(resolve_target(request.target)) else "none"
        new = launch(request.target, request.args,
                     list(request.env) if request.env is not None else None,
                     no_aslr=request.no_aslr, hold=hold, timeout=self.launch_timeout)
        if hold == "none" and new.wait(timeout=self.confirm_running) is not None:
            # it died at once: say how, and keep the process on screen (not replaced
            # until the new one is confirmed running)
            raise LaunchError(exit_report(new), pid=new.pid, path=new.exe)
        self._end_launched()  # the new process replaces the old one
        self._launched = new
        self._is_sample = hold == "ready"
        self.last_launch = request
        self._switch(new.pid)
        return new.pid

    def attach(self, pid: int) -> None:
        from memlab.procfs.stat import read_stat

        if read_stat(pid).is_zombie:  # NoSuchProcess when it is gone: nothing changes
            raise NoSuchProcess(f"process {pid} has exited", pid=pid)
        self._end_launched()
        self._switch(pid)

    def exited(self) -> str | None:
        """The launched process's end, in words ("exit status 3; stderr: ..."), once it
        has exited; it is reaped here (no zombie left).  None while it runs or when
        memlab did not launch it.  Cheap: one waitid(WNOHANG)."""
        launched = self._launched
        if launched is None or launched.alive:
            return None
        launched.wait()  # reaps it and ends what it left in its process group
        return exit_report(launched)

    def stop(self) -> None:
        self._end_launched()
        # the TUI's pod directories (Secret values in them) go too
        pods, self._stopped_pods = self._stopped_pods, []
        for pod in pods:
            pod.remove()
        if self._made_dirs:  # and the state directories this session created for it
            from memlab.statedir import remove_empty_dirs

            made, self._made_dirs = self._made_dirs, []
            remove_empty_dirs(made)
        self._switch(None)

    def _end_launched(self) -> None:
        old, self._launched = self._launched, None
        pod, self.pod = self.pod, None
        if pod is not None:
            pod.stop()  # kills its process (the same Launched) and records it
            self._stopped_pods.append(pod)  # its directory goes when the source stops
        if old is not None:
            old.kill()

    def _switch(self, pid: int | None) -> None:
        with self._lock:
            if self._reader is not None:
                self._reader.close()
            self._reader = None
            self.pid = pid

    # -- reads (worker threads) -----------------------------------------------------
    def snapshot(self) -> Snapshot:
        from memlab.collect import snapshot
        from memlab.procfs.mem import MemReader

        pid = self.pid
        if pid is None:
            raise NoSuchProcess("no process: launch one (l) or attach to one (p)")
        launched = self._launched
        if launched is not None and launched.pid == pid and not launched.alive:
            launched.wait()
            raise NoSuchProcess(exit_report(launched), pid=pid)
        snap = snapshot(pid)
        if len(snap.regions) <= SMAPS_MAX_REGIONS:  # what each region has in RAM
            from memlab.collect import add_memory

            snap = add_memory(snap)
        # The hex view reads through a reader bounded by the regions just read, so a
        # mapping that appeared since (malloc) is readable after the next refresh.
        reader = MemReader(pid, list(snap.regions))
        with self._lock:
            if self.pid == pid:
                old, self._reader = self._reader, reader
            else:
                old = reader
        if old is not None:
            old.close()
        return snap

    def read_memory(self, addr: int, size: int) -> bytes | None:
        with self._lock:
            reader = self._reader
        if reader is None:
            return None
        try:
            data = reader.read(addr, size)
        except UnreadableMemory:
            return None
        self.bytes_read += len(data)
        return data

    def command(self, line: str) -> dict:
        launched = self._launched
        if launched is None:
            raise UsageError("commands drive a process memlab launched; "
                             "an attached process is read-only (launch one with l)")
        line = check_command(line)
        if not self._is_sample:
            raise UsageError("only the bundled samples understand commands "
                             f"({os.path.basename(launched.exe)} is not one)")
        return launched.command(line, timeout=self.command_timeout)

    def command_traced(self, line: str) -> tuple[dict, list[str]]:
        """The command under memlab's tracer (memlab.trace.session.trace_while): this
        worker thread attaches, steps and detaches, so every ptrace request comes from
        one thread (docs/architecture.md#the-tracer).  Where attaching is refused the
        command runs untraced."""
        launched = self._launched
        if launched is None or not self._is_sample:
            return self.command(line), []
        line = check_command(line)
        try:
            answer, traced = trace_while(
                launched.pid, lambda: launched.command(line, timeout=self.command_timeout))
        except (AccessDenied, NoSuchProcess) as err:
            if not launched.alive:
                raise
            return launched.command(line, timeout=self.command_timeout), [
                f"(not traced: {err})"]
        lines = [text for t in traced for text in traced_lines(t, launched.pid)]
        return answer, lines

    def list_processes(self) -> list:
        from memlab.processes import list_processes

        return list_processes()

    def sample_names(self) -> list[str]:
        from memlab.samples import list_samples

        return [s.name for s in list_samples()]

    def mmap_min_addr(self) -> int | None:
        if not hasattr(self, "_mmap_min_addr"):  # system-wide: read once
            from memlab.procfs.sysctl import read_mmap_min_addr

            self._mmap_min_addr = read_mmap_min_addr()
        return self._mmap_min_addr

    def access_matrix(self, rows=None, channels=None):
        from memlab.exposure.matrix import access_matrix

        if self.pid is None:
            raise NoSuchProcess("no process on screen")
        # The observers look for the value execve was given, not the current one: after
        # a scrub the env block holds XXXX, which is no secret (memlab.exposure.removal)
        return access_matrix(self.pid, rows=rows, channels=channels,
                             secret=self.execve_secret())

    def execve_secret(self) -> bytes | None:
        """The first secret-looking value memlab passed to execve (None: not launched
        by memlab, or no such value)."""
        from memlab.secrets import looks_secret

        launched = self._launched
        for raw in (launched.env if launched is not None else ()):
            name, eq, value = raw.partition(b"=")
            if eq and value and looks_secret(name.decode(errors="replace"),
                                             value.decode(errors="replace")):
                return value
        return None

    def run_pod(self, manifest: str, exec_sample: str | None = "sleeper"):
        if threading.current_thread() is not threading.main_thread():
            raise LaunchError("a pod must be run from the main (event-loop) thread")
        from pathlib import Path

        from memlab.k8s.pod import prepare

        prepared = prepare(manifest)
        if self.pod_root is not None:
            prepared = prepare(manifest, pod_dir=Path(self.pod_root) / prepared.name)
        else:  # the per-user state dir (memlab.statedir): what this session creates
            from memlab.k8s.podroot import POD_ROOT_NAME
            from memlab.statedir import missing_dirs

            self._made_dirs = self._made_dirs or missing_dirs(POD_ROOT_NAME)
        self._end_launched()
        pod = prepared.start(exec_sample, timeout=self.launch_timeout)
        self.pod, self._launched = pod, pod.launched
        from memlab.samples import is_sample_path

        self._is_sample = is_sample_path(pod.launched.exe)
        self.last_launch = None
        self._switch(pod.pid)
        return pod

    def pod_state(self) -> dict:
        pod = self.pod
        if pod is None:
            raise UsageError("no pod is running: run one in the Pod view")
        environ = {}
        for raw in pod.proc_environ():
            name, _, value = raw.partition(b"=")
            environ[name.decode(errors="replace")] = value.decode(errors="replace")
        files: dict[str, bytes] = {}
        secret_files: set[str] = set()
        for path, data, from_secret in pod.volume_entries():
            files[path] = data
            if from_secret:
                secret_files.add(path)
            else:
                secret_files.discard(path)  # a later mount over the same path wins
        return {"name": pod.name, "pid": pod.pid, "pod_dir": str(pod.pod_dir),
                "env": list(pod.env), "proc_environ": environ,
                "files": files, "secret_files": secret_files,
                "data_targets": pod.data_targets(),
                "note": pod.note, "warnings": list(pod.warnings)}

    def apply_pod(self, yaml_text: str) -> list:
        pod = self.pod
        if pod is None:
            raise UsageError("no pod is running: run one in the Pod view")
        return pod.apply(yaml_text)

    def env_three_way(self, name: str):
        from memlab.exposure.removal import three_way_of

        if self.pid is None:
            raise NoSuchProcess("no process on screen")
        launched = self._launched
        return three_way_of(self.pid, name, list(launched.env) if launched else None)
