"""Launch panel: choose a bundled sample or a path, edit the exact environment the new
process gets (add/edit/delete rows, clear all = `env -i`), toggle no-ASLR, launch.
The app performs the launch on its event-loop thread when this screen is dismissed
with a LaunchRequest; the new process replaces the old one."""

from __future__ import annotations

import shlex

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, DataTable, Input, Select, Static

from memlab.model import text
from memlab.render.safe import printable
from memlab.secrets import display_value
from memlab.tui.source import LaunchRequest, demo_env


class LaunchPanel(ModalScreen[LaunchRequest | None]):
    AUTO_FOCUS = "#launch-path"  # type a path (or leave it empty) and press enter
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, samples: list[str], current: LaunchRequest | None) -> None:
        super().__init__()
        self.samples = samples
        self.env: list[bytes] = list(current.env) if current and current.env is not None \
            else demo_env()
        self.initial_target = current.target if current else (samples[0] if samples else "")
        self.initial_no_aslr = current.no_aslr if current else False
        self.initial_args = shlex.join(current.args) if current else ""

    def compose(self) -> ComposeResult:
        in_samples = self.initial_target in self.samples
        with Vertical(id="launch-box"):
            yield Static(Text("Launch a process (it replaces the one on screen)", style="bold"))
            with Horizontal(classes="row"):
                yield Select([(s, s) for s in self.samples], id="launch-sample",
                             prompt="bundled sample",
                             value=self.initial_target if in_samples else Select.NULL)
                yield Input(value="" if in_samples else self.initial_target,
                            placeholder="or a path / command on $PATH", id="launch-path")
            with Horizontal(classes="row"):
                yield Input(value=self.initial_args, id="launch-args",
                            placeholder="arguments, split like a shell: -c 'echo hi'")
            yield Static(id="launch-argv")
            yield Static(Text("environment (exactly these strings, in this order):"))
            table = DataTable(id="launch-env", cursor_type="row")
            table.add_columns("name", "value")
            yield table
            with Horizontal(classes="row"):
                yield Input(placeholder="NAME", id="env-name")
                yield Input(placeholder="value", id="env-value")
                yield Button("Set", id="env-set")
                yield Button("Delete", id="env-delete")
            with Horizontal(classes="row"):
                yield Button("Clear all (env -i)", id="env-clear")
                yield Button("Demo env", id="env-demo")
                yield Checkbox("no ASLR", self.initial_no_aslr, id="launch-no-aslr")
            with Horizontal(classes="row"):
                yield Button("Launch", variant="primary", id="launch-go")
                yield Button("Cancel", id="launch-cancel")

    def on_mount(self) -> None:
        self.fill()
        self.show_argv()

    def argv(self) -> tuple[str, tuple[str, ...]]:
        """(target, arguments) as typed: the arguments field split like a shell would
        (shlex); a path typed with arguments after it ("/usr/bin/sleep 1000") is split
        too.  Raises ValueError for an unbalanced quote."""
        path = self.query_one("#launch-path", Input).value.strip()
        sample = self.query_one("#launch-sample", Select).value
        args = shlex.split(self.query_one("#launch-args", Input).value)
        if path and any(c.isspace() for c in path):
            first, *rest = shlex.split(path)
            path, args = first, [*rest, *args]
        target = path or (sample if isinstance(sample, str) else "")
        return target, tuple(args)

    def show_argv(self) -> None:
        line = self.query_one("#launch-argv", Static)
        try:
            target, args = self.argv()
        except ValueError as err:
            line.update(Text(f"arguments: {err}", style="bold red"))
            return
        line.update(Text("argv: " + printable(repr([target, *args])), style="dim"))

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id in ("launch-path", "launch-args"):
            self.show_argv()

    def on_select_changed(self, event: Select.Changed) -> None:
        self.show_argv()

    def fill(self) -> None:
        table = self.query_one("#launch-env", DataTable)
        table.clear()
        reveal = bool(getattr(self.app, "reveal", False))
        for i, raw in enumerate(self.env):
            name, _, value = text(raw).partition("=")
            table.add_row(Text(printable(name), style="bold cyan"),
                          Text(printable(display_value(name, value, reveal))), key=str(i))

    # -- editing ----------------------------------------------------------------
    def set_var(self, name: str, value: str) -> None:
        if not name or "=" in name:
            self.app.notify("a name is needed, without '='", severity="error")
            return
        raw = f"{name}={value}".encode()
        prefix = name.encode() + b"="
        for i, old in enumerate(self.env):
            if old.startswith(prefix):
                self.env[i] = raw
                break
        else:
            self.env.append(raw)
        self.fill()

    def delete_var(self, name: str) -> None:
        prefix = name.encode() + b"="
        self.env = [e for e in self.env if not e.startswith(prefix)]
        self.fill()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key is None or event.row_key.value is None:
            return
        index = int(event.row_key.value)
        if index < len(self.env):
            name, _, value = text(self.env[index]).partition("=")
            # an Input draws its value raw: control characters are shown escaped
            self.query_one("#env-name", Input).value = printable(name)
            box = self.query_one("#env-value", Input)
            # a secret stays masked here too, and a value with control characters is
            # not put in the box either: it is left empty for a new value
            hidden = display_value(name, value, bool(getattr(self.app, "reveal", False)))
            if hidden != value:
                box.value, box.placeholder = "", "(secret: type a new value)"
            elif printable(value) != value:
                box.value, box.placeholder = "", "(control characters: type a new value)"
            else:
                box.value, box.placeholder = value, "value"

    def request(self) -> LaunchRequest | None:
        try:
            target, args = self.argv()
        except ValueError as err:
            self.app.notify(f"arguments: {err}", severity="error")
            return None
        if not target:
            self.app.notify("choose a sample or type a path", severity="error")
            return None
        return LaunchRequest(target, tuple(self.env),
                             self.query_one("#launch-no-aslr", Checkbox).value, args)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        name = self.query_one("#env-name", Input).value.strip()
        value = self.query_one("#env-value", Input).value
        match event.button.id:
            case "env-set":
                self.set_var(name, value)
            case "env-delete":
                self.delete_var(name)
            case "env-clear":
                self.env = []
                self.fill()
            case "env-demo":
                self.env = demo_env()
                self.fill()
            case "launch-go":
                req = self.request()
                if req is not None:
                    self.dismiss(req)
            case "launch-cancel":
                self.dismiss(None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id in ("env-name", "env-value"):
            self.set_var(self.query_one("#env-name", Input).value.strip(),
                         self.query_one("#env-value", Input).value)
        elif event.input.id in ("launch-path", "launch-args"):
            req = self.request()
            if req is not None:
                self.dismiss(req)
