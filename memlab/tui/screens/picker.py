"""Process picker: every process (psutil), filtered as you type; enter attaches.
Processes memlab may not read are dimmed, with why (memlab.processes)."""

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

    def __init__(self) -> None:
        super().__init__()
        self.rows: list = []

    def compose(self) -> ComposeResult:
        with Vertical(id="picker-box"):
            yield Static(Text("Attach to a process — type to filter by pid, user or name; "
                              "enter attaches; escape cancels", style="bold"))
            yield Input(placeholder="filter", id="picker-filter")
            table = DataTable(id="picker-table", cursor_type="row")
            table.add_columns("pid", "user", "name", "readable")
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
        for p in self.rows:
            if needle and needle not in f"{p.pid} {p.user} {p.name}".lower():
                continue
            style = "" if p.readable else "dim"
            # every process on the machine names itself (comm, cmdline): escaped
            table.add_row(Text(str(p.pid), style=style, justify="right"),
                          Text(printable(p.user), style=style),
                          Text(printable(p.name), style=style),
                          Text("yes" if p.readable else f"no: {printable(p.why)}",
                               style="green" if p.readable else "dim red"),
                          key=str(p.pid))

    def on_input_changed(self, event: Input.Changed) -> None:
        self.fill(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        table = self.query_one("#picker-table", DataTable)
        if table.row_count:
            self._choose(int(table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value))

    def on_key(self, event) -> None:
        # up/down in the filter box move the table cursor
        table = self.query_one("#picker-table", DataTable)
        if event.key in ("up", "down") and self.focused is not table:
            table.action_cursor_up() if event.key == "up" else table.action_cursor_down()
            event.stop()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self._choose(int(event.row_key.value))

    def _choose(self, pid: int) -> None:
        row = next((p for p in self.rows if p.pid == pid), None)
        if row is not None and not row.readable:
            self.app.notify(f"memlab may not read pid {pid}: {row.why}", severity="warning")
            return
        self.dismiss(pid)
