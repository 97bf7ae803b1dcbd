"""The reaper: a tiny process that outlives memlab only to kill what memlab started.

Both halves live here: watch()/forget() are memlab's side (memlab.launch calls them),
main() is the reaper program (this file, run as a script).

memlab.launch puts every child it starts in a process group of its own and kills that
group on every exit path it can see (kill(), the finalizers, SIGTERM/SIGHUP/SIGPIPE).
It cannot see its own SIGKILL, and PR_SET_PDEATHSIG covers only the direct child: it is
not inherited across fork, and execve of a set-user-ID file clears it (fs/exec.c:
begin_new_exec sets me->pdeath_signal = 0 when the credentials change).  So memlab
starts this program once, on its first launch, in a session of its own
(start_new_session: the terminal's ^C and hangup do not reach it), with a pipe as stdin:

    +PGID\\n   memlab started a child leading process group PGID
    -PGID\\n   memlab reaped that leader after killing its group: forget it

End of file on stdin means memlab is gone (exited, or killed by anything, SIGKILL too:
the kernel closes its files).  The reaper then SIGKILLs every group it still knows that
has live members, until none is left (a member may be forking while it is killed), and
exits.  It ignores SIGINT, SIGTERM, SIGHUP and SIGPIPE.

A pid is never reused while a process group still carries it as its id (the struct pid
stays allocated until every task using it as PID, PGID or SID detaches: kernel/pid.c
free_pid via detach_pid), so a group found after memlab's death is ours unless all its
members died and the number came round again.  Against that, a group is killed only if
one of its members is in memlab's session (argv[1]; children inherit it, and a process
group lives within one session) and was started after memlab itself (argv[2], its start
time in clock ticks since boot).

Standard library only, run as `python -I -S` (no site, no user paths): it must start
fast and import nothing memlab or the environment could change (where memlab's uid may
not run that interpreter, a copy of root's memlab that dropped its uid, the reaper is
main()'s twin in C, memlab.procfs._cproc.reaper_fork, forked without exec).  It runs
with memlab's uid: as root, killpg reaches set-uid children too; otherwise kill(2) still allows it,
since a set-uid child keeps memlab's uid as its real uid (kernel/signal.c kill_ok_by_cred).
"""

from __future__ import annotations

import errno
import os
import signal
import sys
import threading
import time
from typing import Any

# How long to keep killing after EOF: a group whose members keep forking.
KILL_PATIENCE = 5.0


def proc_stat(pid: str) -> tuple[str, int, int, int] | None:
    """(state, pgrp, session, starttime) from /proc/PID/stat, or None if gone.  The
    comm field may hold anything, ')' included: split after the last ')' (fs/proc/array.c
    do_task_stat)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rfind(b")") + 2:].split()
    try:  # fields[0] is field 3 (state) of proc(5)
        return (fields[0].decode(), int(fields[2]), int(fields[3]), int(fields[19]))
    except (IndexError, ValueError):
        return None


def live_groups(wanted: set[int], session: int, since: int) -> set[int]:
    """The groups among `wanted` that have a live member (not a zombie) which is in
    memlab's `session` and started at or after `since` (clock ticks since boot)."""
    found: set[int] = set()
    try:
        names = os.listdir("/proc")
    except OSError:
        return found
    for name in names:
        if not name.isdigit():
            continue
        st = proc_stat(name)
        if st is None:
            continue
        state, pgrp, sid, start = st
        if pgrp in wanted and state not in "ZX" and sid == session and start >= since:
            found.add(pgrp)
    return found


def kill_groups(groups: set[int], session: int, since: int,
                patience: float = KILL_PATIENCE) -> None:
    """SIGKILL each group in `groups` that is still ours, until none has live members."""
    deadline = time.monotonic() + patience
    delay = 0.001
    while groups:
        groups = live_groups(groups, session, since)
        for pgid in groups:
            try:
                os.killpg(pgid, signal.SIGKILL)
            except OSError:  # ESRCH: gone meanwhile; EPERM: not ours to kill
                pass
        if not groups or time.monotonic() >= deadline:
            return
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


def read_groups(fd: int) -> set[int]:
    """Follow memlab's messages until end of file; the groups not forgotten."""
    groups: set[int] = set()
    buf = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except InterruptedError:
            continue
        except OSError:
            break
        if not chunk:
            break
        buf += chunk
        *lines, buf = buf.split(b"\n")
        for line in lines:
            try:
                pgid = int(line[1:])
            except ValueError:
                continue
            if line[:1] == b"+":
                groups.add(pgid)
            elif line[:1] == b"-":
                groups.discard(pgid)
    return {g for g in groups if g > 1}


def main(argv: list[str]) -> int:
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_IGN)
    session, since = int(argv[1]), int(argv[2])
    groups = read_groups(0)
    if groups:
        kill_groups(groups, session, since)
    return 0


# --------------------------------------------------------------------------- memlab's side
_lock = threading.RLock()  # re-entered by launch's signal handlers (same thread)
_proc: Any = None  # subprocess.Popen
_fd = -1  # the write end of the reaper's stdin
_groups: set[int] = set()  # told and not forgotten: what a new reaper must be told
_abandoned: list[Any] = []  # a forked child's copy of its parent's reaper


def write_all_nosigpipe(fd: int, data: bytes) -> None:
    """os.write all of `data`; a reader that is gone raises BrokenPipeError, never
    SIGPIPE (the CLI gives SIGPIPE its default action, which would kill memlab)."""
    old = signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGPIPE])
    try:
        view = memoryview(data)
        while view:
            try:
                n = os.write(fd, view)
            except BrokenPipeError:
                if signal.SIGPIPE not in old and signal.SIGPIPE in signal.sigpending():
                    signal.sigtimedwait([signal.SIGPIPE], 0)  # consume our own SIGPIPE
                raise
            view = view[n:]
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def start() -> None:
    """Start the reaper if it is not running (memlab.launch calls it before fork)."""
    with _lock:
        if _fd < 0:
            _start()


def _start() -> None:
    """Start the reaper and tell it every group we know.  subprocess starts it without
    running Python in the child (vfork + exec), so a thread holding a lock cannot block
    it; close_fds: it holds none of memlab's pipes (a `| cat` would wait for it)."""
    global _proc, _fd
    own = proc_stat("self")
    args = [str(os.getsid(0)), str(own[3] if own else 0)]
    r, w = os.pipe()
    try:
        try:
            import subprocess

            _proc = subprocess.Popen(
                [sys.executable, "-I", "-S", os.path.abspath(__file__), *args],
                stdin=r, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                close_fds=True, start_new_session=True, cwd="/", env={})
        except (OSError, ImportError):
            # This uid cannot run the interpreter (a copy of root's memlab that dropped
            # to another uid: /root is 0700): the reaper is the same program in C.
            _proc = _fork_reaper(r, args)
    except BaseException:
        os.close(w)
        raise
    finally:
        os.close(r)
    _fd = w
    if _groups:
        write_all_nosigpipe(_fd, b"".join(b"+%d\n" % g for g in _groups))


class _Forked:
    """The little of subprocess.Popen that _send uses, for a forked reaper."""

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def poll(self) -> None:
        try:
            os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            pass


def _fork_reaper(r: int, args: list[str]) -> _Forked:
    """main() in C (memlab.procfs._cproc.reaper_fork): forked, not exec'd, and no
    Python in the child, which would be a fork of a process that may have threads."""
    from memlab.procfs import _cproc  # memlab's side only: the script imports no memlab

    if _cproc is None:  # launch() refuses first: it needs _cproc to spawn at all
        raise OSError(errno.ENOSYS, "memlab.procfs._cproc was not built")
    return _Forked(_cproc.reaper_fork(r, int(args[0]), int(args[1])))


def _send(message: bytes) -> None:
    """Tell the reaper; one that died (killed by someone) is replaced and told all."""
    global _fd
    if _fd < 0:
        _start()
        return
    try:
        write_all_nosigpipe(_fd, message)
    except OSError:
        os.close(_fd)
        _fd = -1
        if _proc is not None:
            _proc.poll()  # reap the dead one
        _start()


def watch(pgid: int) -> None:
    """memlab started a process group: have it killed should memlab die.  Starts the
    reaper on first use.  Raises OSError if it cannot be started."""
    with _lock:
        _groups.add(pgid)
        _send(b"+%d\n" % pgid)


def forget(pgid: int) -> None:
    """memlab killed that group and reaped its leader: the number may be reused."""
    with _lock:
        if pgid not in _groups:
            return
        _groups.discard(pgid)
        if _fd >= 0:
            _send(b"-%d\n" % pgid)


def stop(timeout: float = 5.0) -> None:
    """Close the pipe: the reaper kills the groups still watched and exits (what
    memlab's own exit does).  The next watch() starts a new one."""
    global _proc, _fd
    with _lock:
        if _fd < 0:
            return
        os.close(_fd)
        proc, _proc, _fd = _proc, None, -1
        _groups.clear()
    if isinstance(proc, _Forked):
        os.waitpid(proc.pid, 0)
    elif proc is not None:
        proc.wait(timeout)


def reaper_pid() -> int | None:
    """The running reaper's pid (tests and `make bench` look at it)."""
    return _proc.pid if _proc is not None and _fd >= 0 else None


def _after_fork_in_child() -> None:
    """A forked copy of memlab (the tests' run_as) must not hold the
    pipe open (the reaper would wait for it too) nor tell its parent's reaper anything:
    it starts its own if it launches."""
    global _proc, _fd, _lock
    if _fd >= 0:
        try:
            os.close(_fd)
        except OSError:
            pass
    if _proc is not None:
        _abandoned.append(_proc)  # not our child: never waited for, never collected
    _proc, _fd, _lock = None, -1, threading.RLock()
    _groups.clear()


os.register_at_fork(after_in_child=_after_fork_in_child)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
