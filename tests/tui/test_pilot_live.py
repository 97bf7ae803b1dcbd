"""Pilot tests against a real sleeper sample (launched from the test's main thread)."""

from __future__ import annotations

import os
import signal
import subprocess
import threading

from textual.widgets import DataTable, Input

from memlab.errors import LaunchError
from memlab.exposure.search import JUDGE
from memlab.tui.app import MemlabApp
from memlab.tui.source import LaunchRequest, LiveSource
from memlab.tui.widgets.drive import DriveView
from memlab.tui.widgets.hexview import HexGrid
from memlab.tui.widgets.virtual import VirtualTable
from tests.helpers import gone, wait_until, wait_until_async
from tests.tui.conftest import cells, settle, started


def history(app) -> str:
    return "\n".join(app.query_one(DriveView).history)


async def test_real_sample_in_every_view(live_source):
    app = MemlabApp(live_source)
    async with started(app, (120, 40)) as pilot:
        snap = app.snapshot
        assert snap.pid == live_source.pid
        paths = cells(app.query_one("#regions", VirtualTable), "path")
        assert "[heap]" in paths and "[stack]" in paths
        assert len(paths) == len(snap.regions)
        await pilot.press("e")
        entries = app.query_one("#env-entries", VirtualTable)
        assert cells(entries, 2) == ["DB_PASSWORD", "LOG_LEVEL", "PATH", "HOME", "LANG"]
        assert cells(entries, 3)[:2] == ["***", "info"]
        assert "matches /proc/PID/environ" in app.query_one("#env-summary").render().plain
        await pilot.press("s")
        fields = cells(app.query_one("#stack-table", VirtualTable), 1)
        assert fields[0] == "argc" and "AT_RANDOM" in fields and "AT_EXECFN" in fields
        await pilot.press("x")
        await settle(app, pilot)
        grid = app.query_one(HexGrid)
        assert grid.hex_region.path == "[stack]"
        # the rows on screen hold the env block, read from the live process
        dump = b"".join(v for v in grid.rows.values() if v)
        assert b"LOG_LEVEL=info" in dump
        # at most two windows, each with JUDGE bytes either side (to judge the strings
        # the window cuts: memlab.secrets.Masker.byte_spans)
        assert live_source.bytes_read <= (grid.size.height * 16 + 2 * JUDGE) * 2


async def test_unsetenv_keeps_bytes_scrub_overwrites_them(live_source):
    app = MemlabApp(live_source)
    async with started(app, (120, 40)) as pilot:
        app.run_command("unsetenv LOG_LEVEL")
        await settle(app, pilot, rounds=5)
        assert "env block: no byte changed" in history(app)
        # /proc/PID/environ still shows it: the bytes execve wrote are untouched
        assert any(e.name == "LOG_LEVEL" for e in app.snapshot.proc_environ)
        app.run_command("scrub DB_PASSWORD")
        await settle(app, pilot, rounds=5)
        assert "7 bytes changed" in history(app)
        env = app.snapshot.env
        assert b"DB_PASSWORD=XXXXXXX" in env.raw
        entry = next(e for e in env.entries if e.name == "DB_PASSWORD")
        start = entry.address + len("DB_PASSWORD=")
        assert app.view("env")._changed == frozenset(range(start, start + 7))


async def test_malloc_shows_a_new_mapping_or_heap_growth(live_source):
    app = MemlabApp(live_source)
    async with started(app, (120, 40)) as pilot:
        before = len(app.snapshot.regions)
        app.run_command(f"malloc {64 << 20}")  # above the mmap threshold: a new mapping
        await settle(app, pilot, rounds=5)
        text = history(app)
        assert "new mapping" in text or "grew by" in text, text
        assert len(app.snapshot.regions) >= before
        marks = app.view("map")._marks
        assert marks and set(marks.values()) <= {"new", "grew"}


async def test_launch_panel_replaces_the_process(live_source):
    app = MemlabApp(live_source)
    async with started(app, (120, 40)) as pilot:
        old = live_source.pid
        await pilot.press("l")
        await pilot.pause()
        panel = app.screen
        panel.query_one("#env-name", Input).value = "NEW_VAR"
        panel.query_one("#env-value", Input).value = "42"
        await pilot.click("#env-set")
        await pilot.click("#launch-go")  # dismiss -> launch on the event-loop thread
        await settle(app, pilot, rounds=5)
        assert live_source.pid != old and gone(old)
        assert app.snapshot.pid == live_source.pid
        assert any(e.raw == b"NEW_VAR=42" for e in app.snapshot.env.entries)


async def test_attach_from_picker_ends_the_launched_process(live_source):
    other = subprocess.Popen(["sleep", "60"])
    try:
        app = MemlabApp(live_source)
        async with started(app, (120, 40)) as pilot:
            launched = live_source.pid
            await pilot.press("p")
            await settle(app, pilot)
            await pilot.press(*str(other.pid))
            await pilot.pause()
            table = app.screen.query_one("#picker-table", DataTable)
            assert str(other.pid) in cells(table, 1)
            await pilot.press("enter")
            await settle(app, pilot, rounds=5)
            assert app.snapshot.pid == other.pid and gone(launched)
            assert "attached (read-only)" in app.query_one("#status").render().plain
    finally:
        other.kill()
        other.wait()


async def test_process_that_dies_is_reported_in_place(live_source):
    app = MemlabApp(live_source)
    async with started(app, (120, 40)) as pilot:
        os.kill(live_source.pid, signal.SIGKILL)
        # kill() only queues the signal: refresh once the kernel has ended it
        wait_until(lambda: gone(live_source.pid), what="the killed process to end")
        await pilot.press("r")
        await settle(app, pilot, rounds=5)
        banner = app.query_one("#banner")
        assert banner.display
        assert str(live_source.pid) in banner.render().plain
        assert app.snapshot is not None  # the last snapshot is still shown


def test_launch_refuses_a_worker_thread():
    source = LiveSource()
    errors = []

    def worker():
        try:
            source.launch(LaunchRequest("sleeper", ()))
        except LaunchError as err:
            errors.append(err)

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert errors and "main" in str(errors[0]) and source.pid is None


async def test_any_program_launches_but_only_samples_take_commands():
    source = LiveSource()
    source.launch(LaunchRequest("/usr/bin/sleep", (b"A=1",), args=("600",)))
    try:
        app = MemlabApp(source)
        async with started(app, (120, 40)) as pilot:
            assert app.snapshot.exe == "/usr/bin/sleep"
            assert [e.raw for e in app.snapshot.env.entries] == [b"A=1"]
            app.run_command("unsetenv A")
            await settle(app, pilot)
            assert "only the bundled samples understand commands" in history(app)
    finally:
        source.stop()


async def test_hex_view_marks_an_unreadable_region(live_source):
    app = MemlabApp(live_source)
    async with started(app, (120, 40)) as pilot:
        vvar = next(r for r in app.snapshot.regions if r.path == "[vvar]")
        app.query_one("HexView").open_region(vvar)
        app.action_show_view("hex")
        await settle(app, pilot, rounds=5)
        grid = app.query_one(HexGrid)
        assert grid.rows and all(v is None for v in grid.rows.values())
        assert "unreadable" in grid.render_line(0).text


async def test_live_refresh_follows_a_change_made_elsewhere(live_source):
    app = MemlabApp(live_source, refresh_interval=0.2)
    async with started(app, (120, 40)) as pilot:
        await pilot.press("a")
        # the sample changes without the TUI asking: scrub through the launcher
        live_source._launched.command("scrub DB_PASSWORD")
        await wait_until_async(lambda: b"DB_PASSWORD=XXXXXXX" in app.snapshot.env.raw,
                               pilot.pause, what="the scrub shown by a live refresh")
        assert len(app.view("env")._changed) == 7


async def test_secret_setenv_and_heap_copy_stay_masked(live_source):
    app = MemlabApp(live_source)
    async with started(app, (120, 40)) as pilot:
        app.run_command("setenv API_TOKEN tok-123456")
        await settle(app, pilot, rounds=4)
        assert "setenv API_TOKEN ***" in history(app) and "tok-123456" not in history(app)
        app.run_command("copy DB_PASSWORD")
        await settle(app, pilot, rounds=4)
        (start, end), = app.secret_copies
        assert end - start == len("hunter2")
        heap = app.snapshot.region_at(start)
        app.query_one("HexView").open_region(heap)
        app.action_show_view("hex")
        grid = app.query_one(HexGrid)
        grid.goto(start)
        await settle(app, pilot, rounds=4)
        row = start - (start - heap.start) % grid.per_row
        assert grid.rows[row] is not None and b"hunter2" in grid.rows[row] + \
            (grid.rows.get(row + grid.per_row) or b"")  # the bytes are really there
        def text_columns() -> str:  # the ASCII column of the row and the next one
            y = int((row - heap.start) // grid.per_row - grid.scroll_offset.y)
            return "".join(grid.render_line(y + i).text.rstrip()[-grid.per_row:]
                           for i in (0, 1))

        assert "hunter2" not in text_columns() and "*******" in text_columns()
        await pilot.press("v")  # reveal
        await settle(app, pilot, rounds=4)
        assert "hunter2" in text_columns()
