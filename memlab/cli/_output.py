"""Helpers every command uses to print: JSON for scripts, rich for people."""

from __future__ import annotations

import json
import os
import sys

# typing costs 2 ms of every `memlab` start; the names are only for annotations
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def print_json(obj: Any) -> None:
    # one write: json.dump calls write() once per token (about 2 ms for a snapshot)
    sys.stdout.write(json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def console():
    """A rich Console: colour on a terminal, plain when piped or NO_COLOR is set."""
    from rich.console import Console

    return Console(no_color=bool(os.environ.get("NO_COLOR")), highlight=False,
                   soft_wrap=False)


def add_json_flag(p) -> None:
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")


def add_reveal_flag(p) -> None:
    p.add_argument("--reveal", action="store_true",
                   help="show values of secret-looking variables (masked by default)")
