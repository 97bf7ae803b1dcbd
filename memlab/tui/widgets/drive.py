"""Drive view: send the launched sample commands and read what changed.

Teaches: setenv/unsetenv only change libc's view (the `environ` array and the heap);
the env block bytes execve wrote stay — so /proc/PID/environ keeps showing a variable
after unsetenv — until the program overwrites them (scrub).  copy puts a value on the
heap, malloc grows the heap or adds an mmap.  Each command is followed by a refresh and
one line per change (the Env and Map views highlight the same changes).
"""

from __future__ import annotations

import json

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import RichLog, Static

from memlab.model import Snapshot
from memlab.render.safe import printable
from memlab.tui.diff import answer_sentence, human_size, summarize
from memlab.tui.views import ViewSpec
from memlab.tui.widgets.base import SnapshotView

HELP = ("Type a command on the command line (:), or pick one in the command palette "
        "(ctrl+p):\n"
        "  setenv NAME VALUE   unsetenv NAME   scrub NAME (overwrite its bytes in the env "
        "block)\n"
        "  copy NAME (strdup the value to the heap)   malloc BYTES\n"
        "Try: unsetenv LOG_LEVEL (its bytes stay), then scrub DB_PASSWORD (its bytes are "
        "overwritten) — and watch the Env view.")


class DriveView(SnapshotView):
    BINDINGS = [Binding("J", "toggle_json", "Raw JSON")]

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.history: list[str] = []  # every line written to the log, as plain text
        self.raw_json = False  # the sample's answers as JSON too (J)

    def action_toggle_json(self) -> None:
        self.raw_json = not self.raw_json
        self.notify("Drive: raw JSON answers " + ("shown" if self.raw_json else "hidden"))

    def _write(self, t: Text) -> None:
        self.history.append(t.plain)
        self.log_widget.write(t)

    def compose(self) -> ComposeResult:
        yield Static(Text(HELP), id="drive-help")
        yield RichLog(id="drive-log", markup=False, highlight=False, wrap=True)

    @property
    def log_widget(self) -> RichLog:
        return self.query_one("#drive-log", RichLog)

    def render_snapshot(self) -> None:
        """The help fits the process: commands are offered only to one that understands
        them.  The log is written by log_command / log_changes."""
        source = getattr(self.app, "source", None)
        speaks = source is None or source.speaks_commands()
        self.query_one("#drive-help", Static).update(Text(HELP) if speaks else Text(
            "This process does not understand commands: only a bundled sample that "
            "memlab launched does (l: launch one, e.g. sleeper).  Its changes still show "
            "in the other views on refresh (r) or live (a).", style="yellow"))

    def log_command(self, line: str, answer: dict | None, error: str | None) -> None:
        t = Text("> ", style="bold")
        # the line may name a variable of the process (palette), the error quote it
        t.append(printable(self.masked_line(line)), style="bold cyan")
        if error is not None:
            t.append(f"  ✗ {printable(error)}", style="bold red")
        else:
            # a sentence (the answer quotes the variable's name: escaped); the answer
            # itself only when asked (J)
            t.append("  → " + printable(answer_sentence(answer, line)), style="green")
            if self.raw_json:
                t.append("\n    " + printable(json.dumps(answer, sort_keys=True)), style="dim")
        self._write(t)

    def log_syscalls(self, lines: tuple[str, ...]) -> None:
        """The system calls the command made the process do (memlab trace's lines:
        `malloc 100` -> brk, `malloc 100000000` -> mmap), each with its maps change."""
        for s in lines:
            self._write(Text("  " + printable(s), style="magenta"))

    def masked_line(self, line: str) -> str:
        """`setenv DB_PASSWORD s3cret` is logged as `setenv DB_PASSWORD ***`."""
        from memlab.secrets import mask_command

        return mask_command(line, self.reveal)

    def log_changes(self, before: Snapshot | None, after: Snapshot,
                    command: str | None = None) -> list[str]:
        lines = summarize(before, after, command) + resident_change(before, after)
        for s in lines:
            self._write(Text("  " + printable(s), style="yellow"))  # names, paths
        return lines


def resident_change(before: Snapshot | None, after: Snapshot) -> list[str]:
    """`resident: +28K (1.5M -> 1.5M)` when smaps was read both times and RSS moved:
    malloc reserves, touching commits (`reserve` then `touch`)."""
    if before is None or before.memory is None or after.memory is None:
        return []
    old, new = before.memory.total().rss, after.memory.total().rss
    if old == new:
        return []
    sign = "+" if new > old else "-"
    return [f"resident (smaps Rss): {sign}{human_size(abs(new - old))} "
            f"({human_size(old)} -> {human_size(new)})"]


VIEW = ViewSpec(
    id="drive", title="Drive", key="d", factory=DriveView,
    teaches="send the sample setenv/unsetenv/scrub/copy/malloc and see what changed "
            "(unsetenv leaves the env block bytes; scrub does not)")
