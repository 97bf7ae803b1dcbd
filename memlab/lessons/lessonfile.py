"""Lesson files: TOML (see FORMAT.md) -> Lesson objects, validated before anything runs.

Every mistake a teacher can make is reported as one LessonFileError that names the file
and the line: TOML syntax (tomllib's own line/column), an unknown action or check, a
parameter the action/check does not take, a missing required one, a "$name" reference to
nothing saved by an earlier step.  tomllib keeps no positions for values, so the line of
a semantic error is found by searching the source from the header of the step it is in.
"""

from __future__ import annotations

import bisect
import os
import re
import tomllib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from memlab import requirements
from memlab.errors import UsageError
from memlab.inputfile import LESSON, InputFileError, read_input_text
from memlab.lessons.actions import ACTIONS, PROGRAM_PARAMS, param_value
from memlab.lessons.checks import CHECKS, REF_RE, describe_check

CONTENT_DIR = Path(__file__).resolve().parent / "content"
LANGUAGES = ("en", "ko")  # en: content/*.toml; ko: content/ko/*.toml, where translated


def default_lang(environ: dict[str, str] | None = None) -> str:
    """The learner's language from LC_ALL, else LC_MESSAGES, else LANG (POSIX order):
    "ko" for ko_KR.UTF-8 and the like, else "en"."""
    env = os.environ if environ is None else environ
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(var, "")
        if value:
            return "ko" if value.lower().startswith("ko") else "en"
    return "en"
_TEMPLATE_RE = re.compile(r"\{(\$[A-Za-z_][\w-]*(?:\.[^.\s{}:]+)*)\}")
_LESSON_KEYS = {"id", "title", "goal", "minutes", "order", "chapters", "corrects", "summary"}
_STEP_KEYS = {"title", "text", "after", "action", "check", "needs_root", "highlight",
              "predict", "try"}
_QUIZ_KEYS = {"question", "choices", "answer", "answer_from", "check", "explain", "when"}
_TRY_KEYS = {"command", "question", "answer_from", "explain"}
_TOML_LINE_RE = re.compile(r"\(at line (\d+), column (\d+)\)")
# Bounds on what a lesson file may ask for (FORMAT.md "Limits"): a lesson takes under
# ~5 minutes, memlab's own have at most 9 steps.
MAX_DEPTH = 64  # nesting of tables and arrays
MAX_STEPS = 100
MAX_QUIZZES = 50
MAX_PER_STEP = 50  # actions, and checks, in one step


class LessonFileError(UsageError):
    """A lesson file that cannot be used, with the file and line to fix."""

    def __init__(self, msg: str, *, path: str, line: int | None = None):
        super().__init__(msg, path=path)
        self.line = line

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else str(self.path)
        return f"{where}: {self.msg}"


@dataclass(frozen=True)
class ActionCall:
    do: str
    params: dict[str, Any]
    save: str | None
    line: int


@dataclass(frozen=True)
class CheckCall:
    name: str
    params: dict[str, Any]
    say: str | None  # what the check means, in the lesson's words
    line: int

    @property
    def label(self) -> str:
        return describe_check(self.name, self.params, self.say)


@dataclass(frozen=True)
class Step:
    index: int
    title: str
    text: str
    after: str
    actions: tuple[ActionCall, ...]
    checks: tuple[CheckCall, ...]
    needs_root: str | None  # the reason root is needed, or None
    highlight: str | None
    line: int
    predict: Quiz | None = None  # asked BEFORE the actions run, judged after
    try_it: TryIt | None = None  # a command for the learner's own terminal


@dataclass(frozen=True)
class Quiz:
    index: int
    question: str
    choices: tuple[str, ...]
    answer: Any  # the expected answer (None when the evidence alone decides)
    answer_from: str | None  # "$name.path": the measured value IS the answer
    check: CheckCall | None  # more evidence that must hold
    explain: str
    line: int
    # (choice, check): the check passes exactly when that choice is right; the measured
    # evidence picks the answer, and `answer` (the file's key) must agree with it
    when: tuple[tuple[str, CheckCall], ...] = ()
    where: str = ""  # "quiz 2", "step 3 prediction"

    @property
    def label(self) -> str:
        return self.where or f"quiz {self.index + 1}"


@dataclass(frozen=True)
class TryIt:
    """A real command the learner runs in another terminal; they type what it showed
    and memlab compares it with its own measurement (answer_from).  `--check` runs the
    command itself and looks for the measured value in its output."""

    command: str  # shell words; {$name.path} filled in from measurements
    question: str
    answer_from: str
    explain: str
    line: int


@dataclass(frozen=True)
class Lesson:
    id: str
    title: str
    goal: str
    minutes: int
    order: int
    chapters: tuple[int, ...]  # section numbers of docs/article.md
    corrects: tuple[str, ...]  # ids of the corrections in docs/article.md
    summary: str
    steps: tuple[Step, ...]
    quizzes: tuple[Quiz, ...]
    path: Path
    requires: tuple[str, ...] = field(default=())  # outside memlab (memlab.requirements)

    @property
    def lang(self) -> str:
        """The lesson's language: "ko" for a built-in translation (content/ko/NAME.toml),
        else "en".  memlab's own words around the lesson follow it (memlab.lessons.words)."""
        parent = self.path.parent.resolve()
        return next((lang for lang in LANGUAGES[1:] if parent == CONTENT_DIR / lang), "en")

    @property
    def trusted(self) -> bool:
        """memlab's own lessons (memlab/lessons/content) run what they run; a lesson file
        from anywhere else is code from whoever wrote it (see `programs`).  The directory
        it was found in counts too: its `file = ...` manifests are read from there, so a
        symlink to one of memlab's lessons from another directory is not memlab's."""
        homes = {CONTENT_DIR} | {CONTENT_DIR / lang for lang in LANGUAGES[1:]}
        return (self.path.parent.resolve() in homes
                and self.path.resolve().parent in homes)

    @cached_property
    def programs(self) -> tuple[str, ...]:
        """What the lesson's actions would start, one line each: "step 2: launch: ARGV"."""
        out = []
        for step in self.steps:
            for a in step.actions:
                starts = ACTIONS[a.do].starts
                for what in starts(a.params, self.path.parent) if starts else ():
                    out.append(f"step {step.index + 1}: {a.do}: {what}")
        return tuple(out)

    def refuse_programs(self) -> UsageError | None:
        """The error to stop with when this lesson would start programs it may not start
        without the user's yes (None: a lesson of memlab's own, or it starts none)."""
        programs = () if self.trusted else self.programs
        if not programs:
            return None
        return UsageError(f"{self.path} is not one of memlab's lessons and would run: "
                          f"{'; '.join(programs)} -- run it with --yes if you trust it")

    @property
    def check_count(self) -> int:
        return sum(len(s.checks) for s in self.steps) + len(self.quizzes)

    def availability(self) -> tuple[bool, str]:
        """(True, "") when everything the lesson's actions need from outside memlab is
        here (memlab.requirements: the programs they start, ...), else (False, why)."""
        missing = requirements.missing_all(self.requires)
        if missing:
            return False, "needs " + "; ".join(missing)
        return True, ""


class _Locator:
    """Line numbers for a TOML source: the header line of each [[step]] / [[quiz]], and
    the first line after a header that contains a given text."""

    def __init__(self, text: str):
        self.lines = text.splitlines()
        self.steps: list[int] = []
        self.quizzes: list[int] = []
        for n, line in enumerate(self.lines, 1):
            s = line.strip()
            if s.startswith("[[step]]"):
                self.steps.append(n)
            elif s.startswith("[[quiz]]"):
                self.quizzes.append(n)
        self.headers = sorted(self.steps + self.quizzes)

    def find(self, start: int, *needles: str) -> int:
        """The first line from START to the next [[step]]/[[quiz]] header holding a
        needle (searched in order), else START: one section, not the rest of the file."""
        start = max(start, 1)
        i = bisect.bisect_right(self.headers, start)
        end = self.headers[i] if i < len(self.headers) else len(self.lines) + 1
        for needle in needles:
            for n in range(start, end):
                if needle in self.lines[n - 1]:
                    return n
        return start

    def step(self, i: int) -> int:
        return self.steps[i] if i < len(self.steps) else 1

    def quiz(self, i: int) -> int:
        return self.quizzes[i] if i < len(self.quizzes) else 1


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def references(value: Any) -> list[str]:
    """Every "$name.path" string inside a parameter value (lists and tables included)."""
    if isinstance(value, str):
        return [value] if REF_RE.match(value) else []
    if isinstance(value, list):
        return [r for v in value for r in references(v)]
    if isinstance(value, dict):
        return [r for v in value.values() for r in references(v)]
    return []


def _too_deep(data: dict) -> bool:
    """True when tables and arrays nest more than MAX_DEPTH levels (an explicit stack:
    the walk itself must not recurse on hostile input)."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        children = value.values() if isinstance(value, dict) else value
        stack.extend((v, depth + 1) for v in children if isinstance(v, (dict, list)))
    return False


def load_lesson(path: str | Path) -> Lesson:
    path = Path(path)
    try:
        text = read_input_text(path, LESSON)
    except InputFileError as err:
        raise LessonFileError(err.msg, path=str(path)) from err
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        m = _TOML_LINE_RE.search(str(err))
        raise LessonFileError(f"TOML syntax error: {err}", path=str(path),
                              line=int(m.group(1)) if m else None) from err
    except RecursionError as err:  # tomllib recurses once per nested array/inline table
        raise LessonFileError(f"nested more than {MAX_DEPTH} levels deep",
                              path=str(path)) from err
    if _too_deep(data):
        raise LessonFileError(f"nested more than {MAX_DEPTH} levels deep", path=str(path))
    return _build(path, text, data)


def _build(path: Path, text: str, data: dict) -> Lesson:
    loc = _Locator(text)

    def fail(msg: str, line: int | None) -> LessonFileError:
        return LessonFileError(msg, path=str(path), line=line)

    head = data.get("lesson")
    if not isinstance(head, dict):
        raise fail("missing the [lesson] table (title, goal, minutes)", 1)
    head_line = loc.find(1, "[lesson]")
    for key in head:
        if key not in _LESSON_KEYS:
            raise fail(f"unknown key {key!r} in [lesson] (known: {', '.join(sorted(_LESSON_KEYS))})",
                       loc.find(head_line, f"{key}"))
    for key in ("title", "goal"):
        if not isinstance(head.get(key), str) or not head[key].strip():
            raise fail(f"[lesson] needs a non-empty {key!r}", head_line)
    for key in data:
        if key not in ("lesson", "step", "quiz"):
            raise fail(f"unknown table {key!r} (a lesson has [lesson], [[step]], [[quiz]])",
                       loc.find(1, f"[{key}", f"{key} ="))
    saved: set[str] = set()
    requires: list[str] = []
    steps: list[Step] = []
    raw_steps = data.get("step", [])
    if not isinstance(raw_steps, list) or not raw_steps:
        raise fail("a lesson needs at least one [[step]]", head_line)
    if len(raw_steps) > MAX_STEPS:
        raise fail(f"{len(raw_steps)} steps: a lesson has at most {MAX_STEPS}", loc.step(MAX_STEPS))
    raw_quizzes = data.get("quiz", [])
    if isinstance(raw_quizzes, list) and len(raw_quizzes) > MAX_QUIZZES:
        raise fail(f"{len(raw_quizzes)} quizzes: a lesson has at most {MAX_QUIZZES}",
                   loc.quiz(MAX_QUIZZES))

    def build_check(raw: Any, start: int, where: str) -> CheckCall:
        if not isinstance(raw, dict):
            raise fail(f"{where}: a check is a table with name = ...", start)
        name = raw.get("name")
        params = {k: v for k, v in raw.items() if k not in ("name", "say")}
        if not isinstance(name, str):
            raise fail(f"{where}: check without a name", start)
        line = loc.find(start, f'"{name}"', "name")
        spec = CHECKS.get(name)
        if spec is None:
            raise fail(f"{where}: unknown check {name!r} (known: {', '.join(sorted(CHECKS))})",
                       line)
        for key in params:
            if key not in spec.all_params:
                raise fail(f"{where}: check {name!r} takes no parameter {key!r} "
                           f"(it takes: {', '.join(spec.all_params)})", loc.find(line, key))
        for key in spec.params:
            if key not in params:
                raise fail(f"{where}: check {name!r} needs parameter {key!r}", line)
        check_refs(params, line, where)
        why = spec.literal_problem(params) if spec.literal_problem else None
        if why:
            raise fail(f"{where}: check {name!r}: {why}", line)
        return CheckCall(name, params, raw.get("say"), line)

    def check_refs(params: dict, line: int, where: str) -> None:
        for ref in references(params):
            root = REF_RE.match(ref).group(1)
            if root not in saved:
                raise fail(f"{where}: {ref!r} refers to {root!r}, which no earlier action "
                           f"saves (saved so far: {', '.join(sorted(saved)) or 'nothing'})",
                           loc.find(line, ref))

    def check_keys(raw: dict, known: set[str], where: str,
                   start: int) -> None:
        """The first key of `raw` that is not in `known` fails, on the line that has it."""
        for key in raw:
            if key not in known:
                raise fail(f"{where}: unknown key {key!r} (known: {', '.join(sorted(known))})",
                           loc.find(start, key))

    def build_quiz(raw: dict, i: int, start: int, where: str) -> Quiz:
        check_keys(raw, _QUIZ_KEYS, where, start)
        if not isinstance(raw.get("question"), str):
            raise fail(f"{where}: needs question = \"...\"", start)
        answer_from = raw.get("answer_from")
        if answer_from is not None:
            if not isinstance(answer_from, str) or not REF_RE.match(answer_from):
                raise fail(f"{where}: answer_from must be a \"$name.path\" reference",
                           loc.find(start, "answer_from"))
            check_refs({"answer_from": answer_from}, start, where)
        check = build_check(raw["check"], loc.find(start, "check"), where) \
            if "check" in raw else None
        choices = raw.get("choices", [])
        if not isinstance(choices, list):
            raise fail(f"{where}: choices is a list of strings", loc.find(start, "choices"))
        choices = [str(c) for c in choices]
        when: list[tuple[str, CheckCall]] = []
        for raw_when in _as_list(raw.get("when")):
            w_line = loc.find(start, "when")
            if not isinstance(raw_when, dict) or not isinstance(raw_when.get("choice"), str):
                raise fail(f"{where}: a [[...when]] table names its choice = \"...\" and a "
                           "check", w_line)
            choice = raw_when["choice"]
            if choice not in choices:
                raise fail(f"{where}: when choice {choice!r} is not one of the choices",
                           loc.find(start, f'"{choice}"'))
            when.append((choice, build_check({k: v for k, v in raw_when.items()
                                              if k != "choice"}, w_line, where)))
        if when and {c for c, _ in when} != set(choices):
            missing = [c for c in choices if c not in {c for c, _ in when}]
            raise fail(f"{where}: every choice needs a [[...when]] check (the evidence that "
                       f"makes it right); none for {missing}", start)
        if "answer" not in raw and answer_from is None and not when:
            raise fail(f"{where}: needs answer = ... or answer_from = \"$...\"", start)
        if answer_from is None and not when and (choices or check is None):
            raise fail(f"{where}: memlab must be able to check the answer against what it "
                       "measured: give answer_from = \"$...\" (the measured value is the "
                       "answer) or, with choices, one [[...when]] check per choice (the "
                       "evidence that makes that choice right)", start)
        if "answer" in raw and choices and str(raw["answer"]) not in choices:
            raise fail(f"{where}: answer {raw['answer']!r} is not one of the choices",
                       loc.find(start, "answer"))
        return Quiz(i, raw["question"], tuple(choices), raw.get("answer"), answer_from,
                    check, str(raw.get("explain", "")), start, tuple(when), where)

    def build_try(raw: Any, start: int, where: str) -> TryIt:
        if not isinstance(raw, dict):
            raise fail(f"{where}: try is a table (command, question, answer_from)", start)
        for key in raw:
            if key not in _TRY_KEYS:
                raise fail(f"{where}: try takes no key {key!r} (known: "
                           f"{', '.join(sorted(_TRY_KEYS))})", loc.find(start, key))
        for key in ("command", "question", "answer_from"):
            if not isinstance(raw.get(key), str) or not raw[key].strip():
                raise fail(f"{where}: try needs {key} = \"...\"", loc.find(start, "try"))
        if not REF_RE.match(raw["answer_from"]):
            raise fail(f"{where}: try's answer_from must be a \"$name.path\" reference",
                       loc.find(start, "answer_from"))
        line = loc.find(start, "command")
        check_refs({"answer_from": raw["answer_from"]}, line, where)
        for ref in _TEMPLATE_RE.findall(raw["command"]):
            check_refs({"c": ref}, line, where)
        return TryIt(raw["command"], raw["question"], raw["answer_from"],
                     str(raw.get("explain", "")), line)

    for i, raw in enumerate(raw_steps):
        start = loc.step(i)
        where = f"step {i + 1}"
        if not isinstance(raw, dict):
            raise fail(f"{where}: a step is a table", start)
        check_keys(raw, _STEP_KEYS, where, start)
        if not isinstance(raw.get("text"), str):
            raise fail(f"{where}: needs text = \"...\"", start)
        for key in ("action", "check"):
            if len(_as_list(raw.get(key))) > MAX_PER_STEP:
                raise fail(f"{where}: more than {MAX_PER_STEP} {key}s in one step", start)
        actions: list[ActionCall] = []
        for raw_action in _as_list(raw.get("action")):
            if not isinstance(raw_action, dict) or not isinstance(raw_action.get("do"), str):
                raise fail(f"{where}: an action is a table with do = \"<action>\"", start)
            name = raw_action["do"]
            line = loc.find(start, f'"{name}"')
            spec = ACTIONS.get(name)
            if spec is None:
                raise fail(f"{where}: unknown action {name!r} (known: {', '.join(sorted(ACTIONS))})",
                           line)
            params = {k: v for k, v in raw_action.items() if k not in ("do", "save")}
            for key in params:
                if key not in spec.all_params:
                    raise fail(f"{where}: action {name!r} takes no parameter {key!r} "
                               f"(it takes: {', '.join(spec.all_params) or 'none'})",
                               loc.find(line, key))
            for key in spec.params:
                if key not in params:
                    raise fail(f"{where}: action {name!r} needs parameter {key!r}", line)
            check_refs(params, line, where)
            for key, bound in spec.bounds.items():  # literals now; "$refs" when run
                value = param_value(params, key)
                why = None if value is None or references(value) else bound.problem(value)
                if why:
                    raise fail(f"{where}: action {name!r}: {key} {why}",
                               loc.find(line, key.split(".")[-1]))
            save = raw_action.get("save")
            if save is not None and (not isinstance(save, str)
                                     or not re.match(r"^[A-Za-z_][\w-]*$", save)):
                raise fail(f"{where}: save must be a plain name like \"p\"", loc.find(line, "save"))
            actions.append(ActionCall(name, params, save, line))
            requires.extend(spec.requires)
            for key in PROGRAM_PARAMS:  # a sample not built yet: unavailable, say why
                if isinstance(params.get(key), str):
                    requires.append(requirements.program(params[key]))
            if name == "launch" and "target" not in params:
                requires.append(requirements.program("sleeper"))
            if save:
                saved.add(save)
        checks = [build_check(c, start, where) for c in _as_list(raw.get("check"))]
        predict = None
        if "predict" in raw:
            if not isinstance(raw["predict"], dict):
                raise fail(f"{where}: predict is a table (question, choices, when...)",
                           loc.find(start, "predict"))
            predict = build_quiz(raw["predict"], i, loc.find(start, "predict"),
                                 f"{where} prediction")
        try_it = build_try(raw["try"], start, where) if "try" in raw else None
        needs_root = raw.get("needs_root")
        if needs_root is True:
            needs_root = "this step switches to another uid, which needs root"
        elif needs_root is False:
            needs_root = None
        steps.append(Step(i, str(raw.get("title", f"Step {i + 1}")), raw["text"],
                          str(raw.get("after", "")), tuple(actions), tuple(checks),
                          needs_root, raw.get("highlight"), start, predict, try_it))
    quizzes: list[Quiz] = []
    if not isinstance(raw_quizzes, list) or not raw_quizzes:
        raise fail("a lesson ends with at least one [[quiz]] that memlab can check", head_line)
    for i, raw in enumerate(raw_quizzes):
        start = loc.quiz(i)
        if not isinstance(raw, dict):
            raise fail(f"quiz {i + 1}: a quiz is a table", start)
        quizzes.append(build_quiz(raw, i, start, f"quiz {i + 1}"))
    minutes = head.get("minutes", 5)
    if not isinstance(minutes, int) or not 1 <= minutes <= 5:
        raise fail("minutes must be an integer from 1 to 5 (a lesson takes under ~5 minutes)",
                   loc.find(head_line, "minutes"))
    return Lesson(
        id=str(head.get("id") or path.stem), title=head["title"].strip(),
        goal=head["goal"].strip(), minutes=minutes, order=int(head.get("order", 100)),
        chapters=tuple(int(c) for c in head.get("chapters", [])),
        corrects=tuple(str(c) for c in head.get("corrects", [])),
        summary=str(head.get("summary", "")).strip(), steps=tuple(steps),
        quizzes=tuple(quizzes), path=path, requires=tuple(dict.fromkeys(requires)),
    )


def translated(path: Path, lang: str) -> Path:
    """The built-in lesson file in that language if there is one, else the English."""
    other = CONTENT_DIR / lang / path.name
    return other if lang != "en" and other.is_file() else path


@dataclass
class Catalog:
    """The lessons found in some directories, and the files that could not be loaded."""

    lessons: list[Lesson]
    errors: list[LessonFileError]

    def get(self, name: str) -> Lesson:
        for lesson in self.lessons:
            if lesson.id == name or lesson.path.stem == name:
                return lesson
        for err in self.errors:
            if Path(err.path).stem == name:
                raise err
        known = ", ".join(lesson.id for lesson in self.lessons)
        raise UsageError(f"no lesson named {name!r} (known: {known})")


def discover(extra_dirs: list[str | Path] = (), builtin: bool = True,
             lang: str = "en") -> Catalog:
    """Load every *.toml in the built-in content directory and the extra directories.
    A broken file becomes an entry in `errors`; the others still load.  lang: a built-in
    lesson translated into that language (content/<lang>/NAME.toml) replaces the English
    one; the others stay English."""
    dirs = ([CONTENT_DIR] if builtin else []) + [Path(d) for d in extra_dirs]
    lessons: list[Lesson] = []
    errors: list[LessonFileError] = []
    seen: dict[str, Path] = {}
    for d in dirs:
        if not d.exists():
            errors.append(LessonFileError("no such lesson file or directory", path=str(d)))
            continue
        # not a directory: one file, which load_lesson refuses if it is a FIFO, a device...
        files = sorted(d.glob("*.toml")) if d.is_dir() else [d]
        if d == CONTENT_DIR and lang != "en":
            files = [translated(f, lang) for f in files]
        for f in files:
            try:
                lesson = load_lesson(f)
            except LessonFileError as err:
                errors.append(err)
                continue
            if lesson.id in seen:
                errors.append(LessonFileError(
                    f"lesson id {lesson.id!r} already used by {seen[lesson.id]}", path=str(f),
                    line=1))
                continue
            seen[lesson.id] = f
            lessons.append(lesson)
    lessons.sort(key=lambda x: (x.order, x.id))
    return Catalog(lessons, errors)
