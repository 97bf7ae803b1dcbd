"""Lessons view: pick a guided lesson; it opens in the pane beside the live views.

Teaches: the whole course, step by step, next to the views it talks about.  The pane
drives one memlab.lessons.engine.LessonRunner (the same engine as `memlab lesson run`):
n/b move between steps, enter runs the step's actions and checks and shows each verdict
with the value memlab measured, then the app attaches to the process the step launched
and switches to the view the step is about (its `highlight`).  As in `memlab lesson run`
(memlab/cli/lesson_cmds.py): a step with a prediction asks it first and runs only once
the learner answered, then shows the prediction beside the measurement; a step with a
try-it asks what the command showed in the learner's other terminal (one retry, escape
skips).  The quiz page takes answers in an input and checks them against the
measurement.  Actions launch processes, so they run on the event-loop thread
(PR_SET_PDEATHSIG is tied to the forking thread).
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.css.query import NoMatches
from textual.widgets import DataTable, Input, Static

from memlab.lessons.engine import LessonRunner, QuizAnswer, discover
from memlab.lessons.lessonfile import default_lang
from memlab.lessons.words import word
from memlab.render.safe import printable
from memlab.tui.views import ViewSpec
from memlab.tui.widgets.base import SnapshotView
from memlab.tui.widgets.virtual import VirtualTable

HELP = word("en", "tui_help")  # the Lessons view shows it in the lessons' language

# A step's `highlight` ("view" or "view:target") -> the view that shows that part of the
# process, and the table (and the columns, by heading) where `target` names a row.
HIGHLIGHT_VIEWS = {"env": "env", "stack": "stack", "map": "map", "hex": "hex"}
HIGHLIGHT_ROWS = {"map": ("#regions", ("path", "kind")), "stack": ("#stack-table", ("field",)),
                  "env": ("#env-entries", ("name",))}

STATUS_STYLE = {"pass": "bold green", "fail": "bold red", "skip": "bold yellow"}
PREDICT_HINT = word("en", "tui_predict_hint")  # in the pane: the lesson's language
TRY_HINT = word("en", "tui_try_hint")


def _choice_text(quiz, given: str, lang: str = "en") -> str:
    """What the learner picked, in the choice's words ("b" -> "b) some padding")."""
    g = given.strip()
    n = len(quiz.choices)
    if n and len(g) == 1 and g.isascii() and g.isalpha() and ord(g.lower()) - 97 < n:
        return f"{g.lower()}) {quiz.choices[ord(g.lower()) - 97]}"
    if n and g.isascii() and g.isdigit() and 1 <= int(g) <= n:
        return f"{chr(96 + int(g))}) {quiz.choices[int(g) - 1]}"
    return g or word(lang, "tui_nothing")


def _verdict_text(status: str, label: str, measured: str, expected: str = "",
                  source: tuple[str, ...] = (), lang: str = "en") -> Text:
    """What a check measured is read from a process (env values, paths): escaped.
    `source`: the kernel's own lines behind it (a maps line, a stat field, bytes)."""
    t = Text(f"{status.upper():<5}", style=STATUS_STYLE.get(status, "bold"))
    t.append(f" {label}\n")
    t.append(f"      {printable(measured)}", style="dim" if status != "fail" else "red")
    if status == "fail" and expected:
        t.append(" " + word(lang, "expected", expected=printable(expected)), style="red")
    for line in source:
        t.append(f"\n        {printable(line)}", style="cyan")
    return t


class LessonPane(Vertical, can_focus=True):
    """One lesson, step by step.  Lives in the app's #side-pane."""

    DEFAULT_CSS = """
    LessonPane { height: 1fr; padding: 0 1; }
    LessonPane #lesson-head { height: auto; }
    LessonPane #lesson-body { height: 1fr; }
    LessonPane #lesson-answer { display: none; }
    """
    BINDINGS = [
        Binding("n", "next_step", "Next step"),
        Binding("b", "back_step", "Back"),
        Binding("enter", "run_step", "Run step"),
        Binding("escape", "close_lesson", "Close lesson"),
        Binding("pageup", "page_up", "Scroll up", show=False),
        Binding("pagedown", "page_down", "Scroll down", show=False),
    ]

    def __init__(self, lesson, **kw) -> None:
        super().__init__(**kw)
        self.lesson = lesson
        # the learner runs a try-it command; memlab judges what they typed (check_try)
        self.runner = LessonRunner(lesson, run_commands=False)
        self.lang = lesson.lang  # memlab's words around the lesson (memlab.lessons.words)
        self.quiz_index = 0
        self.highlighted: tuple[str, str, int] | None = None  # (view, target, row) shown
        self._highlight_timer = None
        self._highlight_tries = 0
        self.transcript: list[str] = []  # what the pane showed, as plain text (tests)
        self.tries = 0  # wrong answers to the current quiz or try-it (one retry)
        self.asking: str | None = None  # "predict" / "try": the answer box is for a step
        self.predictions: dict[int, tuple[str, QuizAnswer]] = {}  # step -> (typed, judged)
        self.try_log: dict[int, Text] = {}  # step -> the try-it exchange so far

    def compose(self) -> ComposeResult:
        yield Static(id="lesson-head")
        with VerticalScroll(id="lesson-body"):
            yield Static(id="lesson-step")
            yield Static(id="lesson-verdicts")
        yield Input(placeholder=word(self.lang, "tui_answer_placeholder"), id="lesson-answer")

    def on_mount(self) -> None:
        self.show_current()
        self.focus()

    # -- scrolling: the body holds the step, its verdicts and the quiz ------------
    @property
    def body(self) -> VerticalScroll:
        return self.query_one("#lesson-body", VerticalScroll)

    def action_page_up(self) -> None:
        self.body.scroll_page_up(animate=False)

    def action_page_down(self) -> None:
        self.body.scroll_page_down(animate=False)

    def _reveal_latest(self) -> None:
        """New results scroll into view (after the layout took their height)."""
        self.call_after_refresh(self.body.scroll_end, animate=False)

    def on_unmount(self) -> None:
        self.runner.close()  # ends the processes the lesson launched

    # -- drawing ----------------------------------------------------------------
    def _put(self, widget_id: str, text: Text) -> None:
        self.query_one(f"#{widget_id}", Static).update(text)
        self.transcript.append(text.plain)

    def show_current(self) -> None:
        r = self.runner
        head = Text(self.lesson.title, style="bold")
        lang = self.lang
        where = word(lang, "tui_where_quiz") if r.at_quiz else \
            word(lang, "tui_where_step", n=r.index + 1, total=len(r.steps))
        head.append(f"  ({where}, {word(lang, 'minutes', n=self.lesson.minutes)})\n",
                    style="dim")
        head.append(word(lang, "goal", goal=self.lesson.goal), style="italic")
        if not r.available:
            head.append("\n" + word(lang, "tui_unavailable_here", why=r.why_unavailable),
                        style="bold yellow")
        self._put("lesson-head", head)
        answer = self.query_one("#lesson-answer", Input)
        if r.at_quiz:
            self._put("lesson-verdicts", Text())
            answer.display = self.quiz_index < len(self.lesson.quizzes)
            self._show_quiz()
            return
        answer.display = False
        self.asking = None
        step = r.current
        body = Text(step.title + "\n", style="bold")
        body.append(printable(" ".join(r.render(step.text).split())))  # has measurements
        out = r.outcomes.get(r.index)
        if out is None and step.predict is not None:
            body.append("\n\n" + word(self.lang, "tui_enter_predicts"), style="dim")
        elif out is None and step.actions:
            body.append("\n\n" + word(self.lang, "tui_enter_runs"), style="dim")
        self._put("lesson-step", body)
        self._show_outcome()

    def _show_outcome(self) -> None:
        out = self.runner.outcomes.get(self.runner.index)
        t = Text()
        if out is not None:
            for note in out.notes:  # notes and skip reasons quote what was measured
                t.append(f"→ {printable(note)}\n", style="cyan")
            if out.skipped:
                t.append(f"SKIP  {printable(out.skipped)}\n", style="bold yellow")
            step = out.step
            predicted = self.predictions.get(step.index)
            for res in out.results:
                if predicted is not None and res.where.endswith("prediction"):
                    continue  # shown beside the learner's prediction
                t.append_text(_verdict_text(res.status, res.label, res.verdict.measured,
                                            res.verdict.expected, res.verdict.source,
                                            self.lang))
                t.append("\n")
            if predicted is not None and step.predict is not None:
                t.append_text(self._prediction_text(step.predict, *predicted))
            if out.after:
                t.append(printable(" ".join(out.after.split())), style="italic")
            if step.try_it is not None:
                t.append(f"\n{word(self.lang, 'tui_try_head')}\n", style="bold")
                t.append(f"  $ {printable(self.runner.try_command(step))}\n")
                t.append(printable(" ".join(self.runner.mask(step.try_it.question).split())))
                if step.index in self.try_log:
                    t.append("\n")
                    t.append_text(self.try_log[step.index])
                if self.asking == "try":
                    t.append("\n" + word(self.lang, "tui_try_hint"), style="dim")
        self._put("lesson-verdicts", t)
        if out is not None:
            self._reveal_latest()

    def _prediction_text(self, quiz, given: str, ans: QuizAnswer) -> Text:
        """The learner's prediction beside what memlab measured, and the evidence."""
        mask = self.runner.mask
        lang = self.lang
        t = Text(word(lang, "tui_your_prediction"), style="bold")
        t.append(printable(mask(_choice_text(quiz, given, lang))))
        t.append(word(lang, "tui_measured_dash"), style="bold")
        t.append(printable(ans.expected) + "\n")
        t.append(word(lang, "right") if ans.correct else word(lang, "not_quite"),
                 style="bold green" if ans.correct else "bold red")
        if not ans.correct and ans.why_wrong:
            t.append(f": {printable(ans.why_wrong)}")
        t.append("\n")
        if ans.evidence is not None:
            ev = ans.evidence.verdict
            t.append_text(_verdict_text(ans.evidence.status, word(lang, "tui_evidence"),
                                        ev.measured, ev.expected, ev.source, lang))
            t.append("\n")
        if quiz.explain:
            t.append(printable(" ".join(mask(quiz.explain).split())) + "\n", style="italic")
        return t

    def _open_answer(self, placeholder: str) -> None:
        answer = self.query_one("#lesson-answer", Input)
        answer.placeholder = placeholder
        answer.value = ""
        answer.display = True
        answer.focus()  # typed letters answer; they never reach the pane's or app's keys

    def _close_answer(self) -> None:
        self.asking = None
        self.tries = 0
        self.query_one("#lesson-answer", Input).display = False
        self.focus()

    def _show_quiz(self) -> None:
        quizzes = self.lesson.quizzes
        if self.quiz_index >= len(quizzes):
            t = Text(word(self.lang, "tui_complete") + "\n", style="bold green")
            t.append(" ".join(self.lesson.summary.split()))
            self._put("lesson-step", t)
            answer = self.query_one("#lesson-answer", Input)
            answer.display = False  # done: the answer box closes, the keys are the pane's
            self.focus()
            return
        q = quizzes[self.quiz_index]
        t = Text(word(self.lang, "tui_quiz_head", n=self.quiz_index + 1, total=len(quizzes))
                 + "\n", style="bold")
        t.append(printable(self.runner.mask(q.question)))
        for i, choice in enumerate(q.choices):
            t.append(f"\n  {chr(97 + i)}) {printable(self.runner.mask(choice))}")
        self._put("lesson-step", t)

    # -- actions ----------------------------------------------------------------
    def action_next_step(self) -> None:
        if self.runner.at_quiz:
            self.quiz_index = min(self.quiz_index + 1, len(self.lesson.quizzes))
            self.tries = 0
        else:
            self.runner.next()
            self.tries = 0
        self.show_current()
        if self.runner.at_quiz:
            self.query_one("#lesson-answer", Input).focus()

    def action_back_step(self) -> None:
        if self.runner.at_quiz and self.quiz_index > 0:
            self.quiz_index -= 1
        else:
            self.runner.back()
            self.tries = 0
        self.show_current()
        self.focus()

    def action_run_step(self) -> None:
        """Run the current step's actions and checks (event-loop thread: they may
        launch processes), then point the views at what the step talks about."""
        if self.runner.at_quiz:
            return
        step = self.runner.current
        if step.predict is not None:  # predict first: nothing measured yet
            self._ask_prediction(step)
            return
        self._run(step)

    def _ask_prediction(self, step) -> None:
        q = step.predict
        mask = self.runner.mask
        t = Text(word(self.lang, "tui_predict_head") + "\n", style="bold")
        t.append(printable(" ".join(mask(q.question).split())))
        for i, choice in enumerate(q.choices):
            t.append(f"\n  {chr(97 + i)}) {printable(mask(choice))}")
        t.append("\n" + word(self.lang, "tui_predict_hint"), style="dim")
        self._put("lesson-verdicts", t)
        self.asking = "predict"
        self._open_answer(word(self.lang, "tui_predict_placeholder"))
        self._reveal_latest()

    def _run(self, step, predicted: str | None = None) -> None:
        """Run the step (its actions, then its checks), judge the prediction against
        what was measured, follow the views, then ask the try-it."""
        before = set(self.runner.ctx.processes.values())
        self.runner.run_step()
        self.predictions.pop(step.index, None)
        self.try_log.pop(step.index, None)
        if predicted is not None and step.predict is not None:
            self.predictions[step.index] = (predicted,
                                            self.runner.answer_quiz(step.predict, predicted))
        self.show_current()  # the step's text, now with its measurements, and no "[enter]"
        self._follow(before)
        if step.try_it is not None and self.runner.current is step:
            self._ask_try(step)

    def _ask_try(self, step) -> None:
        ahead = self.runner.check_try(step, "")  # nothing to compare with: say why
        if ahead.status == "skip":
            self.try_log[step.index] = Text(f"SKIP  {printable(ahead.verdict.measured)}",
                                            style="bold yellow")
            self._show_outcome()
            return
        self.asking = "try"
        self.tries = 0
        self._open_answer(word(self.lang, "tui_try_placeholder"))
        self._show_outcome()

    def _end_try(self, step, log: Text, *, skipped: bool = False) -> None:
        if not skipped and step.try_it.explain:
            log.append("\n" + printable(" ".join(self.runner.mask(step.try_it.explain)
                                                 .split())), style="italic")
        self._close_answer()
        self._show_outcome()

    def _answer_try(self, given: str) -> None:
        step = self.runner.current
        log = self.try_log.setdefault(step.index, Text())
        if log.plain:
            log.append("\n")
        if given.strip().lower() == "n":  # skip it, like escape, and go on
            self._skip_try()
            self.action_next_step()
            return
        result = self.runner.check_try(step, given)
        typed = printable(self.runner.mask(given.strip() or word(self.lang, "tui_nothing")))
        if result.status == "pass":
            log.append(word(self.lang, "right"), style="bold green")
            log.append(f": {printable(result.verdict.measured)}")
            self._end_try(step, log)
            return
        log.append(f"{typed}: {word(self.lang, 'not_quite')}", style="bold red")
        log.append(word(self.lang, "tui_try_wrong"))
        if self.tries == 0:
            self.tries = 1
            log.append(word(self.lang, "one_more_paren"), style="dim")
            self._show_outcome()
            self.query_one("#lesson-answer", Input).focus()
            return
        ran = self.runner.check_try(step, None)  # memlab runs the command itself
        log.append(f"\n{word(self.lang, 'memlab_ran')} ")
        log.append(ran.status.upper(), style=STATUS_STYLE.get(ran.status, "bold"))
        log.append(f" {printable(ran.verdict.measured)}")
        self._end_try(step, log)

    def _skip_try(self) -> None:
        step = self.runner.current
        log = self.try_log.setdefault(step.index, Text())
        if log.plain and not log.plain.endswith("\n"):
            log.append("\n")
        log.append(word(self.lang, "tui_skipped"), style="dim")
        self._end_try(step, log, skipped=True)

    def action_close_lesson(self) -> None:
        """Escape: skips the try-it or puts the prediction off (the step is not run);
        otherwise closes the lesson."""
        if self.asking == "try":
            self._skip_try()
            return
        if self.asking == "predict":
            self._close_answer()
            self.show_current()
            return
        self.app.close_side_pane()

    def _follow(self, before: set) -> None:
        """Attach the app to the process this step launched (if any) and show the view
        named by the step's `highlight`."""
        app = self.app
        launched = [p for p in self.runner.ctx.processes.values() if p not in before]
        if launched and hasattr(app, "attach"):
            app.attach(launched[-1].pid)
        step = self.runner.current
        hint = (step.highlight or "") if step else ""
        view, _, target = hint.partition(":")
        view_id = HIGHLIGHT_VIEWS.get(view, view)  # "exposure", "pod": their own views
        if view_id and view_id in {v.id for v in getattr(app, "views", ())}:
            try:
                app.query_one("#views").active = view_id
            except (NoMatches, ValueError) as err:  # registered but not mounted: say so
                app.notify(f"lesson: cannot show the {view_id!r} view ({err})",
                           severity="warning")
                return
            self.focus()
            if target and view in HIGHLIGHT_ROWS:
                pid = launched[-1].pid if launched else None
                self._highlight_tries = 30
                self._highlight_timer = self.set_interval(
                    0.1, lambda: self._highlight_row(view, target, pid))

    def _highlight_row(self, view: str, target: str, pid: int | None) -> None:
        """Once the view shows the lesson's process, put the table cursor on the row the
        step talks about ("[stack]", "heap", "argc", "DB_PASSWORD")."""
        self._highlight_tries -= 1
        snap = getattr(self.app, "snapshot", None)
        ready = snap is not None and (pid is None or snap.pid == pid)
        row = self._find_row(view, target) if ready else None
        if row is not None or self._highlight_tries <= 0:
            self._highlight_timer.stop()
        if row is not None:
            table_id, _ = HIGHLIGHT_ROWS[view]
            self.app.query_one(table_id, VirtualTable).move_cursor(row=row)
            self.highlighted = (view, target, row)

    def _find_row(self, view: str, target: str) -> int | None:
        table_id, columns = HIGHLIGHT_ROWS[view]
        try:
            table = self.app.query_one(table_id, VirtualTable)
        except NoMatches:
            return None
        want = target.casefold()
        for heading in columns:  # exact match first ("[stack]", "heap"), then a substring
            col = table.columns.index(heading)
            for exact in (True, False):
                for i in range(table.row_count):
                    cell = table.get_row_at(i)[col]
                    text = (cell.plain if isinstance(cell, Text) else str(cell)).casefold()
                    if text == want or (not exact and want in text):
                        return i
        return None

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """An answer: checked against the measurement.  A wrong one is explained by what
        memlab measured and gets one retry; then the evidence is shown and the next
        question asked.  Focus stays in the answer box until the last question (typing
        `b`, `a` or `d` answers, never moves the lesson or the app)."""
        if event.input.id != "lesson-answer":
            return
        if self.asking == "predict" and not self.runner.at_quiz:
            event.stop()
            given = event.value
            if not given.strip():  # a blank is no prediction: the box stays open
                return
            event.input.value = ""
            self._close_answer()
            self._run(self.runner.current, given)
            return
        if self.asking == "try" and not self.runner.at_quiz:
            event.stop()
            given = event.value
            event.input.value = ""
            self._answer_try(given)
            return
        if not self.runner.at_quiz:
            return
        event.stop()
        quizzes = self.lesson.quizzes
        if self.quiz_index >= len(quizzes):
            return
        q = quizzes[self.quiz_index]
        ans = self.runner.answer_quiz(q, event.value)
        event.input.value = ""
        shown = self.query_one("#lesson-verdicts", Static)
        t = Text()
        if not ans.correct and self.tries == 0:
            self.tries = 1
            t.append(f"{printable(event.value.strip() or word(self.lang, 'tui_nothing'))}: "
                     f"{word(self.lang, 'not_quite')}", style="bold red")
            if ans.why_wrong:
                t.append(f": {printable(ans.why_wrong)}")
            t.append("\n" + word(self.lang, "tui_one_more_try"), style="dim")
            self._put("lesson-verdicts", t)
            shown.refresh()
            self._reveal_latest()
            event.input.focus()
            return
        t.append(word(self.lang, "right") if ans.correct else word(self.lang, "not_quite"),
                 style="bold green" if ans.correct else "bold red")
        t.append(word(self.lang, "tui_answer_is", answer=printable(ans.expected)) + "\n")
        if ans.evidence is not None:
            t.append_text(_verdict_text(ans.evidence.status, word(self.lang, "tui_evidence"),
                                        ans.evidence.verdict.measured, lang=self.lang))
        if q.explain:
            t.append("\n" + printable(" ".join(self.runner.mask(q.explain).split())),
                     style="italic")
        self.tries = 0
        self.quiz_index += 1
        self._put("lesson-verdicts", t)
        self._show_quiz()
        if self.quiz_index < len(quizzes):
            event.input.focus()
        self._reveal_latest()


class LessonsView(SnapshotView):
    """The list of lessons (tab); enter opens one in the side pane."""

    DEFAULT_CSS = """
    LessonsView #lessons-help { height: auto; color: $text-muted; }
    LessonsView #lessons-table { height: 1fr; }
    """

    def compose(self) -> ComposeResult:
        # `memlab tui --lang`, else LC_ALL/LC_MESSAGES/LANG: ko shows the Korean lessons,
        # and memlab's words around them in Korean (memlab.lessons.words)
        self.lang = getattr(self.app, "lang", None) or default_lang()
        yield Static(Text(word(self.lang, "tui_help")), id="lessons-help")
        table = DataTable(id="lessons-table", cursor_type="row")
        table.add_columns("#", *(word(self.lang, k) for k in
                                 ("tui_col_lesson", "tui_col_min", "tui_col_here")))
        yield table

    def on_mount(self) -> None:
        self.catalog = discover(lang=self.lang)
        table = self.query_one("#lessons-table", DataTable)
        for n, lesson in enumerate(self.catalog.lessons, 1):
            ok, why = lesson.availability()
            table.add_row(str(n), Text(lesson.title), str(lesson.minutes),
                          Text(word(self.lang, "tui_ready") if ok else
                               word(self.lang, "tui_unavailable_why", why=why),
                               style="green" if ok else "yellow"), key=lesson.id)
        for err in self.catalog.errors:
            table.add_row("!", Text(printable(str(err)), style="red"), "", "")

    def render_snapshot(self) -> None:
        """The lesson list does not depend on the process on screen."""

    def open_lesson(self, lesson_id: str) -> LessonPane:
        lesson = next(x for x in self.catalog.lessons if x.id == lesson_id)
        pane = LessonPane(lesson, id="lesson-pane")
        self.app.open_side_pane(pane)
        return pane

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        key = event.row_key.value
        if key and any(x.id == key for x in self.catalog.lessons):
            self.open_lesson(key)


VIEW = ViewSpec(
    id="lessons", title="Lessons", key="g", factory=LessonsView,
    teaches="guided lessons: the article, runnable, each step checked against what "
            "memlab measures, in a pane beside the live views")
