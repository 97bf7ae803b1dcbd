"""Snapshot tests (pytest-textual-snapshot) of the main screens, at 80x24 and 120x40.

Deterministic: a FakeSource serves a fixed hand-built Snapshot (tests/tui/fakes.py): no
pids, addresses or timestamps that vary.  Update after a deliberate change with
`pytest tests/tui/test_snapshots.py --snapshot-update` and review the SVGs."""

from __future__ import annotations

import pytest

from memlab.tui.app import MemlabApp
from memlab.tui.views import load_views
from tests.tui import fakes
from tests.tui.conftest import settle

SIZES = [(80, 24), (120, 40)]
# The five core views only: a panel added later (exposure, pod, lessons) has its own
# snapshot and must not change these.
CORE_VIEWS = [v for v in load_views()[0] if v.id in ("map", "env", "stack", "hex", "drive")]


def steps(*actions):
    """run_before: let the first snapshot land, then do each action and settle."""

    async def run_before(pilot):
        app = pilot.app
        await settle(app, pilot)
        for action in actions:
            if callable(action):
                action(app)
            else:
                await pilot.press(*action)
            await settle(app, pilot)

    return run_before


SCREENS = {
    "map": steps(),
    "env": steps(["e"]),
    "env_revealed_after_scrub": steps(["e"], lambda app: app.run_command("scrub DB_PASSWORD"),
                                      lambda app: app.run_command("scrub DB_PASSWORD"),
                                      ["v"]),
    "stack": steps(["s"]),
    "hex": steps(["x"]),
    "drive": steps(lambda app: app.run_command("unsetenv DB_PASSWORD"),
                   lambda app: app.run_command("scrub DB_PASSWORD"), ["d"]),
    "help": steps(["question_mark"]),
    "launch_panel": steps(["l"]),
    "picker": steps(["p"]),
    "map_filtered_libc": steps(["slash", *"libc", "enter"]),
    "map_tower_toggled": steps(["t"]),  # below 100 columns: the tower alone
}


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("screen", list(SCREENS))
def test_screen(snap_compare, screen, size):
    app = MemlabApp(fakes.fake_source(), views=CORE_VIEWS)
    assert len(CORE_VIEWS) == 5
    assert snap_compare(app, terminal_size=size, run_before=SCREENS[screen])
