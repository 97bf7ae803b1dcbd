"""A Pilot test walks one lesson end to end in the TUI lesson pane: open it from the
Lessons view, run every step (real processes, real checks), follow the highlighted
view, answer the quiz, close it, and no process the lesson launched survives."""

from __future__ import annotations

import asyncio

import pytest
from textual.widgets import DataTable, Input, TabbedContent

from memlab.tui.app import MemlabApp
from memlab.tui.source import LaunchRequest, LiveSource, demo_env
from memlab.tui.widgets.lessons import LessonPane
from memlab.tui.widgets.virtual import VirtualTable
from tests.helpers import gone, wait_until_async
from tests.tui.conftest import settle


async def answer_what_the_step_asks(pane: LessonPane, pilot) -> None:
    """A prediction: the answer key's letter; a try-it: what the command shows (the
    runner's own measurement, in hex as /proc/PID/maps prints it) or, if no number,
    escape skips it."""
    step = pane.runner.current
    if pane.asking == "predict":
        letter = chr(97 + step.predict.choices.index(step.predict.answer))
        await pilot.press(letter, "enter")
        await settle(pane.app, pilot)
    if pane.asking == "try":
        value = pane.runner.resolve(step.try_it.answer_from)
        if isinstance(value, int) and not isinstance(value, bool):
            await pilot.press(*f"{value:x}", "enter")
        else:
            await pilot.press("escape")
        await settle(pane.app, pilot)
    assert pane.asking is None


async def walk_where_env_lives() -> None:
    source = LiveSource()
    source.launch(LaunchRequest("sleeper", tuple(demo_env()), no_aslr=True))
    app = MemlabApp(source)
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            await settle(app, pilot)
            await pilot.press("g")  # the Lessons view
            assert app.query_one("#views", TabbedContent).active == "lessons"
            table = app.query_one("#lessons-table", DataTable)
            table.focus()
            table.move_cursor(row=table.get_row_index("where-env-lives"))
            await pilot.press("enter")
            await settle(app, pilot)
            pane = app.query_one(LessonPane)
            assert app.query_one("#side-pane").display and pane.has_focus
            runner = pane.runner
            assert "step 1/4" in pane.transcript[-3] or "step 1/4" in "".join(pane.transcript)

            verdicts = []
            for i, step in enumerate(runner.steps):
                assert runner.index == i
                await pilot.press("enter")  # run the step (a prediction is asked first)
                await settle(app, pilot)
                await answer_what_the_step_asks(pane, pilot)
                out = runner.outcomes[i]
                assert out.error is None, out.error
                verdicts += [r.status for r in out.results]
                shown = app.query_one("#lesson-verdicts").render().plain
                assert "PASS" in shown and "FAIL" not in shown, shown
                # the step ran: its text no longer offers to run it
                assert "[enter]" not in app.query_one("#lesson-step").render().plain
                if step.highlight:  # the view the step talks about is on screen
                    want, _, target = step.highlight.partition(":")
                    assert app.query_one("#views", TabbedContent).active == want
                    if want == "map" and target:  # ... with its row under the cursor
                        regions = app.query_one("#regions", VirtualTable)
                        assert pane.highlighted and pane.highlighted[1] == target
                        await wait_until_async(
                            lambda r=regions, t=target:
                            r.get_row_at(r.cursor_row)[r.columns.index("path")].plain == t,
                            pilot.pause, what=f"the cursor on {target}")
                await pilot.press("n")
                await settle(app, pilot)
            assert verdicts and set(verdicts) == {"pass"}
            # the app followed the lesson's process: its views show it
            lesson_pid = runner.measurements["p"]["pid"]
            assert app.snapshot.pid == lesson_pid
            assert runner.at_quiz

            answer = app.query_one("#lesson-answer", Input)
            assert answer.display and answer.has_focus
            for given in ("b", "8"):  # [stack] is choice b; 8 bytes above the path
                await pilot.press(*given, "enter")
                await settle(app, pilot)
                shown = app.query_one("#lesson-verdicts").render().plain
                assert shown.startswith("right"), shown
                assert "PASS" in shown  # the evidence memlab measured
            assert "Lesson complete" in app.query_one("#lesson-step").render().plain
            assert not answer.display and pane.has_focus  # the answer box closed

            await pilot.press("escape")
            await settle(app, pilot)
            assert not app.query("#lesson-pane") and not app.query_one("#side-pane").display
            assert gone(lesson_pid), "the lesson's process outlived its pane"
    finally:
        source.stop()


def test_walk_a_lesson_end_to_end_in_the_tui():
    asyncio.run(walk_where_env_lives())


async def run_every_lesson_in_the_pane() -> dict[str, list[str]]:
    from memlab.lessons.engine import discover

    source = LiveSource()
    source.launch(LaunchRequest("sleeper", tuple(demo_env()), no_aslr=True))
    app = MemlabApp(source)
    statuses: dict[str, list[str]] = {}
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(app, pilot)
            await pilot.press("g")
            view = app.query_one("#view-lessons")
            for lesson in discover().lessons:
                pane = view.open_lesson(lesson.id)
                await settle(app, pilot)
                for _ in pane.runner.steps:
                    await pilot.press("enter")
                    await settle(app, pilot, rounds=1)
                    if pane.asking == "predict":  # any choice: the step runs
                        await pilot.press("a", "enter")
                        await settle(app, pilot, rounds=1)
                    if pane.asking == "try":
                        await pilot.press("escape")
                    await pilot.press("n")
                    await settle(app, pilot, rounds=1)
                assert pane.runner.at_quiz
                statuses[lesson.id] = [r.status for o in pane.runner.outcomes.values()
                                       for r in o.results]
                await pilot.press("escape")
                await settle(app, pilot, rounds=1)
    finally:
        source.stop()
    return statuses


@pytest.mark.slow
def test_every_lesson_runs_in_the_tui_pane_without_a_failure():
    statuses = asyncio.run(run_every_lesson_in_the_pane())
    assert len(statuses) >= 9
    for lesson, got in statuses.items():
        assert got and "fail" not in got, (lesson, got)


def test_highlight_columns_name_real_headings():
    """A step's `highlight = "view:target"` looks the target up in columns named by
    heading: each named heading is one of that table's."""
    from memlab.tui.widgets.lessons import HIGHLIGHT_ROWS
    from tests.tui import fakes
    from tests.tui.conftest import started

    async def check() -> None:
        app = MemlabApp(fakes.fake_source())
        async with started(app, (120, 40)):
            for table_id, headings in HIGHLIGHT_ROWS.values():
                columns = app.query_one(table_id, VirtualTable).columns
                assert set(headings) <= set(columns), (table_id, headings, columns)
    asyncio.run(check())
