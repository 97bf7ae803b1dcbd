"""Helpers every command uses to print: JSON for scripts, rich for people."""

from __future__ import annotations

import argparse
import json
import os
import sys

# typing costs 2 ms of every `memlab` start; the names are only for annotations
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def print_json(obj: Any) -> None:
    from memlab.render.safe import json_text  # C1 controls from a process, escaped

    # one write: json.dump calls write() once per token (about 2 ms for a snapshot)
    sys.stdout.write(json_text(json.dumps(obj, indent=2, ensure_ascii=False)) + "\n")


# The one rule for the width of text output (docs/cli.md, "Output width"): $COLUMNS when
# set, else the terminal's width, else -- piped to a file or a pager -- PIPE_WIDTH.
PIPE_WIDTH = 100


def console():
    """A rich Console: colour on a terminal, plain when piped or NO_COLOR is set.
    emoji=False: a symbol or file named `a:smile:b` is printed as named, not with an
    emoji in it (rich replaces :name: codes even where markup is off)."""
    from rich.console import Console

    c = Console(no_color=bool(os.environ.get("NO_COLOR")), highlight=False,
                soft_wrap=False, emoji=False)
    if not c.is_terminal and not os.environ.get("COLUMNS", "").isdigit():
        c.width = PIPE_WIDTH
    return c


def add_json_flag(p) -> None:
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")


def add_reveal_flag(p) -> None:
    p.add_argument("--reveal", action="store_true",
                   help="show values of secret-looking variables (masked by default)")


def pid_arg(value: str) -> int:
    """argparse type for a PID: a positive decimal integer in ASCII digits (no sign, no
    spaces, no other script's digits), else a usage error (exit 2) that every command
    words the same way."""
    from memlab.processes import ascii_decimal

    pid = ascii_decimal(value)
    if pid is None or pid <= 0:
        raise argparse.ArgumentTypeError(f"not a process id: {value!r} (a PID is ASCII "
                                         "digits 0-9 only)")
    return pid


class CorePath(str):
    """A core file's path, given where a PID may go (pid_or_core_arg)."""


def pid_or_core_arg(value: str) -> int | CorePath:
    """argparse type for PID|CORE: ASCII digits are a PID (a core file named by digits
    is given as ./1234); anything else must name an existing regular file that starts as
    an ELF core (e_type ET_CORE), else a usage error (exit 2).  The whole core is read
    (and a truncated one refused) by the command."""
    from memlab.processes import ascii_decimal

    if ascii_decimal(value) is not None:
        return pid_arg(value)
    from memlab.core.reader import is_elf_core

    kind = is_elf_core(value)
    if kind is None:
        raise argparse.ArgumentTypeError(
            f"not a process id nor a readable regular file: {value!r} (a PID is ASCII "
            "digits 0-9; a core file is a path)")
    if not kind:
        raise argparse.ArgumentTypeError(f"not an ELF core file: {value!r} (its header "
                                         "is not ELF with e_type ET_CORE)")
    return CorePath(value)


def positive_int(value: str, most: int | None = None) -> int:
    """argparse type for a count that must be at least 1 (--runs, --max-hits), and at
    most `most` if given: ASCII digits, like a PID."""
    from memlab.processes import ascii_decimal

    n = ascii_decimal(value.lstrip("-")) if value.startswith("-") else ascii_decimal(value)
    if n is None:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}")
    if value.startswith("-") or n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    if most is not None and n > most:
        raise argparse.ArgumentTypeError(f"must be at most {most}, not {value}")
    return n


def count_arg(most: int):
    """argparse type for a count from 1 to `most`."""
    def parse(value: str) -> int:
        return positive_int(value, most)
    parse.__name__ = "count"  # argparse names the type in "invalid count value"
    return parse
