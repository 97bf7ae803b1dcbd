"""The memlab TUI: one main screen of views (from the registry), modal screens for
launching, attaching and help, and a command line that drives the launched sample.

Data flow (the memray TUI split): the app is handed a DataSource; thread workers call
it and post SnapshotReady / SnapshotFailed / CommandDone messages; handlers update the
views.  Only `launch` runs on the event-loop thread (PR_SET_PDEATHSIG is per thread).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path
from typing import Iterable

from rich.text import Text
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.lazy import Lazy
from textual.containers import Container, Horizontal
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer, Input, Static, TabbedContent, TabPane, TextArea

from memlab.errors import MemlabError, NoSuchProcess
from memlab.model import Snapshot
from memlab.render.safe import fit_middle, printable
from memlab.safefs import open_trusted
from memlab.tui.diff import has_visible_change
from memlab.tui.messages import CommandDone, SnapshotFailed, SnapshotReady, WorkerError
from memlab.tui.palette import memlab_commands
from memlab.tui.source import DataSource, LaunchRequest, check_command
from memlab.tui.views import load_views
from memlab.tui.workers import background
from memlab.tui.widgets.base import SnapshotView
from memlab.tui.widgets.drive import DriveView
from memlab.tui.widgets.hexview import HexView
from memlab.tui.widgets.memmap import MemoryMapView
from memlab.tui.widgets.prompt import PromptInput
from memlab.tui.widgets.virtual import VirtualTable

VIEWS, UNAVAILABLE_VIEWS = load_views()


class MemlabApp(App[None]):
    CSS_PATH = str(Path(__file__).with_name("memlab.tcss"))  # absolute: subclasses too
    TITLE = "memlab"
    AUTO_FOCUS = "#regions"
    # Footer order = importance: on 80 columns the last ones are cut, so the safety
    # switch (v) and the screenshot come first, then the short ones.
    BINDINGS = [
        Binding("v", "toggle_reveal", "Reveal"),
        # priority: from any screen (the launch panel, the picker, help) too
        Binding("ctrl+s", "save_svg", "Screenshot", priority=True),
        Binding("slash", "find", "Find"),
        Binding("colon", "command_line", "Cmd"),
        Binding("l", "launch_panel", "Launch"),
        Binding("p", "pick_process", "Attach"),
        Binding("a", "toggle_live", "Live"),
        Binding("r", "refresh", "Refresh"),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit", "Quit"),
        *(Binding(v.key, f"show_view('{v.id}')", v.title, show=False) for v in VIEWS),
    ]

    reveal: reactive[bool] = reactive(False)
    live: reactive[bool] = reactive(False)

    def __init__(self, source: DataSource, *, live: bool = False, reveal: bool = False,
                 refresh_interval: float = 1.0, screenshot_dir: str | None = None,
                 views: list | None = None, initial: Snapshot | None = None,
                 lang: str | None = None) -> None:
        """`views`: the registry's views to show (default: all available ones).
        `initial`: a snapshot already taken (the CLI takes one while textual imports),
        shown on mount without waiting for a worker.  `lang`: the lessons' language
        (en, ko; None: from LC_ALL/LC_MESSAGES/LANG, memlab.lessons.lessonfile.default_lang)."""
        super().__init__()
        self.lang = lang
        self.set_reactive(MemlabApp.reveal, reveal)
        self.source = source
        self.views = list(views) if views is not None else VIEWS
        self.unavailable_views = UNAVAILABLE_VIEWS
        self.snapshot: Snapshot | None = None
        self.previous: Snapshot | None = None
        self.gone: MemlabError | None = None
        self.refresh_interval = refresh_interval
        self.screenshot_dir = screenshot_dir
        self._shots = 0
        self._live_at_start = live
        self._timer = None
        self._before_command: Snapshot | None = None
        self._command_line: str | None = None
        self.snapshots_shown = 0  # how many snapshots reached the views (tests, bench)
        self._initial = initial
        # An exception no handler expected (a bug): the app leaves with status 1 and
        # the CLI reports it in one line (memlab.cli: "internal error").
        self.crashed: BaseException | None = None
        # [start, end) of secret values the sample copied to its heap (`copy K`): the
        # hex view masks them like the env block's own.
        self.secret_copies: list[tuple[int, int]] = []

    # -- layout -------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Static(id="status")
        with Horizontal(id="body"):
            with TabbedContent(id="views", initial=self.views[0].id):
                for n, spec in enumerate(self.views):
                    with TabPane(f"{spec.title} ({spec.key})", id=spec.id):
                        view = spec.factory(id=f"view-{spec.id}")
                        # the hidden tabs mount after the first paint (faster first
                        # screen); a view mounted late catches up in SnapshotView.on_mount
                        yield view if n == 0 else Lazy(view)
            # The lesson pane (memlab.lessons) mounts here: see open_side_pane.
            yield Container(id="side-pane")
        yield Static(id="banner")
        yield PromptInput(placeholder="/ filter the rows of this view — Esc clears",
                          id="find")
        yield Input(placeholder=": setenv K V | unsetenv K | scrub K | copy K | malloc N",
                    id="cmdline")
        yield Footer()

    def on_mount(self) -> None:
        self._timer = self.set_interval(self.refresh_interval, self._tick, pause=True)
        self.live = self._live_at_start
        self.query_one("#banner").display = False
        self.query_one("#side-pane").display = False
        self.query_one("#find").display = False
        if not self.is_headless:
            # SIGTERM/SIGHUP: leave like `q` (restore the terminal; the CLI's finally
            # ends the launched child).  PR_SET_PDEATHSIG backs this up if we are killed.
            loop = asyncio.get_running_loop()
            loop.add_signal_handler(signal.SIGTERM, self.exit)
            loop.add_signal_handler(signal.SIGHUP, self._terminal_gone)
            # A hangup reaches only the session leader (drivers/tty/tty_jobctrl.c): under
            # `make run` that is make, and memlab is left on a dead terminal whose reads
            # fail at once (Textual's input thread then spins).  Notice it ourselves: on
            # a hung-up tty every ioctl, so isatty(), fails (drivers/tty/tty_io.c).
            self.set_interval(1.0, self._leave_if_terminal_gone)
        # a launched process that exits is noticed (and reaped) without live refresh
        self.set_interval(1.0, self._check_exited)
        self._update_status()
        if self._initial is not None and self._initial.pid == self.source.pid:
            self.on_snapshot_ready(SnapshotReady(self._initial, True))
        else:
            self.refresh_snapshot(forced=True)

    def _check_exited(self) -> None:
        ended = self.source.exited()
        if ended is not None:
            self.show_problem(self.source.pid, NoSuchProcess(ended, pid=self.source.pid))

    def _leave_if_terminal_gone(self) -> None:
        if not os.isatty(sys.__stdin__.fileno()):
            self._terminal_gone()

    def _terminal_gone(self) -> None:
        """The terminal hung up: there is nothing to restore, and Textual's graceful
        shutdown can block for ever writing its reset sequences to it (measured: its
        writer queue fills).  End the launched processes and leave as SIGHUP would."""
        from memlab.launch import kill_all

        kill_all()
        os._exit(128 + signal.SIGHUP)

    def notify(self, message: str, **kw) -> None:
        """Every notification (widgets' too: Widget.notify calls this) is plain text
        with control characters escaped: errors quote paths, names and values from
        the process, and Textual would read `[heap]` as markup."""
        kw["markup"] = False
        super().notify(printable(message), **kw)

    def open_side_pane(self, widget) -> None:
        """Show `widget` beside the views (the lesson pane).  One pane at a time."""
        pane = self.query_one("#side-pane")
        pane.remove_children()
        pane.mount(widget)
        pane.display = True

    def close_side_pane(self) -> None:
        pane = self.query_one("#side-pane")
        pane.remove_children()
        pane.display = False

    def view(self, view_id: str) -> SnapshotView:
        return self.query_one(f"#view-{view_id}", SnapshotView)

    def all_views(self) -> list[SnapshotView]:
        return list(self.query(SnapshotView))

    # -- snapshots (workers) ------------------------------------------------------
    @background(exclusive=True, group="snapshot")
    def refresh_snapshot(self, forced: bool = False) -> None:
        pid = self.source.pid
        try:
            snap = self.source.snapshot()
        except MemlabError as err:
            self.post_message(SnapshotFailed(pid, err))
            return
        self.post_message(SnapshotReady(snap, forced))

    def _tick(self) -> None:
        self.refresh_snapshot(forced=False)

    def on_snapshot_ready(self, message: SnapshotReady) -> None:
        snap = message.snapshot
        was_gone, self.gone = self.gone, None
        if was_gone is not None:
            self.query_one("#banner").display = False
        for view in self.all_views():
            if view.has_class("gone"):
                view.mark_gone(None)
        if snap == self.snapshot and not message.forced and was_gone is None:
            return  # live refresh with nothing new: no redraw (idle stays cheap)
        # What the views highlight against (previous): the snapshot before the last
        # command, or before the last change a live refresh brought; a refresh that
        # changed nothing they show keeps the highlights (diff.has_visible_change).
        if self.snapshot is None or self.snapshot.pid != snap.pid:
            self.previous = None
        elif self._before_command is not None and self._before_command.pid == snap.pid:
            self.previous = self._before_command
        elif self.previous is None or has_visible_change(self.snapshot, snap):
            self.previous = self.snapshot
        self.snapshot = snap
        for view in self.all_views():
            view.show(snap, self.previous)
        if self._before_command is not None:
            for drive in self.query(DriveView):
                drive.log_changes(self._before_command, snap, self._command_line)
            self._before_command = None
        self.snapshots_shown += 1
        self._update_status()

    def on_snapshot_failed(self, message: SnapshotFailed) -> None:
        self.show_problem(message.pid, message.error)

    def on_worker_error(self, message: WorkerError) -> None:
        """A worker's MemlabError that no view handled (memlab.tui.workers)."""
        self.show_problem(message.pid, message.error)

    def show_problem(self, pid: int | None, error: MemlabError) -> None:
        """One line in the banner: what went wrong with the process on screen."""
        if isinstance(error, NoSuchProcess):
            self.gone = error
            what = f"process {pid} exited" if pid is not None else "no process"
            if pid is not None:
                # every view keeps its last snapshot, greyed and titled as such
                how = getattr(error, "msg", str(error)).partition(";")[0]
                how = how.split(" exited: ", 1)[1] if " exited: " in how else "gone"
                for view in self.all_views():
                    shown = view.snapshot.pid if view.snapshot is not None else None
                    if shown is None or shown == pid:
                        view.mark_gone(f"last snapshot of pid {pid} (exited: {how})")
                    else:  # it still shows the process before: never pass it off
                        view.mark_gone(f"pid {shown}'s last snapshot, not pid {pid}'s "
                                       f"(pid {pid} exited: {how})")
        else:
            what = f"process {pid}" if pid is not None else "no process"
        banner = self.query_one("#banner", Static)
        banner.update(Text(f"{what}: {printable(str(error))} — the views show the "
                           "last snapshot; l launches a new process, p attaches to another",
                           style="bold white on dark_red"))
        banner.display = True
        self._update_status()

    def _handle_exception(self, error: Exception) -> None:
        """Textual calls this for every exception nothing handled, from a message
        handler or from a worker (wrapped in WorkerFailed) (textual/app.py), and would
        print a traceback over the terminal.  Here: one line, exit status 1; the CLI
        prints the error on stderr in its one-line form (MEMLAB_DEBUG=1: Textual's)."""
        from textual.worker import WorkerFailed

        if os.environ.get("MEMLAB_DEBUG"):
            super()._handle_exception(error)
            return
        if isinstance(error, WorkerFailed):
            error = error.error
        if self.crashed is None:
            self.crashed = error
            self.notify(f"internal error: {type(error).__name__}: {error}",
                        severity="error")
        self.exit(return_code=1)

    def _update_status(self) -> None:
        status = self.query("#status")
        if not status:
            return  # reactive watchers can fire before compose
        s = self.snapshot
        t = Text(no_wrap=True, overflow="crop")
        # the indicators first, the executable's path last (cut in the middle to fit):
        # on 80 columns the safety switches must stay on screen
        if s is not None:
            name = printable(s.stat.comm or (s.exe or "?"))
            t.append(f" pid {s.pid} {name} ", style="bold reverse")
        if self.gone is not None:
            t.append(" GONE", style="bold red")
        t.append(" secrets " + ("REVEALED" if self.reveal else "masked"),
                 style="bold red" if self.reveal else "dim")
        t.append(" live " + ("on" if self.live else "off"),
                 style="bold green" if self.live else "dim")
        if self.source.launched:
            t.append(" launched", style="green")
        elif self.source.started_by_memlab():  # a lesson's process: memlab's own
            t.append(" started by a lesson", style="green")
        else:
            t.append(" attached (read-only)", style="yellow")
        if s is not None and s.exe:
            room = status.first(Static).size.width or self.size.width
            t.append("  " + fit_middle(s.exe, max(8, room - t.cell_len - 2)))
        status.first(Static).update(t)

    # -- commands (workers) -------------------------------------------------------
    def run_command(self, line: str) -> None:
        try:
            line = check_command(line)
        except MemlabError as err:
            for drive in self.query(DriveView):
                drive.log_command(line, None, str(err))
            self.notify(str(err), severity="error")
            return
        self._command_worker(line, self.snapshot)

    @background(group="command")
    def _command_worker(self, line: str, before: Snapshot | None) -> None:
        try:
            answer, syscalls = self.source.command_traced(line)
        except MemlabError as err:
            self.post_message(CommandDone(line, None, err))
            return
        if isinstance(answer, dict) and answer.get("error"):
            # the sample understood but refused (e.g. scrub of a variable it no longer has)
            self.post_message(CommandDone(line, answer, MemlabError(
                f"{line.split()[0]}: {answer['error']}")))
            return
        self.post_message(CommandDone(line, answer, None, before, tuple(syscalls)))

    def on_command_done(self, message: CommandDone) -> None:
        for drive in self.query(DriveView):
            drive.log_command(message.line,
                              message.answer if message.error is None else None,
                              str(message.error) if message.error else None)
            drive.log_syscalls(message.syscalls)
        if message.error is not None:
            self.notify(str(message.error), severity="error")
            return
        self._before_command = message.before
        self._command_line = message.line
        self._note_secret_copy(message.answer)
        self.refresh_snapshot(forced=True)

    def _note_secret_copy(self, answer: dict | None) -> None:
        from memlab.secrets import looks_secret_name

        if not answer or answer.get("cmd") != "copy" or not looks_secret_name(
                str(answer.get("name", ""))):
            return
        try:
            start, length = int(str(answer["address"]), 16), int(answer["length"])
        except (KeyError, ValueError):
            return  # an answer without an address: nothing to mask
        self.secret_copies.append((start, start + length))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "find":  # keep the filter, back to the table
            event.input.display = False
            table = getattr(self, "_filtered", None)
            if table is not None:
                table.focus()
            return
        if event.input.id != "cmdline":
            return
        line = event.value.strip()
        event.input.value = ""
        if line:
            self.run_command(line)

    # -- launching / attaching (event-loop thread) --------------------------------
    def launch(self, request: LaunchRequest) -> bool:
        try:
            self.source.launch(request)
        except MemlabError as err:
            self.notify(f"launch failed: {err}", severity="error", timeout=8)
            return False
        self._switched()
        return True

    def run_pod(self, manifest: str):
        """Run a pod (the Pod view); its process becomes the one on screen.  Raises
        MemlabError for the view to show.  Event-loop thread (PR_SET_PDEATHSIG)."""
        pod = self.source.run_pod(manifest)
        self._switched()
        return pod

    def attach(self, pid: int) -> None:
        try:
            self.source.attach(pid)
        except MemlabError as err:  # it exited meanwhile: the current process stays
            self.notify(f"not attached: {err}", severity="error", timeout=8)
            return
        self._switched()

    def _switched(self) -> None:
        """Another process is on screen: until its first snapshot arrives, the views
        say theirs is the previous process's."""
        old = self.snapshot.pid if self.snapshot is not None else None
        new = self.source.pid
        if old is not None and old != new:
            for view in self.all_views():
                view.mark_gone(f"pid {old}'s last snapshot — waiting for pid {new}")
        self.secret_copies = []
        self.snapshot = self.previous = None
        self.refresh_snapshot(forced=True)
        self._update_status()

    def action_launch_panel(self) -> None:
        from memlab.tui.screens.launch import LaunchPanel

        def done(request: LaunchRequest | None) -> None:
            if request is not None:
                self.launch(request)

        self.push_screen(LaunchPanel(self.source.sample_names(), self.source.last_launch),
                         done)

    def action_pick_process(self) -> None:
        from memlab.tui.screens.picker import ProcessPicker

        self.push_screen(ProcessPicker(), lambda pid: pid is not None and self.attach(pid))

    # -- other actions ------------------------------------------------------------
    def action_show_view(self, view_id: str) -> None:
        if view_id not in {v.id for v in self.views}:
            return  # a view this app was built without
        self.query_one("#views", TabbedContent).active = view_id
        self._focus_view(view_id)

    def _focus_view(self, view_id: str, tries: int = 20) -> None:
        found = self.query(f"#view-{view_id}")
        if found:
            found.first(SnapshotView).focus_main()
        elif tries:  # a lazy tab not mounted yet
            self.call_after_refresh(self._focus_view, view_id, tries - 1)

    def on_key(self, event) -> None:
        if event.key != "escape" or self.screen is not self.screen_stack[0]:
            return  # the modal screens cancel with their own escape binding
        focused = self.focused
        if focused is self.query_one("#cmdline"):
            self._focus_view(self.query_one("#views", TabbedContent).active)
        elif isinstance(focused, (Input, TextArea)):
            # every prompt of a view lets go on Esc (a bad hex address, the Pod
            # manifest): the keys are the app's again (q quits, v reveals).  The side
            # pane (lessons) handles its own Esc.
            view = next((a for a in focused.ancestors if isinstance(a, SnapshotView)), None)
            if view is not None:
                self._release(focused, view)
                event.stop()

    def _release(self, widget, view: SnapshotView) -> None:
        if widget.id == "hex-goto":  # the jump prompt: cancelled, hidden again
            widget.value = ""
            widget.display = False
        for other in view.query("*"):
            if (other.focusable and other.display and other is not widget
                    and not isinstance(other, (Input, TextArea))):
                other.focus()
                return
        self.set_focus(None)

    # -- / filters the table of the view on screen -------------------------------------
    def _find_table(self) -> VirtualTable | None:
        active = self.query_one("#views", TabbedContent).active
        view = self.query(f"#view-{active}")
        if not view:
            return None
        if isinstance(view.first(), MemoryMapView):
            view.first().show_table()  # a narrow map showing the tower: the table
        shown = [t for t in view.first().query(VirtualTable) if t.display and
                 t.parent is not None and t.parent.display]
        # two tables side by side (the Pod view): the one with the focus
        focused = [t for t in shown if t.has_focus]
        return (focused or shown or [None])[0]

    def action_find(self) -> None:
        table = self._find_table()
        if table is None:
            self.notify("this view has no table to filter", severity="warning")
            return
        self._filtered = table
        box = self.query_one("#find", PromptInput)
        box.value = table.filter_text
        box.display = True
        box.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        table = getattr(self, "_filtered", None)
        if event.input.id == "find" and table is not None and event.input.display:
            table.set_filter(event.value)

    def on_prompt_input_cancelled(self, event: PromptInput.Cancelled) -> None:
        table = getattr(self, "_filtered", None)
        if event.prompt.id == "find" and table is not None:
            table.set_filter("")
            table.focus()

    def on_memory_map_view_open_hex(self, message: MemoryMapView.OpenHex) -> None:
        self.query_one(HexView).open_region(message.region)
        self.action_show_view("hex")
        self.query_one("#hex-grid").focus()

    def action_help(self) -> None:
        from memlab.tui.screens.help import HelpScreen

        self.push_screen(HelpScreen())

    def action_command_line(self) -> None:
        self.query_one("#cmdline", Input).focus()

    def action_refresh(self) -> None:
        self.refresh_snapshot(forced=True)

    def action_toggle_live(self) -> None:
        self.live = not self.live

    def watch_live(self, live: bool) -> None:
        if self._timer is not None:
            self._timer.resume() if live else self._timer.pause()
        self._update_status()

    def action_toggle_reveal(self) -> None:
        self.reveal = not self.reveal

    def watch_reveal(self, reveal: bool) -> None:
        if self.snapshot is not None:
            for view in self.all_views():
                view.show(self.snapshot, self.previous)
        self._update_status()

    def action_help_quit(self) -> None:
        """^C does not quit (Textual binds it to copy in inputs): say what does, as
        plain text (Textual's own message is markup, and notify here is plain)."""
        self.notify("q (or ctrl+q) quits memlab", title="Quit?")

    def screenshot_directory(self) -> str:
        """--screenshot-dir, else $XDG_PICTURES_DIR, else ~/memlab-screenshots."""
        return (self.screenshot_dir or os.environ.get("XDG_PICTURES_DIR")
                or os.path.expanduser("~/memlab-screenshots"))

    def action_save_svg(self) -> None:
        """The screen as SVG, in screenshot_directory(): a new file
        (O_EXCL|O_NOFOLLOW, 0600: it may show revealed secrets) in a directory of ours
        reached without following a link (memlab.safefs) -- never the working directory,
        which for root may be a shared one where another user planted a link."""
        directory = self.screenshot_directory()
        self._shots += 1
        name = time.strftime("memlab-%Y%m%d-%H%M%S") + f"-{os.getpid()}-{self._shots}.svg"
        try:
            with open_trusted(directory, create=True) as d:
                d.create_file(name, self.export_screenshot().encode(), 0o600)
        except (MemlabError, OSError) as err:
            self.notify(f"screenshot not saved: {printable(str(err))}", severity="error")
            return
        self.notify(f"screenshot saved: {printable(os.path.join(directory, name))}")

    async def action_quit(self) -> None:
        self.source.stop()  # ends the launched process before the app goes
        self.exit()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        # Textual's own Screenshot writes into the working directory: memlab's (in
        # memlab_commands) is the one listed
        yield from (c for c in super().get_system_commands(screen)
                    if c.title != "Screenshot")
        yield from memlab_commands(self)
