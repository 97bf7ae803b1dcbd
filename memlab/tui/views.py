"""The view registry: adding a view is one module plus a binding.

A view module (memlab/tui/widgets/*.py) exports `VIEW = ViewSpec(...)`; listing the
module in VIEW_MODULES gives it a tab on the main screen, a key binding (`key`), a
command-palette entry and a line in the help screen.  A view that needs something from
outside memlab (`requires`, memlab.requirements: a program, root) which is not here is
left out, and the help screen says why.  memlab's own modules are plain imports.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable

from memlab import requirements

VIEW_MODULES = (
    "memlab.tui.widgets.memmap",
    "memlab.tui.widgets.envblock",
    "memlab.tui.widgets.initstack",
    "memlab.tui.widgets.hexview",
    "memlab.tui.widgets.drive",
    "memlab.tui.widgets.exposure",
    "memlab.tui.widgets.pod",
    "memlab.tui.widgets.lessons",
)


@dataclass(frozen=True)
class ViewSpec:
    id: str  # the TabPane id, e.g. "map"
    title: str  # tab label
    key: str  # binding that shows it
    teaches: str  # one line for the help screen
    factory: Callable[[], object]  # builds the view widget (a widgets.base.SnapshotView)
    requires: tuple[str, ...] = ()  # outside memlab only: "program:NAME", "root"

    def __post_init__(self) -> None:
        for req in self.requires:
            requirements.check(req)  # a memlab module here is a ValueError at import


def missing_requirement(spec: ViewSpec) -> str | None:
    """Why the view cannot work here (a program missing, not root), or None."""
    missing = requirements.missing_all(spec.requires)
    return "needs " + "; ".join(missing) if missing else None


def load_views(modules: tuple[str, ...] = VIEW_MODULES) -> tuple[list[ViewSpec], dict[str, str]]:
    """(available views in order, {title: why} for the unavailable ones)."""
    views: list[ViewSpec] = []
    unavailable: dict[str, str] = {}
    for name in modules:
        spec = importlib.import_module(name).VIEW
        why = missing_requirement(spec)
        if why:
            unavailable[spec.title] = why
        else:
            views.append(spec)
    return views, unavailable
