"""Exposure view: who can read this process's secret, shown live (memlab.exposure).

Teaches: the article's claim (docs/article.md), demonstrated — an observer with the
SAME uid reads the secret straight out of /proc/PID/environ, while an observer with
ANOTHER uid is refused (EACCES: the kernel's ptrace access check, fs/proc/base.c
environ_open) — then the full matrix of observers x channels (environ, cmdline, stat, maps, auxv, mem,
process_vm_readv), and the variable three ways: what execve got, what
/proc/PID/environ shows, what libc's environ holds, with every copy of the value.
`o` runs the observers (each a separate process that drops to its uid).
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Static

from memlab.errors import MemlabError
from memlab.model import text
from memlab.render.safe import printable
from memlab.secrets import display_value, looks_secret
from memlab.tui.views import ViewSpec
from memlab.tui.widgets.base import SnapshotView
from memlab.tui.workers import background

VERDICT_STYLES = {"SECRET": "bold white on red", "EACCES": "bold green",
                  "EPERM": "bold green", "masked": "yellow", "n/a": "dim", "empty": "dim",
                  # the three-way verdicts (memlab.exposure.removal Source.verdict)
                  "secret": "bold white on red", "scrubbed": "bold green",
                  "changed": "green", "unset": "green",
                  "changed (bytes still there)": "bold yellow",
                  "unset (bytes still there)": "bold yellow"}
HELP = ("o: run the observers — first the article's claim (same uid vs another uid on "
        "/proc/PID/environ), then the full matrix.  Each observer is a child process that "
        "drops to its uid; memlab never escalates.")


def secret_variable(snapshot) -> tuple[str, str] | None:
    """(name, value) of the first secret-looking variable in the env block."""
    if snapshot is None or snapshot.env is None:
        return None
    for e in snapshot.env.entries:
        if e.has_equals and looks_secret(e.name, e.value):
            return e.name, e.value
    return None


class ExposureView(SnapshotView):
    BINDINGS = [Binding("o", "observe", "Run observers")]

    class Result(Message):
        def __init__(self, pid: int, stage: str, value=None, error: str | None = None):
            super().__init__()
            self.pid, self.stage, self.value, self.error = pid, stage, value, error

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.claim = None  # Matrix with the two rows of the article's claim
        self.matrix = None  # the full Matrix
        self.three_way = None  # removal.ThreeWay
        self.errors: list[str] = []
        self._pid: int | None = None
        self._shown = None  # the snapshot the verdicts on screen were taken for

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="expo-scroll"):
            yield Static(Text(HELP), id="expo-help")
            yield Static(id="expo-claim")
            table = DataTable(id="expo-matrix", cursor_type="row", show_cursor=False)
            yield table
            yield Static(id="expo-3way-head")
            three = DataTable(id="expo-3way", cursor_type="row", show_cursor=False)
            three.add_columns("where", "verdict", "value", "address", "region")
            yield three
            yield Static(id="expo-notes")

    def focus_main(self) -> None:
        self.query_one("#expo-scroll").focus()

    def render_snapshot(self) -> None:
        if self.snapshot.pid != self._pid:  # another process: old results do not apply
            self._pid = self.snapshot.pid
            self.claim = self.matrix = self.three_way = None
            self.errors = []
            self._shown = self.snapshot
        elif (self._shown is not None and self.snapshot != self._shown
              and (self.claim is not None or self.three_way is not None)):
            # the process changed since the verdicts were taken (a command, a live
            # refresh): they are taken again, never left stale on screen
            self._shown = self.snapshot
            self.action_observe()
            return
        self._shown = self.snapshot
        self._redraw()

    # -- running (workers) ----------------------------------------------------------
    def action_observe(self) -> None:
        if self.snapshot is None:
            return
        self.errors = []
        self.query_one("#expo-claim", Static).update(Text("running observers…", style="dim"))
        variable = secret_variable(self.snapshot)
        self.run_observers(self.snapshot.pid, variable[0] if variable else None)

    @background(exclusive=True, group="exposure")
    def run_observers(self, pid: int, name: str | None) -> None:
        source = self.app.source
        stages = [("claim", lambda: source.access_matrix(rows=("same_uid", "other_uid"),
                                                         channels=("environ",))),
                  ("matrix", lambda: source.access_matrix())]
        if name is not None:  # first: the claim line quotes its verdict
            stages.insert(0, ("three_way", lambda: source.env_three_way(name)))
        for stage, call in stages:
            try:
                self.post_message(self.Result(pid, stage, call()))
            except (MemlabError, PermissionError) as err:
                self.post_message(self.Result(pid, stage, error=str(err)))

    def on_exposure_view_result(self, message: Result) -> None:
        message.stop()
        if message.pid != self._pid:
            return
        if message.error is not None:
            self.errors.append(f"{message.stage}: {message.error}")
        else:
            setattr(self, message.stage, message.value)
        self._redraw()

    # -- drawing --------------------------------------------------------------------
    def _redraw(self) -> None:
        self._draw_claim()
        self._draw_matrix()
        self._draw_three_way()
        notes = Text()
        # notes and errors quote the victim (paths, errno text): escaped
        for line in (self.matrix.notes if self.matrix else ()):
            notes.append(f"note: {printable(line)}\n", style="dim")
        for line in self.errors:
            notes.append(f"✗ {printable(line)}\n", style="bold red")
        self.query_one("#expo-notes", Static).update(notes)

    def _draw_claim(self) -> None:
        t = Text()
        m = self.claim
        if m is None:
            self.query_one("#expo-claim", Static).update(
                t if self.errors else Text("press o to run the observers", style="dim"))
            return
        variable = secret_variable(self.snapshot)
        shown = (printable(f"{variable[0]}="
                           f"{display_value(variable[0], variable[1], self.reveal)}")
                 if variable else "the secret")
        for row in m.rows:
            cell = row.cell("environ")
            t.append(f"{row.label:<22}", style="bold")
            if row.skipped or cell is None:
                t.append(f"skipped: {printable(row.skipped)}\n", style="yellow")
            elif cell.secret_found:
                t.append(f"read /proc/{row.victim_pid}/environ → {shown}  ", style="")
                t.append("SECRET", style=VERDICT_STYLES["SECRET"])
                t.append("  (the article's claim, live)\n", style="dim")
            elif cell.secret_found is False:
                # the observers look for the value execve was given
                verdict = (self.three_way.verdict("proc_environ")
                           if self.three_way is not None else "gone")
                t.append(f"read /proc/{row.victim_pid}/environ → the value execve gave: ")
                t.append(verdict, style=VERDICT_STYLES.get(verdict, "bold green"))
                t.append("\n")
            elif not cell.ok:
                t.append(f"open /proc/{row.victim_pid}/environ → ")
                t.append(cell.errno_name or "error", style=VERDICT_STYLES.get(
                    cell.errno_name or "", "bold red"))
                t.append("  (refused by the kernel's ptrace access check)\n", style="dim")
            else:
                t.append(f"read /proc/{row.victim_pid}/environ → {cell.verdict}\n")
        self.query_one("#expo-claim", Static).update(t)

    def _draw_matrix(self) -> None:
        table = self.query_one("#expo-matrix", DataTable)
        table.clear(columns=True)
        m = self.matrix
        if m is None:
            return
        table.add_columns("observer", *m.channels)
        for row in m.rows:
            if row.skipped:
                table.add_row(Text(row.label, style="dim"),
                              Text(f"skipped: {printable(row.skipped)}", style="dim"),
                              *[Text("") for _ in m.channels[1:]])
                continue
            cells = []
            for channel in m.channels:
                cell = row.cell(channel)
                verdict = cell.verdict if cell else "-"
                cells.append(Text(verdict, style=VERDICT_STYLES.get(verdict, "")))
            table.add_row(Text(row.label, style="bold"), *cells)

    def _draw_three_way(self) -> None:
        head = self.query_one("#expo-3way-head", Static)
        table = self.query_one("#expo-3way", DataTable)
        table.clear()
        view = self.three_way
        if view is None:
            head.update("")
            return
        head.update(Text(f"{printable(view.name)} three ways (execve / kernel / libc), and "
                         f"every copy of its value in memory: {len(view.copies)}",
                         style="bold"))
        for where, channel in (("execve (what memlab passed)", "execve"),
                               ("/proc/PID/environ (env block)", "proc_environ"),
                               ("libc environ (getenv)", "libc_environ")):
            src = getattr(view, channel)
            verdict = view.verdict(channel)
            value = "" if src.value is None else display_value(view.name, text(src.value),
                                                               self.reveal)
            table.add_row(Text(where, style="bold"),
                          Text(verdict, style=VERDICT_STYLES.get(verdict, "")),
                          Text(printable(value)), Text("" if src.address is None else
                                                       f"0x{src.address:x}"),
                          Text(printable(src.region or "")))
        for hit in view.copies:
            table.add_row(Text("copy in memory", style="dim"), Text("secret"), Text(""),
                          Text(f"0x{hit.address:x}"), Text(printable(hit.region or "")))


VIEW = ViewSpec(
    id="exposure", title="Exposure", key="o", factory=ExposureView,
    teaches="who can read the secret: same uid reads /proc/PID/environ, another uid gets "
            "EACCES; the full observer x channel matrix; the variable three ways")
