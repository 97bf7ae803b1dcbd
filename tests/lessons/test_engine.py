"""The LessonRunner the CLI and the TUI share: navigation, actions, verdicts, quiz,
skipping (root, missing building blocks) and failing (a broken action) honestly."""

from __future__ import annotations

import os

import pytest

from memlab.lessons import actions
from memlab.lessons.engine import LessonRunner, answers_match, load_lesson
from tests.helpers import NOBODY, run_as
from tests.lessons.conftest import GOOD

requires_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch uid")


def test_walk_a_lesson_step_by_step(lesson_dir):
    lesson = load_lesson(lesson_dir("tiny.toml", GOOD))
    with LessonRunner(lesson, allow_programs=True) as r:
        assert r.available and r.index == 0 and not r.at_quiz
        assert not r.back()
        out = r.run_action()
        assert out.error is None and "launched" in out.notes[0]
        pid = r.measurements["p"]["pid"]
        [res] = r.run_checks()
        assert res.status == "pass" and "A=1" in res.verdict.measured
        assert r.next() and r.at_quiz and r.current is None
        quiz = lesson.quizzes[0]
        assert r.answer_quiz(quiz, "1").correct
        assert not r.answer_quiz(quiz, "2").correct
        assert r.back() and r.current is lesson.steps[0]
    assert not os.path.exists(f"/proc/{pid}/status") or "Z" in open(
        f"/proc/{pid}/stat").read().split(")")[1][:3], "the launched sample outlived close()"


def test_a_failing_check_reports_the_measured_value(lesson_dir):
    lesson = load_lesson(lesson_dir("f.toml", GOOD.replace('expected = ["A=1"]',
                                                          'expected = ["A=2"]')))
    with LessonRunner(lesson, allow_programs=True) as r:
        results = r.run_all()
    bad = [x for x in results if x.status == "fail"]
    assert len(bad) == 1 and "A=1" in bad[0].verdict.measured and "A=2" in bad[0].verdict.expected


def test_a_failing_action_fails_its_checks(lesson_dir):
    # /bin/false exists (so the lesson is available) but exits without a self-report
    lesson = load_lesson(lesson_dir("a.toml", GOOD.replace('env = ["A=1"]',
                                                          'target = "/bin/false"')))
    with LessonRunner(lesson, allow_programs=True) as r:
        assert r.available
        results = r.run_all()
    assert results and all(x.status == "fail" for x in results)
    assert any("launch: " in x.verdict.measured and "/bin/false" in x.verdict.measured
               for x in results), results


def test_a_program_that_is_not_there_makes_the_lesson_unavailable(lesson_dir):
    lesson = load_lesson(lesson_dir("n.toml", GOOD.replace('env = ["A=1"]',
                                                          'target = "/nonexistent/x"')))
    ok, why = lesson.availability()
    assert not ok and "program '/nonexistent/x'" in why


def test_a_missing_outside_requirement_makes_the_lesson_unavailable(lesson_dir):
    actions.action("needs-a-program", requires=("program:memlab-no-such-program",))(
        lambda ctx, p, save: actions.ActionResult(1))
    try:
        text = GOOD.replace('do = "launch"', 'do = "needs-a-program"').replace(
            'env = ["A=1"]\n', "")
        lesson = load_lesson(lesson_dir("u.toml", text))
        ok, why = lesson.availability()
        assert not ok and "program 'memlab-no-such-program'" in why
        with LessonRunner(lesson, allow_programs=True) as r:
            out = r.run_step()
        assert out.skipped and all(x.status == "skip" for x in out.results)
    finally:
        del actions.ACTIONS["needs-a-program"]


@pytest.mark.parametrize("req", ["memlab.launch:launch", "memlab.collect", "yaml",
                                 "program:", "rooot"])
def test_an_action_may_require_only_things_outside_memlab(req):
    """memlab's own modules are imports, never requirements: declaring one fails at
    import time (here), not quietly as an unavailable lesson."""
    with pytest.raises(ValueError, match="outside memlab"):
        actions.action("needs-a-module", requires=(req,))(lambda ctx, p, save: None)
    assert "needs-a-module" not in actions.ACTIONS


def test_the_builtin_actions_require_only_things_outside_memlab():
    for spec in actions.ACTIONS.values():
        for req in spec.requires:
            assert req == "root" or req.startswith("program:"), (spec.name, req)


ROOT_STEP = GOOD.replace('[[step]]\ntext = "Launch."',
                         '[[step]]\ntext = "Launch."\nneeds_root = "it reads as another uid"')


@requires_root
def test_root_steps_are_skipped_with_the_reason_when_not_root(lesson_dir):
    lesson = load_lesson(lesson_dir("r.toml", ROOT_STEP))

    def walk():
        with LessonRunner(lesson, allow_programs=True) as r:
            return [(x.status, x.verdict.measured) for x in r.run_all()]
    results = run_as(NOBODY, walk)
    assert [s for s, _ in results] == ["skip", "skip"]
    assert all("needs root (it reads as another uid)" in m and "uid 65534" in m
               for _, m in results)


def test_answers_match_is_forgiving_but_not_wrong():
    assert answers_match("B", "[stack]", ("[heap]", "[stack]"))
    assert answers_match("2", "[stack]", ("[heap]", "[stack]"))
    assert answers_match(" Yes ", True)
    assert answers_match("0x10", 16)
    assert not answers_match("a", "[stack]", ("[heap]", "[stack]"))
    assert not answers_match("no", True)


def test_a_step_can_be_run_again():
    """`r` in the CLI / enter twice in the TUI: the old process or pod makes way."""
    from memlab.lessons.engine import discover

    for lesson_id in ("where-env-lives", "volumes-hot-reload"):
        with LessonRunner(discover().get(lesson_id)) as r:
            first = r.run_step(0)
            pids = {p.pid for p in r.ctx.processes.values()}
            again = r.run_step(0)
            assert first.error is None and again.error is None, again.error
            assert {x.status for x in again.results} == {"pass"}
            assert not pids & {p.pid for p in r.ctx.processes.values() if p.alive}


def test_poke_refuses_what_the_kernel_refuses():
    """process_vm_writev into a process of another uid: AccessDenied, as the kernel says."""
    from memlab.errors import AccessDenied
    from memlab.lessons.poke import write_memory

    if os.geteuid() != 0:
        pytest.skip("needs root to switch uid")

    def poke_init():
        try:
            write_memory(1, 0x1000, b"x")
        except AccessDenied as err:
            return str(err)
        return "written"
    assert "EPERM" in run_as(NOBODY, poke_init)
