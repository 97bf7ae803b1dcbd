"""Start a process with exactly the argv and environment you choose, and hold it.

vfork + execve, done by hand rather than with subprocess because memlab needs things
subprocess cannot give.  The child is C (memlab.procfs._cproc.spawn, in _cproc.c): between
fork and exec it makes only async-signal-safe calls (signal-safety(7)), as CPython's
Modules/_posixsubprocess.c does, never Python: memlab forks from a process with threads
(the TUI's workers), and a lock one of them held at fork time would stay locked forever
in a Python child.

- an environment that is byte-exact and in order (entries without '=', non-UTF-8 bytes,
  duplicates): os.execve takes a dict, so the child calls execve(2) with a char** built
  from the bytes;
- personality(ADDR_NO_RANDOMIZE) in the child (`setarch -R`), for repeatable addresses;
- hold="exec": PTRACE_TRACEME before execve, so the process stops with SIGTRAP right
  after the kernel built its image (docs/kernel-facts.md#holding-a-process-at-exec) -
  the pristine initial stack, before ld.so or libc ran; works for any executable;
- hold="ready": for the bundled samples, wait for their one-line JSON self-report.

A failed execve (ENOENT, EACCES, ENOEXEC...) is sent back through a close-on-exec
status pipe as (stage, errno): the parent raises LaunchError with the errno text.  The
child's stdin/stdout/stderr are memlab's pipes and file; every other descriptor closes on
exec; SIGPIPE and SIGXFSZ get their default action back and the signal mask is empty.

Children never outlive memlab.  Each child leads its own process group (setpgid), and
memlab kills the whole group, not just the child: `sh -c "sleep 3600"` forks sleep, which
PDEATHSIG does not cover (it is not inherited across fork).  The group is killed:
1. by kill() and when memlab reaps a child that exited on its own (what it left behind
   goes with it, as when a container's init exits: kernel/pid_namespace.c
   zap_pid_ns_processes);
2. by a weakref.finalize of every Launched, when it is garbage collected or the
   interpreter exits (finalize runs at exit: normal exit, sys.exit, ^C's
   KeyboardInterrupt);
3. by SIGTERM/SIGHUP/SIGPIPE handlers (installed once, from the main thread only), that
   kill the live children and then let the previous disposition act: re-raise with the
   default action, or call the application's own handler (chained, never clobbered).
   A signal that was ignored stays ignored (no handler installed: memlab survives it,
   so do its children; Python ignores SIGPIPE, the CLI restores its default);
4. by the reaper (memlab.reaper), a tiny process started on the first launch that
   outlives memlab only to SIGKILL the groups memlab told it about: the one exit path
   memlab cannot see is its own SIGKILL;
5. and PR_SET_PDEATHSIG(SIGKILL) in the child, for the child itself.  Caveat (prctl(2)):
   "the parent" is the *thread* that forked, so a child launched from a short-lived
   worker thread is killed when that thread exits.  Launch from the main thread (in
   Textual, the app's event-loop thread).  execve of a set-user-ID/set-group-ID/
   capability binary clears it (fs/exec.c begin_new_exec); the group kill still reaches
   those.  After setting it the child checks getppid(): if the parent already died
   between fork and prctl, the signal will never come.
A child is reaped only by the Launched that owns it (kill/wait), so its pid, which is
also its group's id, can never be reused while memlab still might signal it.  Not
covered: a descendant that leaves the group on purpose (setsid, setpgid: daemons).
"""

from __future__ import annotations

import ctypes
import errno as errno_mod
import json
import os
import select
import signal
import struct
import tempfile
import threading
import time
import weakref
from collections.abc import Sequence
from typing import Any

from memlab import reaper
from memlab.envbuild import base_entries, shown_name
from memlab.errors import LaunchError, UsageError
from memlab.kernel.abi import MAX_ARG_STRLEN, PTRACE_DETACH
from memlab.procfs import _cproc  # spawn(); None when memlab was built without a compiler
from memlab.samples import resolve_target

HOLD_MODES = ("ready", "exec", "none")

# What the child reports through the status pipe when something fails before exec:
# (stage, errno), the stage one of _cproc.c's, named by _cproc.SPAWN_STAGES.
_STATUS = struct.Struct("ii")  # stage, errno

_libc: ctypes.CDLL | None = None


def _get_libc() -> ctypes.CDLL:
    global _libc
    if _libc is None:
        # The parent's PTRACE_DETACH (resume); no child runs Python, so nothing else.
        libc = ctypes.CDLL(None, use_errno=True)
        # ptrace is variadic in glibc; passing full-width integer args is the portable
        # way to call it from ctypes on x86_64.
        libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p,
                                ctypes.c_void_p]
        libc.ptrace.restype = ctypes.c_long
        _libc = libc
    return _libc


# --------------------------------------------------------------------------- registry
_registry_lock = threading.RLock()  # re-entered by the signal handler
_live: weakref.WeakValueDictionary[int, Launched] = weakref.WeakValueDictionary()
_handlers_installed = False
_previous_handlers: dict[int, Any] = {}


def _kill_and_reap(pid: int) -> None:
    """Kill and reap a child of ours that has not been reaped yet (its pid is then
    still ours, even as a zombie: no risk of signalling a stranger)."""
    _kill_group(pid)
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:  # already reaped (e.g. by an application-wide reaper)
        pass


def _kill_group(pid: int) -> None:
    """SIGKILL a child we have not reaped and everything in its process group: what
    it started (`sh -c "sleep 3600"` forks sleep) must not outlive it either.  The
    group id is the child's pid, which stays ours until we reap it."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:  # the child itself, should it have left its group (setsid, setpgid)
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):  # EPERM: a forked copy of us that
        pass  # dropped its uid (tests' run_as) is not the child's parent anyway


def _forget_group(pid: int) -> None:
    """The group is killed and its leader reaped: the reaper must forget the number."""
    try:
        reaper.forget(pid)
    except OSError:  # no reaper to tell (it could not be restarted): nothing to forget
        pass


def is_ours(pid: int | None) -> bool:
    """True while `pid` is a live process this memlab launched (a lesson's, too)."""
    with _registry_lock:
        return pid in _live


def kill_all() -> None:
    """Kill and reap every live launched child (used by the signal handlers)."""
    with _registry_lock:
        children = list(_live.values())
    for child in children:
        child.kill()


def _on_signal(signum: int, frame: Any) -> None:
    prev = _previous_handlers.get(signum, signal.SIG_DFL)
    if callable(prev):
        # The application owns this signal: let it decide.  If it exits, the finalizers
        # (and PDEATHSIG) still kill the children; if it carries on, they carry on too.
        prev(signum, frame)
        return
    kill_all()
    # Re-raise with the default action (terminate), as if we had never been here.
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _install_signal_handlers() -> None:
    global _handlers_installed
    if _handlers_installed or threading.current_thread() is not threading.main_thread():
        return  # signal.signal only works in the main thread; PDEATHSIG still applies
    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE):
        prev = signal.getsignal(signum)
        if prev == signal.SIG_IGN or prev is None:
            continue  # ignored (or set outside Python): memlab survives it, leave it be
        _previous_handlers[signum] = prev
        signal.signal(signum, _on_signal)
    _handlers_installed = True


def _e2big_hint(code: int, argv: Sequence[bytes], env: Sequence[bytes]) -> str:
    """Why execve said E2BIG, in numbers: a string longer than MAX_ARG_STRLEN, or all
    strings + pointers over the limit fs/exec.c derives from RLIMIT_STACK (1/4 of it)."""
    if code != errno_mod.E2BIG:
        return ""
    import resource

    strings = sum(len(a) + 1 for a in (*argv, *env))
    total = strings + 8 * (len(argv) + len(env) + 2)
    longest, index = max(((a, i) for i, a in enumerate(argv)), key=lambda p: len(p[0]),
                         default=(b"", 0))
    longest_env = max(env, key=len, default=b"")
    if len(longest_env) > len(longest):
        what = f"the env string named {shown_name(longest_env, 30)!r}"
        longest = longest_env
    else:
        what = f"argv[{index}]"
    if len(longest) + 1 > MAX_ARG_STRLEN:  # named, never quoted: it may be a secret
        return (f" (one string is {len(longest) + 1:,} bytes: {what}; "
                f"the kernel allows {MAX_ARG_STRLEN:,} per string, MAX_ARG_STRLEN)")
    soft = resource.getrlimit(resource.RLIMIT_STACK)[0]
    limit = "" if soft == resource.RLIM_INFINITY else f" of the {soft // 4:,} allowed"
    return (f" ({len(env):,} env strings + {len(argv):,} args take {total:,} bytes"
            f"{limit}: execve may use 1/4 of the stack limit, ulimit -s)")


# --------------------------------------------------------------------------- parent side
def _read_status(fd: int, timeout: float) -> bytes:
    """Everything the child wrote before exec closed the pipe (b"" = exec succeeded)."""
    data = b""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise LaunchError("the child neither exec'd nor failed in time")
        chunk = os.read(fd, 64)
        if not chunk:
            return data
        data += chunk


# The signals launch()'s own handlers and Python's SIGINT handler act on.
_HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE)


def _adopt(pid: int) -> None:
    """Right after spawn, in the parent: the child's group exists (setpgid here too, so
    that a kill() right after fork already has it) and the reaper knows it.  If the
    reaper cannot be told, the child is killed: a launch never goes unwatched."""
    try:
        os.setpgid(pid, pid)
    except OSError:  # EACCES: the child already exec'd (and set it itself)
        pass
    try:
        reaper.watch(pid)
    except OSError:
        _kill_and_reap(pid)
        raise


def launch(target: str, args: Sequence[str | bytes] = (), env: Sequence[bytes] | None = None,
           *, no_aslr: bool = False, hold: str = "ready", timeout: float = 5.0,
           cwd_fd: int | None = None, stdio: tuple[int, int, int] | None = None
           ) -> Launched:
    """vfork + execve `target` (a sample name, a path, or a command on $PATH).

    argv is [target as given, *args], like a shell.  `env` is the exact list of entries
    (see memlab.envbuild.build_env); None passes memlab's own environment.  hold: "ready" waits for a
    sample's JSON self-report (-> .report), "exec" stops the process at its first
    instruction (resume() to let it run), "none" just starts it.  The child's stdin and
    stdout are pipes (for .command), its stderr a temporary file (for error messages);
    `stdio` gives it these three descriptors instead (memlab trace: memlab's own), and
    .command and stderr_tail then have nothing to read.
    cwd_fd: a directory descriptor the child fchdir()s to before execve (default: memlab's
    working directory).
    """
    if hold not in HOLD_MODES:
        raise UsageError(f"hold must be one of {', '.join(HOLD_MODES)}, not {hold!r}")
    exe = resolve_target(target)
    argv = [os.fsencode(target), *(os.fsencode(a) for a in args)]
    entries = base_entries(None) if env is None else [bytes(e) for e in env]
    for item in (*argv, *entries):
        if b"\0" in item:
            raise UsageError("argv and environment entries cannot contain NUL bytes")
    if _cproc is None:
        # No Python fallback on purpose: a forked Python child of a threaded memlab can
        # hang on a lock held at fork time (the reason spawn is C).  Without a compiler
        # pip skips the optional extension (pyproject.toml): say how to get it.
        raise LaunchError("launching needs memlab's C extension (memlab.procfs._cproc), "
                          "which was not built: install gcc and the Python headers "
                          "(python3-dev), then reinstall memlab (make setup)", path=exe)
    path_b = os.fsencode(exe)
    _install_signal_handlers()

    fds: list[int] = []
    stderr_file = None
    try:
        reaper.start()  # before fork: the first launch pays for it, not the child
        for _ in range(3 if stdio is None else 1):
            fds.extend(os.pipe())  # O_CLOEXEC (PEP 446)
        if stdio is None:
            stderr_file = tempfile.TemporaryFile(prefix="memlab-stderr-")
            status_r, status_w, stdin_r, stdin_w, stdout_r, stdout_w = fds
            child_err = stderr_file.fileno()
        else:
            status_r, status_w = fds
            stdin_r, stdout_w, child_err = stdio
            stdin_w = stdout_r = -1
        # No signal handler (^C's KeyboardInterrupt...) between fork and the reaper
        # knowing the new group: the child would be known to nobody.  (spawn blocks
        # every signal while the vfork child runs, and the child empties its mask.)
        masked = signal.pthread_sigmask(signal.SIG_BLOCK, _HANDLED_SIGNALS)
        try:
            pid = _cproc.spawn(path_b, argv, entries, stdin_r, stdout_w,
                               child_err, status_w, os.getpid(), no_aslr,
                               hold == "exec", -1 if cwd_fd is None else cwd_fd)
            _adopt(pid)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, masked)
    except OSError as err:  # EMFILE, EAGAIN (RLIMIT_NPROC), ENOMEM...
        for fd in fds:
            os.close(fd)
        if stderr_file is not None:
            stderr_file.close()
        raise LaunchError(f"cannot start a process: {err.strerror}", path=exe) from err
    # status pipe: EOF in the parent means exec succeeded (close-on-exec).
    for fd in (status_w, stdin_r, stdout_w) if stdio is None else (status_w,):
        os.close(fd)
    child = Launched(pid, [os.fsdecode(a) for a in argv], entries, exe, stdin_w,
                     stdout_r, stderr_file)
    try:
        try:
            status = _read_status(status_r, timeout)
        finally:
            os.close(status_r)
        if status:
            stage, code = _STATUS.unpack(status[:_STATUS.size])
            child.wait(timeout)
            raise LaunchError(f"cannot launch: {_cproc.SPAWN_STAGES.get(stage, 'child')} failed: "
                              f"{os.strerror(code)}{_e2big_hint(code, argv, entries)}",
                              path=exe)
        if hold == "exec":
            child._wait_exec_stop(timeout)
        elif hold == "ready":
            child._wait_report(timeout)
    except BaseException:
        child.kill()
        raise
    return child


class Launched:
    """A process memlab started.  Use as a context manager (kills on exit) or call
    kill().  All ptrace-related calls (resume) must come from the thread that launched
    it: the kernel makes that thread the tracer."""

    def __init__(self, pid: int, argv: list[str], env: list[bytes], exe: str,
                 stdin_fd: int, stdout_fd: int, stderr_file: Any):
        self.pid = pid
        self.argv = argv
        self.env = env
        self.exe = exe
        self.held_at_exec = False
        self.report: dict | None = None
        self.stdout_lines: list[str] = []
        self.returncode: int | None = None  # exit code, or -signal, once reaped
        self._gone = False  # reaped (by us, or by someone else: code unknown)
        self._stdin = stdin_fd
        self._stdout = stdout_fd
        self._stderr = stderr_file
        self._buf = b""
        self._eof = False
        self._thread = threading.get_ident()
        self._finalizer = weakref.finalize(self, _finalize_child, pid, stdin_fd,
                                           stdout_fd, stderr_file)
        with _registry_lock:
            _live[pid] = self

    def __repr__(self) -> str:
        state = "held at exec" if self.held_at_exec else (
            "alive" if self.returncode is None else f"exited {self.returncode}")
        return f"<Launched pid={self.pid} {self.exe} {state}>"

    def __enter__(self) -> Launched:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()

    # ------------------------------------------------------------------ state
    @property
    def alive(self) -> bool:
        """True until the process has exited (a zombie counts as exited).  Does not
        reap and does not consume ptrace stops."""
        if self._gone:
            return False
        try:
            res = os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return False
        return not _exited(res)

    def stderr_tail(self, limit: int = 2000) -> str:
        """The last `limit` bytes the process wrote to stderr, as text."""
        if self._stderr is None:  # launched with stdio: its stderr is not ours to read
            return ""
        try:
            size = os.fstat(self._stderr.fileno()).st_size
            data = os.pread(self._stderr.fileno(), limit, max(0, size - limit))
        except (OSError, ValueError):  # closed after kill()
            return ""
        return data.decode("utf-8", "backslashreplace").strip()

    def exit_description(self) -> str:
        """How it ended, in words: "exit status 3", "killed by signal 9 (SIGKILL)"."""
        code = self.returncode
        if code is None:
            return "running" if not self._gone else "exited (status unknown)"
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = "?"
            return f"killed by signal {-code} ({name})"
        return f"exit status {code}"

    def _error(self, msg: str) -> LaunchError:
        tail = self.stderr_tail(500)
        if tail:
            msg += "; stderr: " + " | ".join(tail.splitlines()[-3:])
        return LaunchError(msg, pid=self.pid, path=self.exe)

    # ------------------------------------------------------------------ lifecycle
    def _reap(self, status: int) -> None:
        self.returncode = os.waitstatus_to_exitcode(status)
        self._forget()

    def _forget(self) -> None:
        """Mark the process gone: no finalizer, out of the live registry, pipes closed."""
        self._gone = True
        self.held_at_exec = False
        self._finalizer.detach()
        with _registry_lock:
            _live.pop(self.pid, None)
        _forget_group(self.pid)
        self._close()

    def _close(self) -> None:
        for fd in (self._stdin, self._stdout):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._stdin = self._stdout = -1
        # stderr stays open until garbage collection so stderr_tail works after exit.

    def wait(self, timeout: float | None = None) -> int | None:
        """Reap the process if it exits within `timeout` (None: wait forever); return
        its exit code (negative: killed by that signal), or None if still running."""
        if self._gone:
            return self.returncode
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = 0.001
        while True:
            flags = 0 if deadline is None else os.WNOHANG
            try:
                res = os.waitid(os.P_PID, self.pid, os.WEXITED | flags | os.WNOWAIT)
            except ChildProcessError:  # reaped behind our back: exit code unknown
                self._forget()
                return None
            if _exited(res):
                # Still unreaped, the leader keeps the group's id ours: kill what it
                # left behind in its group before the number can be reused.
                _kill_group(self.pid)
                _, status = os.waitpid(self.pid, 0)
                self._reap(status)
                return self.returncode
            if deadline is not None and time.monotonic() >= deadline:
                return None
            time.sleep(delay)
            delay = min(delay * 2, 0.05)

    def kill(self) -> None:
        """SIGKILL and reap (works on a process held at exec too).  Idempotent."""
        if self._gone:
            return
        _kill_group(self.pid)
        self.wait()

    def resume(self, wait_ready: bool = False, timeout: float = 5.0) -> None:
        """Let a process held at exec run (PTRACE_DETACH).  With wait_ready, then wait
        for a sample's self-report like hold="ready"."""
        if not self.held_at_exec:
            raise LaunchError("process is not held at exec", pid=self.pid)
        if threading.get_ident() != self._thread:
            raise LaunchError("resume() must be called from the thread that launched the "
                              "process (it is the ptrace tracer)", pid=self.pid)
        libc = _get_libc()
        if libc.ptrace(PTRACE_DETACH, self.pid, None, None) != 0:
            err = ctypes.get_errno()
            raise LaunchError(f"PTRACE_DETACH failed: {os.strerror(err)}", pid=self.pid)
        self.held_at_exec = False
        if wait_ready:
            self._wait_report(timeout)

    def _wait_exec_stop(self, timeout: float) -> None:
        """The SIGTRAP stop PTRACE_TRACEME + execve produces
        (docs/kernel-facts.md#holding-a-process-at-exec)."""
        deadline = time.monotonic() + timeout
        while True:
            wpid, status = os.waitpid(self.pid, os.WNOHANG)
            if wpid:
                break
            if time.monotonic() >= deadline:
                raise self._error("the process did not stop at exec in time")
            time.sleep(0.001)
        if os.WIFSTOPPED(status) and os.WSTOPSIG(status) == signal.SIGTRAP:
            self.held_at_exec = True
            return
        if os.WIFSTOPPED(status):
            raise self._error(f"stopped by {signal.Signals(os.WSTOPSIG(status)).name}, "
                              "not at exec")
        self._reap(status)
        raise self._error(f"exited before the exec stop ({self.returncode})")

    # ------------------------------------------------------------------ stdio
    def _read_line(self, timeout: float) -> bytes | None:
        """One line from stdout (without '\\n'); None at EOF; LaunchError on timeout."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buf:
            if self._eof or self._stdout < 0:
                if self._buf:
                    line, self._buf = self._buf, b""
                    return line
                return None
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._stdout], [], [], left)[0]:
                raise self._error(f"no answer within {timeout:g} s")
            chunk = os.read(self._stdout, 65536)
            if not chunk:
                self._eof = True
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return line

    def _read_json(self, timeout: float, first: bool) -> dict:
        """The next stdout line that is a JSON object.  For the self-report (`first`)
        the very first line must be one; later, other lines go to stdout_lines."""
        deadline = time.monotonic() + timeout
        while True:
            line = self._read_line(max(0.0, deadline - time.monotonic()))
            if line is None:
                code = self.wait(1.0)
                raise self._error("the process exited" + (
                    f" with {code}" if code is not None else "") + " without answering")
            text = line.decode("utf-8", "backslashreplace")
            try:
                obj = json.loads(text)
            except ValueError:
                obj = None
            if isinstance(obj, dict):
                if not first and self.report is None and obj.get("type") == "self-report":
                    self.report = obj  # started with hold="none"/"exec": not read yet
                    continue
                return obj
            if first:
                raise self._error(f"expected a JSON self-report, got {text[:120]!r}")
            self.stdout_lines.append(text)

    def _wait_report(self, timeout: float) -> None:
        self.report = self._read_json(timeout, first=True)

    def read_stdout_line(self, timeout: float = 5.0) -> str | None:
        """The next raw stdout line (None at EOF), for programs that are not samples."""
        line = self._read_line(timeout)
        return None if line is None else line.decode("utf-8", "backslashreplace")

    def command(self, line: str, timeout: float = 5.0) -> dict:
        """Send one command line to a sample and return its JSON answer."""
        if "\n" in line:
            raise UsageError("a sample command is one line")
        if self.held_at_exec:
            raise LaunchError("the process is held at exec: resume() it first",
                              pid=self.pid)
        if self._stdin < 0 or not self.alive:
            raise self._error("the process has exited")
        _write_nosigpipe(self._stdin, (line + "\n").encode(), self)
        return self._read_json(timeout, first=False)


def _exited(res: os.waitid_result | None) -> bool:
    """Whether a waitid(WEXITED | WNOWAIT) result is an exit.  To its tracer (memlab's
    tracer, memlab/trace/session.py) a child's ptrace stops are reported even without
    WSTOPPED (kernel/exit.c wait_task_stopped: the WUNTRACED test is for non-ptrace
    stops only): those are not exits."""
    return res is not None and res.si_code in (os.CLD_EXITED, os.CLD_KILLED,
                                               os.CLD_DUMPED)


def _write_nosigpipe(fd: int, data: bytes, child: Launched) -> None:
    """Write to a child's stdin; a dead reader gives LaunchError, never SIGPIPE."""
    try:
        reaper.write_all_nosigpipe(fd, data)
    except BrokenPipeError as err:
        raise child._error("the process closed its stdin (exited?)") from err


def _finalize_child(pid: int, stdin_fd: int, stdout_fd: int, stderr_file: Any) -> None:
    """weakref.finalize callback: the Launched was dropped or memlab is exiting."""
    with _registry_lock:
        _live.pop(pid, None)
    _kill_and_reap(pid)
    _forget_group(pid)
    for fd in (stdin_fd, stdout_fd):
        try:
            os.close(fd)
        except OSError:
            pass
    if stderr_file is not None:
        stderr_file.close()
