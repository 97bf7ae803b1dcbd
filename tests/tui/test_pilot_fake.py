"""Pilot tests of every screen and action against a FakeSource (no process needed)."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import DataTable, Input, Static

from memlab.exposure.search import JUDGE
from memlab.tui.app import MemlabApp
from memlab.tui.widgets.drive import DriveView
from memlab.tui.widgets.hexview import HexGrid
from memlab.tui.widgets.virtual import VirtualTable
from tests.helpers import wait_until_async
from tests.tui import fakes
from tests.tui.conftest import cells, screen_text, settle, started


def env_hex(app) -> str:
    """The Env view's hex dump, every line (it is virtual: drawn a screen at a time)."""
    dump = app.query_one("#env-hex")
    return "\n".join(dump.line_text(y).plain for y in range(dump.line_count))


def log_text(app) -> str:
    return "\n".join(app.query_one(DriveView).history)


async def test_map_view_tower_table_and_details():
    app = MemlabApp(fakes.fake_source())
    async with started(app, (120, 40)) as pilot:
        table = app.query_one("#regions", VirtualTable)
        paths = cells(table, "path")
        assert "[heap]" in paths and "[stack]" in paths  # Text cells: markup did not eat them
        tower = app.query_one("#tower").build().plain
        assert "[stack]" in tower and "[heap]" in tower and "env strings" in tower
        assert tower.index("[stack]") < tower.index("[heap]")  # highest address on top
        # the cursor starts on [stack]; moving it updates the details
        assert "[stack]" in str(app.query_one("#region-details", Static).render())
        table.focus()
        heap_row = paths.index("[heap]")
        table.move_cursor(row=heap_row)
        await pilot.pause()
        details = str(app.query_one("#region-details", Static).render())
        assert "[heap]" in details and "brk" in details
        assert app.query_one("#tower").selected == heap_row
        # selecting a block in the tower moves the table
        await pilot.press("tab")  # focus moves on; use the message path directly
        app.query_one("#tower").post_message(app.query_one("#tower").Selected(0))
        await pilot.pause()
        assert table.cursor_row == 0


async def test_enter_on_region_opens_hex_view_of_it():
    src = fakes.fake_source()
    app = MemlabApp(src)
    async with started(app, (120, 40)) as pilot:
        table = app.query_one("#regions", VirtualTable)
        table.focus()
        heap_row = cells(table, "path").index("[heap]")
        table.move_cursor(row=heap_row)
        await pilot.press("x")
        await settle(app, pilot)
        assert app.query_one("#views").active == "hex"
        grid = app.query_one(HexGrid)
        assert grid.hex_region.path == "[heap]"
        assert grid.rows and min(grid.rows) == fakes.HEAP[0]
        assert grid.rows[fakes.HEAP[0]] == bytes(range(16))


async def test_env_view_masks_until_reveal():
    app = MemlabApp(fakes.fake_source())
    async with started(app, (120, 40)) as pilot:
        await pilot.press("e")
        entries = app.query_one("#env-entries", VirtualTable)
        assert cells(entries, 2)[:2] == ["DB_PASSWORD", "LOG_LEVEL"]
        assert cells(entries, 3)[:2] == ["***", "info"]
        hexdump = env_hex(app)
        assert "hunter2" not in hexdump and "68 75 6e" not in hexdump and "ORD=*******" in hexdump
        assert "matches /proc/PID/environ" in app.query_one("#env-summary").render().plain
        await pilot.press("v")
        await pilot.pause()
        assert cells(entries, 3)[0] == "hunter2"
        assert "ORD=hunter2" in env_hex(app)
        assert "REVEALED" in app.query_one("#status").render().plain


async def test_stack_view_decodes_pointers_and_auxv():
    app = MemlabApp(fakes.fake_source())
    async with started(app, (120, 40)) as pilot:
        await pilot.press("s")
        table = app.query_one("#stack-table", VirtualTable)
        fields = cells(table, 1)
        assert fields[:3] == ["argc", "argv[0]", "argv[1]"]
        assert "AT_RANDOM" in fields and "AT_EXECFN" in fields and "padding" in fields
        meaning = dict(zip(fields, cells(table, 3)))
        assert meaning["AT_RANDOM"].startswith(bytes(range(16)).hex())
        assert "'x86_64'" in meaning["AT_PLATFORM"]
        assert meaning["envp[0]"] == "DB_PASSWORD=***"
        assert "auxv matches /proc/PID/auxv" in app.query_one("#stack-summary").render().plain


async def test_drive_scrub_highlights_changed_bytes_unsetenv_does_not():
    src = fakes.fake_source()
    app = MemlabApp(src)
    async with started(app, (120, 40)) as pilot:
        await pilot.press("colon")
        assert app.focused is app.query_one("#cmdline", Input)
        await pilot.press(*"unsetenv DB_PASSWORD", "enter")
        await settle(app, pilot)
        assert src.commands == ["unsetenv DB_PASSWORD"]
        assert "env block: no byte changed" in log_text(app)
        app.query_one("#cmdline", Input).value = "scrub DB_PASSWORD"
        await pilot.press("enter")
        await settle(app, pilot)
        assert src.commands[-1] == "scrub DB_PASSWORD"
        assert "7 bytes changed" in log_text(app)
        env_view = app.view("env")
        entry = app.snapshot.env.entries[0]
        start = entry.address + len("DB_PASSWORD=")
        assert env_view._changed == frozenset(range(start, start + 7))
        assert "7 byte(s) changed since last refresh" in \
            app.query_one("#env-summary").render().plain


async def test_bad_command_and_read_only_attach_are_reported():
    src = fakes.fake_source(launched=False)
    app = MemlabApp(src)
    async with started(app, (120, 40)) as pilot:
        app.run_command("rm -rf /")
        await settle(app, pilot)
        assert "unknown command 'rm'" in log_text(app)
        app.run_command("unsetenv A")
        await settle(app, pilot)
        assert "read-only" in log_text(app) and src.commands == []
        assert "attached (read-only)" in app.query_one("#status").render().plain


async def test_hex_view_reads_only_visible_rows_and_marks_unreadable():
    src = fakes.fake_source()
    app = MemlabApp(src)
    async with started(app, (100, 30)) as pilot:
        await pilot.press("x")
        await settle(app, pilot)
        grid = app.query_one(HexGrid)
        assert grid.hex_region.path == "[stack]"
        height = grid.size.height
        # it opened at the env block: rows there are read, nothing else
        env = app.snapshot.env
        assert any(a <= env.start < a + 16 for a in grid.rows)
        # the rows on screen, and JUDGE bytes either side to judge the strings they cut
        # (secrets are masked by their whole NAME=value, memlab.secrets.Masker)
        assert all(size <= max(height * 16, JUDGE) for _, size in src.reads)
        src.reads.clear()
        grid.scroll_to(0, 0, animate=False)  # the bottom of [stack]: not in fake memory
        await settle(app, pilot)
        first = fakes.STACK_BOTTOM
        assert grid.rows[first] is None
        assert "unreadable" in grid.render_line(0).text
        # one window read, then row by row (to find which rows fail): never beyond it
        # but for the JUDGE bytes after it
        assert all(first <= a < first + height * 16 for a, n in src.reads if n < JUDGE)
        assert all(a + n <= first + height * 16 + JUDGE for a, n in src.reads)
        await pilot.press("j")
        await pilot.press(*hex(fakes.STACK_TOP - 16), "enter")
        await settle(app, pilot)
        row = (fakes.STACK_TOP - 16 - first) // grid.per_row  # the last row: clamped
        top = int(grid.scroll_offset.y)
        assert top > 0 and top <= row < top + grid.size.height
        assert grid.rows[fakes.STACK_TOP - 16][-8:] == b"\0" * 8  # the end marker


async def test_launch_panel_edits_env_and_launches():
    src = fakes.fake_source()
    app = MemlabApp(src)
    async with started(app, (120, 40)) as pilot:
        await pilot.press("l")
        await pilot.pause()
        panel = app.screen
        assert type(panel).__name__ == "LaunchPanel"
        assert panel.env[0] == b"DB_PASSWORD=hunter2"
        panel.query_one("#env-name", Input).value = "API_TOKEN"
        panel.query_one("#env-value", Input).value = "abc 123"
        await pilot.click("#env-set")
        assert panel.env[-1] == b"API_TOKEN=abc 123"
        panel.query_one("#env-name", Input).value = "LOG_LEVEL"
        await pilot.click("#env-delete")
        assert not any(e.startswith(b"LOG_LEVEL=") for e in panel.env)
        masked = cells(panel.query_one("#launch-env", DataTable), 1)
        assert masked[-1] == "***"  # API_TOKEN looks secret
        await pilot.click("#launch-no-aslr")
        await pilot.click("#launch-go")
        await settle(app, pilot)
        req = src.launches[-1]
        assert req.target == "sleeper" and req.no_aslr
        assert b"API_TOKEN=abc 123" in req.env and not any(e.startswith(b"LOG_LEVEL")
                                                            for e in req.env)
        # clear all = env -i, and a path instead of a sample
        await pilot.press("l")
        await pilot.pause()
        await pilot.click("#env-clear")
        app.screen.query_one("#launch-path", Input).value = "/usr/bin/sleep"
        await pilot.click("#launch-go")
        await settle(app, pilot)
        assert src.launches[-1].env == () and src.launches[-1].target == "/usr/bin/sleep"
        await pilot.press("l")
        await pilot.pause()
        await pilot.press("escape")
        assert len(src.launches) == 2 and app.screen is app.screen_stack[0]


async def test_process_picker_filters_refuses_unreadable_and_attaches():
    src = fakes.fake_source()
    app = MemlabApp(src)
    async with started(app, (120, 40)) as pilot:
        await pilot.press("p")
        await settle(app, pilot)
        table = app.screen.query_one("#picker-table", DataTable)
        # kthreadd folded into one row, last
        assert table.row_count == len(fakes.PROCESSES)
        assert cells(table, 3)[-1] == "1 kernel thread"
        await pilot.press(*"nginx")
        await pilot.pause()
        assert cells(table, 3) == ["nginx"]
        await pilot.press("enter")  # not readable: refused, picker stays
        await pilot.pause()
        assert src.attached == [] and type(app.screen).__name__ == "ProcessPicker"
        app.screen.query_one("#picker-filter", Input).value = "bash"
        await pilot.pause()
        await pilot.press("enter")
        await settle(app, pilot)
        assert src.attached == [5000]
        assert type(app.screen).__name__ != "ProcessPicker"


async def test_help_screen_lists_keys_and_views():
    app = MemlabApp(fakes.fake_source())
    async with started(app, (120, 40)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert type(app.screen).__name__ == "HelpScreen"
        text = screen_text(app)
        for word in ("Launch", "Attach", "Screenshot", "Reveal", "Map", "Env", "Stack",
                     "Hex", "Drive", "the env block at the top of"):
            assert word in text, word
        await pilot.press("escape")
        assert type(app.screen).__name__ != "HelpScreen"


async def test_command_palette_has_view_and_per_variable_entries():
    src = fakes.fake_source()
    app = MemlabApp(src)
    async with started(app, (120, 40)) as pilot:
        commands = {c.title: c for c in app.get_system_commands(app.screen)}
        for title in ("View: Map", "Launch…", "Attach…", "Toggle live refresh",
                      "Screenshot (SVG)", "scrub DB_PASSWORD", "unsetenv LOG_LEVEL",
                      "copy DB_PASSWORD", "malloc 1048576"):
            assert title in commands, title
        commands["scrub DB_PASSWORD"].callback()
        await settle(app, pilot)
        assert src.commands == ["scrub DB_PASSWORD"]
        commands["View: Stack"].callback()
        await pilot.pause()
        assert app.query_one("#views").active == "stack"
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert type(app.screen).__name__ == "CommandPalette"


async def test_live_refresh_is_cheap_when_nothing_changed():
    src = fakes.fake_source()
    app = MemlabApp(src, refresh_interval=0.05)
    async with started(app, (120, 40)) as pilot:
        shown, calls = app.snapshots_shown, src.snapshot_calls
        await pilot.press("a")
        assert app.live and "live on" in app.query_one("#status").render().plain
        await wait_until_async(lambda: src.snapshot_calls >= calls + 3, pilot.pause,
                               what="three polls")  # it polled ...
        await settle(app, pilot)
        assert app.snapshots_shown == shown  # ... and redrew nothing
        src.index = 2  # the process changed (scrubbed): the next tick shows it
        await wait_until_async(lambda: app.snapshots_shown == shown + 1, pilot.pause,
                               what="the changed snapshot shown")
        await pilot.press("a")
        calls = src.snapshot_calls
        await pilot.pause(0.3)  # time passes with live off: no polling is the test
        assert not app.live and src.snapshot_calls <= calls + 1


async def test_vanished_process_is_reported_in_place():
    src = fakes.fake_source(gone_after=1)
    app = MemlabApp(src)
    async with started(app, (120, 40)) as pilot:
        await pilot.press("r")
        await settle(app, pilot)
        banner = app.query_one("#banner", Static)
        assert banner.display and "process exited" in banner.render().plain
        assert "GONE" in app.query_one("#status").render().plain
        assert app.snapshot is not None  # the last snapshot stays on screen
        assert "[heap]" in cells(app.query_one("#regions", VirtualTable), "path")


async def test_screenshot_key_saves_svg(tmp_path: Path):
    app = MemlabApp(fakes.fake_source(), screenshot_dir=str(tmp_path))
    async with started(app, (80, 24)) as pilot:
        await pilot.press("ctrl+s")
        await pilot.pause()
        files = list(tmp_path.glob("*.svg"))
        assert len(files) == 1 and files[0].read_text().startswith("<svg")
        assert files[0].stat().st_mode & 0o777 == 0o600  # it may show revealed secrets


async def test_screenshot_refuses_a_directory_others_can_write(tmp_path: Path):
    """A world-writable (or linked) screenshot directory is refused, nothing written: as
    root, another user could have planted a link where the file goes."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    linked = tmp_path / "linked"
    linked.symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (tmp_path / "elsewhere").mkdir()
    for directory in (shared, linked):
        app = MemlabApp(fakes.fake_source(), screenshot_dir=str(directory))
        async with started(app, (80, 24)) as pilot:
            await pilot.press("ctrl+s")
            await pilot.pause()
        assert not list(tmp_path.rglob("*.svg"))


async def test_q_quits_and_stops_the_source():
    src = fakes.fake_source()
    app = MemlabApp(src)
    async with started(app, (80, 24)) as pilot:
        await pilot.press("q")
        await pilot.pause()
    assert src.stopped and app.return_code == 0


async def test_side_pane_slot_for_lessons():
    app = MemlabApp(fakes.fake_source())
    async with started(app, (120, 40)) as pilot:
        pane = app.query_one("#side-pane")
        assert not pane.display
        app.open_side_pane(Static("lesson 1", id="lesson"))
        await pilot.pause()
        assert pane.display and app.query_one("#lesson").region.width > 0
        app.close_side_pane()
        await pilot.pause()
        assert not pane.display and not app.query("#lesson")


async def test_initial_snapshot_is_shown_without_a_worker():
    src = fakes.fake_source()
    first = src.snapshot()
    calls = src.snapshot_calls
    app = MemlabApp(src, initial=first)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.snapshots_shown == 1 and app.snapshot is first
        assert src.snapshot_calls == calls  # no read needed for the first screen


async def test_launch_panel_edits_a_row_in_place_and_keeps_secrets_out_of_the_box():
    src = fakes.fake_source()
    app = MemlabApp(src)
    async with started(app, (120, 40)) as pilot:
        await pilot.press("l")
        await pilot.pause()
        panel = app.screen
        table = panel.query_one("#launch-env", DataTable)
        table.focus()
        table.move_cursor(row=0)  # DB_PASSWORD: a secret
        await pilot.pause()
        assert panel.query_one("#env-name", Input).value == "DB_PASSWORD"
        assert panel.query_one("#env-value", Input).value == ""  # not copied out
        table.move_cursor(row=1)  # LOG_LEVEL=info
        await pilot.pause()
        assert panel.query_one("#env-value", Input).value == "info"
        panel.query_one("#env-value", Input).value = "debug"
        await pilot.click("#env-set")
        assert panel.env[1] == b"LOG_LEVEL=debug" and len(panel.env) == len(fakes.ENV)


async def test_tower_keyboard_selection_follows_address_order():
    app = MemlabApp(fakes.fake_source())
    async with started(app, (120, 40)) as pilot:
        tower = app.query_one("#tower")
        tower.focus()
        regions = app.snapshot.regions
        start = regions[tower.selected].start
        await pilot.press("down")  # down the tower = lower addresses
        await pilot.pause()
        assert regions[tower.selected].start < start
        assert app.query_one("#regions", VirtualTable).cursor_row == tower.selected
        await pilot.press("up", "up")
        await pilot.pause()
        assert regions[tower.selected].start > start
