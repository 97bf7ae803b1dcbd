"""The TUI lesson pane with the keyboard, at 120x40 and 80x24: PageUp/PageDown scroll
it, new results scroll into view, the answer box keeps the focus while answering (typing
`b`, `a` or `d` answers, never triggers a global key), a wrong answer is explained and
gets one retry, and the answer box closes when the lesson is done."""

from __future__ import annotations

import asyncio

import pytest
from textual.containers import VerticalScroll
from textual.widgets import Input, TabbedContent

from tests.lessons.tui_pilot import lessons_view
from tests.tui.conftest import settle


async def keyboard_walk(size: tuple[int, int]) -> None:
    async with lessons_view(size) as (app, pilot):
        pane = app.query_one("#view-lessons").open_lesson("where-env-lives")
        await settle(app, pilot)
        body = pane.query_one("#lesson-body", VerticalScroll)
        scrolled = 0
        for _ in pane.runner.steps:
            await pilot.press("enter")  # run: its results scroll into view
            await settle(app, pilot)
            if pane.asking == "predict":  # asked first; the answer runs the step
                await pilot.press("a", "enter")
                await settle(app, pilot)
            if pane.asking == "try":  # escape skips it
                await pilot.press("escape")
                await settle(app, pilot)
            assert pane.runner.index in pane.runner.outcomes
            if body.max_scroll_y > 0:
                assert body.scroll_y == body.max_scroll_y, (body.scroll_y,
                                                            body.max_scroll_y)
                await pilot.press("pageup")
                await settle(app, pilot, rounds=1)
                assert body.scroll_y < body.max_scroll_y
                await pilot.press("pagedown")
                await settle(app, pilot, rounds=1)
                assert body.scroll_y == body.max_scroll_y
                scrolled += 1
            await pilot.press("n")
            await settle(app, pilot, rounds=1)
        assert scrolled, "the pane never needed scrolling: the test proved nothing"
        assert pane.runner.at_quiz
        answer = pane.query_one("#lesson-answer", Input)
        assert answer.display and answer.has_focus
        view = app.query_one("#views", TabbedContent).active
        live = getattr(app, "live", None)
        # a wrong answer: typed letters go to the box, not to the app's keys
        await pilot.press("d", "enter")  # wrong: the executable's data segment
        await settle(app, pilot, rounds=1)
        shown = pane.query_one("#lesson-verdicts").render().plain
        assert "not quite" in shown and "one more try" in shown, shown
        assert "measured" in shown  # the measurement that rules it out
        assert answer.has_focus and pane.quiz_index == 0
        await pilot.press("a", "enter")  # the retry, wrong again: the answer shown
        await settle(app, pilot, rounds=1)
        shown = pane.query_one("#lesson-verdicts").render().plain
        assert shown.startswith("not quite: the answer is [stack]"), shown
        assert answer.has_focus and pane.quiz_index == 1
        assert app.query_one("#views", TabbedContent).active == view
        assert getattr(app, "live", None) == live  # `a` did not toggle live mode
        assert pane.runner.index == len(pane.runner.steps)  # `b` did not go back
        await pilot.press("8", "enter")
        await settle(app, pilot, rounds=1)
        assert pane.query_one("#lesson-verdicts").render().plain.startswith("right")
        assert "Lesson complete" in pane.query_one("#lesson-step").render().plain
        assert not answer.display and pane.has_focus


@pytest.mark.parametrize("size", [(120, 40), (80, 24)], ids=["120x40", "80x24"])
def test_lesson_pane_keyboard(size):
    asyncio.run(keyboard_walk(size))
