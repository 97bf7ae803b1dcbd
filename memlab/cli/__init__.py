"""memlab's command line: argparse subcommands, one module per group of commands.

Each module in COMMAND_MODULES has `register(subparsers)`, which adds its subcommands and
sets `func` on each.  A handler returns an exit code.  Errors are turned into one line on
stderr and the exit code of memlab.errors here, once.  Keep module imports light: heavy
libraries (textual, elftools, yaml) are imported inside the handlers that need them.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys

from memlab import __version__
from memlab.errors import EXIT_FAILURE, EXIT_USAGE, MemlabError

COMMAND_MODULES = (
    "memlab.cli.core",  # launch inspect env stack samples
    "memlab.cli.elf_cmds",  # elf layout heap aslr
    "memlab.cli.lesson_cmds",  # lesson list|run
    "memlab.cli.exposure_cmds",  # exposure search audit
    "memlab.cli.tui_cmd",  # tui
    "memlab.cli.k8s_cmds",  # k8s validate|env|run|apply
)

EPILOG = """\
examples:
  memlab samples                                list the bundled C samples
  memlab launch --json -i -e A=1 -e 'B=x y' /usr/bin/env
  memlab launch -e DB_PASSWORD=hunter2 sleeper  start a sample, show its memory
  memlab inspect $$ --json                      inspect your shell
  memlab env PID --reveal                       the env block, secrets unmasked
  memlab tui                                    the interactive inspector

exit codes: 0 ok, 1 failure, 2 usage, 3 no such process, 4 access denied,
            5 `memlab audit --fail-on-findings` found an exposed secret
"""


class Parser(argparse.ArgumentParser):
    """argparse with memlab's error style: one line on stderr, `memlab: ...`, exit 2
    (argparse prints the whole usage block first; --help still shows it)."""

    def error(self, message: str):
        cmd = self.prog.partition(" ")[2]
        where = f"{cmd}: " if cmd else ""
        self.exit(EXIT_USAGE, f"memlab: {where}{message} (see `{self.prog} --help`)\n")


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The full parser; given the command line, only the modules up to the one that
    registers its command are imported (`memlab inspect` does not pay for the others)."""
    parser = Parser(
        prog="memlab",
        description="Educational Linux process-memory inspector: see what execve,\n"
        "the kernel and kubelet do to a process.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"memlab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    wanted = next((a for a in argv if not a.startswith("-")), None) if argv else None
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
        if wanted is not None and wanted in sub.choices:
            break
    return parser


def main(argv: list[str] | None = None) -> int:
    # Piping into `head` must not print a BrokenPipeError traceback.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.func(args) or 0)
    except MemlabError as err:
        print(f"memlab: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("memlab: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # a bug: still one line, unless MEMLAB_DEBUG asks for more
        if os.environ.get("MEMLAB_DEBUG"):
            raise
        print(f"memlab: internal error: {type(err).__name__}: {err} "
              "(set MEMLAB_DEBUG=1 for a traceback)", file=sys.stderr)
        return EXIT_FAILURE
