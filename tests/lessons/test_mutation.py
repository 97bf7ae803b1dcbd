"""Every check of every shipped lesson can fail: each one is mutated (its expected value
or its comparison flipped) and judged again on the same run's measurements, which must
then fail.  A quiz whose answer key is changed to any other choice (or another number)
must fail too, naming the quiz and the evidence (memlab/lessons/FORMAT.md, "Quizzes")."""

from __future__ import annotations

import dataclasses
import re
import shutil

import pytest

from memlab.lessons.engine import CheckCall, LessonRunner, discover, load_lesson

FLIP_OP = {"<": ">=", "<=": ">", ">": "<=", ">=": "<", "==": "!=", "!=": "=="}
LESSONS = [lesson for lesson in discover().lessons if lesson.availability()[0]]


def _other(value):
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, list):
        return value + ["mutated"]
    return f"{value}-mutated" if not str(value).startswith("$") else None


def mutate(call: CheckCall) -> CheckCall:
    """The same check with its expected value or its comparison flipped."""
    p = dict(call.params)
    n = call.name
    if n == "equals":
        n, p = "differs", {"value": p["value"], "other": p["expected"]}
    elif n == "differs":
        n, p = "equals", {"value": p["value"], "expected": p["other"]}
    elif n in ("contains", "lacks"):
        n = "lacks" if n == "contains" else "contains"
    elif n == "compare":
        p["op"] = FLIP_OP[p["op"]]
    elif n == "between":
        p["high"] = p["low"]
    elif n == "in_region":
        p["region"] = "[heap]" if p["region"] != "[heap]" else "[stack]"
    elif n == "same_region":
        p["b"] = 0
    elif n == "ordered":
        p["values"] = list(reversed(p["values"]))
    elif n == "distinct":
        count = len(p["values"])
        p = {"values": p["values"], "at_least": count + 1}
    elif n == "length":
        p["expected"] = _other(p["expected"])
    elif n == "page_align_of":
        p["value"], p["of"] = p["of"], p["value"]
    elif n == "page_aligned":
        n, p = "compare", {"left": p["value"], "op": "<", "right": 0}
    elif n == "matches":
        p["pattern"] = "(?s)^(?!.*(?:" + p["pattern"] + "))"
    else:
        raise AssertionError(f"no mutation for check {n!r}: add one")
    return dataclasses.replace(call, name=n, params=p)


@pytest.fixture(scope="module")
def runs():
    """Each shipped lesson run once; the runners stay open for re-judging."""
    out = {}
    for lesson in LESSONS:
        r = LessonRunner(lesson)
        r.run_all()
        out[lesson.id] = r
    yield out
    for r in out.values():
        r.close()


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda x: x.id)
def test_every_check_fails_when_mutated(lesson, runs):
    r = runs[lesson.id]
    judged = 0
    for step in lesson.steps:
        for call in step.checks:
            before = r.evaluate(call)
            if before.status == "skip":
                continue
            assert before.status == "pass", (step.index + 1, call.label, before)
            after = r.evaluate(mutate(call))
            assert after.status == "fail", (f"step {step.index + 1}: {call.label}: "
                                            f"mutated still {after.status}: {after.measured}")
            judged += 1
    for quiz in lesson.quizzes + tuple(s.predict for s in lesson.steps if s.predict):
        if r.check_quiz(quiz).status == "skip":
            continue
        for i, (choice, call) in enumerate(quiz.when):
            if choice != quiz.answer:  # a wrong choice's check: it fails on this run
                assert r.evaluate(call).status == "fail", (quiz.label, choice)
                continue
            when = list(quiz.when)
            when[i] = (choice, mutate(call))
            bad = dataclasses.replace(quiz, when=tuple(when))
            assert r.check_quiz(bad).status == "fail", (quiz.label, choice, call.label)
            judged += 1
        keys = [c for c in quiz.choices if c != quiz.answer] if quiz.choices else \
            [_other(quiz.answer)]
        for key in keys:
            res = r.check_quiz(dataclasses.replace(quiz, answer=key))
            assert res.status == "fail", (quiz.label, key)
            assert quiz.label in res.verdict.measured and "evidence" in res.verdict.measured \
                or "answer key" in res.verdict.measured, res.verdict.measured
            judged += 1
    assert judged, f"{lesson.id}: nothing was judged"


def test_every_shipped_quiz_has_an_answer_key_the_evidence_can_refute():
    for lesson in discover().lessons:
        for quiz in lesson.quizzes:
            assert quiz.answer is not None, (lesson.id, quiz.label)
            assert quiz.when or quiz.answer_from, (lesson.id, quiz.label)


def test_a_lesson_copy_with_one_answer_changed_fails_naming_quiz_and_evidence(tmp_path):
    from tests.lessons.test_cli import run_cli  # the CLI as a learner runs it

    src = discover().get("immutable-env").path
    text = src.read_text()
    flipped = re.sub(r'^answer = "yes"$', 'answer = "no"', text, count=1, flags=re.M)
    assert flipped != text
    path = tmp_path / "immutable-env-flipped.toml"
    path.write_text(flipped)
    load_lesson(path)
    rc, out, _ = run_cli("lesson", "run", str(path), "--check", "--yes")
    assert rc == 1
    assert re.search(r"^FAIL  immutable-env quiz 1: .*\n\s+measured: quiz 1: the answer key "
                     r"says 'no' but the evidence says 'yes' \(.*environ.*\)", out, re.M), out
    assert out.rstrip().endswith("1 failed")


def test_all_answers_flipped_fails(tmp_path):
    from tests.lessons.test_cli import run_cli

    text = discover().get("immutable-env").path.read_text()
    for old, new in (('"yes"', '"no"'), ('"scrub"', '"setenv"'),
                     ('"yes, with ptrace (ATTACH) rights over it"',
                      '"never: the kernel forbids it"')):
        text = re.sub(rf"^answer = {re.escape(old)}$", f"answer = {new}", text, flags=re.M)
    path = tmp_path / "flipped.toml"
    path.write_text(text)
    rc, out, _ = run_cli("lesson", "run", str(path), "--check", "--yes")
    assert rc == 1 and re.search(r", 3 failed$", out.rstrip()), out
    assert shutil.which  # (the CLI ran as a separate process above)
