"""The TUI against hostile processes: one that exits under the hex view, a 100,000-entry
environment, 60,000 mappings; and SIGTERM/SIGHUP while it is busy with them.

Real processes and the real /proc (memlab.launch from the test's main thread: its
PR_SET_PDEATHSIG is tied to the forking thread); the app is driven by Textual's pilot,
or run for real in a private tmux server.  Every wait polls with a generous deadline:
these tests say "it opens, `q` works, nothing escapes", never "it is fast" (that is
tests/bench/bench_tui.py)."""

from __future__ import annotations

import asyncio
import shutil
import signal
import sys

import psutil
import pytest

from textual.lazy import Lazy

from memlab.launch import launch
from memlab.tui.app import MemlabApp
from memlab.tui.source import LiveSource
from memlab.tui.widgets.hexview import HexGrid
from memlab.tui.widgets.virtual import VirtualTable
from tests.helpers import gone, sample, wait_until, wait_until_async
from tests.tui import fakes
from tests.tui.conftest import screen_text, settle

# 100,000 entries of 9 bytes + NUL, plus 8-byte pointers: 1.8 MB, under the quarter of an
# 8 MiB RLIMIT_STACK that execve allows for argv + envp (fs/exec.c bprm_stack_limits).
HUGE_ENV = [b"V%06d=x" % i for i in range(100_000)]
# Every other page mprotect'd: 60,000 maps lines, under vm.max_map_count's 65530.
MANY_MAPS = 60_000
# What opening the huge views may add to this process's RSS.  Measured: ~100 MiB (the
# snapshot itself: 100,000 EnvEntry and StackString objects).  One DataTable row per
# entry took ~1 GiB for 10,000 entries; a bound of 512 MiB tells the two apart.
RSS_GROWTH = 512 << 20
DEADLINE = 30.0  # generous: these are not timing tests


async def app_until(done, what: str, timeout: float = DEADLINE) -> None:
    """Poll `done` (the app runs on this event loop meanwhile).  asyncio.sleep, not
    pilot.pause: Pilot waits for every widget to process a callback, and one removed
    meanwhile (the Lazy placeholders of the tabs) leaves it waiting for ever."""
    await wait_until_async(done, asyncio.sleep, timeout, what=what)


def open_views_and_quit(victim, keys_and_needles) -> tuple[MemlabApp, int, dict]:
    """Attach to victim, show each view (key) until its needle is on screen, `q`.
    Returns the app, the RSS growth of this process while it ran, and the row count
    of each table."""
    source = LiveSource()
    source.attach(victim.pid)
    me = psutil.Process()
    before = me.memory_info().rss
    peak = before
    rows: dict[str, int] = {}

    async def drive() -> MemlabApp:
        nonlocal peak
        app = MemlabApp(source)
        async with app.run_test(size=(120, 40)) as pilot:
            # and every tab mounted: a key pressed while Textual still swaps the Lazy
            # placeholders can leave Pilot waiting on a removed one (see app_until)
            await app_until(lambda: app.snapshot is not None and not app.query(Lazy)
                             and len(app.all_views()) == len(app.views), "first snapshot")
            for key, needle in keys_and_needles:
                await pilot.press(key)
                await app_until(lambda needle=needle: needle in screen_text(app),
                                 f"{needle!r} on screen after {key!r}")
                peak = max(peak, me.memory_info().rss)
            rows.update({t.id: t.row_count for t in app.query(VirtualTable)})
            await pilot.press("q")
        return app

    try:
        app = asyncio.run(drive())
    finally:
        source.stop()
    return app, peak - before, rows


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
    class Broken(fakes.FakeSource):
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
            await app_until(lambda: app.return_code is not None, "the app to end")
        return app

    app = asyncio.run(drive())
    assert app.return_code == 1
    assert isinstance(app.crashed, RuntimeError) and "a bug in the reader" in str(app.crashed)


def test_a_100000_entry_environment_opens_and_q_quits():
    with launch("sleeper", (), HUGE_ENV, hold="ready", timeout=DEADLINE) as victim:
        app, growth, rows = open_views_and_quit(victim, [
            ("e", "V000000"),  # the first entries of the Env view's table
            ("s", "envp[0]"),  # the initial stack: 100,000 envp pointers
            ("x", "V0000"),  # the hex view opens on the env block
        ])
        assert victim.alive  # attached: q leaves it alone
    assert app.return_code == 0 and app.crashed is None
    assert rows["env-entries"] == len(HUGE_ENV)
    assert growth < RSS_GROWTH, f"RSS grew by {growth >> 20} MiB"


def test_60000_mappings_show_in_the_map_view_and_q_quits():
    # the needle is a name in the Env view's table: the hex dump may split a string
    # over two rows, depending on the length of the sample's path above it
    with launch("manymaps", [str(MANY_MAPS)], [b"MANYMAPS_MARKER=1"], hold="ready",
                timeout=DEADLINE) as victim:
        app, growth, rows = open_views_and_quit(victim, [("m", "[stack]"),
                                                         ("e", "MANYMAPS_MARKER")])
        assert rows["regions"] == len(app.snapshot.regions) > MANY_MAPS
    assert app.return_code == 0 and app.crashed is None
    assert growth < RSS_GROWTH, f"RSS grew by {growth >> 20} MiB"


@pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_signal_ends_a_busy_tui_and_its_child(tmp_path, sig):
    """A real `memlab tui` (tmux) on a launched process that execs into a 100,000-entry
    environment: show the Env view and signal memlab at once.  It leaves within the
    deadline (its handler runs on an event loop that is never blocked for long), and
    the launched process goes with it."""
    from tests.tui.test_real_tui import MEMLAB, Tmux

    huge = tmp_path / "huge-env"  # a #! script: memlab launches it, it execs the sample
    huge.write_text(f"#!{sys.executable}\nimport os\n"
                    f"os.execve({sample('sleeper')!r}, [{sample('sleeper')!r}], "
                    "{b'V%06d' % i: b'x' for i in range(100_000)})\n")
    huge.chmod(0o755)
    t = Tmux(f"{MEMLAB} tui --launch {huge}")
    memlab = None
    try:
        t.wait_for("[stack]", timeout=DEADLINE)
        memlab = t.memlab_process()
        # memlab's children: the launched process, and the reaper (memlab.reaper) that
        # outlives memlab only to kill what it launched
        (child,) = [c for c in memlab.children()
                    if not any(a.endswith('reaper.py') for a in c.cmdline())]
        def execd_on_screen() -> bool:
            if f"pid {child.pid} sleeper" in t.capture():
                return True
            t.keys("r")  # refresh: the next snapshot is taken after its execve
            return False
        wait_until(execd_on_screen, DEADLINE, interval=0.2, what=lambda: t.capture())
        t.keys("e")
        memlab.send_signal(sig)
        wait_until(lambda: gone(memlab.pid), DEADLINE, what=f"memlab to end on {sig.name}")
        wait_until(lambda: gone(child.pid), DEADLINE, what=f"its child to end on {sig.name}")
    finally:
        t.kill()
        if memlab is not None and not gone(memlab.pid):
            memlab.kill()  # a failed run leaves nothing behind (PDEATHSIG ends the child)
