"""Pilot tests of the panels built on other libraries, against real samples:
the exposure panel (memlab.exposure) and the Pod panel (memlab.k8s)."""

from __future__ import annotations

import os

import pytest
from textual.widgets import DataTable

from memlab.tui.app import MemlabApp
from tests.tui import fakes
from tests.tui.conftest import settle


def cells(table: DataTable, column: int) -> list[str]:
    return [table.get_row_at(i)[column].plain for i in range(table.row_count)]


async def wait_until(app, pilot, predicate, rounds: int = 100) -> None:
    for _ in range(rounds):
        await pilot.pause(0.1)
        if predicate():
            break
    await settle(app, pilot)


@pytest.mark.skipif(os.geteuid() != 0, reason="the other-uid observer needs root")
async def test_exposure_panel_same_uid_reads_other_uid_refused(live_source):
    app = MemlabApp(live_source)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("o")  # show the panel
        assert app.query_one("#views").active == "exposure"
        await pilot.press("o")  # run the observers
        view = app.query_one("ExposureView")
        await wait_until(app, pilot, lambda: view.three_way is not None or view.errors)
        assert not view.errors, view.errors
        claim = view.query_one("#expo-claim").render().plain
        same, other = claim.splitlines()[:2]
        assert same.startswith("same uid") and "DB_PASSWORD=***" in same and "SECRET" in same
        assert other.startswith("other uid (65534)") and "EACCES" in other
        assert "hunter2" not in claim
        table = view.query_one("#expo-matrix", DataTable)
        labels = cells(table, 0)
        environ = dict(zip(labels, cells(table, 1)))
        assert environ["same uid (0)"] == "SECRET" and environ["other uid (65534)"] == "EACCES"
        matrix = view.matrix
        assert matrix.cell("other_uid", "process_vm_readv").errno_name == "EPERM"
        assert matrix.cell("other_uid", "stat").verdict == "masked"
        three = view.query_one("#expo-3way", DataTable)
        states = dict(zip(cells(three, 0), cells(three, 1)))
        assert states["/proc/PID/environ (env block)"] == "secret"
        assert states["libc environ (getenv)"] == "secret"
        await pilot.press("v")
        await pilot.pause()
        assert "DB_PASSWORD=hunter2" in view.query_one("#expo-claim").render().plain


async def test_exposure_panel_without_data_says_so():
    app = MemlabApp(fakes.fake_source())
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("o", "o")
        await settle(app, pilot)
        view = app.query_one("ExposureView")
        assert view.errors and "no exposure data" in view.errors[0]
        assert "no exposure data" in view.query_one("#expo-notes").render().plain
