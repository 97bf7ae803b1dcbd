"""What memlab needs from OUTSIDE itself, in words a lesson action or a TUI view can
declare, so that where it is missing the action's lesson (or the view) is shown as
unavailable with the reason instead of failing:

    "program:NAME"   a program memlab can launch here: a built sample ("sleeper": run
                     `make samples`), a path, or a command on $PATH ("program:runc")
    "root"           memlab runs as root (euid 0)
    "kernel:FEATURE" this kernel allows FEATURE (KERNEL_FEATURES: "ptrace" of one's own
                     processes, "user-namespaces", "pidfd")

memlab's own modules are never requirements: they are imported, so a missing or renamed
one fails at import time, in the tests, rather than quietly hiding a lesson.
"""

from __future__ import annotations

import os
from typing import Iterable

from memlab.errors import MemlabError
from memlab.procfs.sysctl import read_sysctl_int
from memlab.samples import resolve_target

PROGRAM = "program"
ROOT = "root"
KERNEL = "kernel"


def _ptrace() -> str | None:
    # Documentation/admin-guide/LSM/Yama.rst: 3 = no process may be traced (until
    # reboot); 0-2 let a process trace at least its own children.  No Yama: ptrace works.
    scope = read_sysctl_int("kernel/yama/ptrace_scope")
    return "ptrace is disabled (kernel.yama.ptrace_scope = 3)" if scope == 3 else None


def _user_namespaces() -> str | None:
    # kernel/ucount.c: max_user_namespaces 0 refuses every CLONE_NEWUSER.
    limit = read_sysctl_int("user/max_user_namespaces")
    return "user namespaces are disabled (user.max_user_namespaces = 0)" if limit == 0 \
        else None


def _pidfd() -> str | None:
    # pidfd_open(2) is Linux 5.3 (kernel/pid.c); os.pidfd_open raises on older kernels.
    try:
        os.close(os.pidfd_open(os.getpid()))
    except (AttributeError, OSError) as err:
        return f"pidfd_open is not available ({err})"
    return None


KERNEL_FEATURES = {"ptrace": _ptrace, "user-namespaces": _user_namespaces, "pidfd": _pidfd}


def program(name: str) -> str:
    """The requirement "NAME can be launched here"."""
    return f"{PROGRAM}:{name}"


def kernel(feature: str) -> str:
    """The requirement "this kernel allows FEATURE" (a key of KERNEL_FEATURES)."""
    return check(f"{KERNEL}:{feature}")


def check(req: str) -> str:
    """REQ itself when it is one of the kinds above, else ValueError: a declaration
    naming anything else (a memlab module, a typo) is a programming error, raised when
    the action or view is declared, i.e. at import time."""
    kind, sep, arg = req.partition(":")
    if (kind == PROGRAM and sep and arg) or req == ROOT or \
            (kind == KERNEL and arg in KERNEL_FEATURES):
        return req
    raise ValueError(f"requirement {req!r}: only things outside memlab can be required "
                     f'("{PROGRAM}:NAME", "{ROOT}" or "{KERNEL}:" one of '
                     f'{", ".join(KERNEL_FEATURES)}); import memlab\'s own modules')


def missing(req: str) -> str | None:
    """None when REQ is met here, else why not, in a few words.  Not cached: building
    the samples or installing a program mends it while memlab runs."""
    check(req)
    if req == ROOT:
        return None if os.geteuid() == 0 else f"root (memlab runs as uid {os.geteuid()})"
    kind, _, name = req.partition(":")
    if kind == KERNEL:
        return KERNEL_FEATURES[name]()
    try:
        resolve_target(name)
    except MemlabError as err:
        return f"program {name!r} ({err})"
    return None


def missing_all(reqs: Iterable[str]) -> list[str]:
    """Why each unmet requirement of REQS is unmet, in order (empty: all met)."""
    return [w for w in (missing(r) for r in reqs) if w]
