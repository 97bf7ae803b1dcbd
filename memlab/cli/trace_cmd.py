"""memlab trace: the system calls that change a process's map, and each change."""

from __future__ import annotations

import argparse
import json
import signal
import sys

from memlab.cli._output import add_json_flag

TRACE_EPILOG = """\
examples:
  memlab trace PID                           attach; Ctrl-C detaches (the process runs on)
  memlab trace --json -e brk,mmap PID        JSON lines (schema memlab.trace/1)
  memlab trace sleeper                       launch a sample under the trace
  memlab trace /bin/true                     every map change from the first instruction

Attaching needs the rights gdb needs: the same uid (and not a set-user-ID program) or
CAP_SYS_PTRACE, and whatever Yama's ptrace_scope adds.  A process has one tracer: one
already traced is refused with its tracer's PID (exit 4).  An attached process that
exits during the trace ends it with exit 3; a launched TARGET is the trace's own: its
end ends the trace (exit 0), and memlab's end kills it.
"""


class _Stop(Exception):
    """SIGTERM or SIGHUP: end the trace as Ctrl-C does (detach, then exit)."""


def register(sub) -> None:
    p = sub.add_parser("trace", help="the system calls that change the map, and the "
                       "change each made", epilog=TRACE_EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="ptrace a process (PID) or a program memlab starts "
                       "(TARGET): each brk, mmap, munmap, mprotect, mremap and execve "
                       "with its arguments, result and errno, and the /proc/PID/maps "
                       "change it caused (added, grown, shrunk, split, merged, "
                       "protection changed, removed).")
    add_json_flag(p)
    p.add_argument("-e", "--calls", default=None, metavar="CALLS",
                   help="comma-separated calls to show (default: "
                   "brk,mmap,munmap,mprotect,mremap,execve; also madvise, execveat, "
                   "shmat, shmdt, pkey_mprotect, mseal)")
    p.add_argument("target", metavar="PID|TARGET")
    p.add_argument("args", nargs=argparse.REMAINDER, metavar="-- ARGS",
                   help="arguments for TARGET (a leading -- is dropped)")
    p.set_defaults(func=cmd_trace)


def _emit(obj: dict) -> None:
    from memlab.render.safe import json_text

    sys.stdout.write(json_text(json.dumps(obj, ensure_ascii=False)) + "\n")
    sys.stdout.flush()


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_stopping = False


def _raise_stop(signum, frame) -> None:
    """The first SIGTERM/SIGHUP ends the trace; a second one (`timeout` signals the
    child, then its whole group) must not cut the detach short."""
    global _stopping
    if not _stopping:
        _stopping = True
        raise _Stop(signum)


def _launch(target: str, extra: list[str], as_json: bool):
    """TARGET held at exec, with memlab's stdin (/dev/null when it is a terminal: the
    child leads its own process group, and a background group reading the terminal
    gets SIGTTIN), memlab's stderr, and memlab's stdout - its stderr with --json, which
    keeps stdout to the JSON lines."""
    import os

    from memlab.launch import launch

    null = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC) if os.isatty(0) else -1
    try:
        return launch(target, extra, hold="exec",
                      stdio=(0 if null < 0 else null, 2 if as_json else 1, 2))
    finally:
        if null >= 0:
            os.close(null)


def cmd_trace(args) -> int:
    from memlab.errors import UsageError
    from memlab.processes import ascii_decimal
    from memlab.render.trace import SCHEMA, traced_json, traced_lines
    from memlab.trace.decode import DEFAULT_CALLS, parse_calls
    from memlab.trace.session import Session, TraceEnded

    try:
        calls = parse_calls(args.calls) if args.calls is not None else DEFAULT_CALLS
    except ValueError as err:
        raise UsageError(f"-e: {err}") from err
    extra = list(args.args)
    if extra and extra[0] == "--":
        extra = extra[1:]
    pid = ascii_decimal(args.target)
    if pid is not None and (pid <= 0 or extra):
        raise UsageError("a PID takes no arguments" if extra else
                         f"not a process id: {args.target!r}")
    previous = {s: signal.signal(s, _raise_stop) for s in (signal.SIGTERM, signal.SIGHUP)}
    session = Session(calls)
    how = "exited"
    try:
        if pid is not None:
            session.attach(pid)
        else:
            session.adopt(_launch(args.target, extra, args.json))
        pid = session.pid
        maps = session.read_maps()
        regions = None if maps is None else len(maps)
        if args.json:
            _emit({"schema": SCHEMA, "type": "start", "pid": pid,
                   "mode": "attach" if session.seized else "launch",
                   "calls": list(calls), "regions": regions})
        else:
            what = "attached to" if session.seized else "started"
            stop = "detaches" if session.seized else "ends it"
            size = "maps not readable" if regions is None else f"{regions} regions"
            _say(f"memlab trace: {what} pid {pid} ({size}); tracing "
                 f"{', '.join(calls)}; Ctrl-C {stop}")
        show = ((lambda t: _emit(traced_json(t, pid))) if args.json else
                (lambda t: [_say(line) for line in traced_lines(t, pid)]))
        try:
            session.run(show)
        except TraceEnded as ended:
            how = "exited"
            if args.json:
                _emit({"schema": SCHEMA, "type": "end", "pid": pid, "reason": "exited",
                       "returncode": ended.returncode})
            if session.seized:
                raise  # the attached process went away: one line, exit 3
            if not args.json:
                _say(f"memlab trace: pid {pid} exited"
                     + ("" if ended.returncode is None else f" ({ended.returncode})"))
            return 0
    except (KeyboardInterrupt, _Stop) as stop:
        # no second Ctrl-C or SIGTERM between here and the detach: the process must be
        # let go (or, launched, killed) whatever comes
        signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
        how = "interrupted"
        if session.tids:
            session.detach()
            how = "detached" if session.seized else "killed"
        if args.json:
            _emit({"schema": SCHEMA, "type": "end", "pid": session.pid, "reason": how,
                   "returncode": None})
        else:
            _say(f"memlab trace: {how} pid {session.pid}")
        return 130 if isinstance(stop, KeyboardInterrupt) else 0
    finally:
        if session.tids and session.ended is False:
            session.detach()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 0
