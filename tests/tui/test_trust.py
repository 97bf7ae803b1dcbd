"""The TUI's verdicts, launch, attach and prompts you can trust: each test drives the
app with a Pilot against a real process (c_samples) or the fake source."""

from __future__ import annotations

from textual.widgets import DataTable

from memlab.tui.app import MemlabApp
from tests.helpers import wait_until_async
from tests.tui.conftest import started


def cells(table: DataTable, column: int) -> list[str]:
    return [table.get_row_at(i)[column].plain for i in range(table.row_count)]


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
