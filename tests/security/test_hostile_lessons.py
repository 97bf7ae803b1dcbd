"""Hostile lesson files: a lesson is code, its numbers and regexes are anyone's text.

  - a lesson from outside memlab that starts programs names them and runs nothing
    without --yes (non-interactive: one line, exit 2); with --yes it runs;
  - numbers a lesson gives (aslr runs, wait_output timeout, fill bytes, uid) are bounded
    when the file is loaded;
  - a `matches` pattern whose backtracking is unbounded is refused when the file is
    loaded, and the text matched has a length limit;
  - one bad file in `lesson list --dir` is named, the others still listed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid

import pytest

from memlab.errors import UsageError
from memlab.lessons.engine import LessonFileError, LessonRunner, load_lesson
from tests.helpers import REPO


def memlab(*argv: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "memlab", *argv], cwd=REPO, text=True,
                          capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL,
                          env={**os.environ, "NO_COLOR": "1"})


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def shell_lesson(marker) -> str:
    """A lesson that runs /bin/sh to create MARKER, and waits until it did."""
    return f'''\
        [lesson]
        title = "A lesson that runs a shell"
        goal = "touch a file"

        [[step]]
        text = "runs /bin/sh"
        [[step.action]]
        do = "launch"
        target = "/bin/sh"
        args = ["-c", "touch {marker}; echo '{{\\"event\\": \\"done\\"}}'; sleep 30"]
        hold = "none"
        save = "sh"
        [[step.action]]
        do = "wait_output"
        process = "sh"
        event = "done"
        timeout = 20
        save = "w"

        [[quiz]]
        question = "did it?"
        answer_from = "$w.found"
        '''


def test_outside_lesson_runs_nothing_without_yes(tmp_path):
    marker = tmp_path / f"marker-{uuid.uuid4().hex}"
    path = write(tmp_path, "shell.toml", shell_lesson(marker))
    for argv in (("lesson", "run", str(path), "--check"),
                 ("lesson", "run", str(path), "--no-pause"),
                 ("lesson", "run", "--all", "--check", "--no-builtin", "--dir", str(tmp_path))):
        proc = memlab(*argv)
        err = proc.stderr.strip()
        assert proc.returncode == 2, (argv, proc)
        assert len(err.splitlines()) == 1 and "Traceback" not in err, err
        assert "/bin/sh -c" in err and "--yes" in err, err
        assert "PASS" not in proc.stdout and "FAIL" not in proc.stdout, proc.stdout
        assert not marker.exists(), argv


def test_outside_lesson_runs_with_yes(tmp_path):
    marker = tmp_path / f"marker-{uuid.uuid4().hex}"
    path = write(tmp_path, "shell.toml", shell_lesson(marker))
    proc = memlab("lesson", "run", str(path), "--check", "--yes")
    assert proc.returncode == 0, proc
    assert marker.exists()


def test_the_runner_itself_refuses_an_unconfirmed_outside_lesson(tmp_path):
    """The TUI and any other front end go through LessonRunner: it refuses too."""
    marker = tmp_path / f"marker-{uuid.uuid4().hex}"
    lesson = load_lesson(write(tmp_path, "shell.toml", shell_lesson(marker)))
    assert not lesson.trusted
    assert lesson.programs and "/bin/sh -c" in lesson.programs[0]
    with pytest.raises(UsageError, match="--yes"):
        LessonRunner(lesson)
    assert not marker.exists()


def test_a_pod_command_is_listed_too(tmp_path):
    marker = tmp_path / f"marker-{uuid.uuid4().hex}"
    path = write(tmp_path, "pod.toml", f'''\
        [lesson]
        title = "A pod that runs a shell"
        goal = "touch a file"

        [[step]]
        text = "runs a pod"
        [[step.action]]
        do = "k8s_run"
        save = "pod"
        manifest = """
        apiVersion: v1
        kind: Pod
        metadata: {{name: p}}
        spec:
          containers:
          - name: c
            image: busybox
            command: ["/bin/sh", "-c", "touch {marker}; sleep 30"]
        """

        [[quiz]]
        question = "pid?"
        answer_from = "$pod.pid"
        ''')
    proc = memlab("lesson", "run", str(path), "--check")
    assert proc.returncode == 2, proc
    assert f"k8s_run: /bin/sh -c 'touch {marker}; sleep 30'" in proc.stderr, proc.stderr
    assert not marker.exists()


def test_memlab_own_lessons_need_no_yes():
    from memlab.lessons.engine import discover

    cat = discover()
    assert cat.lessons and all(lesson.trusted for lesson in cat.lessons)
    assert any(lesson.programs for lesson in cat.lessons)  # they do launch programs
    assert all(lesson.refuse_programs() is None for lesson in cat.lessons)


# --- numbers ------------------------------------------------------------------------

ACTION_LESSON = '''\
    [lesson]
    title = "numbers"
    goal = "bounded"

    [[step]]
    text = "t"
    [[step.action]]
    do = "launch"
    save = "p"
    [[step.action]]
    {action}
    save = "x"

    [[quiz]]
    question = "q"
    answer_from = "$p.pid"
    '''

BAD_NUMBERS = {
    "aslr-runs-float": ('do = "aslr"\n    runs = 1e9', "runs"),
    "aslr-runs-huge": ('do = "aslr"\n    runs = 99999999999999999', "runs"),
    "aslr-runs-zero": ('do = "aslr"\n    runs = 0', "runs"),
    "aslr-runs-string": ('do = "aslr"\n    runs = "3"', "runs"),
    "wait-timeout": ('do = "wait_output"\n    process = "p"\n    event = "e"\n'
                     '    timeout = 1e9', "timeout"),
    "wait-timeout-inf": ('do = "wait_output"\n    process = "p"\n    event = "e"\n'
                         '    timeout = inf', "timeout"),
    "fill-bytes": ('do = "k8s_validate"\n    manifest = "kind: ConfigMap"\n'
                   '    fill = {key = "k", bytes = 1000000000000}', "fill.bytes"),
    "observe-uid": ('do = "observe"\n    process = "p"\n    uid = -1', "uid"),
    "observe-uid-text": ('do = "observe"\n    process = "p"\n    uid = "٣"', "uid"),
}


@pytest.mark.parametrize("name", sorted(BAD_NUMBERS))
def test_lesson_numbers_are_bounded_when_loaded(tmp_path, name):
    action, word = BAD_NUMBERS[name]
    path = write(tmp_path, f"{name}.toml", ACTION_LESSON.format(action=action))
    with pytest.raises(LessonFileError, match=word) as info:
        load_lesson(path)
    assert info.value.line and info.value.line > 1


def test_runs_1e9_is_refused_by_the_cli_before_anything_runs(tmp_path):
    path = write(tmp_path, "runs.toml", ACTION_LESSON.format(
        action='do = "aslr"\n    runs = 1e9'))
    proc = memlab("lesson", "run", str(path), "--check", "--yes", timeout=60)
    err = proc.stderr.strip()
    assert proc.returncode == 2 and len(err.splitlines()) == 1, proc
    assert f"{path}:" in err and "runs must be a whole number from 1 to" in err, err


# --- regexes ------------------------------------------------------------------------

MATCHES_LESSON = '''\
    [lesson]
    title = "regex"
    goal = "bounded"

    [[step]]
    text = "t"
    [[step.action]]
    do = "launch"
    save = "p"
    [[step.check]]
    name = "matches"
    value = "$p.exe"
    pattern = {pattern}

    [[quiz]]
    question = "q"
    answer_from = "$p.pid"
    '''

REDOS = {
    "nested": "'^(a+)+$'",
    "nested-fixed-outer": "'^(a+){30}$'",
    "alternation-in-repeat": "'^(a|aa)*$'",
    "adjacent": "'\\d*\\d*\\d*x'",
    "optionals": "'" + "a?" * 30 + "a" * 30 + "'",
    "backreference": "'^(a*)\\1$'",
    "too-long": "'" + "a" * 1000 + "'",
    "not-a-regex": "'(unclosed'",
}


@pytest.mark.parametrize("name", sorted(REDOS))
def test_catastrophic_patterns_are_refused_when_loaded(tmp_path, name):
    path = write(tmp_path, f"{name}.toml", MATCHES_LESSON.format(pattern=REDOS[name]))
    with pytest.raises(LessonFileError, match="matches") as info:
        load_lesson(path)
    assert info.value.line and info.value.line > 1


def test_patterns_of_memlab_lessons_still_allowed():
    from memlab.lessons.checks import pattern_problem

    for pattern in ("data\\[\\.dockerconfigjson\\]: Invalid value", "1048576",
                    "\\.\\.\\d{4}_\\d\\d_\\d\\d_\\d\\d_\\d\\d_\\d\\d\\.\\d+", "^/usr/.*sleep$",
                    "(ab)+c", "colou?r", "[0-9a-f]{16}"):
        assert pattern_problem(pattern) is None, pattern


def test_the_matched_text_is_bounded():
    """A pattern from a measurement ($ref) is judged when the check runs, and a huge
    text is refused instead of searched."""
    from memlab.lessons.checks import CHECKS, MAX_SUBJECT, Args

    fn = CHECKS["matches"].fn
    v = fn(Args({"value": "a" * 40 + "b", "pattern": "^(a+)+$"}, {"value": "$v"}))
    assert v.status == "fail" and "inside a repetition" in v.measured
    v = fn(Args({"value": "1" * (MAX_SUBJECT + 1), "pattern": "\\d+x"}, {"value": "$v"}))
    assert v.status == "fail" and str(MAX_SUBJECT) in v.measured


# --- lesson list --dir with bad files ------------------------------------------------

GOOD = '''\
    [lesson]
    id = "good-one"
    title = "A good lesson"
    goal = "listed"

    [[step]]
    text = "nothing to run"

    [[quiz]]
    question = "q"
    answer = "x"
    answer_from = "$none"
    '''


def test_list_dir_names_each_bad_file_and_lists_the_others(tmp_path):
    write(tmp_path, "a-good.toml", GOOD.replace('answer_from = "$none"\n', "")
          .replace('answer = "x"', 'answer = "x"\n    check = {name = "equals", '
                   'value = 1, expected = 1}'))
    write(tmp_path, "b-deep.toml", "x = " + "[" * 5000 + "]" * 5000 + "\n")
    write(tmp_path, "c-redos.toml", MATCHES_LESSON.format(pattern="'^(a+)+$'"))
    os.mkfifo(tmp_path / "d-fifo.toml")
    write(tmp_path, "e-runs.toml", ACTION_LESSON.format(action='do = "aslr"\n    runs = 1e9'))
    proc = memlab("lesson", "list", "--no-builtin", "--dir", str(tmp_path), timeout=60)
    assert "good-one" in proc.stdout and "A good lesson" in proc.stdout, proc
    errors = proc.stderr.strip().splitlines()
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    for name in ("b-deep", "c-redos", "d-fifo", "e-runs"):
        assert sum(f"{name}.toml" in line for line in errors) == 1, (name, errors)
    assert len(errors) == 4, errors
    assert proc.returncode == 1  # `lesson list`: files that did not load


def test_lesson_manifest_files_stay_below_the_lesson(tmp_path):
    """`file = ...` in a k8s action reads a manifest next to the lesson, never /etc."""
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "link.yaml").symlink_to("/etc/passwd")
    for name in ("/etc/passwd", "../../../../etc/passwd", "sub/link.yaml"):
        path = write(tmp_path, "k.toml", f'''\
            [lesson]
            title = "reads a file"
            goal = "not /etc"

            [[step]]
            text = "t"
            [[step.action]]
            do = "k8s_validate"
            file = "{name}"
            save = "v"

            [[quiz]]
            question = "q"
            answer_from = "$v.ok"
            ''')
        with LessonRunner(load_lesson(path)) as runner:  # starts nothing: no yes needed
            out = runner.run_step()
        assert out.error and ("below" in out.error or "relative path" in out.error), out
        assert "root:" not in str(out)


def test_on_a_terminal_the_programs_are_listed_and_asked_for(tmp_path):
    from tests.lessons.test_interactive import Terminal

    marker = tmp_path / f"marker-{uuid.uuid4().hex}"
    path = write(tmp_path, "shell.toml", shell_lesson(marker))
    t = Terminal("lesson", "run", str(path), "--check")
    try:
        t.expect("is not one of memlab's lessons")
        t.expect("step 1: launch: /bin/sh -c")
        t.expect("run them? [y/N]")
        t.send("n")
        t.expect("nothing run")
    finally:
        assert t.close() == 2
    assert not marker.exists()
    t = Terminal("lesson", "run", str(path), "--check")
    try:
        t.expect("run them? [y/N]")
        t.send("y")
        t.expect("1 passed, 0 failed")
    finally:
        assert t.close() == 0
    assert marker.exists()


def test_a_symlink_to_a_memlab_lesson_is_not_memlab_lesson(tmp_path):
    """Lesson 9 reads `file = "env-pod.yaml"` next to itself: linked from another
    directory, it would read that directory's manifest, so it needs a yes like any file."""
    from memlab.lessons.lessonfile import CONTENT_DIR

    (tmp_path / "09.toml").symlink_to(CONTENT_DIR / "09-env-or-volume.toml")
    marker = tmp_path / f"marker-{uuid.uuid4().hex}"
    (tmp_path / "env-pod.yaml").write_text(textwrap.dedent(f"""\
        apiVersion: v1
        kind: Pod
        metadata: {{name: p}}
        spec:
          containers:
          - name: c
            image: busybox
            command: ["/bin/sh", "-c", "touch {marker}; sleep 30"]
        """))
    lesson = load_lesson(tmp_path / "09.toml")
    assert not lesson.trusted
    proc = memlab("lesson", "run", str(tmp_path / "09.toml"), "--check")
    assert proc.returncode == 2 and str(marker) in proc.stderr, proc
    assert not marker.exists()


def test_a_lesson_command_cannot_make_the_sample_eat_memory(tmp_path):
    """`malloc N` touches all N bytes: the sample refuses more than 256 MiB."""
    path = write(tmp_path, "malloc.toml", ACTION_LESSON.format(
        action='do = "command"\n    process = "p"\n    line = "malloc 300000000"'))
    with LessonRunner(load_lesson(path), allow_programs=True) as runner:
        out = runner.run_step()
        assert out.error and "at most 268435456" in out.error, out
        small = runner.ctx.process("p").command("malloc 4096")
    assert small.get("size") == 4096, small
