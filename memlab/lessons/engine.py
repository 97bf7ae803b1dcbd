"""The lesson engine: load lessons, walk their steps, run actions, judge checks.

One LessonRunner drives one lesson for every front end: the CLI walks it step by step
(or runs everything for CI), the TUI lesson pane moves `index` with next()/back() and
calls run_step() when the learner asks.  Processes an action launched are ended when the
runner is closed (it is a context manager).

Measurements live in `runner.measurements` under each action's `save` name; a check's
"$name.path" parameters are looked up there.  A measurement that could not be made
because of privileges is a Skipped marker: checks over it are skipped with the reason,
never failed, never silently passed.  An action that fails makes its checks fail.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

from memlab.errors import MemlabError
from memlab.lessons.actions import ACTIONS, ActionResult, RunContext, Skipped
from memlab.lessons.checks import CHECKS, FAIL, PASS, SKIP, Args, Verdict, fmt
from memlab.lessons.lessonfile import (  # noqa: F401  (re-exported for front ends)
    REF_RE, Catalog, CheckCall, Lesson, LessonFileError, Quiz, Step, discover, load_lesson)
from memlab.processes import ascii_decimal


@dataclass(frozen=True)
class ActionFailed:
    """The measurement an action was meant to make, replaced by why it failed."""

    reason: str

    def __str__(self) -> str:
        return f"action failed: {self.reason}"


class _Unresolved(Exception):
    def __init__(self, verdict: Verdict):
        super().__init__(verdict.measured)
        self.verdict = verdict


@dataclass(frozen=True)
class CheckResult:
    lesson: str
    where: str  # "step 3" / "quiz 1"
    label: str  # what is checked, in the lesson's words
    verdict: Verdict
    line: int

    @property
    def status(self) -> str:
        return self.verdict.status

    def to_dict(self) -> dict[str, Any]:
        return {"lesson": self.lesson, "where": self.where, "label": self.label,
                "line": self.line, **self.verdict.to_dict()}


@dataclass
class StepOutcome:
    step: Step
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    skipped: str | None = None
    results: list[CheckResult] = field(default_factory=list)
    after: str = ""


@dataclass(frozen=True)
class QuizAnswer:
    correct: bool
    expected: str
    evidence: CheckResult | None


def is_root() -> bool:
    return os.geteuid() == 0


_TEMPLATE_RE = re.compile(r"\{(\$[A-Za-z_][\w-]*(?:\.[^.\s{}:]+)*)\}")


def _normal(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    s = str(value).strip().casefold()
    aliases = {"true": "yes", "y": "yes", "false": "no", "n": "no"}
    if s in aliases:
        return aliases[s]
    try:
        return str(int(s, 0))
    except ValueError:
        return " ".join(s.split())


def answers_match(given: Any, expected: Any, choices: tuple[str, ...] = ()) -> bool:
    """A learner's answer against the expected one: case and spacing ignored, yes/true,
    hex/decimal alike; with choices, "2" or "b" picks the second choice."""
    g = str(given).strip()
    if choices:
        number = ascii_decimal(g)
        if number is not None and 1 <= number <= len(choices):
            g = choices[number - 1]
        elif len(g) == 1 and "a" <= g.lower() <= "z" and ord(g.lower()) - 97 < len(choices):
            g = choices[ord(g.lower()) - 97]
    return _normal(g) == _normal(expected)


class LessonRunner:
    """Walk one lesson: `steps`, `index` (len(steps) means the quiz), next()/back(),
    run_action()/run_checks()/run_step(), quiz answers, close()."""

    def __init__(self, lesson: Lesson, *, allow_programs: bool = False):
        """allow_programs: the user said yes to what a lesson from outside memlab
        starts (Lesson.programs); without it such a lesson is refused here, before any
        action runs.  memlab's own lessons need no yes."""
        refusal = None if allow_programs else lesson.refuse_programs()
        if refusal is not None:
            raise refusal
        self.lesson = lesson
        self.steps = lesson.steps
        self.index = 0
        self.measurements: dict[str, Any] = {}
        self.outcomes: dict[int, StepOutcome] = {}
        self.quiz_results: dict[int, CheckResult] = {}
        self.available, self.why_unavailable = lesson.availability()
        self.ctx = RunContext(lesson_dir=lesson.path.parent)

    # ----------------------------------------------------------- navigation (TUI, CLI)
    @property
    def at_quiz(self) -> bool:
        return self.index >= len(self.steps)

    @property
    def current(self) -> Step | None:
        return None if self.at_quiz else self.steps[self.index]

    def next(self) -> bool:
        if self.index < len(self.steps):
            self.index += 1
            return True
        return False

    def back(self) -> bool:
        if self.index > 0:
            self.index -= 1
            return True
        return False

    # ----------------------------------------------------------- measurements
    def resolve(self, value: Any) -> Any:
        """A parameter with its "$name.path" references replaced by measurements."""
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        if not isinstance(value, str) or not REF_RE.match(value):
            return value
        m = REF_RE.match(value)
        root, path = m.group(1), [p for p in m.group(2).split(".") if p]
        if root not in self.measurements:
            raise _Unresolved(Verdict(FAIL, f"nothing measured as {root!r} yet "
                                            f"(run the step that saves it first)"))
        cur = self.measurements[root]
        walked = [root]
        i = 0
        while i < len(path):
            if isinstance(cur, (Skipped, ActionFailed)):
                break
            part = path[i]
            # A key may itself contain dots ("key.p12"): take the longest one that exists.
            key = next((".".join(path[i:j]) for j in range(len(path), i, -1)
                        if isinstance(cur, dict) and ".".join(path[i:j]) in cur), None)
            if key is not None:
                cur = cur[key]
                i += key.count(".") + 1
                walked.append(key)
                continue
            if isinstance(cur, (list, tuple)) and re.fullmatch(r"-?\d+", part) \
                    and -len(cur) <= int(part) < len(cur):
                cur = cur[int(part)]
            else:
                have = ", ".join(map(str, cur)) if isinstance(cur, dict) else fmt(cur)
                raise _Unresolved(Verdict(
                    FAIL, f"{'.'.join(walked)} has no {part!r} (it has: {have[:200]})"))
            walked.append(part)
            i += 1
        if isinstance(cur, Skipped):
            raise _Unresolved(Verdict(SKIP, cur.reason))
        if isinstance(cur, ActionFailed):
            raise _Unresolved(Verdict(FAIL, str(cur)))
        return cur

    def render(self, text: str) -> str:
        """Text with {$name.path} replaced by what was measured ("?" when not yet)."""
        def sub(m: re.Match) -> str:
            try:
                return fmt(self.resolve(m.group(1)))
            except _Unresolved:
                return "?"
        return _TEMPLATE_RE.sub(sub, text)

    # ----------------------------------------------------------- running
    def _step(self, step: Step | int | None) -> Step:
        if step is None:
            if self.at_quiz:
                raise IndexError("at the quiz: no step to run")
            return self.steps[self.index]
        return self.steps[step] if isinstance(step, int) else step

    def run_action(self, step: Step | int | None = None) -> StepOutcome:
        """Run the step's actions (all of them, in order); the outcome keeps notes,
        the error (if one failed) or the reason they were skipped."""
        step = self._step(step)
        out = StepOutcome(step)
        self.outcomes[step.index] = out
        if not self.available:
            out.skipped = f"lesson unavailable: {self.why_unavailable}"
            self._mark(step, Skipped(out.skipped))
            return out
        if step.needs_root and not is_root():
            out.skipped = f"needs root ({step.needs_root}); running as uid {os.geteuid()}"
            self._mark(step, Skipped(out.skipped))
            return out
        for call in step.actions:
            spec = ACTIONS[call.do]
            try:
                params = self.resolve(call.params)
            except _Unresolved as err:
                out.error = f"{call.do}: {err.verdict.measured}"
                if err.verdict.status == SKIP:
                    out.error, out.skipped = None, err.verdict.measured
                    self._mark(step, Skipped(err.verdict.measured))
                else:
                    self._mark(step, ActionFailed(out.error))
                return out
            try:
                result: ActionResult = spec.fn(self.ctx, params, call.save)
            except MemlabError as err:
                out.error = f"{call.do}: {err}"
            except Exception as err:  # a building block's bug: reported as a failure
                out.error = f"{call.do}: {type(err).__name__}: {err}"
            if out.error:
                self._mark(step, ActionFailed(out.error))
                return out
            if call.save:
                self.measurements[call.save] = result.value
            if result.note:
                out.notes.append(result.note)
        return out

    def _mark(self, step: Step, marker: Any) -> None:
        for call in step.actions:
            if call.save:
                self.measurements[call.save] = marker

    def evaluate(self, call: CheckCall) -> Verdict:
        spec = CHECKS[call.name]
        try:
            values = {k: self.resolve(v) for k, v in call.params.items()}
        except _Unresolved as err:
            return err.verdict
        try:
            return spec.fn(Args(values, call.params))
        except (TypeError, ValueError, KeyError, IndexError) as err:
            return Verdict(FAIL, f"cannot evaluate {call.name}: {err}")

    def run_checks(self, step: Step | int | None = None) -> list[CheckResult]:
        step = self._step(step)
        out = self.outcomes.setdefault(step.index, StepOutcome(step))
        results = [CheckResult(self.lesson.id, f"step {step.index + 1}", c.label,
                               self.evaluate(c), c.line) for c in step.checks]
        if out.error:  # an action that failed never passes silently
            results.append(CheckResult(self.lesson.id, f"step {step.index + 1}",
                                       "the step's action runs",
                                       Verdict(FAIL, out.error, "no error"), step.line))
        out.results = results
        out.after = self.render(step.after)
        return results

    def run_step(self, step: Step | int | None = None) -> StepOutcome:
        out = self.run_action(step)
        self.run_checks(out.step)
        return out

    # ----------------------------------------------------------- quiz
    def quiz_expected(self, quiz: Quiz) -> Any:
        """The right answer: the measured value for answer_from, else the written one."""
        if quiz.answer_from is not None:
            return self.resolve(quiz.answer_from)
        return quiz.answer

    def check_quiz(self, quiz: Quiz) -> CheckResult:
        """Is the quiz's expected answer backed by what memlab measured?"""
        label = f"quiz: {quiz.question.strip().splitlines()[0]}"
        verdicts: list[Verdict] = []
        if quiz.answer_from is not None:
            try:
                measured = self.resolve(quiz.answer_from)
            except _Unresolved as err:
                verdicts.append(err.verdict)
            else:
                if quiz.answer is None:
                    verdicts.append(Verdict(PASS, f"{quiz.answer_from} = {fmt(measured)}",
                                            "the measured value is the answer"))
                else:
                    ok = answers_match(quiz.answer, measured, quiz.choices)
                    verdicts.append(Verdict(PASS if ok else FAIL,
                                            f"{quiz.answer_from} = {fmt(measured)}",
                                            f"answer {quiz.answer!r}"))
        if quiz.check is not None:
            verdicts.append(self.evaluate(quiz.check))
        status = FAIL if any(v.status == FAIL for v in verdicts) else \
            SKIP if any(v.status == SKIP for v in verdicts) else PASS
        worst = next((v for v in verdicts if v.status == status), verdicts[0])
        result = CheckResult(self.lesson.id, f"quiz {quiz.index + 1}", label,
                             Verdict(status, "; ".join(v.measured for v in verdicts),
                                     worst.expected), quiz.line)
        self.quiz_results[quiz.index] = result
        return result

    def answer_quiz(self, quiz: Quiz, given: str) -> QuizAnswer:
        evidence = self.check_quiz(quiz)
        try:
            expected = self.quiz_expected(quiz)
        except _Unresolved:
            expected = quiz.answer
        shown = fmt(expected) if not isinstance(expected, str) else expected
        if expected is None:
            return QuizAnswer(False, "(not measured)", evidence)
        return QuizAnswer(answers_match(given, expected, quiz.choices), shown, evidence)

    # ----------------------------------------------------------- whole lesson
    def run_all(self) -> list[CheckResult]:
        """Every step, then every quiz's evidence (non-interactive, for CI)."""
        results: list[CheckResult] = []
        for step in self.steps:
            results.extend(self.run_step(step).results)
        results.extend(self.check_quiz(q) for q in self.lesson.quizzes)
        return results

    def close(self) -> None:
        self.ctx.close()

    def __enter__(self) -> "LessonRunner":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def unavailable_results(lesson: Lesson, why: str) -> list[CheckResult]:
    """The checks of a lesson that cannot run here, each skipped with the reason."""
    v = Verdict(SKIP, f"lesson unavailable: {why}")
    out = [CheckResult(lesson.id, f"step {s.index + 1}", c.label, v, c.line)
           for s in lesson.steps for c in s.checks]
    out += [CheckResult(lesson.id, f"quiz {q.index + 1}", f"quiz: {q.question.strip()[:60]}",
                        v, q.line) for q in lesson.quizzes]
    return out
