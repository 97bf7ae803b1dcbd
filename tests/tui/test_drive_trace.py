"""Drive shows the system calls behind a sample command (LiveSource.command_traced,
memlab.trace.session.trace_while), on a real sleeper."""

from __future__ import annotations

from memlab.procfs.ptrace_state import tracer_pid
from memlab.tui.app import MemlabApp
from memlab.tui.widgets.drive import DriveView
from tests.helpers import wait_until_async
from tests.tui.conftest import started


def history(app) -> str:
    return "\n".join(app.query_one(DriveView).history)


async def test_malloc_shows_its_mmap_in_drive(live_source):
    app = MemlabApp(live_source)
    async with started(app, (120, 40)) as pilot:
        await pilot.press("d")
        app.run_command("malloc 100000000")
        text = await wait_until_async(
            lambda: "mmap(NULL, 100003840" in history(app) and history(app),
            pilot.pause, what="the mmap line in Drive")
        assert "PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS" in text
        assert tracer_pid(live_source.pid) == 0  # detached after the command
