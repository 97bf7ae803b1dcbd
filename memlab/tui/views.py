"""The view registry: adding a view is one module plus a binding.

A view module (memlab/tui/widgets/*.py) exports `VIEW = ViewSpec(...)`; listing the
module in VIEW_MODULES gives it a tab on the main screen, a key binding (`key`), a
command-palette entry and a line in the help screen.  A view whose library is not there
yet (`requires`) is left out, and the help screen says why.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from typing import Callable

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
    requires: tuple[str, ...] = ()  # modules that must import for the view to work


def missing_requirement(spec: ViewSpec) -> str | None:
    """Why the view cannot work here (a library missing), or None.  Looks the modules
    up without importing them: the view imports them when it is used, and start-up
    stays fast."""
    for name in spec.requires:
        try:
            found = importlib.util.find_spec(name)
        except ImportError as err:  # a parent package is missing
            return f"needs {name} ({err})"
        if found is None:
            return f"needs {name} (not installed)"
    return None


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
