"""The TUI's verdicts, launch, attach and prompts you can trust: each test drives the
app with a Pilot against a real process (c_samples) or the fake source."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import psutil
import pytest
from textual.widgets import DataTable

from memlab.tui.app import MemlabApp
from memlab.tui.source import LaunchRequest, LiveSource
from tests.helpers import gone, wait_until, wait_until_async
from tests.tui.conftest import cells, settle, started

SIZES = [(120, 40), (80, 24)]


async def _verdicts(app, pilot, what: str) -> dict[str, str]:
    view = app.view("exposure")

    def done() -> bool:
        return (view.three_way is not None and view.claim is not None
                and view.matrix is not None and not app.workers._workers)

    await wait_until_async(done, pilot.pause, what=what)
    table = app.query_one("#expo-3way", DataTable)
    return dict(zip(cells(table, 0), cells(table, 1)))


async def test_exposure_verdicts_follow_scrub_and_unsetenv(live_source):
    """Judged against the value execve was given, and taken again after a command."""
    app = MemlabApp(live_source)
    async with started(app, (120, 40)) as pilot:
        await pilot.press("o")
        await pilot.press("o")
        got = await _verdicts(app, pilot, "the first verdicts")
        assert got["/proc/PID/environ (env block)"] == "secret"
        app.run_command("scrub DB_PASSWORD")
        view = app.view("exposure")
        view.three_way = None  # set again by the re-run the refresh starts
        got = await _verdicts(app, pilot, "the verdicts after scrub")
        assert got["/proc/PID/environ (env block)"] == "scrubbed"
        assert got["libc environ (getenv)"] == "scrubbed"
        claim = app.query_one("#expo-claim").render().plain
        assert "SECRET" not in claim and "scrubbed" in claim
        assert view.claim.cell("same_uid", "environ").secret_found is False


async def test_exposure_unsetenv_still_finds_the_bytes(live_source):
    app = MemlabApp(live_source)
    async with started(app, (120, 40)) as pilot:
        await pilot.press("o")
        await pilot.press("o")
        await _verdicts(app, pilot, "the first verdicts")
        app.run_command("unsetenv DB_PASSWORD")
        view = app.view("exposure")
        view.three_way = None
        got = await _verdicts(app, pilot, "the verdicts after unsetenv")
        assert got["/proc/PID/environ (env block)"] == "secret"
        assert got["libc environ (getenv)"] == "unset (bytes still there)"
        assert "SECRET" in app.query_one("#expo-claim").render().plain


async def test_launch_panel_args_and_a_program_that_dies_at_once(live_source):
    """Arguments split like a shell, shown as argv; a program that dies at once is
    reported with its exit status and stderr, and the process on screen stays."""
    from textual.widgets import Input

    app = MemlabApp(live_source)
    async with started(app, (120, 40)) as pilot:
        old = live_source.pid
        await pilot.press("l")
        await pilot.pause()
        panel = app.screen
        panel.query_one("#launch-path", Input).value = "/bin/sh"
        panel.query_one("#launch-args", Input).value = "-c 'echo oops >&2; exit 3'"
        await pilot.pause()
        assert ("argv: ['/bin/sh', '-c', 'echo oops >&2; exit 3']"
                in panel.query_one("#launch-argv").render().plain)
        await pilot.click("#launch-go")
        await settle(app, pilot, rounds=4)
        shown = " ".join(str(n.message) for n in app._notifications)
        assert "oops" in shown and "exit status 3" in shown
        assert live_source.pid == old and app.snapshot.pid == old
        assert psutil.Process(old).status() != psutil.STATUS_ZOMBIE


async def test_a_path_with_arguments_is_split():
    from textual.widgets import Input

    source = LiveSource()
    try:
        app = MemlabApp(source)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("l")
            await pilot.pause()
            app.screen.query_one("#launch-path", Input).value = "/usr/bin/sleep 1000"
            await pilot.click("#launch-go")
            await settle(app, pilot, rounds=4)
            assert source.pid is not None
            assert psutil.Process(source.pid).cmdline() == ["/usr/bin/sleep", "1000"]
    finally:
        source.stop()


async def test_an_exit_is_reported_greyed_and_reaped():
    source = LiveSource()
    source.launch(LaunchRequest("/usr/bin/sleep", (), args=("600",)))
    pid = source.pid
    try:
        app = MemlabApp(source)
        async with started(app, (120, 40)) as pilot:
            os.kill(pid, signal.SIGTERM)
            await wait_until_async(lambda: app.gone is not None, pilot.pause,
                                   what="the exit noticed without live refresh")
            await settle(app, pilot)
            assert "killed by signal 15 (SIGTERM)" in app.query_one("#banner").render().plain
            view = app.view("map")
            assert view.has_class("gone")
            assert view.border_title == (f"last snapshot of pid {pid} "
                                         "(exited: killed by signal 15 (SIGTERM))")
            with pytest.raises(psutil.NoSuchProcess):  # reaped: no zombie left
                psutil.Process(pid).status()
    finally:
        source.stop()


async def test_attaching_to_an_exited_pid_keeps_the_current_process(live_source):
    other = subprocess.Popen(["sleep", "60"])
    other.kill()
    other.wait()
    app = MemlabApp(live_source)
    async with started(app, (120, 40)) as pilot:
        old = live_source.pid
        app.attach(other.pid)
        await settle(app, pilot)
        assert live_source.pid == old and app.snapshot.pid == old
        assert live_source.launched
        assert any("not attached" in str(n.message) for n in app._notifications)


def test_cli_launch_of_a_program_that_fails_shows_its_stderr_and_status():
    proc = subprocess.run([sys.executable, "-m", "memlab", "tui", "--launch", "/bin/sh",
                           "--", "-c", "echo oops >&2; exit 3"],
                          capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode != 0
    assert "oops" in proc.stderr and "exit status 3" in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.splitlines()) == 1


async def test_no_file_or_directory_left_after_q(tmp_path, monkeypatch):
    """A session that ran the Pod view's demo pod and replaced it by a launch leaves
    nothing behind once q is pressed: the pod directory and the state directories
    made for it (memlab.statedir) go."""
    import tempfile

    from tests.helpers import wait_until_async as wait

    run, tmp, home = tmp_path / "run", tmp_path / "tmp", tmp_path / "home"
    for d in (run, tmp, home):
        d.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(run))
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    source = LiveSource()
    try:
        app = MemlabApp(source)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("k")
            view = app.query_one("PodView")
            await pilot.click("#pod-run")
            await wait(lambda: view.state is not None, pilot.pause, what="the pod")
            assert str(run) in view.state["pod_dir"]
            assert any(run.iterdir())
            await pilot.press("q")
    finally:
        source.stop()
    assert list(run.iterdir()) == [] and list(tmp.iterdir()) == []
    assert list(home.iterdir()) == []


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_esc_cancels_the_hex_jump_prompt_after_a_bad_address(size):
    from tests.tui import fakes

    app = MemlabApp(fakes.fake_source())
    async with started(app, size) as pilot:
        await pilot.press("x")
        await settle(app, pilot)
        await pilot.press("j", "z", "z", "enter")  # not a hex address: the prompt stays
        box = app.query_one("#hex-goto")
        assert box.display and app.focused is box
        await pilot.press("escape")
        assert not box.display and box.value == ""
        assert app.focused is app.query_one("#hex-grid")


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_esc_releases_the_pod_manifest_input_and_q_quits(size):
    from textual.widgets import Input

    from tests.tui import fakes

    app = MemlabApp(fakes.fake_source())
    async with started(app, size) as pilot:
        await pilot.press("k")
        await pilot.pause()
        assert not isinstance(app.focused, Input)  # the view's keys work at once
        manifest = app.query_one("#pod-manifest", Input)
        before = manifest.value
        manifest.focus()
        await pilot.press("escape")
        assert not isinstance(app.focused, Input)
        await pilot.press("q")
        assert manifest.value == before  # q quit, it did not type into the manifest
        assert app._exit  # noqa: SLF001 - the app is leaving


async def test_ctrl_s_from_the_launch_panel_saves_to_xdg_pictures(tmp_path, monkeypatch):
    from tests.tui import fakes

    monkeypatch.setenv("XDG_PICTURES_DIR", str(tmp_path / "pics"))
    monkeypatch.chdir(tmp_path)
    app = MemlabApp(fakes.fake_source())
    async with started(app, (120, 40)) as pilot:
        await pilot.press("l")
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
        saved = list((tmp_path / "pics").iterdir())
        assert len(saved) == 1 and saved[0].suffix == ".svg"
        assert any(str(saved[0]) in str(n.message) for n in app._notifications)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pics"]  # not the cwd


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_ctrl_c_says_how_to_quit_in_plain_words_and_palette_has_one_screenshot(size):
    from tests.tui import fakes

    app = MemlabApp(fakes.fake_source())
    async with started(app, size) as pilot:
        await pilot.press("ctrl+c")
        await pilot.pause()
        said = " ".join(str(n.message) for n in app._notifications)
        assert "ctrl+q" in said and "[b]" not in said
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert sum("Screenshot" in t for t in titles) == 1


async def test_drive_speaks_english_and_highlights_stay_until_the_next_command(live_source):
    from memlab.tui.widgets.drive import DriveView

    app = MemlabApp(live_source)
    async with started(app, (120, 40)) as pilot:
        app.run_command("scrub DB_PASSWORD")
        await settle(app, pilot, rounds=5)
        log = "\n".join(app.query_one(DriveView).history)
        assert "overwrote DB_PASSWORD's value with X, in place (7 bytes at 0x" in log
        assert '"cmd"' not in log  # no raw JSON unless asked (J)
        assert len(app.view("env")._changed) == 7
        for _ in range(2):  # refreshes that bring nothing new keep the highlight
            app.refresh_snapshot(forced=True)
            await settle(app, pilot)
        assert len(app.view("env")._changed) == 7
        app.run_command("malloc 4096")
        await settle(app, pilot, rounds=5)
        assert app.view("env")._changed == frozenset()  # the next command: cleared
        log = "\n".join(app.query_one(DriveView).history)
        assert "env block: no byte changed" not in log


async def test_live_mode_keeps_the_changed_bytes_highlight(live_source):
    app = MemlabApp(live_source, refresh_interval=0.1)
    async with started(app, (120, 40)) as pilot:
        await pilot.press("a")
        live_source._launched.command("scrub DB_PASSWORD")
        await wait_until_async(lambda: len(app.view("env")._changed) == 7, pilot.pause,
                               what="the scrub highlighted by a live refresh")
        # more refreshes, live and forced, that change nothing the views show
        app.refresh_snapshot(forced=False)
        await settle(app, pilot)
        app.refresh_snapshot(forced=True)
        await settle(app, pilot)
        assert len(app.view("env")._changed) == 7


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_picker_user_processes_first_kernel_threads_folded_current_marked(size):
    from textual.widgets import Input

    from tests.tui import fakes

    app = MemlabApp(fakes.fake_source())
    async with started(app, size) as pilot:
        await pilot.press("p")
        await settle(app, pilot)
        table = app.screen.query_one("#picker-table", DataTable)
        names = cells(table, 3)
        assert names == ["init", "nginx", "sleeper", "bash", "1 kernel thread"]
        assert cells(table, 0)[names.index("sleeper")] == "▶"  # the process on screen
        assert cells(table, 4)[names.index("nginx")] == "nginx: worker process"
        assert cells(table, 5)[names.index("nginx")].startswith("no: owned by uid 65534")
        table.focus()
        await pilot.press("slash")  # back to the filter
        assert app.focused is app.screen.query_one("#picker-filter", Input)
        await pilot.press(*"worker")  # the command line is searched too
        await pilot.pause()
        assert cells(table, 3) == ["nginx"]
        app.screen.query_one("#picker-filter", Input).value = ""
        await pilot.pause()
        table.move_cursor(row=table.row_count - 1)
        table.focus()
        await pilot.press("enter")  # unfolds the kernel threads
        await pilot.pause()
        assert cells(table, 3)[-1] == "kthreadd"


def test_real_process_list_has_command_lines_and_kernel_threads():
    from memlab.processes import list_processes

    rows = {p.pid: p for p in list_processes()}
    me = rows[os.getpid()]
    assert sys.executable.rsplit("/", 1)[-1] in me.cmdline and not me.kernel_thread
    if 2 in rows:  # kthreadd (absent in a pid namespace)
        assert rows[2].kernel_thread and rows[2].cmdline == ""


async def test_drive_and_palette_offer_commands_only_to_a_sample():
    source = LiveSource()
    source.launch(LaunchRequest("/usr/bin/sleep", (b"DB_PASSWORD=x1",), args=("600",)))
    try:
        app = MemlabApp(source)
        async with started(app, (120, 40)) as pilot:
            await pilot.press("d")
            await settle(app, pilot)
            help_text = app.query_one("#drive-help").render().plain
            assert "does not understand commands" in help_text
            titles = [c.title for c in app.get_system_commands(app.screen)]
            assert not any(t.startswith(("scrub ", "unsetenv ", "malloc ")) for t in titles)
    finally:
        source.stop()


async def test_a_lessons_process_is_not_shown_as_attached():
    from memlab.launch import launch
    from memlab.tui.source import demo_env

    lesson_proc = launch("sleeper", env=demo_env(), hold="ready")
    try:
        app = MemlabApp(LiveSource())
        async with app.run_test(size=(120, 40)) as pilot:
            app.attach(lesson_proc.pid)  # what the lesson pane does
            await settle(app, pilot)
            status = app.query_one("#status").render().plain
            assert "attached (read-only)" not in status and "started by a lesson" in status
    finally:
        lesson_proc.kill()


async def test_stack_view_shows_all_of_at_random_and_one_string(live_source):
    from tests.tui.conftest import screen_text

    app = MemlabApp(live_source)
    async with started(app, (120, 40)) as pilot:
        await pilot.press("s")
        await settle(app, pilot)
        table = app.query_one("#stack-table")
        row = next(i for i in range(table.row_count)
                   if table.get_row_at(i)[1].plain == "AT_RANDOM")
        table.move_cursor(row=row)
        await settle(app, pilot)
        assert app.snapshot.stack.at_random.hex() in screen_text(app)


async def test_one_string_is_singular():
    from tests.tui import fakes
    from tests.tui.conftest import screen_text

    snap, memory = fakes.build(env=(b"A=1",))
    app = MemlabApp(fakes.FakeSource([snap], memory=memory))
    async with started(app, (120, 40)) as pilot:
        await pilot.press("e")
        await settle(app, pilot)
        text = screen_text(app)
        assert "1 string" in text and "1 strings" not in text


async def test_views_never_pass_the_previous_process_off_as_the_new_one():
    from memlab.errors import NoSuchProcess

    from tests.tui import fakes

    class Switching(fakes.FakeSource):
        def attach(self, pid: int) -> None:
            super().attach(pid)
            self.pid = pid

        def snapshot(self):
            if self.pid != fakes.PID:
                raise NoSuchProcess("exited at once", pid=self.pid)
            return super().snapshot()

    snap, memory = fakes.build()
    app = MemlabApp(Switching([snap], memory=memory))
    async with started(app, (120, 40)) as pilot:
        await pilot.press("e")
        await settle(app, pilot)
        app.attach(fakes.PID + 1)
        await settle(app, pilot)
        env = app.view("env")
        assert env.has_class("gone")
        assert env.border_title.startswith(f"pid {fakes.PID}'s last snapshot, not "
                                           f"pid {fakes.PID + 1}'s")


def test_a_program_that_dies_at_once_takes_its_process_group_with_it():
    from memlab.errors import LaunchError

    source = LiveSource()
    try:
        with pytest.raises(LaunchError) as info:
            source.launch(LaunchRequest("/bin/sh", (), args=(
                "-c", "sleep 600 & echo $! >&2; exit 0")))
        child = int(str(info.value.msg).rsplit("last stderr: ", 1)[1])
        # killed with the group (its reaper is init: it may linger as a zombie)
        wait_until(lambda: gone(child), 10, what=f"pid {child} to end with its group")
        assert source.pid is None
    finally:
        source.stop()
