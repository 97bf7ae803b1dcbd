"""`memlab tui`: the interactive inspector (Textual, imported only here, when run)."""

from __future__ import annotations

import argparse

from memlab.cli._output import pid_arg
from memlab.errors import UsageError

EPILOG = """\
examples:
  memlab tui                          launch the sleeper sample with a demo env
                                      (DB_PASSWORD=hunter2, LOG_LEVEL=info, PATH, HOME, LANG)
  memlab tui 1234                     attach to a running process (read-only)
  memlab tui --launch sleeper -e API_TOKEN=abc --no-aslr
  memlab tui --launch /usr/bin/sleep -i -e A=1 -- 600

keys: m/e/s/x/d switch views (map, env, stack, hex, drive), l launch, p attach,
: command line (setenv/unsetenv/scrub/copy/malloc), r refresh, a live refresh,
v reveal secrets, ctrl+s screenshot (SVG, into ~/memlab-screenshots), ? help, q quit.
A process launched by the TUI (and what it started) is ended when the TUI exits:
q, SIGTERM, SIGHUP, even SIGKILL (memlab's reaper kills its process group).
"""


def _pid(text: str) -> int:
    """PID is parsed after argparse here (see register): the same rule as every command."""
    try:
        return pid_arg(text)
    except argparse.ArgumentTypeError as err:
        raise UsageError(str(err)) from err


def register(sub) -> None:
    p = sub.add_parser("tui", help="the interactive inspector (Textual)",
                       description="See a process's memory, drive it, and watch it change.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    # PID is a string here: with --launch, argparse hands the first ARG to it
    p.add_argument("pid", nargs="?", metavar="PID", help="attach to this process")
    p.add_argument("--launch", metavar="TARGET",
                   help="launch TARGET (a bundled sample name, a path or a $PATH command)")
    p.add_argument("-e", "--env", action="append", default=[], metavar="K=V",
                   help="with --launch: set K=V in the new process's environment")
    p.add_argument("-i", "--clear-env", action="store_true",
                   help="with --launch: start from an empty environment (env -i)")
    p.add_argument("--no-aslr", action="store_true",
                   help="with --launch: disable address randomisation (personality)")
    p.add_argument("--live", action="store_true", help="start with live refresh on")
    p.add_argument("--reveal", action="store_true",
                   help="start with secret-looking values shown")
    p.add_argument("--lang", choices=("en", "ko"), default=None,
                   help="the Lessons view's language: en or ko (Korean, where translated; "
                        "default: from LC_ALL/LC_MESSAGES/LANG)")
    p.add_argument("args", nargs=argparse.REMAINDER, metavar="-- ARGS",
                   help="with --launch: arguments for TARGET")
    p.set_defaults(func=run)


def request_from_args(args):
    """The LaunchRequest `memlab tui [--launch ...]` starts with (None: attach)."""
    from memlab.samples import DEFAULT_SAMPLE
    from memlab.tui.source import LaunchRequest, demo_env

    extra = [a for a in args.args if a != "--"]
    if args.launch is not None and args.pid is not None:
        extra.insert(0, args.pid)  # `--launch T -- 600`: 600 is an argument, not a pid
        args.pid = None
    if args.pid is not None:
        args.pid = _pid(args.pid)
        if args.env or args.clear_env or args.no_aslr or extra:
            raise UsageError("PID attaches to a running process: -e, -i, --no-aslr and "
                             "ARGS only apply with --launch")
        return None
    if args.launch is None:
        if args.env or args.clear_env or extra:
            raise UsageError("-e, -i and ARGS need --launch TARGET")
        return LaunchRequest(DEFAULT_SAMPLE, tuple(demo_env()), args.no_aslr)
    from memlab.envbuild import build_env

    env = build_env(args.env, (), args.clear_env)
    return LaunchRequest(args.launch, tuple(env), args.no_aslr, tuple(extra))


def run(args) -> int:
    from memlab.tui.source import LiveSource

    request = request_from_args(args)
    source = LiveSource()
    try:
        if request is None:
            source.attach(args.pid)
        else:
            # The CLI's main thread is the app's event-loop thread: PDEATHSIG holds.
            source.launch(request)
        # The first snapshot: it fails now, with the CLI's exit code, if the process
        # cannot be read, and the first screen shows it without a worker round trip.
        initial = source.snapshot()
        from memlab.tui.app import MemlabApp

        app = MemlabApp(source, live=args.live, reveal=args.reveal, initial=initial,
                        lang=args.lang)
        app.run()
        if app.crashed is not None:
            raise app.crashed  # memlab.cli.main reports it in one line, status 1
    finally:
        source.stop()
    return app.return_code or 0
