"""Process picker: every process (psutil), filtered as you type (`/` goes back to the
filter); enter attaches.  User processes first, kernel threads folded into one row
(enter unfolds it), the process on screen marked ▶; processes memlab may not read are
dimmed, with why (memlab.processes)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Static

from memlab.render.safe import printable
from memlab.tui.workers import background


class ProcessPicker(ModalScreen[int | None]):
    AUTO_FOCUS = "#picker-filter"
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    class Listed(Message):
        def __init__(self, rows: list) -> None:
            super().__init__()
            self.rows = rows

    FOLDED = "kernel-threads"  # the row key of the folded kernel threads

    def __init__(self) -> None:
        super().__init__()
        self.rows: list = []
        self.unfolded = False  # kernel threads listed one by one

    def compose(self) -> ComposeResult:
        with Vertical(id="picker-box"):
            yield Static(Text("Attach to a process — type to filter by pid, user, name or "
                              "command line (/ filters again); enter attaches; escape "
                              "cancels.  ▶ the process on screen", style="bold"))
            yield Input(placeholder="filter", id="picker-filter")
            table = DataTable(id="picker-table", cursor_type="row")
            table.add_columns("", "pid", "user", "name", "command line", "readable")
            yield table

    def on_mount(self) -> None:
        self.query_one("#picker-filter", Input).focus()
        self.load()

    @background(exclusive=True)
    def load(self) -> None:
        self.post_message(self.Listed(self.app.source.list_processes()))

    def on_process_picker_listed(self, event: Listed) -> None:
        self.rows = event.rows
        self.fill(self.query_one("#picker-filter", Input).value)

    def fill(self, needle: str) -> None:
        table = self.query_one("#picker-table", DataTable)
        table.clear()
        needle = needle.strip().lower()
        current = getattr(self.app.source, "pid", None)
        shown = [p for p in self.rows if not needle or needle in
                 f"{p.pid} {p.user} {p.name} {p.cmdline}".lower()]
        users = [p for p in shown if not p.kernel_thread]
        kernel = [p for p in shown if p.kernel_thread]
        for p in users:
            self._add(table, p, current)
        if kernel and (self.unfolded or needle):
            for p in kernel:
                self._add(table, p, current)
        elif kernel:
            table.add_row(Text("▸"), Text(""), Text(""),
                          Text(f"{len(kernel)} kernel thread{'s' if len(kernel) != 1 else ''}",
                               style="dim"),
                          Text("enter lists them", style="dim"), Text("no user memory",
                                                                     style="dim"),
                          key=self.FOLDED)

    def _add(self, table: DataTable, p, current: int | None) -> None:
        style = "" if p.readable else "dim"
        mine = p.pid == current
        # every process on the machine names itself (comm, cmdline): escaped
        table.add_row(Text("▶" if mine else "", style="bold green"),
                      Text(str(p.pid), style="bold" if mine else style, justify="right"),
                      Text(printable(p.user), style=style),
                      Text(printable(p.name), style=style),
                      Text(printable(p.cmdline[:200]), style=style or "dim"),
                      Text("yes" if p.readable else f"no: {printable(p.why)}",
                           style="green" if p.readable else "dim red"),
                      key=str(p.pid))

    def on_input_changed(self, event: Input.Changed) -> None:
        self.fill(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        table = self.query_one("#picker-table", DataTable)
        if table.row_count:
            self._choose(table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value)

    def on_key(self, event) -> None:
        # up/down in the filter box move the table cursor; / goes back to the filter
        table = self.query_one("#picker-table", DataTable)
        box = self.query_one("#picker-filter", Input)
        if event.key in ("up", "down") and self.focused is not table:
            table.action_cursor_up() if event.key == "up" else table.action_cursor_down()
            event.stop()
        elif event.key == "slash" and self.focused is not box:
            box.focus()
            event.stop()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self._choose(event.row_key.value)

    def _choose(self, key: str | None) -> None:
        if key == self.FOLDED:
            self.unfolded = True
            self.fill(self.query_one("#picker-filter", Input).value)
            return
        if key is None:
            return
        pid = int(key)
        row = next((p for p in self.rows if p.pid == pid), None)
        if row is not None and not row.readable:
            self.app.notify(f"memlab may not read pid {pid}: {row.why}", severity="warning")
            return
        self.dismiss(pid)
