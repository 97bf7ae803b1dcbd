"""The action registry: what a lesson step can call, with its parameters, their
bounds, what it needs from outside memlab and what programs it would start.

An action is registered with `@action(...)` in the module of its domain (process.py,
elf.py, exposure.py, k8s.py).  `requires` names only things outside memlab
(memlab.requirements: "program:NAME", "root"); a lesson whose actions need something
missing here is marked unavailable, with the reason, instead of failing.  An action
returns the measurement it made (plain data, see measure.py); the engine stores it under
the step's `save` name for checks to address as "$name.path".
"""

from __future__ import annotations

import shlex
import shutil
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from memlab import requirements
from memlab.errors import UsageError


@dataclass(frozen=True)
class Skipped:
    """A measurement that was not made, and why (e.g. 'needs root')."""

    reason: str

    def __str__(self) -> str:
        return f"skipped: {self.reason}"


@dataclass
class ActionResult:
    value: Any
    note: str = ""  # one line for the learner: "launched sleeper as pid 123"


@dataclass
class RunContext:
    """What actions share while one lesson runs: launched processes (ended on close), a
    scratch directory, the lesson file's directory (for manifests next to it)."""

    lesson_dir: Path
    processes: dict[str, Any] = field(default_factory=dict)
    objects: dict[str, Any] = field(default_factory=dict)  # pods, held files, ...
    exits: ExitStack = field(default_factory=ExitStack)
    _workdir: Path | None = None

    @property
    def workdir(self) -> Path:
        if self._workdir is None:
            d = tempfile.mkdtemp(prefix="memlab-lesson-")
            self._workdir = Path(d)
            self.exits.callback(shutil.rmtree, d, True)
        return self._workdir

    def process(self, name: str):
        try:
            return self.processes[name]
        except KeyError:
            raise UsageError(f"no launched process saved as {name!r}") from None

    def close(self) -> None:
        self.exits.close()


@dataclass(frozen=True)
class Bound:
    """The numbers a parameter may take (FORMAT.md "Limits"): lo <= value <= hi, an
    integer if `integer`.  A lesson file is anyone's text: runs=1e9 must not run."""

    lo: float
    hi: float
    integer: bool = True

    def problem(self, value: Any) -> str | None:
        """None when VALUE is allowed, else what is wrong with it."""
        kind = "a whole number" if self.integer else "a number"
        ok_type = int if self.integer else (int, float)
        if isinstance(value, bool) or not isinstance(value, ok_type) or not (
                self.lo <= value <= self.hi):
            return f"must be {kind} from {_num(self.lo)} to {_num(self.hi)}, not {value!r}"
        return None


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


@dataclass(frozen=True)
class ActionSpec:
    name: str
    fn: Callable[[RunContext, dict[str, Any], str | None], ActionResult]
    params: tuple[str, ...]
    optional: tuple[str, ...]
    requires: tuple[str, ...]  # outside memlab only (memlab.requirements)
    doc: str
    bounds: dict[str, Bound] = field(default_factory=dict)  # "param" or "param.key"
    # what the action would start (programs and their arguments), one line each, for a
    # lesson from outside memlab to list before it runs (None: starts no program)
    starts: Callable[[dict[str, Any], Path], list[str]] | None = None

    @property
    def all_params(self) -> tuple[str, ...]:
        return self.params + self.optional


ACTIONS: dict[str, ActionSpec] = {}


def action(name: str, params: Iterable[str] = (), optional: Iterable[str] = (),
           requires: Iterable[str] = (), bounds: dict[str, Bound] | None = None,
           starts: Callable[[dict[str, Any], Path], list[str]] | None = None):
    def register(fn):
        doc = (fn.__doc__ or "").strip().splitlines()[0] if fn.__doc__ else ""
        reqs = tuple(requirements.check(r) for r in requires)
        ACTIONS[name] = ActionSpec(name, fn, tuple(params), tuple(optional), reqs,
                                   doc, dict(bounds or {}), starts)
        return fn
    return register


def param_value(p: dict[str, Any], path: str) -> Any:
    """p["runs"] for "runs", p["fill"]["bytes"] for "fill.bytes"; None when absent."""
    value: Any = p
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def bounded(action_name: str, p: dict[str, Any], path: str, default: Any) -> Any:
    """A bounded parameter's value (checked again here: a "$ref" is only known now)."""
    value = param_value(p, path)
    if value is None:
        return default
    why = ACTIONS[action_name].bounds[path].problem(value)
    if why:
        raise UsageError(f"{action_name}: {path} {why}")
    return value


# Action parameters that name a program to run: a bundled sample or a command on $PATH.
PROGRAM_PARAMS = ("target", "exec")


def argv_text(argv: Iterable[Any]) -> str:
    """An argv as one shell-quoted line (what a lesson would start)."""
    return shlex.join(str(a) for a in argv)
