"""The TUI on its Lessons view, for pilot tests of the lesson pane."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from textual.pilot import Pilot

from memlab.tui.app import MemlabApp
from memlab.tui.source import LaunchRequest, LiveSource, demo_env
from tests.tui.conftest import settle


@contextlib.asynccontextmanager
async def lessons_view(size: tuple[int, int] = (120, 40), lang: str | None = None
                       ) -> AsyncIterator[tuple[MemlabApp, Pilot]]:
    """(app, pilot): memlab's TUI at SIZE on a demo sleeper, showing the Lessons view;
    the sleeper (and whatever a lesson launched) ends with it."""
    source = LiveSource()
    source.launch(LaunchRequest("sleeper", tuple(demo_env()), no_aslr=True))
    app = MemlabApp(source, lang=lang)
    try:
        async with app.run_test(size=size) as pilot:
            await settle(app, pilot)
            await pilot.press("g")
            await settle(app, pilot)
            yield app, pilot
    finally:
        source.stop()
