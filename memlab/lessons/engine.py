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

import base64
import os
import re
import shlex
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from memlab import launch as launcher
from memlab.errors import MemlabError, UsageError
from memlab.k8s.manifests import parse_documents
from memlab.lessons.actions import ACTIONS, ActionResult, RunContext, Skipped
from memlab.lessons.actions.k8s import read_manifest
from memlab.lessons.checks import (CHECKS, FAIL, PASS, SKIP, Args, Verdict, describe_check,
                                   describe_ref, fmt, key_length,
                                   revealed as checks_revealed)
from memlab.lessons.evidence import kernel_lines
from memlab.lessons.lessonfile import (  # noqa: F401  (re-exported for front ends)
    REF_RE, Catalog, CheckCall, Lesson, LessonFileError, Quiz, Step, TryIt, discover,
    load_lesson)
from memlab.lessons.words import word
from memlab.processes import ascii_decimal
from memlab.secrets import MASK, Masker, looks_secret


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
        """The verdict for JSON (docs/json.md): with `source`, the kernel's own lines
        behind it (masked, as every verdict is, unless --reveal)."""
        return {"lesson": self.lesson, "where": self.where, "label": self.label,
                "line": self.line, **self.verdict.to_dict(),
                "source": list(self.verdict.source)}


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
    why_wrong: str = ""  # for a wrong choice: the measurement that rules it out


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

    def __init__(self, lesson: Lesson, *, allow_programs: bool = False,
                 run_commands: bool = True,
                 run_memlab: Callable[[list[str]], str] | None = None):
        """allow_programs: the user said yes to what a lesson from outside memlab
        starts (Lesson.programs); without it such a lesson is refused here, before any
        action runs.  memlab's own lessons need no yes.  run_commands: run_checks runs a
        step's try-it command itself (--check); a front end with a learner sets it False
        and judges what the learner typed (check_try with given).  run_memlab: how a
        try-it command `memlab ...` runs (the CLI runs it in-process: "memlab" is this
        memlab, whatever may exec its interpreter); else the memlab program is launched."""
        refusal = None if allow_programs else lesson.refuse_programs()
        if refusal is not None:
            raise refusal
        self.lesson = lesson
        self.steps = lesson.steps
        self.index = 0
        self.measurements: dict[str, Any] = {}
        self.made_by: dict[str, str] = {}  # save name -> the action that measured it
        self.outcomes: dict[int, StepOutcome] = {}
        self.quiz_results: dict[int, CheckResult] = {}
        self.available, self.why_unavailable = lesson.availability()
        self.ctx = RunContext(lesson_dir=lesson.path.parent)
        self.run_commands = run_commands
        self.run_memlab = run_memlab
        self.lang = lesson.lang  # memlab's words around the lesson (memlab.lessons.words)
        self.masker = lesson_masker(lesson)
        self._secret_texts = [v.decode("utf-8", "replace") for v in self.masker.values]

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
            n = key_length(cur, path[i:])
            if n:  # a key may itself contain dots ("key.p12"): the longest that exists
                key = ".".join(path[i:i + n])
                cur = cur[key]
                i += n
                walked.append(key)
                continue
            if isinstance(cur, (list, tuple)) and re.fullmatch(r"-?\d+", part) \
                    and -len(cur) <= int(part) < len(cur):
                cur = cur[int(part)]
            else:
                have = ", ".join(map(str, cur)) if isinstance(cur, dict) else fmt(cur)
                where = str(describe_ref("$" + ".".join(walked), self.measurements,
                                         self.made_by, self.lang)).lstrip("\0")
                raise _Unresolved(Verdict(
                    FAIL, f"{where} has no {part!r} (it has: {have[:200]})"))
            walked.append(part)
            i += 1
        if isinstance(cur, Skipped):
            raise _Unresolved(Verdict(SKIP, cur.reason))
        if isinstance(cur, ActionFailed):
            raise _Unresolved(Verdict(FAIL, str(cur)))
        return cur

    def render(self, text: str) -> str:
        """Text with {$name.path} replaced by what was measured ("?" when not yet),
        masked: what the learner sees."""
        return self.mask(self._fill(text, fmt))

    def _fill(self, text: str, show: Callable[[Any], str] | None = None) -> str:
        """Text with {$name.path} filled in by show(value); without show, unmasked text
        as it is (a try-it command as it is run: a {$ref} to a secret is the secret)."""
        def sub(m: re.Match) -> str:
            try:
                value = self.resolve(m.group(1))
            except _Unresolved:
                return "?"
            return show(value) if show else value if isinstance(value, str) else fmt(value)
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
            out.skipped = self.mask(word(self.lang, "lesson_unavailable",
                                         why=self.why_unavailable))
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
                out.error = self.mask(f"{call.do}: {err.verdict.measured}")
                if err.verdict.status == SKIP:
                    out.error, out.skipped = None, self.mask(err.verdict.measured)
                    self._mark(step, Skipped(err.verdict.measured))
                else:
                    self._mark(step, ActionFailed(out.error))
                return out
            try:
                result: ActionResult = spec.fn(self.ctx, params, call.save)
            except MemlabError as err:  # its text may quote what it was given: masked
                out.error = self.mask(f"{call.do}: {err}")
            except Exception as err:  # a building block's bug: reported as a failure
                out.error = self.mask(f"{call.do}: {type(err).__name__}: {err}")
            if out.error:
                self._mark(step, ActionFailed(out.error))
                return out
            if call.save:
                self.measurements[call.save] = result.value
                self.made_by[call.save] = call.do
            if result.note:
                out.notes.append(self.mask(result.note))
        return out

    def _mark(self, step: Step, marker: Any) -> None:
        for call in step.actions:
            if call.save:
                self.measurements[call.save] = marker

    def say(self, call: CheckCall) -> str:
        """The check in words (its `say`, else built from its measurements' sources)."""
        return describe_check(call.name, call.params, call.say, self.measurements,
                              self.made_by, self.lang)

    def evaluate(self, call: CheckCall) -> Verdict:
        spec = CHECKS[call.name]
        try:
            values = {k: self.resolve(v) for k, v in call.params.items()}
        except _Unresolved as err:
            return err.verdict
        labels = {k: describe_ref(v, self.measurements, self.made_by, self.lang)
                  for k, v in call.params.items()}
        try:
            v = spec.fn(Args(values, labels, self.lang))
        except (TypeError, ValueError, KeyError, IndexError) as err:
            v = Verdict(FAIL, f"cannot evaluate {call.name}: {err}")  # masked below
        source = kernel_lines(call.params, values, self.measurements, self._secret_texts,
                              checks_revealed(), self.lang)
        return Verdict(v.status, self.mask(v.measured), self.mask(v.expected),
                       tuple(self.mask(line) for line in source))

    def run_checks(self, step: Step | int | None = None) -> list[CheckResult]:
        step = self._step(step)
        out = self.outcomes.setdefault(step.index, StepOutcome(step))
        results = [CheckResult(self.lesson.id, f"step {step.index + 1}", self.mask(self.say(c)),
                               self.evaluate(c), c.line) for c in step.checks]
        if step.predict is not None:
            results.append(self.check_quiz(step.predict))
        if step.try_it is not None and self.run_commands:
            results.append(self.check_try(step))
        if out.error:  # an action that failed never passes silently
            results.append(CheckResult(self.lesson.id, f"step {step.index + 1}",
                                       word(self.lang, "step_runs"),
                                       Verdict(FAIL, out.error, "no error"), step.line))
        out.results = results
        out.after = self.render(step.after)
        return results

    def run_step(self, step: Step | int | None = None) -> StepOutcome:
        out = self.run_action(step)
        self.run_checks(out.step)
        return out

    # ----------------------------------------------------------- quiz
    def _judge_when(self, quiz: Quiz) -> tuple[str | None, list[Verdict], Verdict | None]:
        """The choice the evidence picks: (choice or None, one verdict per choice, the
        verdict that explains why nothing is picked)."""
        verdicts = [self.evaluate(check) for _, check in quiz.when]
        skipped = next((v for v in verdicts if v.status == SKIP), None)
        if skipped is not None:
            return None, verdicts, skipped
        broken = [v for v in verdicts if v.status == FAIL and v.measured.startswith(
            ("action failed", "nothing measured", "cannot evaluate"))]
        if broken:
            return None, verdicts, Verdict(FAIL, broken[0].measured)
        right = [c for (c, _), v in zip(quiz.when, verdicts) if v.passed]
        if len(right) != 1:
            shown = "; ".join(f"{c!r}: {v.status.upper()} ({v.measured})"
                              for (c, _), v in zip(quiz.when, verdicts))
            return None, verdicts, Verdict(
                FAIL, f"the evidence picks {len(right)} choices, not one: {shown}",
                "exactly one choice backed by the measurement")
        return right[0], verdicts, None

    def quiz_expected(self, quiz: Quiz) -> Any:
        """The right answer: the choice the evidence picks, the measured value for
        answer_from, else the written one."""
        if quiz.when:
            chosen, _, why = self._judge_when(quiz)
            if chosen is None:
                raise _Unresolved(why)
            return chosen
        if quiz.answer_from is not None:
            return self.resolve(quiz.answer_from)
        return quiz.answer

    def check_quiz(self, quiz: Quiz) -> CheckResult:
        """Is the quiz's answer key backed by what memlab measured on this run?  The
        evidence picks the right choice (or IS the answer); the file's `answer` must agree,
        and every other choice must be rejected."""
        first = quiz.question.strip().splitlines()[0] if quiz.question.strip() else ""
        label = first if quiz.where.startswith("step") else \
            word(self.lang, "quiz_label", question=first)
        verdicts: list[Verdict] = []
        expected: Any = None
        if quiz.when:
            chosen, per_choice, why = self._judge_when(quiz)
            if chosen is None:
                verdicts.append(why)
            else:
                i = [c for c, _ in quiz.when].index(chosen)
                check, v = quiz.when[i][1], per_choice[i]
                expected = chosen
                evidence = f"{self.say(check)}: {v.measured}"
                if quiz.answer is not None and not answers_match(quiz.answer, chosen,
                                                                 quiz.choices):
                    verdicts.append(Verdict(
                        FAIL, f"{quiz.label}: the answer key says {quiz.answer!r} but the "
                        f"evidence says {chosen!r} ({evidence})", f"answer {chosen!r}"))
                else:
                    verdicts.append(Verdict(
                        PASS, word(self.lang, "because", choice=repr(chosen), evidence=evidence),
                        word(self.lang, "evidence_picks"), v.source))
        if quiz.answer_from is not None:
            try:
                measured = self.resolve(quiz.answer_from)
            except _Unresolved as err:
                verdicts.append(err.verdict)
            else:
                expected = measured if expected is None else expected
                src = str(describe_ref(quiz.answer_from, self.measurements,
                                       self.made_by, self.lang)).lstrip("\0")
                source = tuple(self.mask(line) for line in kernel_lines(
                    {"a": quiz.answer_from}, {"a": measured}, self.measurements,
                    self._secret_texts, checks_revealed(), self.lang))
                if quiz.answer is None:
                    verdicts.append(Verdict(PASS, f"{src} = {fmt(measured)}",
                                            word(self.lang, "measured_is_answer"), source))
                else:
                    ok = answers_match(quiz.answer, measured, quiz.choices)
                    verdicts.append(Verdict(
                        PASS if ok else FAIL,
                        f"{src} = {fmt(measured)}" + ("" if ok else
                                                      f"; {quiz.label}: the answer key says "
                                                      f"{quiz.answer!r}"),
                        word(self.lang, "answer_expected", answer=fmt(measured)), source))
        if quiz.check is not None:
            verdicts.append(self.evaluate(quiz.check))
        if expected is not None and all(v.status == PASS for v in verdicts):
            wrong = self._accepted_wrong(quiz, expected)
            if wrong:
                verdicts.append(Verdict(FAIL, f"{quiz.label}: wrong answers accepted: {wrong}",
                                        "every wrong choice rejected"))
        status = FAIL if any(v.status == FAIL for v in verdicts) else \
            SKIP if any(v.status == SKIP for v in verdicts) else PASS
        worst = next((v for v in verdicts if v.status == status), verdicts[0])
        result = CheckResult(self.lesson.id, quiz.label, self.mask(label),
                             Verdict(status, self.mask("; ".join(v.measured for v in verdicts)),
                                     self.mask(worst.expected),
                                     tuple(dict.fromkeys(x for v in verdicts for x in v.source))),
                             quiz.line)
        if not quiz.where.startswith("step"):
            self.quiz_results[quiz.index] = result
        return result

    @staticmethod
    def _accepted_wrong(quiz: Quiz, expected: Any) -> list[str]:
        """The wrong answers answers_match would take: every other choice (by text, by
        letter, by number); for a number, its neighbours."""
        if quiz.choices:
            bad = []
            for i, choice in enumerate(quiz.choices):
                if answers_match(choice, expected, quiz.choices):
                    continue
                for form in (choice, chr(97 + i), str(i + 1)):
                    if answers_match(form, expected, quiz.choices):
                        bad.append(form)
            return bad
        if isinstance(expected, int) and not isinstance(expected, bool):
            return [str(n) for n in (expected - 1, expected + 1)
                    if answers_match(str(n), expected)]
        return []

    def answer_quiz(self, quiz: Quiz, given: str) -> QuizAnswer:
        evidence = self.check_quiz(quiz)
        try:
            expected = self.quiz_expected(quiz)
        except _Unresolved:
            expected = quiz.answer
        shown = fmt(expected) if not isinstance(expected, str) else expected
        if expected is None:
            return QuizAnswer(False, word(self.lang, "not_measured"), evidence)
        return QuizAnswer(answers_match(given, expected, quiz.choices), self.mask(shown),
                          evidence, self.why_wrong(quiz, given))

    def why_wrong(self, quiz: Quiz, given: str) -> str:
        """For a wrong choice: what memlab measured that rules it out (its [[when]]
        check, which did not hold)."""
        choice = given.strip()
        if quiz.choices:
            number = ascii_decimal(choice)
            if number is not None and 1 <= number <= len(quiz.choices):
                choice = quiz.choices[number - 1]
            elif len(choice) == 1 and choice.isalpha() and \
                    ord(choice.lower()) - 97 < len(quiz.choices):
                choice = quiz.choices[ord(choice.lower()) - 97]
        for c, check in quiz.when:
            if _normal(c) == _normal(choice):
                v = self.evaluate(check)
                if v.status == FAIL:
                    return self.mask(word(self.lang, "to_be_right", choice=repr(c),
                                          check=describe_check(check.name, check.params,
                                                               check.say, lang=self.lang),
                                          measured=v.measured))
        return ""

    # ----------------------------------------------------------- try it yourself
    def try_command(self, step: Step) -> str:
        """The step's try-it command with its {$refs} filled in (for the learner)."""
        return self.render(step.try_it.command) if step.try_it else ""

    def check_try(self, step: Step, given: str | None = None) -> CheckResult:
        """A learner's answer to a try-it step (given), or with given=None (--check) the
        command run by memlab itself: its output must show the measured value."""
        t = step.try_it
        where = f"step {step.index + 1} try it"
        label = self.mask(fmt(f"$ {self.render(t.command)}"))  # "step N try it: $ cmd"
        try:
            measured = self.resolve(t.answer_from)
        except _Unresolved as err:
            return CheckResult(self.lesson.id, where, label, err.verdict, t.line)
        if given is not None:
            ok = answers_match(given, measured) or _in_output(given, measured)
            v = Verdict(PASS if ok else FAIL,
                        self.mask(word(self.lang, "you_typed", given=repr(given.strip()),
                                       measured=fmt(measured))),
                        fmt(measured))
            return CheckResult(self.lesson.id, where, label, v, t.line)
        try:  # run as written (a {$ref} to a secret is the secret, not the mask)
            output = run_try_command(self._fill(t.command), run_memlab=self.run_memlab)
        except MemlabError as err:
            return CheckResult(self.lesson.id, where, label,
                               Verdict(FAIL, self.mask(word(self.lang, "did_not_run",
                                                            err=err))),
                               t.line)
        line = _in_output(output, measured)
        v = Verdict(PASS if line else FAIL,
                    self.mask(word(self.lang, "command_printed", line=fmt(line.strip())) if line
                              else word(self.lang, "never_shows", n=len(output),
                                        measured=fmt(measured))),
                    self.mask(word(self.lang, "in_its_output", measured=fmt(measured))))
        return CheckResult(self.lesson.id, where, label, v, t.line)

    # ----------------------------------------------------------- masking
    def mask(self, text: str) -> str:
        """Lesson text and verdicts as shown: every secret value this lesson knows
        (lesson_masker) replaced by memlab.secrets.MASK, unless --reveal.  Only the known
        values: prose is not one NAME=value string, and must keep its other words."""
        return mask_values(text, self._secret_texts)

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
    """The checks of a lesson that cannot run here, each skipped with the reason (its
    labels masked as LessonRunner.mask masks them)."""
    mask = lesson_mask(lesson)
    v = Verdict(SKIP, mask(word(lesson.lang, "lesson_unavailable", why=why)))
    out = [CheckResult(lesson.id, f"step {s.index + 1}", mask(c.label), v, c.line)
           for s in lesson.steps for c in s.checks]
    out += [CheckResult(lesson.id, f"quiz {q.index + 1}",
                        mask(word(lesson.lang, "quiz_label", question=q.question.strip()[:60])),
                        v, q.line)
            for q in lesson.quizzes]
    return out


def mask_values(text: str, secrets: list[str]) -> str:
    """TEXT with every one of SECRETS replaced by memlab.secrets.MASK (longest first),
    unless --reveal."""
    if checks_revealed() or not text:
        return text
    for value in sorted(secrets, key=len, reverse=True):
        if value:
            text = text.replace(value, MASK)
    return text


def lesson_mask(lesson: Lesson) -> Callable[[str], str]:
    """The masking a LessonRunner applies, for text shown before (or without) one: a
    lesson's title, goal, summary, the labels of a lesson that cannot run."""
    secrets = [v.decode("utf-8", "replace") for v in lesson_masker(lesson).values]
    return lambda text: mask_values(text, secrets)


def lesson_masker(lesson: Lesson) -> Masker:
    """Every secret value the lesson itself writes down (a secret-looking NAME=value it
    launches with, a Secret's data in its manifests -- inline, in `objects`, or a file
    named by `file`): masked in everything the lesson shows, as memlab's views mask them
    (memlab.secrets)."""
    entries: list[bytes] = []
    values: list[bytes] = []
    k8s = False

    def walk(value: Any, key: str = "") -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                if isinstance(v, str) and looks_secret(str(k), v):
                    values.append(v.encode())
                walk(v, str(k))
        elif isinstance(value, list):
            for v in value:
                walk(v, key)
        elif isinstance(value, str) and "=" in value and " " not in value.split("=")[0]:
            entries.append(value.encode())
        if isinstance(value, str) and (key == "manifest" or k8s and key in ("objects", "file")):
            text = value if "\n" in value or key == "manifest" else \
                _manifest_file_text(lesson, value)
            values.extend(_secret_manifest_values(text))

    for step in lesson.steps:
        for call in step.actions:
            k8s = call.do.startswith("k8s_")  # the actions that read manifests
            walk(call.params)
    return Masker.build(entries, values=values)


def _manifest_file_text(lesson: Lesson, name: str) -> str:
    """A manifest a lesson names by file (next to the lesson, then memlab's examples), read
    as the k8s actions read it; "" when it cannot be read (the action says why)."""
    try:
        return read_manifest(RunContext(lesson_dir=lesson.path.parent), {"file": name})
    except MemlabError:
        return ""


_SECRET_DATA_RE = re.compile(r"^\s+[\w.-]+:\s*[\"']?([^\"'\n]{4,})[\"']?\s*$", re.M)
_FLOW_PAIR_RE = re.compile(r"[{,]\s*[\"']?[\w.-]+[\"']?\s*:\s*[\"']?([^\"',{}\n]+?)[\"']?\s*(?=[,}])")


def _secret_values_of(doc: Any) -> list[tuple[str, Any]]:
    """(field, value) under stringData/data of every `kind: Secret` mapping in a parsed
    document (a List's items too)."""
    out: list[tuple[str, Any]] = []
    if isinstance(doc, list):
        for item in doc:
            out.extend(_secret_values_of(item))
    elif isinstance(doc, dict):
        if doc.get("kind") == "Secret":
            for field_name in ("data", "stringData"):
                block = doc.get(field_name)
                if isinstance(block, dict):
                    out.extend((field_name, v) for v in block.values())
        for v in doc.values():
            if isinstance(v, (dict, list)):
                out.extend(_secret_values_of(v))
    return out


def _secret_manifest_values(text: str) -> list[bytes]:
    """The values under stringData/data of every Secret in a lesson's manifest text (YAML
    in block or flow style, JSON, several documents); data decoded from base64 (its text
    kept when it is not base64).  Text that does not parse is read line by line for
    `key: value` pairs under stringData/data, so a broken manifest is masked rather than
    shown."""
    if not text.strip():
        return []
    try:
        pairs = [p for doc, _, _ in parse_documents(text, "<lesson>")
                 for p in _secret_values_of(doc)]
    except MemlabError:
        pairs = _secret_pairs_by_line(text)
    out: list[bytes] = []
    for field_name, value in pairs:
        if value is None or isinstance(value, (bool, dict, list)):
            continue
        raw = str(value).strip().encode()
        if field_name == "data":
            try:
                raw = base64.b64decode(raw, validate=True) or raw
            except ValueError:
                pass  # not base64: the API server refuses it, memlab still masks it
        out.append(raw)
        if b"\n" in raw:  # a multi-line value (a key, a config file): each line too
            out.extend(line.strip() for line in raw.splitlines() if line.strip())
    return out


def _secret_pairs_by_line(text: str) -> list[tuple[str, str]]:
    """Malformed YAML: every `key: value` under a stringData/data key, block or flow
    style, in any document that names a Secret."""
    out: list[tuple[str, str]] = []
    for doc in re.split(r"^---", text, flags=re.M):
        if "Secret" not in doc:
            continue
        for m in re.finditer(r"^(\s*)(stringData|data)\s*:(.*)$", doc, re.M):
            indent, field_name, rest = len(m.group(1)), m.group(2), m.group(3)
            if rest.strip().startswith("{"):
                flow = rest[:rest.find("}") + 1] if "}" in rest else rest + "}"
                out += [(field_name, v.group(1)) for v in _FLOW_PAIR_RE.finditer(flow)]
                continue
            body = []
            for line in doc[m.end():].split("\n")[1:]:
                if line.strip() and len(line) - len(line.lstrip()) <= indent:
                    break
                body.append(line)
            out += [(field_name, v.group(1).strip())
                    for v in _SECRET_DATA_RE.finditer("\n".join(body))]
    return out


def _memlab_program() -> str:
    """`memlab` in a try-it command: this memlab (next to its Python), else $PATH's."""
    here = Path(sys.executable).parent / "memlab"
    return str(here) if here.exists() else (shutil.which("memlab") or "memlab")


MAX_TRY_OUTPUT = 1 << 20


def run_try_command(command: str, timeout: float = 10.0,
                    run_memlab: Callable[[list[str]], str] | None = None) -> str:
    """Run a try-it command as the learner would (one program and its arguments, no
    shell) through memlab.launch (`memlab ...` through run_memlab when given), and
    return its output."""
    try:
        words = shlex.split(command)
    except ValueError as err:
        raise UsageError(f"cannot split {command!r}: {err}") from err
    if not words:
        raise UsageError("an empty try-it command")
    if words[0] == "memlab" and run_memlab is not None:
        return run_memlab(words[1:])
    target = _memlab_program() if words[0] == "memlab" else words[0]
    child = launcher.launch(target, words[1:], None, hold="none", timeout=timeout)
    with child:
        lines: list[str] = []
        size = 0
        while size < MAX_TRY_OUTPUT:
            line = child.read_stdout_line(timeout)
            if line is None:
                break
            lines.append(line)
            size += len(line) + 1
        child.wait(timeout)
    return "\n".join(lines)


# The width /proc/PID/maps prints an address with (fs/proc/task_mmu.c show_vma_header_prefix:
# "%08lx-%08lx"): a bare hex number shorter than this could as well be decimal.
ADDRESS_DIGITS = 8
_TOKEN_RE = re.compile(r"[0-9A-Za-z_]+", re.ASCII)
_HEX_RE = re.compile(r"[0-9a-fA-F]+")
def _hex_address(tok: str) -> bool:
    return len(tok) >= ADDRESS_DIGITS and _HEX_RE.fullmatch(tok) is not None


def _shows_number(line: str, n: int) -> bool:
    """Does the line print n as a whole token, in a form that cannot be another number:
    decimal (not one end of a hex range, no leading zero, not part of a fraction),
    0x-hex, or bare hex where it is printed as hex (one end of a maps-style `start-end`
    range, or an address-wide token with a hex letter or a leading zero, as the kernel's
    %08lx prints it)?  One pass over the tokens: a megabyte line costs a megabyte."""
    tokens = list(_TOKEN_RE.finditer(line))
    for i, m in enumerate(tokens):
        tok, (s, e) = m.group(), m.span()
        if len(tok) > 66:  # no 64-bit number is this long (and int() limits its digits)
            continue
        before, before2 = line[s - 1:s] if s else "", line[s - 2:s - 1] if s > 1 else ""
        after, after2 = line[e:e + 1], line[e + 1:e + 2]
        if before == "." and before2.isdigit() or after == "." and after2.isdigit():
            continue  # a fraction: 1.5 is not 5
        if tok[:2].lower() == "0x" and len(tok) > 2 and _HEX_RE.fullmatch(tok[2:]):
            if n >= 0 and int(tok, 16) == n:
                return True
            continue
        in_range = _hex_address(tok) and (
            before == "-" and i > 0 and tokens[i - 1].end() == s - 1
            and _hex_address(tokens[i - 1].group())
            or after == "-" and i + 1 < len(tokens) and tokens[i + 1].start() == e + 1
            and _hex_address(tokens[i + 1].group()))
        if tok.isdigit() and (tok == "0" or tok[0] != "0") and not in_range:
            negative = before == "-" and not _TOKEN_RE.fullmatch(before2 or "-")
            if (-int(tok) if negative else int(tok)) == n:
                return True
        if n >= 0 and _hex_address(tok) and int(tok, 16) == n \
                and (in_range or tok[0] == "0" or not tok.isdigit()):
            return True
    return False


def _in_output(output: str, measured: Any) -> str:
    """The line(s) of output that show the measured value, else "": a number as a whole
    token in a form that means that number (_shows_number: "29" is not 41, "a" is not
    10); text as a whole token (not inside a longer word), exactly."""
    if isinstance(measured, bool) or measured is None or not output:
        return ""
    if isinstance(measured, int):
        return next((line for line in output.splitlines() if _shows_number(line, measured)),
                    "")
    text = str(measured).strip()
    if not text:
        return ""
    word = "[0-9A-Za-z_]"
    pattern = (f"(?<!{word})" if re.match(word, text, re.ASCII) else "") + re.escape(text) + \
        (f"(?!{word})" if re.match(word, text[-1], re.ASCII) else "")
    m = re.search(pattern, output, re.ASCII)
    if m is None:
        return ""
    first = output.rfind("\n", 0, m.start()) + 1
    last = output.find("\n", m.end())
    return output[first:] if last < 0 else output[first:last]
