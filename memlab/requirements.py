"""What memlab needs from OUTSIDE itself, in words a lesson action or a TUI view can
declare, so that where it is missing the action's lesson (or the view) is shown as
unavailable with the reason instead of failing:

    "program:NAME"   a program memlab can launch here: a built sample ("sleeper": run
                     `make samples`), a path, or a command on $PATH ("program:runc")
    "root"           memlab runs as root (euid 0)

memlab's own modules are never requirements: they are imported, so a missing or renamed
one fails at import time, in the tests, rather than quietly hiding a lesson.
"""

from __future__ import annotations

import os
from typing import Iterable

from memlab.errors import MemlabError
from memlab.samples import resolve_target

PROGRAM = "program"
ROOT = "root"


def program(name: str) -> str:
    """The requirement "NAME can be launched here"."""
    return f"{PROGRAM}:{name}"


def check(req: str) -> str:
    """REQ itself when it is one of the kinds above, else ValueError: a declaration
    naming anything else (a memlab module, a typo) is a programming error, raised when
    the action or view is declared, i.e. at import time."""
    kind, sep, arg = req.partition(":")
    if (kind == PROGRAM and sep and arg) or req == ROOT:
        return req
    raise ValueError(f"requirement {req!r}: only things outside memlab can be required "
                     f'("{PROGRAM}:NAME" or "{ROOT}"); import memlab\'s own modules')


def missing(req: str) -> str | None:
    """None when REQ is met here, else why not, in a few words.  Not cached: building
    the samples or installing a program mends it while memlab runs."""
    check(req)
    if req == ROOT:
        return None if os.geteuid() == 0 else f"root (memlab runs as uid {os.geteuid()})"
    name = req.partition(":")[2]
    try:
        resolve_target(name)
    except MemlabError as err:
        return f"program {name!r} ({err})"
    return None


def missing_all(reqs: Iterable[str]) -> list[str]:
    """Why each unmet requirement of REQS is unmet, in order (empty: all met)."""
    return [w for w in (missing(r) for r in reqs) if w]
