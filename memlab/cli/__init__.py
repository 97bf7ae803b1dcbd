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

# Each module and the commands it registers, in `memlab --help` order.  A command line
# naming one of them imports that module alone (`memlab audit` pays for no other group);
# tests/unit/test_import_hygiene.py checks the lists against what each module registers.
COMMAND_MODULES: dict[str, tuple[str, ...]] = {
    "memlab.cli.core": ("launch", "inspect", "env", "stack", "samples"),
    "memlab.cli.elf_cmds": ("elf", "layout", "heap", "aslr"),
    "memlab.cli.lesson_cmds": ("lesson",),
    "memlab.cli.exposure_cmds": ("exposure", "search", "audit"),
    "memlab.cli.tui_cmd": ("tui",),
    "memlab.cli.k8s_cmds": ("k8s",),
    "memlab.cli.resident_cmds": ("pages",),
    "memlab.cli.trace_cmd": ("trace",),
}

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

    def format_help(self) -> str:
        """Raw descriptions and epilogs (RawDescriptionHelpFormatter) are not wrapped by
        argparse: wrap their prose lines to the terminal (COLUMNS), keeping each line's
        indent; command examples (`memlab ...`) stay whole, to copy and paste."""
        import re
        import shutil
        import textwrap

        width = max(shutil.get_terminal_size().columns, 40)

        def wrap(text: str, indent: str) -> list[str]:
            return textwrap.wrap(text, width, initial_indent=indent,
                                 subsequent_indent=indent, break_long_words=False,
                                 break_on_hyphens=False) or [indent + text]

        def is_example(line: str) -> bool:
            return line.startswith(" ") and line.lstrip().startswith("memlab ")

        def cont_indent(line: str) -> int:
            """Where continuation lines start: after a `  term    ` hanging head."""
            m = re.match(r"(\s+[\w-]+\s{2,})\S", line)
            return len(m.group(1)) if m else len(line) - len(line.lstrip())

        # Paragraphs: a line joins the previous one when it continues it (its indent is
        # the previous paragraph's continuation indent) and one of them is too long; a
        # list item, an example or a heading ("...:") ends the paragraph.
        paras: list[list] = []  # [text, continuation indent]
        for line in super().format_help().splitlines():
            body = line.lstrip()
            prev = paras[-1][0] if paras else ""
            if (paras and body and prev.strip() and not is_example(prev)
                    and not is_example(line) and not prev.lstrip().startswith("usage:")
                    and len(line) - len(body) == paras[-1][1]
                    and not body.startswith(("-", "*", "memlab"))
                    and (len(prev) > width or len(line) > width)
                    and not prev.rstrip().endswith(":")):
                paras[-1][0] = prev.rstrip() + " " + body
            else:
                paras.append([line, cont_indent(line)])
        out: list[str] = []
        for line, cont in paras:
            body = line.lstrip()
            indent = line[:len(line) - len(body)]
            if len(line) <= width or body.startswith("usage:"):
                out.append(line)
            elif is_example(line):
                # an example: the command whole, its comment wrapped below it
                m = re.match(r"(\s*memlab .*?\S)(\s{2,})(\S.*)$", line)
                if not m:
                    out.append(line)
                    continue
                out.append(m.group(1))
                col = len(m.group(1)) + len(m.group(2))
                if col + len(m.group(3)) > width:
                    col = len(indent) + 4
                out.extend(wrap(m.group(3), " " * col))
            else:
                out.extend(textwrap.wrap(body, width, initial_indent=indent,
                                         subsequent_indent=" " * cont,
                                         break_long_words=False,
                                         break_on_hyphens=False) or [line])
        return "\n".join(out) + "\n"

    def error(self, message: str):
        cmd = self.prog.partition(" ")[2]
        where = f"{cmd}: " if cmd else ""
        self.exit(EXIT_USAGE, f"memlab: {where}{message} (see `{self.prog} --help`)\n")


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser.  Given a command line that names a command, only the module that
    registers it is imported; otherwise (no command, --help, a typo) all of them."""
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
    modules = [m for m, commands in COMMAND_MODULES.items() if wanted in commands]
    for name in modules or COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def _die_of_sigpipe() -> None:
    launch = sys.modules.get("memlab.launch")
    if launch is not None:
        launch.kill_all()
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGPIPE)


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
        from memlab.render.safe import printable_lines

        # errors quote paths, names and file contents: control characters escaped
        print(f"memlab: {printable_lines(str(err))}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:  # what memlab launched is killed at exit (memlab.launch)
        print("memlab: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # stdout's reader is gone (`| head -1`) and memlab.launch's SIGPIPE handler
        # turned the signal into this error: end as SIGPIPE would, children first.
        _die_of_sigpipe()
        raise
    except Exception as err:  # a bug: still one line, unless MEMLAB_DEBUG asks for more
        if os.environ.get("MEMLAB_DEBUG"):
            raise
        from memlab.render.safe import printable

        # the message may quote what a process chose: escaped, and kept on one line
        print(f"memlab: internal error: {printable(f'{type(err).__name__}: {err}')} "
              "(set MEMLAB_DEBUG=1 for a traceback)", file=sys.stderr)
        return EXIT_FAILURE
