"""Predict and try-it in the TUI lesson pane, at 120x40 and 80x24, on where-env-lives
(step 2 has a try-it, step 3 a prediction).  Enter on a step with a prediction asks it
and measures nothing yet; the answer runs the step and shows the prediction beside the
measurement.  A try-it asks what the command showed: the runner's own measurement is
accepted, a wrong answer is explained and gets one retry, escape skips it.  Letters
typed in the answer box answer; they never move the lesson."""

from __future__ import annotations

import asyncio

import pytest
from textual.widgets import Input

from memlab.tui.widgets.lessons import PREDICT_HINT, TRY_HINT
from tests.lessons.tui_pilot import lessons_view
from tests.tui.conftest import settle


def shown(pane) -> str:
    return pane.query_one("#lesson-verdicts").render().plain


async def predict_and_try(size: tuple[int, int]) -> None:
    async with lessons_view(size) as (app, pilot):
        pane = app.query_one("#view-lessons").open_lesson("where-env-lives")
        await settle(app, pilot)
        runner = pane.runner
        answer = pane.query_one("#lesson-answer", Input)
        try_step, predict_step = runner.steps[1], runner.steps[2]
        assert try_step.try_it is not None and predict_step.predict is not None

        # step 1: no prediction, no try-it: enter runs it, the answer box stays shut
        await pilot.press("enter")
        await settle(app, pilot)
        assert 0 in runner.outcomes and not answer.display and pane.asking is None

        # step 2: it runs, then the try-it asks what the command showed
        await pilot.press("n")
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        assert 1 in runner.outcomes
        assert pane.asking == "try" and answer.display and answer.has_focus
        text = shown(pane)
        assert "Try it yourself" in text and runner.try_command(try_step) in text
        assert TRY_HINT in text
        end = runner.resolve(try_step.try_it.answer_from)  # what maps shows: hex
        await pilot.press(*"1234", "enter")  # wrong: explained, one more try
        await settle(app, pilot)
        text = shown(pane)
        assert "1234: not quite" in text and "one more try" in text, text
        assert pane.asking == "try" and answer.has_focus and runner.index == 1
        await pilot.press(*f"{end:x}", "enter")  # right: the runner's measurement
        await settle(app, pilot)
        text = shown(pane)
        assert "\nright: " in text and f"{end:#x}" in text.split("\nright: ")[1], text
        assert try_step.try_it.explain.split()[0] in text  # the explanation follows
        assert pane.asking is None and not answer.display and pane.has_focus

        # again: wrong twice, then memlab runs the command itself
        await pilot.press("enter")
        await settle(app, pilot)
        assert pane.asking == "try" and answer.has_focus
        for wrong in ("b", "n0"):  # `b` answers (wrongly); it does not go back
            await pilot.press(*wrong, "enter")
            await settle(app, pilot)
            assert runner.index == 1
        text = shown(pane)
        assert "b: not quite" in text and "n0: not quite" in text, text
        assert "memlab ran it: PASS" in text and "the command printed:" in text, text
        assert pane.asking is None and not answer.display

        # and once more: escape skips it, and the lesson stays open
        await pilot.press("enter")
        await settle(app, pilot)
        assert pane.asking == "try"
        await pilot.press("escape")
        await settle(app, pilot)
        assert shown(pane).rstrip().endswith("skipped"), shown(pane)
        assert pane.asking is None and not answer.display
        assert app.query("#lesson-pane") and runner.index == 1

        # step 3: enter asks the prediction; nothing is measured yet
        await pilot.press("n")
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        text = shown(pane)
        assert "Predict first" in text and PREDICT_HINT in text
        assert predict_step.predict.question.split("?")[0] in text
        assert "b) some alignment padding" in text
        assert 2 not in runner.outcomes, "the step ran before the learner predicted"
        assert "PASS" not in text and "measured" not in text, text
        assert predict_step.checks[0].label not in text
        assert pane.asking == "predict" and answer.display and answer.has_focus
        await pilot.press("escape")  # not now: the box closes, the step has not run
        await settle(app, pilot)
        assert pane.asking is None and not answer.display and 2 not in runner.outcomes
        assert app.query("#lesson-pane")

        await pilot.press("enter")
        await settle(app, pilot)
        await pilot.press("b")  # typed into the box: not "back a step"
        await settle(app, pilot)
        assert runner.index == 2 and answer.value == "b" and 2 not in runner.outcomes
        await pilot.press("enter")  # the prediction: now the step runs
        await settle(app, pilot)
        assert 2 in runner.outcomes and runner.outcomes[2].error is None
        text = shown(pane)
        assert ("your prediction: b) some alignment padding — measured: "
                "none: env_start == arg_end") in text, text
        assert "not quite: for 'some alignment padding' to be right" in text, text
        assert "evidence" in text and "PASS" in text
        arg_end = runner.resolve("$p.stat.arg_end")  # the kernel's numbers beside it
        assert f"{arg_end:#x}" in text or str(arg_end) in text, text
        for check in predict_step.checks:  # the step's own verdicts beside it
            assert check.label in text, (check.label, text)
        assert "FAIL" not in text
        assert pane.asking is None and not answer.display and pane.has_focus

        await pilot.press("enter")  # asked again: the right one this time
        await settle(app, pilot)
        await pilot.press("a", "enter")
        await settle(app, pilot)
        text = shown(pane)
        assert "your prediction: a) none: env_start == arg_end" in text, text
        assert "\nright\n" in text and "not quite" not in text, text

        # the quiz still works after: a wrong answer gets its retry
        await pilot.press("n")
        await settle(app, pilot)
        await pilot.press("n")
        await settle(app, pilot)
        assert runner.at_quiz and answer.display and answer.has_focus
        await pilot.press("a", "enter")
        await settle(app, pilot)
        assert "one more try" in shown(pane) and pane.quiz_index == 0


@pytest.mark.parametrize("size", [(120, 40), (80, 24)], ids=["120x40", "80x24"])
def test_predict_and_try_in_the_lesson_pane(size):
    asyncio.run(predict_and_try(size))
