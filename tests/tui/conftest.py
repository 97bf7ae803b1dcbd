"""Fixtures for the TUI tests: a FakeSource app, and a real sample launched from the
test's main thread (PR_SET_PDEATHSIG is tied to the forking thread)."""

from __future__ import annotations

import asyncio
import contextlib
import inspect

import pytest

from memlab.tui.source import LaunchRequest, LiveSource, demo_env


def cells(table, column: int | str) -> list[str]:
    """The text of one column, every row; a VirtualTable's column may be named by its
    heading ("path"), so a new column does not shift what a test reads."""
    if isinstance(column, str):
        column = table.columns.index(column)
    return [table.get_row_at(i)[column].plain for i in range(table.row_count)]


async def settle(app, pilot, rounds: int = 3) -> None:
    """Let workers finish and their messages be handled."""
    for _ in range(rounds):
        await pilot.pause()
        await app.workers.wait_for_complete()
    await pilot.pause()


@contextlib.asynccontextmanager
async def started(app, size: tuple[int, int]):
    """app.run_test(size=SIZE) once the first snapshot has settled; yields the pilot."""
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        yield pilot


def screen_text(app) -> str:
    """What the terminal shows, as plain text (rendered like export_screenshot)."""
    import io

    from rich.console import Console

    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True,
                      color_system="truecolor", record=True, legacy_windows=False,
                      safe_box=False)
    console.print(app.screen._compositor.render_update(
        full=True, screen_stack=app._background_screens))
    return console.export_text()


@pytest.fixture
def live_source():
    """A LiveSource with the sleeper sample launched (demo env, no ASLR)."""
    source = LiveSource()
    source.launch(LaunchRequest("sleeper", tuple(demo_env()), no_aslr=True))
    yield source
    source.stop()


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem):
    """Run `async def` tests in a fresh event loop (no pytest-asyncio needed): Pilot
    tests are coroutines."""
    if inspect.iscoroutinefunction(pyfuncitem.obj):
        names = pyfuncitem._fixtureinfo.argnames
        kwargs = {n: pyfuncitem.funcargs[n] for n in names}
        asyncio.run(pyfuncitem.obj(**kwargs))
        return True
    return None
