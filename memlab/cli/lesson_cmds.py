"""`memlab lesson list|run`: the guided lessons on the command line, and in CI.

Plain print(), not rich markup: lesson text is full of "[stack]" and "[heap]", which
markup would swallow.  What a step measured comes from a process (env values, paths),
and a lesson file from --dir or a path is anyone's text (titles, ids, steps, quizzes):
both are printed with their control characters escaped (memlab.render.safe); the only
escape sequences written are this module's own colours.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import textwrap
from typing import Any

from memlab.cli._output import add_json_flag, add_reveal_flag, print_json
from memlab.errors import EXIT_FAILURE, EXIT_OK
from memlab.lessons.words import word
from memlab.render.safe import printable, printable_lines

LIST_EPILOG = """\
examples:
  memlab lesson list                      the lessons, in order, and whether they can run here
  memlab lesson list --json               the same for scripts
  memlab lesson list --dir ./my-lessons   add a directory of your own lesson files
"""

RUN_EPILOG = """\
examples:
  memlab lesson run where-env-lives       walk one lesson, pausing between steps
  memlab lesson run 3 --no-pause          by position, without pausing
  memlab lesson run --all --check         CI: run every action and check, print a summary
  memlab lesson run ./mine.toml --check   check a lesson file you are writing

output of --check: one line per check (PASS/FAIL/SKIP, where, what, the measured value),
then exactly `N passed, N failed` (plus `, N skipped` when some were skipped).
Steps that need root are skipped with the reason when not root; a lesson that needs a
program not here (a sample not built) is skipped as unavailable; a lesson file that does not load is an ERROR
(counted as failed) naming its file and line, and the other lessons still run.

exit codes: 0 every check passed (or was skipped), 1 a check failed, 2 usage
"""

_COLOURS = {"pass": "32", "fail": "31", "skip": "33", "error": "31"}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("lesson", help="guided lessons: the article, runnable, with checks",
                       description="Guided lessons on a Korean article about Kubernetes "
                       "ConfigMaps and Secrets (docs/article.md): each step runs memlab and "
                       "checks what it measured.  Lesson files are TOML "
                       "(memlab/lessons/FORMAT.md).",
                       epilog=LIST_EPILOG + RUN_EPILOG.replace("examples:\n", "", 1),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    lsub = p.add_subparsers(dest="lesson_command", metavar="SUBCOMMAND")

    lp = lsub.add_parser("list", help="list the lessons and whether they can run here",
                         epilog=LIST_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_json_flag(lp)
    _add_dir(lp)
    lp.set_defaults(func=cmd_list)

    rp = lsub.add_parser("run", help="run a lesson (or --all --check for CI)",
                         epilog=RUN_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    rp.add_argument("name", nargs="?", help="lesson id, its number in `lesson list`, or a "
                    ".toml file")
    rp.add_argument("--all", action="store_true", help="run every lesson")
    rp.add_argument("--check", action="store_true",
                    help="non-interactive: run every action and check, no quiz prompts, "
                    "print a summary line; exit 1 if a check failed")
    rp.add_argument("--no-pause", action="store_true", help="do not wait between steps")
    rp.add_argument("--json", action="store_true",
                    help="with --check: print the verdicts as JSON (implies --check)")
    rp.add_argument("--yes", "-y", action="store_true",
                    help="a lesson file from outside memlab is code: run the programs it "
                    "starts (listed otherwise, and asked for on a terminal)")
    add_reveal_flag(rp)
    _add_dir(rp)
    rp.set_defaults(func=cmd_run)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def _add_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument("--lang", choices=("en", "ko"), default=None,
                   help="the lessons' language: en or ko (Korean, where translated; the "
                   "default comes from LC_ALL / LC_MESSAGES / LANG)")
    p.add_argument("--dir", action="append", default=[], metavar="DIR",
                   help="also load the *.toml lessons in DIR (repeatable)")
    p.add_argument("--no-builtin", action="store_true",
                   help="only the lessons of --dir, not memlab's own")


def _lang(args: argparse.Namespace) -> str:
    from memlab.lessons.lessonfile import default_lang

    return args.lang or default_lang()


# --------------------------------------------------------------------------- output
def _colour(status: str, text: str) -> str:
    if not sys.stdout.isatty() or os.environ.get("NO_COLOR"):
        return text
    return f"\033[{_COLOURS.get(status, '0')}m{text}\033[0m"


def _tag(status: str) -> str:
    return _colour(status, f"{status.upper():<5}")


def _para(text: str, indent: str = "  ") -> str:
    """Lesson prose, escaped (newlines kept), wrapped unless preformatted."""
    text = printable_lines(textwrap.dedent(text).strip("\n"))
    out = []
    for block in text.split("\n\n"):
        lines = block.splitlines()
        if any(line.startswith(("  ", "$ ", "- ", "|")) for line in lines):
            out.append("\n".join(indent + line for line in lines))  # preformatted
        else:
            width = min(max(shutil.get_terminal_size().columns, 60), 88)  # COLUMNS, else 80
            out.append(textwrap.fill(" ".join(line.strip() for line in lines), width=width,
                                     initial_indent=indent, subsequent_indent=indent))
    return "\n\n".join(out)


def _result_line(r: Any, lang: str = "en") -> str:
    """One check's verdict: the PASS/FAIL/SKIP tag and "step N" stay English (CI and
    scripts read them, docs/cli.md); memlab's words around the measurement are LANG's."""
    v = r.verdict
    line = f"{_tag(v.status)} {printable(f'{r.lesson} {r.where}: {r.label}')}"
    detail = printable(word(lang, "measured", measured=v.measured) if v.status != "skip"
                       else v.measured)
    if v.status == "fail" and v.expected:
        detail += " " + printable(word(lang, "expected", expected=v.expected))
    for source in v.source:  # the kernel's own lines, beside the verdict
        detail += f"\n          {printable(source)}"
    return f"{line}\n        {detail}"


# --------------------------------------------------------------------------- list
def cmd_list(args: argparse.Namespace) -> int:
    from memlab.lessons.engine import discover, lesson_mask

    cat = discover(args.dir, builtin=not args.no_builtin, lang=_lang(args))
    rows = []
    for n, lesson in enumerate(cat.lessons, 1):
        ok, why = lesson.availability()
        mask = lesson_mask(lesson)  # a title or goal may quote a secret too
        rows.append({"number": n, "id": lesson.id, "title": mask(lesson.title),
                     "goal": mask(lesson.goal),
                     "minutes": lesson.minutes, "steps": len(lesson.steps),
                     "checks": lesson.check_count, "chapters": list(lesson.chapters),
                     "available": ok, "why_unavailable": why or None,
                     "path": str(lesson.path)})
    errors = [{"path": e.path, "line": e.line, "error": e.msg} for e in cat.errors]
    if args.json:
        print_json({"schema": "memlab.lessons/1", "lessons": rows, "errors": errors})
        return EXIT_OK if not errors else EXIT_FAILURE
    width = max(shutil.get_terminal_size().columns, 60)  # COLUMNS, else 80
    for row, lesson in zip(rows, cat.lessons):
        lang = lesson.lang
        state = word(lang, "ready" if row["available"] else "unavailable")
        print(f"{row['number']:>2}. {printable(row['id']):<22} [{state}] "
              + word(lang, "list_meta", minutes=row["minutes"], checks=row["checks"]))
        print(textwrap.fill(printable(row["title"]), width=width, initial_indent="    ",
                            subsequent_indent="    "))
        print(textwrap.fill(printable(word(lang, "list_goal", goal=row["goal"])), width=width,
                            initial_indent="    ", subsequent_indent="          "))
        if not row["available"]:
            print("    " + word(lang, "why_unavailable",
                              why=printable(row["why_unavailable"])))
    for err in cat.errors:
        print(f"{_tag('error')} {printable(str(err))}", file=sys.stderr)
    return EXIT_OK if not errors else EXIT_FAILURE


# --------------------------------------------------------------------------- run
def _select(args: argparse.Namespace):
    from memlab.errors import UsageError
    from memlab.lessons.engine import discover, load_lesson

    if args.all:
        if args.name:
            raise UsageError("give a lesson NAME or --all, not both")
        cat = discover(args.dir, builtin=not args.no_builtin, lang=_lang(args))
        return cat.lessons, cat.errors
    if not args.name:
        raise UsageError("which lesson? give a NAME (see `memlab lesson list`) or --all")
    if args.name.endswith(".toml") or os.sep in args.name:
        return [load_lesson(args.name)], []
    cat = discover(args.dir, builtin=not args.no_builtin, lang=_lang(args))
    from memlab.processes import ascii_decimal

    number = ascii_decimal(args.name)
    if number is not None:
        if 1 <= number <= len(cat.lessons):
            return [cat.lessons[number - 1]], []
        raise UsageError(f"no lesson number {args.name}: they are numbered 1 to "
                         f"{len(cat.lessons)} (see `memlab lesson list`)")
    return [cat.get(args.name)], []


def cmd_run(args: argparse.Namespace) -> int:
    from memlab.lessons import checks

    checks.set_reveal(args.reveal)
    lessons, errors = _select(args)
    if not args.yes:
        _confirm_programs(lessons)
    if args.check or args.json or (args.all and not sys.stdin.isatty()):
        return _run_check(lessons, errors, args.json)
    pause = sys.stdin.isatty() and not args.no_pause
    status = EXIT_OK
    for lesson in lessons:
        status = max(status, _run_interactive(lesson, pause))
    return status


def _confirm_programs(lessons: list) -> None:
    """A lesson file from outside memlab is code: the programs it would start are listed
    and run only after a yes -- typed on a terminal, else --yes.  Without it nothing of
    any selected lesson runs (one line, exit 2)."""
    refusals = [r for r in (lesson.refuse_programs() for lesson in lessons) if r]
    if not refusals:
        return
    if not sys.stdin.isatty():
        raise refusals[0]
    for lesson in lessons:
        if lesson.refuse_programs():
            print(f"{printable(str(lesson.path))} is not one of memlab's lessons; it would "
                  "run (as you, uid " + str(os.geteuid()) + "):")
            for line in lesson.programs:
                print(f"  {printable(line)}")
    if _ask("run them? [y/N] ").strip().lower() not in ("y", "yes"):
        from memlab.errors import UsageError

        raise UsageError("nothing run: the lesson's programs were not confirmed")


def _summary(counts: dict[str, int]) -> str:
    line = f"{counts['pass']} passed, {counts['fail']} failed"
    if counts["skip"]:
        line += f", {counts['skip']} skipped"
    return line


def _run_check(lessons: list, errors: list, as_json: bool) -> int:
    from memlab.lessons.engine import LessonRunner, unavailable_results

    counts = {"pass": 0, "fail": 0, "skip": 0}
    everything: list[dict[str, Any]] = []
    for err in errors:  # a broken lesson file: named, counted, the others still run
        counts["fail"] += 1
        everything.append({"lesson": None, "status": "fail", "error": str(err),
                           "path": err.path, "line": err.line})
        if not as_json:
            print(f"{_tag('error')} {printable(str(err))}")
    for lesson in lessons:
        ok, why = lesson.availability()
        if not ok:
            results = unavailable_results(lesson, why)
            if not as_json:
                print(f"{_tag('skip')} {printable(lesson.id)}: "
                      + word(lesson.lang, "unavailable_skipped", n=len(results),
                             why=printable(why)))
        else:
            with LessonRunner(lesson, allow_programs=True,  # confirmed above
                              run_memlab=_memlab_in_process) as runner:
                results = []
                for step in runner.steps:
                    out = runner.run_step(step)
                    results.extend(out.results)
                    if not as_json:
                        for r in out.results:
                            print(_result_line(r, lesson.lang))
                        if out.skipped and not out.results:
                            print(f"{_tag('skip')} {printable(lesson.id)} step "
                                  f"{step.index + 1}: {printable(out.skipped)}")
                for quiz in lesson.quizzes:
                    r = runner.check_quiz(quiz)
                    results.append(r)
                    if not as_json:
                        print(_result_line(r, lesson.lang))
        for r in results:
            counts[r.status] += 1
            everything.append(r.to_dict())
    if as_json:
        print_json({"schema": "memlab.lesson-check/1", "results": everything,
                    "passed": counts["pass"], "failed": counts["fail"],
                    "skipped": counts["skip"], "summary": _summary(counts)})
    else:
        print(_summary(counts))
    return EXIT_FAILURE if counts["fail"] else EXIT_OK


def _memlab_in_process(argv: list[str]) -> str:
    """A try-it `memlab ...` command, run by this memlab in-process (--check): its
    output, as the learner's terminal would show it."""
    import contextlib
    import io

    from memlab.cli import main  # the package that registers this module

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            main(list(argv))
        except SystemExit:
            pass
    return out.getvalue()


def _ask(prompt: str) -> str:
    try:
        return input(prompt)
    except EOFError:
        return "q"


def _show_step(runner: Any, out: Any) -> None:
    step = out.step
    total = len(runner.steps)
    print("\n" + word(runner.lang, "step_head", n=step.index + 1, total=total,
                      title=printable(runner.mask(step.title))))
    print(_para(runner.render(step.text)))  # with measurements, masked
    for note in out.notes:
        print(f"  → {printable(note)}")
    if out.skipped:
        print(f"  {_tag('skip')} {printable(out.skipped)}")
    for r in out.results:
        if not r.where.endswith("prediction"):  # shown beside the learner's prediction
            print("  " + _result_line(r, runner.lang).replace("\n", "\n  "))
    if out.after:
        print(_para(out.after))


def _ask_quiz(runner: Any, quiz: Any, pause: bool, *, retry: bool = True) -> Any:
    """Ask a quiz (or a prediction): a wrong answer gets the measurement that rules it
    out and, with retry, one more try.  Returns the last QuizAnswer (None: not asked); a
    prediction (retry=False) returns what the learner typed, judged after the step ran."""
    print(_para(runner.mask(quiz.question)))
    for i, choice in enumerate(quiz.choices):
        print(f"    {chr(97 + i)}) {printable(runner.mask(choice))}")
    if not pause:
        return None
    tries = 2 if retry else 1
    ans = None
    lang = runner.lang
    for attempt in range(tries):
        given = _ask(word(lang, "your_answer"))
        if not retry:  # a prediction: judged after the step measured (_judge_prediction)
            return given
        ans = runner.answer_quiz(quiz, given)
        if ans.correct:
            print(f"  {_colour('pass', word(lang, 'right'))}: {printable(ans.expected)}")
            break
        print(f"  {_colour('fail', word(lang, 'not_quite'))}" + (
            f": {printable(ans.why_wrong)}" if ans.why_wrong else ""))
        if attempt + 1 < tries:
            print(word(lang, "one_more_try"))
    return ans


def _judge_prediction(runner: Any, quiz: Any, given: str | None) -> Any:
    """The learner's prediction judged against what the step just measured (None: not
    asked): right, or not quite with the measurement that rules it out."""
    if given is None:
        return None
    ans = runner.answer_quiz(quiz, given)
    if ans.correct:
        print(f"  {_colour('pass', word(runner.lang, 'right'))}: {printable(ans.expected)}")
    else:
        print(f"  {_colour('fail', word(runner.lang, 'not_quite'))}" + (
            f": {printable(ans.why_wrong)}" if ans.why_wrong else ""))
    return ans


def _show_answer(runner: Any, quiz: Any, ans: Any) -> bool:
    """The right answer, the evidence memlab measured, the explanation; True if the
    evidence failed."""
    if ans is None or not ans.correct:
        ans = runner.answer_quiz(quiz, "")
        print("  " + word(runner.lang, "answer", answer=printable(ans.expected)))
    if ans.evidence is not None:
        print(f"  {word(runner.lang, 'evidence')} {_tag(ans.evidence.status)} "
              f"{printable(ans.evidence.verdict.measured)}")
    if quiz.explain:
        print(_para(runner.mask(quiz.explain), "    "))
    return ans.evidence is not None and ans.evidence.status == "fail"


def _ask_try(runner: Any, step: Any, pause: bool) -> bool:
    """A try-it step: the command for the learner's other terminal, what it showed, one
    retry; True if memlab's own measurement failed."""
    t = step.try_it
    lang = runner.lang
    print("\n  " + word(lang, "try_head"))
    print(f"    $ {printable(runner.try_command(step))}")
    print(_para(runner.mask(t.question)))
    result = None
    if pause:
        ahead = runner.check_try(step, "")  # nothing to compare with: say why, ask nothing
        if ahead.status == "skip":
            print(f"  {_tag('skip')} {printable(ahead.verdict.measured)}")
            return False
        for attempt in range(2):
            given = _ask(word(lang, "try_prompt"))
            result = runner.check_try(step, given)
            if result.status == "pass":
                print(f"  {_colour('pass', word(lang, 'right'))}: "
                      f"{printable(result.verdict.measured)}")
                break
            print(f"  {_colour('fail', word(lang, 'not_quite'))}: {word(lang, 'look_again')}"
                  + (word(lang, "one_more_paren") if attempt == 0 else ""))
    if result is None or result.status != "pass":
        result = runner.check_try(step, None)
        print(f"  {word(lang, 'memlab_ran')} {_tag(result.status)} "
              f"{printable(result.verdict.measured)}")
    if t.explain:
        print(_para(runner.mask(t.explain), "    "))
    return result.status == "fail" and not pause


def _run_interactive(lesson: Any, pause: bool) -> int:
    from memlab.lessons.engine import LessonRunner, lesson_mask

    mask = lesson_mask(lesson)  # the lesson's own words are masked like its verdicts
    lang = lesson.lang  # memlab's words around the lesson (memlab.lessons.words)
    print(f"═══ {printable(mask(lesson.title))}  "
          f"({word(lang, 'minutes', n=lesson.minutes)})")
    print(_para(mask(word(lang, "goal", goal=lesson.goal))))
    ok, why = lesson.availability()
    if not ok:
        print(f"{_tag('skip')} {word(lang, 'cannot_run', why=printable(why))}")
        return EXIT_OK
    failed = False
    with LessonRunner(lesson, allow_programs=True, run_commands=False) as runner:
        while not runner.at_quiz:
            out = runner.outcomes.get(runner.index)
            step = runner.current
            predicted = None
            fresh = out is None  # asked once; going back shows the step again
            if fresh:
                if step.predict is not None:
                    head = word(lang, "step_head", n=step.index + 1, total=len(runner.steps),
                                title=printable(runner.mask(step.title)))
                    print("\n" + word(lang, "predict_first", head=head))
                    predicted = _ask_quiz(runner, step.predict, pause, retry=False)
                out = runner.run_step()
                failed |= any(r.status == "fail" for r in out.results)
            _show_step(runner, out)
            if fresh and step.predict is not None and (predicted is not None or not pause):
                print(word(lang, "prediction_vs"))
                failed |= _show_answer(runner, step.predict,
                                       _judge_prediction(runner, step.predict, predicted))
            if fresh and step.try_it is not None:
                failed |= _ask_try(runner, step, pause)
            if not pause:
                runner.next()
                continue
            key = _ask("\n" + word(lang, "nav_prompt")).strip().lower()
            if key == "q":
                return EXIT_FAILURE if failed else EXIT_OK
            if key == "b":
                runner.back()
            elif key == "r":
                runner.outcomes.pop(runner.index, None)
            else:
                runner.next()
        print("\n" + word(lang, "quiz_head"))
        for quiz in lesson.quizzes:
            ans = _ask_quiz(runner, quiz, pause)
            failed |= _show_answer(runner, quiz, ans)
    if lesson.summary:
        print("\n" + word(lang, "summary_head"))
        print(_para(mask(lesson.summary)))
    return EXIT_FAILURE if failed else EXIT_OK
