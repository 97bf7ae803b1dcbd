"""Resident memory in the TUI, on a real sleeper: the Drive view reports RSS growth after
`touch` (malloc reserves, touching commits), the Map view says what a region has in RAM
and which regions are thread stacks."""

from __future__ import annotations

import json
import re

from memlab.tui.app import MemlabApp
from memlab.tui.widgets.drive import DriveView
from tests.helpers import wait_until_async
from tests.tui.conftest import settle


def history(app) -> str:
    return "\n".join(app.query_one(DriveView).history)


def growth_kib(app, cmd: str) -> float:
    """The RSS growth Drive logged after cmd (0 when it logged none)."""
    lines = app.query_one(DriveView).history
    at = max(i for i, h in enumerate(lines) if h.startswith(f"> {cmd}"))
    for h in lines[at + 1:]:
        if h.startswith("> "):
            break
        m = re.search(r"resident \(smaps Rss\): ([+-][0-9.]+) (B|KiB|MiB)", h)
        if m:
            return float(m[1]) * {"B": 1 / 1024, "KiB": 1, "MiB": 1024}[m[2]]
    return 0.0


def answer(app, cmd: str) -> dict:
    """The sample's JSON answer to cmd, from the Drive log: with raw_json on, the line
    under the sentence (`> cmd  → sentence` then `    {...}`)."""
    line = [h for h in app.query_one(DriveView).history if h.startswith(f"> {cmd}")][-1]
    return json.loads(line.rsplit("\n", 1)[1])


async def test_touch_shows_resident_growth_and_map_details(live_source):
    from tests.tui.conftest import started

    app = MemlabApp(live_source)
    async with started(app, (120, 40)) as pilot:
        assert app.snapshot.memory is not None  # the live source reads smaps
        app.query_one(DriveView).raw_json = True  # the answers' JSON too (J)
        app.run_command(f"reserve {200 * 4096}")
        await settle(app, pilot, rounds=5)
        reserved = answer(app, "reserve")
        # reserving 800 KiB commits next to nothing (malloc's header, stdio)
        assert growth_kib(app, "reserve") < 200 * 4 / 4, history(app)
        app.run_command(f"touch {reserved['pages_start']} 150")
        await settle(app, pilot, rounds=5)
        assert growth_kib(app, "touch") >= 150 * 4, history(app)  # 150 pages now in RAM
        app.run_command("threads 2")
        await settle(app, pilot, rounds=5)
        tids = answer(app, "threads")["tids"]
        assert len(tids) == 2

        async def refresh(interval: float) -> None:
            # a thread still on its way into pause() runs: it has no sp to show yet
            await pilot.press("r")
            await pilot.pause(interval)

        await wait_until_async(
            lambda: [r.kind for r in app.snapshot.regions].count("thread-stack") == 2,
            refresh, what="both threads' stacks labelled")
        await pilot.press("m")
        details = app.query_one("#region-details").render().plain
        assert "in RAM" in details and "(/proc/PID/smaps)" in details
