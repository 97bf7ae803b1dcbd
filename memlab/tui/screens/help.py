"""Help screen: every key, and what each view teaches (built from the bindings and the
view registry, so a new view documents itself)."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


def key_help(app) -> list[tuple[str, str]]:
    """(key, description) for every key of APP (a MemlabApp): its shown bindings, the
    view keys, and the keys a view adds while it has the focus."""
    shown = {"question_mark": "?", "colon": ":"}
    rows = [(shown.get(b.key, b.key), b.description)
            for b in app.BINDINGS if isinstance(b, Binding) and b.show]
    rows += [("1st letter", "views: " + ", ".join(f"{v.key} {v.title}" for v in app.views)),
             ("ctrl+p", "command palette (also: unsetenv/scrub/copy per variable)"),
             *_view_keys(app.views),
             ("escape", "leave the command line / close a panel"),
             ("up/down, enter", "move in tables; enter on a region opens its hex view")]
    return rows


def _view_keys(views) -> list[tuple[str, str]]:
    """Keys a view adds while it has the focus (x in Map, j in Hex, o in Exposure)."""
    rows = []
    for v in views:
        for b in getattr(v.factory, "BINDINGS", ()):
            if isinstance(b, Binding) and b.show:
                rows.append((b.key, f"{b.description} (in {v.title})"))
    return rows


class HelpScreen(ModalScreen[None]):
    AUTO_FOCUS = "#help-body"
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        app = self.app
        keys = Table(title="keys", show_header=False, box=None, padding=(0, 2))
        for key, description in key_help(app):
            keys.add_row(Text(key, style="bold cyan"), Text(description))
        views = Table(title="views", show_header=False, box=None, padding=(0, 2))
        for spec in app.views:
            views.add_row(Text(spec.key, style="bold cyan"), Text(spec.title, style="bold"),
                          Text(spec.teaches))
        for title, why in app.unavailable_views.items():
            views.add_row(Text("-"), Text(title, style="dim"),
                          Text(f"unavailable: {why}", style="dim"))
        with VerticalScroll(id="help-body"):
            yield Static(Text("memlab — see a process's memory, drive it, watch it change",
                              style="bold"))
            yield Static(keys)
            yield Static(views)
            yield Static(Text("escape closes this screen", style="dim"))
