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


async def test_maps_table_shows_each_regions_resident_share(live_source):
    """The rss column is smaps Rss over the mapping's size, per maps line: after touching
    150 of 200 reserved pages, the line holding them (merged with a neighbour, maybe)
    says what smaps says of it, and the untouched [vvar] says 0."""
    from tests.tui.conftest import cells, started

    app = MemlabApp(live_source)
    async with started(app, (120, 40)) as pilot:
        app.query_one(DriveView).raw_json = True
        app.run_command(f"reserve {200 * 4096}")
        await settle(app, pilot, rounds=5)
        pages = answer(app, "reserve")["pages_start"]  # "0x…", as the sample prints it
        start = int(pages, 16)
        app.run_command(f"touch {pages} 150")
        await settle(app, pilot, rounds=5)
        await pilot.press("r")
        await settle(app, pilot)
        snap = app.snapshot
        table = app.query_one("#regions")
        shares = cells(table, "rss")
        i = next(i for i, r in enumerate(snap.regions) if r.start <= start < r.end)
        region, rss = snap.regions[i], snap.memory.regions[i].rss
        assert rss >= 150 * 4096
        assert shares[i] == f"{rss * 100 // region.size}%", (shares[i], rss, region.size)
        assert shares[[r.label for r in snap.regions].index("[vvar]")] == "0"
