"""The TUI against hostile processes: one that exits under the hex view, a 100,000-entry
environment, 60,000 mappings; and SIGTERM/SIGHUP while it is busy with them.

Real processes and the real /proc (memlab.launch from the test's main thread: its
PR_SET_PDEATHSIG is tied to the forking thread); the app is driven by Textual's pilot,
or run for real in a private tmux server.  Every wait polls with a generous deadline:
these tests say "it opens, `q` works, nothing escapes", never "it is fast" (that is
tests/bench/bench_tui.py)."""

from __future__ import annotations

import asyncio

from memlab.launch import launch
from memlab.tui.app import MemlabApp
from memlab.tui.source import FakeSource, LiveSource
from memlab.tui.widgets.hexview import HexGrid
from tests.tui.conftest import settle


def test_hex_view_of_a_process_that_exits_reports_it_in_place():
    """Attach, open Hex, the process exits, scroll: the worker's NoSuchProcess is shown
    in the banner and the unread rows as unreadable; the app keeps running and `q`
    leaves with status 0 (run_test re-raises anything that escaped a worker)."""
    victim = launch("sleeper", (), [b"A=1"], hold="ready")
    source = LiveSource()
    source.attach(victim.pid)

    async def drive() -> MemlabApp:
        app = MemlabApp(source)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(app, pilot)
            await pilot.press("x")
            await settle(app, pilot)
            victim.kill()  # SIGKILL and reap: /proc/PID is gone
            await pilot.press("home")
            for _ in range(3):
                await pilot.press("pagedown")
                await settle(app, pilot)
            banner = app.query_one("#banner")
            text = banner.render().plain
            assert banner.display and f"process {victim.pid} exited" in text, text
            assert "no such process" in text
            assert "unreadable" in app.query_one(HexGrid).render_line(0).text
            assert app.is_running and app.crashed is None
            await pilot.press("q")
        return app

    try:
        app = asyncio.run(drive())
    finally:
        victim.kill()
        source.stop()
    assert app.return_code == 0 and app.crashed is None


def test_an_unexpected_worker_error_ends_the_app_in_one_line():
    """A bug in a worker (here: a source whose reads raise RuntimeError) is not a
    traceback over the terminal: the app leaves with status 1 and keeps the error for
    the CLI's one-line "internal error"."""
    from tests.tui import fakes

    class Broken(FakeSource):
        broken = False

        def read_memory(self, addr: int, size: int):
            if self.broken:
                raise RuntimeError("a bug in the reader")
            return super().read_memory(addr, size)

    source = Broken(fakes.build())

    async def drive() -> MemlabApp:
        app = MemlabApp(source)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(app, pilot)
            source.broken = True
            app.query_one("HexView").open_region(app.snapshot.regions[0])  # new rows
            app.action_show_view("hex")
            # no pilot.pause from here: once the app has left, it would never return
            deadline = asyncio.get_running_loop().time() + 30
            while app.return_code is None and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.05)
        return app

    app = asyncio.run(drive())
    assert app.return_code == 1
    assert isinstance(app.crashed, RuntimeError) and "a bug in the reader" in str(app.crashed)
