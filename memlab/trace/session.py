"""A trace: attach to a process (or adopt one memlab launched), stop at every system
call, and report the ones that change the map with the change each made.

The stop loop (ptrace(2), "Syscall-stops"): PTRACE_SYSCALL runs a tracee to the next
syscall entry or exit; with PTRACE_O_TRACESYSGOOD those stops report SIGTRAP | 0x80,
apart from signals.  At the entry of a call memlab traces, the arguments are kept and
/proc/PID/maps is read; at its exit the result is taken and maps read again, and
mapdiff names the difference.  Other calls are let through at once.

- Attaching (PTRACE_SEIZE, then PTRACE_INTERRUPT to take the first stop) needs the rights
  gdb needs: kernel/ptrace.c __ptrace_may_access (the same uid, not a set-user-ID
  change, dumpable, or CAP_SYS_PTRACE) and Yama's ptrace_scope where it is built in.
  A process has one tracer at most: "already traced by PID N" (TracerPid).
- Every thread is traced (each is a tracee of its own); new threads follow through
  PTRACE_O_TRACECLONE; after an execve (PTRACE_EVENT_EXEC) only the main thread remains.
- detach() interrupts each running thread and PTRACE_DETACHes it at its stop: the
  process runs on untraced (TracerPid back to 0).  Had memlab died without detaching,
  the kernel detaches its tracees itself (kernel/ptrace.c exit_ptrace).
- A launched process (memlab.launch hold="exec", stopped by PTRACE_TRACEME at its first
  instruction) is adopted instead, with PTRACE_O_EXITKILL: it never outlives memlab.
- Every ptrace request comes from the thread that attached (memlab/trace/ptrace.py).
"""

from __future__ import annotations

import errno as errno_mod
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from memlab.errors import AccessDenied, MemlabError, NoSuchProcess, UsageError
from memlab.kernel.abi import (
    PTRACE_EVENT_CLONE,
    PTRACE_EVENT_EXEC,
    PTRACE_EVENT_STOP,
    PTRACE_O_EXITKILL,
    PTRACE_O_TRACECLONE,
    PTRACE_O_TRACEEXEC,
    PTRACE_O_TRACESYSGOOD,
    PTRACE_SYSCALL_INFO_ENTRY,
    PTRACE_SYSCALL_INFO_EXIT,
    SYSCALL_NUMBERS,
    WALL,
)
from memlab.model import Region
from memlab.procfs.maps import read_maps
from memlab.procfs.mem import MemReader
from memlab.procfs.ptrace_state import task_ids, tracer_pid, yama_scope
from memlab.trace import ptrace
from memlab.trace.decode import DEFAULT_CALLS, Call, syscall_name
from memlab.trace.mapdiff import Change, diff

OPTIONS = PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACEEXEC | PTRACE_O_TRACECLONE
SYSCALL_STOP = signal.SIGTRAP | 0x80
STOP_SIGNALS = frozenset({signal.SIGSTOP, signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU})
EXEC_CALLS = frozenset({SYSCALL_NUMBERS["execve"], SYSCALL_NUMBERS["execveat"]})


class Traced(NamedTuple):
    """One traced call and what it did to the map."""

    call: Call
    changes: list[Change]
    # lines in /proc/PID/maps after the call; None when maps could not be read before
    # or after it (a set-user-ID exec made the process undumpable...): no changes then
    regions_after: int | None


class TraceEnded(NoSuchProcess):
    """The traced process exited (exit 3 for an attached process)."""

    def __init__(self, pid: int, returncode: int | None):
        self.returncode = returncode
        how = ("" if returncode is None else
               f" with {returncode}" if returncode >= 0 else
               f" (killed by {signal.Signals(-returncode).name})")
        super().__init__(f"the process exited{how} during the trace", pid=pid)


def _exit_code(status: int) -> int:
    return os.waitstatus_to_exitcode(status)


def attach_refused(pid: int, err: OSError) -> MemlabError:
    """The error for a PTRACE_SEIZE the kernel refused."""
    if err.errno == errno_mod.ESRCH:
        return NoSuchProcess("no such process", pid=pid)
    try:
        holder = tracer_pid(pid)
    except MemlabError:
        holder = 0
    if holder:
        return AccessDenied(f"already traced by PID {holder}", pid=pid)
    scope = yama_scope()
    yama = ("" if not scope else
            f"; Yama's ptrace_scope is {scope} (/proc/sys/kernel/yama/ptrace_scope: "
            "1 allows only descendants, 2 only CAP_SYS_PTRACE, 3 nobody)")
    return AccessDenied("cannot trace: attaching needs the same rights as gdb (the same "
                        "uid as the process, not a set-user-ID program, or "
                        f"CAP_SYS_PTRACE){yama} ({os.strerror(err.errno or 0)})", pid=pid)


class Session:
    """One trace.  Create it, then attach(pid) or adopt(launched), then step() or
    run(); detach() (or close()) at the end.  All from one thread."""

    def __init__(self, calls: Iterable[str] = DEFAULT_CALLS):
        self.nrs = frozenset(SYSCALL_NUMBERS[c] for c in calls)
        self.pid = 0
        self.tids: set[int] = set()
        self.launched: Any = None  # memlab.launch.Launched when adopted
        self.seized = False
        # False while the main thread runs; then its exit code (None: not seen)
        self.ended: int | None | bool = False
        self._thread = threading.get_ident()
        self._info = ptrace.SyscallInfo()
        self._pending: dict[int, tuple[int, tuple[int, ...], bytes | None,
                                       list[Region] | None]] = {}
        self._stopped: set[int] = set()  # tids in a stop memlab has not resumed
        self._fresh: set[int] = set()  # new threads whose first SIGSTOP is ours

    # ------------------------------------------------------------------ start
    def _check_thread(self) -> None:
        if threading.get_ident() != self._thread:
            raise MemlabError("ptrace requests must come from the thread that attached "
                              "(it is the tracer)", pid=self.pid)

    def attach(self, pid: int) -> None:
        """PTRACE_SEIZE every thread of pid and set them running under the trace."""
        self._check_thread()
        if pid == os.getpid():
            raise UsageError("memlab cannot trace itself (the tracer would wait for its "
                             "own stops)", pid=pid)
        holder = tracer_pid(pid)  # NoSuchProcess when gone
        if holder:
            raise AccessDenied(f"already traced by PID {holder}", pid=pid)
        self.pid, self.seized = pid, True
        try:
            for _ in range(3):  # threads may start while we attach: until none is new
                new = [t for t in task_ids(pid) if t not in self.tids]
                if not new:
                    break
                for tid in new:
                    try:
                        ptrace.seize(tid, OPTIONS)
                    except OSError as err:
                        if err.errno == errno_mod.ESRCH and tid != pid:
                            continue  # a thread that just ended
                        raise attach_refused(pid, err) from err
                    self.tids.add(tid)
                    ptrace.interrupt(tid)
            # the interrupt stops: resume each into the syscall loop
            waiting = set(self.tids)
            while waiting:
                got = self._wait(block=True)
                if got is None:
                    continue
                kind, tid, status = got
                if kind == "exit":
                    waiting.discard(tid)
                    if tid == pid:
                        raise TraceEnded(pid, None if self.ended is False else self.ended)
                    continue
                waiting.discard(tid)
                self._handle_stop(tid, status)
        except BaseException:
            self.detach()
            raise

    def adopt(self, launched) -> None:
        """Take over a process memlab launched with hold="exec" (its tracer already)."""
        self._check_thread()
        if not launched.held_at_exec:
            raise UsageError("adopt() takes a process launched with hold='exec'")
        self.pid, self.launched = launched.pid, launched
        self.tids = {launched.pid}
        ptrace.set_options(self.pid, OPTIONS | PTRACE_O_EXITKILL)
        launched.held_at_exec = False  # from here on the trace resumes it
        self._stopped.add(self.pid)
        self._resume(self.pid)

    # ------------------------------------------------------------------ the loop
    def _resume(self, tid: int, sig: int = 0) -> None:
        try:
            ptrace.resume_syscall(tid, sig)
        except ProcessLookupError:  # killed while stopped (SIGKILL needs no resume)
            pass
        self._stopped.discard(tid)

    def _wait(self, block: bool) -> tuple[str, int, int] | None:
        """The next stop or exit of a tracee: ("stop", tid, status), ("exit", tid,
        status), or None (nothing yet, block=False)."""
        flags = os.WEXITED | os.WSTOPPED | WALL | os.WNOWAIT | (0 if block else os.WNOHANG)
        if len(self.tids) == 1:
            (only,) = self.tids
            try:
                res = os.waitid(os.P_PID, only, flags)
            except ChildProcessError:
                return ("exit", only, 0)  # gone without a notification for us
        else:
            try:
                res = os.waitid(os.P_ALL, 0, flags)
            except ChildProcessError:
                return ("exit", self.pid, 0)
        if res is None:
            return None
        tid = res.si_pid
        if tid not in self.tids:
            # a child memlab did not trace (or a new thread whose clone event is still
            # to come): look at the tracees one by one rather than take its status
            for t in list(self.tids):
                got = os.waitpid(t, WALL | os.WNOHANG)
                if got[0]:
                    return self._classify(t, got[1])
            time.sleep(0.001)
            return None
        if res.si_code in (os.CLD_EXITED, os.CLD_KILLED, os.CLD_DUMPED):
            if self.launched is not None and tid == self.launched.pid:
                code = self.launched.wait()  # launch.py reaps its own child
                self.tids.discard(tid)
                self.ended = code
                return ("exit", tid, 0)
        _, status = os.waitpid(tid, WALL)
        return self._classify(tid, status)

    def _classify(self, tid: int, status: int) -> tuple[str, int, int]:
        if os.WIFSTOPPED(status):
            self._stopped.add(tid)
            return ("stop", tid, status)
        self.tids.discard(tid)
        self._stopped.discard(tid)
        self._pending.pop(tid, None)
        if tid == self.pid:
            self.ended = _exit_code(status)
        return ("exit", tid, status)

    def step(self, block: bool = True) -> list[Traced]:
        """Wait for the next stop (or exit), handle it and resume; the traced calls it
        completed.  TraceEnded when the main thread has exited."""
        self._check_thread()
        if self.ended is not False:
            raise TraceEnded(self.pid, self.ended)
        got = self._wait(block)
        if got is None:
            return []
        kind, tid, status = got
        if kind == "exit":
            if tid == self.pid or not self.tids:
                if self.ended is False:
                    self.ended = None
                raise TraceEnded(self.pid, self.ended)
            return []
        return self._handle_stop(tid, status)

    def _handle_stop(self, tid: int, status: int) -> list[Traced]:
        sig = os.WSTOPSIG(status)
        event = status >> 16
        if sig == SYSCALL_STOP:
            out = self._syscall_stop(tid)
            self._resume(tid)
            return out
        if event == PTRACE_EVENT_STOP:
            if sig in STOP_SIGNALS:  # a group-stop (SIGSTOP...): stay stopped, listening
                try:
                    ptrace.listen(tid)
                except ProcessLookupError:
                    pass
                self._stopped.discard(tid)
            else:  # our PTRACE_INTERRUPT, or the first stop of a new thread
                self._resume(tid)
            return []
        if event == PTRACE_EVENT_CLONE:
            new = ptrace.event_msg(tid)
            self.tids.add(new)
            if not self.seized:
                self._fresh.add(new)
            self._resume(tid)
            return []
        if event == PTRACE_EVENT_EXEC:
            # only the thread that called execve remains, as the main thread (fs/exec.c
            # de_thread); the others are gone without an exit report to wait for
            for t in [t for t in self.tids if t != self.pid]:
                self.tids.discard(t)
                self._pending.pop(t, None)
            if tid != self.pid:
                self._pending[self.pid] = self._pending.pop(tid, None)  # type: ignore[assignment]
                if self._pending[self.pid] is None:
                    del self._pending[self.pid]
            self._resume(self.pid)
            return []
        if event:
            self._resume(tid)
            return []
        # a signal on its way to the tracee: deliver it (or, for a new thread's first
        # SIGSTOP and a group-stop of a non-seized tracee, let it run on)
        if sig == signal.SIGSTOP and tid in self._fresh:
            self._fresh.discard(tid)
            self._resume(tid)
        elif not self.seized and sig in STOP_SIGNALS and not ptrace.has_siginfo(tid):
            self._resume(tid)
        else:
            self._resume(tid, sig)
        return []

    def read_maps(self) -> list[Region] | None:
        """The tracee's maps now, None when they cannot be read."""
        try:
            return read_maps(self.pid)
        except MemlabError:
            return None

    def _syscall_stop(self, tid: int) -> list[Traced]:
        info = self._info
        try:
            op = ptrace.syscall_info(tid, info)
        except ProcessLookupError:
            return []
        if op == PTRACE_SYSCALL_INFO_ENTRY:
            nr = info.u.entry.nr
            if nr in self.nrs:
                args = tuple(info.u.entry.args)
                path = self._read_path(tid, args[1] if nr == 322 else args[0]) \
                    if nr in EXEC_CALLS else None
                self._pending[tid] = (nr, args, path, self.read_maps())
            else:
                self._pending.pop(tid, None)
            return []
        if op == PTRACE_SYSCALL_INFO_EXIT:
            pending = self._pending.pop(tid, None)
            if pending is None:
                return []
            nr, args, path, before = pending
            rval = info.u.exit.rval
            call = Call(tid, nr, syscall_name(nr), args, path, rval,
                        bool(info.u.exit.is_error))
            after = self.read_maps()
            if before is None or after is None:
                return [Traced(call, [], None)]
            return [Traced(call, diff(before, after), len(after))]
        return []

    def _read_path(self, tid: int, addr: int) -> bytes | None:
        try:
            with MemReader(self.pid) as mem:
                return mem.read_cstring(addr, 4096)
        except (MemlabError, OSError):
            return None

    def run(self, on_traced: Callable[[Traced], object],
            until: Callable[[], bool] | None = None) -> None:
        """Call on_traced for each traced call until the process exits (TraceEnded) or
        until() says stop (checked after every stop, and every few ms when idle)."""
        while until is None or not until():
            for traced in self.step(block=until is None):
                on_traced(traced)
            if until is not None and not self._stopped:
                time.sleep(0)  # let the action's thread run

    # ------------------------------------------------------------------ the end
    def detach(self) -> None:
        """Let every thread go: interrupt it, PTRACE_DETACH at its stop.  A launched
        process is killed instead (it never outlives memlab).  Idempotent."""
        self._check_thread()
        if self.launched is not None:
            self.launched.kill()
            self.tids.clear()
            return
        for tid in list(self.tids):
            if tid in self._stopped:
                self._detach_one(tid, 0)
                continue
            try:
                ptrace.interrupt(tid)
            except ProcessLookupError:
                self.tids.discard(tid)
                continue
        while self.tids:
            try:
                got = self._wait(block=True)
            except ChildProcessError:
                break
            if got is None:
                continue
            kind, tid, status = got
            if kind == "stop":
                sig = os.WSTOPSIG(status)
                # a signal caught on its way is handed back with the detach
                deliver = sig if (status >> 16 == 0 and sig != SYSCALL_STOP
                                  and sig != signal.SIGTRAP) else 0
                self._detach_one(tid, deliver)
        self._pending.clear()

    def _detach_one(self, tid: int, sig: int) -> None:
        try:
            ptrace.detach(tid, sig)
        except ProcessLookupError:
            pass
        self.tids.discard(tid)
        self._stopped.discard(tid)


def trace_while(pid: int, action: Callable[[], Any],
                calls: Iterable[str] = DEFAULT_CALLS) -> tuple[Any, list[Traced]]:
    """Attach to pid, run action() in another thread (a sample command, say), and
    return (its result, the traced calls the process made meanwhile); detached after.
    The calling thread is the tracer; action must not wait for this thread."""
    session = Session(calls)
    session.attach(pid)
    box: dict[str, Any] = {}
    done = threading.Event()

    def worker() -> None:
        try:
            box["result"] = action()
        except BaseException as err:  # handed to the caller below
            box["error"] = err
        finally:
            done.set()

    traced: list[Traced] = []
    thread = threading.Thread(target=worker, name="memlab-trace-action", daemon=True)
    try:
        thread.start()
        while not done.is_set():
            got = session.step(block=False)
            traced.extend(got)
            if not got and not session._stopped:
                done.wait(0.0005)
    except TraceEnded:
        pass
    finally:
        if session.ended is False:
            session.detach()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box.get("result"), traced
