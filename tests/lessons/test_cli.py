"""`memlab lesson list|run`, including `run --all --check` as root, as an unprivileged
user (uid 65534, in a forked child: it cannot exec the venv's python under /root), and
as CI runs it (a real `python -m memlab` process)."""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import sys

import pytest

from memlab.cli import main
from tests.helpers import NOBODY, REPO, SAMPLE_BIN, run_as
from tests.lessons.conftest import GOOD

SUMMARY = re.compile(r"^(\d+) passed, (\d+) failed(?:, (\d+) skipped)?$")
requires_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch uid")


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(list(argv))
    return rc, out.getvalue(), err.getvalue()


def summary(stdout: str) -> tuple[int, int, int]:
    last = stdout.strip().splitlines()[-1]
    m = SUMMARY.match(last)
    assert m, f"last line is not the summary: {last!r}"
    return int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)


def test_list_shows_every_lesson_with_its_availability():
    rc, out, _ = run_cli("lesson", "list")
    assert rc == 0
    assert "where-env-lives" in out and "[ready]" in out


def test_list_json_has_availability_and_broken_files(lesson_dir):
    import json

    lesson_dir("good.toml", GOOD)
    lesson_dir("broken.toml", GOOD.replace("minutes = 1", "minutes = 9"))
    rc, out, _ = run_cli("lesson", "list", "--json", "--dir", str(lesson_dir.dir))
    data = json.loads(out)
    assert rc == 1  # a broken lesson file is a failure for CI
    ids = [x["id"] for x in data["lessons"]]
    assert ids[:9] == ["configmap-vs-secret", "how-env-gets-in", "where-env-lives",
                       "initial-stack", "heap-and-end", "immutable-env", "who-can-read",
                       "volumes-hot-reload", "env-or-volume"]
    assert "good" in ids and all(x["available"] for x in data["lessons"])
    [err] = data["errors"]
    assert err["path"].endswith("broken.toml") and err["line"] == 4
    assert "minutes must be an integer from 1 to 5" in err["error"]


def test_run_all_check_passes_as_root_or_current_user():
    rc, out, err = run_cli("lesson", "run", "--all", "--check")
    passed, failed, skipped = summary(out)
    assert (rc, failed) == (0, 0), out + err
    assert passed >= 40
    assert not re.search(r"^FAIL", out, re.M)


def _nobody_can_reach_the_samples() -> str | None:
    path = SAMPLE_BIN / "sleeper"
    for parent in [*reversed(path.parents)]:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            return f"{parent} is not traversable by uid {NOBODY}"
    if not path.stat().st_mode & 0o001:
        return f"{path} is not executable by uid {NOBODY}"
    return None


@requires_root
def test_run_all_check_passes_as_an_unprivileged_user():
    why = _nobody_can_reach_the_samples()
    if why:
        pytest.skip(why)

    # The child cannot import anything new: this venv's stdlib lives under /root (0700).
    # One run as root first imports every module the lessons use (yaml, elftools, ...).
    run_cli("lesson", "run", "--all", "--check")

    def as_nobody():
        os.chdir("/")
        return run_cli("lesson", "run", "--all", "--check")
    rc, out, err = run_as(NOBODY, as_nobody)
    passed, failed, skipped = summary(out)
    assert (rc, failed) == (0, 0), out + err
    assert passed >= 40
    # root-only steps are skipped with the reason, never failed
    skips = re.findall(r"^SKIP .*$\n.*$", out, re.M)
    assert len(skips) == skipped > 0  # the other-uid and root rows, at least
    for block in skips:
        reason = block.splitlines()[1]
        assert "root" in reason or "unavailable" in reason, block


def test_malformed_lesson_is_an_error_naming_file_and_line_and_the_others_run(lesson_dir):
    lesson_dir("a-good.toml", GOOD)
    bad = lesson_dir("b-bad.toml", GOOD.replace('"launch"', '"lunch"'))
    rc, out, _ = run_cli("lesson", "run", "--all", "--check", "--no-builtin",
                         "--dir", str(lesson_dir.dir), "--yes")  # it launches a sample
    assert rc == 1
    assert f"ERROR {bad}:9: step 1: unknown action 'lunch'" in out
    assert re.search(r"^PASS  a-good step 1", out, re.M)
    assert summary(out) == (2, 1, 0)


def test_a_failing_check_makes_the_exit_code_non_zero(lesson_dir):
    path = lesson_dir("f.toml", GOOD.replace("answer = 1", "answer = 5"))
    rc, out, _ = run_cli("lesson", "run", str(path), "--check", "--yes")
    assert rc == 1 and summary(out) == (1, 1, 0)
    assert re.search(r"^FAIL  f quiz 1: .*\n\s+measured: the env block in memory \(count\) = 1; "
                     r"quiz 1: the answer key says 5 \(expected answer 1\)", out, re.M), out


def test_unknown_lesson_is_a_usage_error():
    rc, _, err = run_cli("lesson", "run", "no-such-lesson")
    assert rc == 2 and err.startswith("memlab: no lesson named 'no-such-lesson'")


def test_run_prints_steps_without_pausing_when_not_a_tty(lesson_dir):
    path = lesson_dir("t.toml", GOOD)
    rc, out, _ = run_cli("lesson", "run", str(path), "--no-pause", "--yes")
    assert rc == 0
    assert "── Step 1/1" in out and "── Quiz" in out and "answer: 1" in out


def test_ci_style_run_of_the_real_command():
    """What CI runs: a separate `python -m memlab` process, non-interactive."""
    proc = subprocess.run([sys.executable, "-m", "memlab", "lesson", "run", "--all", "--check"],
                          cwd=REPO, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "NO_COLOR": "1"})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    assert summary(proc.stdout)[1] == 0
    assert "Traceback" not in proc.stderr


def test_unavailable_lesson_is_skipped_with_why_not_failed(lesson_dir):
    from memlab.lessons import actions

    actions.action("needs-a-program", requires=("program:memlab-no-such-program",))(
        lambda ctx, p, save: actions.ActionResult(1))
    try:
        lesson_dir("u.toml", GOOD.replace('do = "launch"', 'do = "needs-a-program"')
                   .replace('env = ["A=1"]\n', ""))
        rc, out, _ = run_cli("lesson", "run", "--all", "--check", "--no-builtin",
                             "--dir", str(lesson_dir.dir))
        assert rc == 0
        assert re.search(r"^SKIP  u: unavailable \(2 checks skipped\): needs "
                         r"program 'memlab-no-such-program'", out, re.M), out
        assert summary(out) == (0, 0, 2)
        rc, out, _ = run_cli("lesson", "list", "--no-builtin", "--dir", str(lesson_dir.dir))
        assert "[unavailable]" in out
        assert "why unavailable: needs program 'memlab-no-such-program'" in out
    finally:
        del actions.ACTIONS["needs-a-program"]


def test_run_json_gives_every_verdict_with_its_measured_value(lesson_dir):
    import json

    path = lesson_dir("j.toml", GOOD)
    rc, out, _ = run_cli("lesson", "run", str(path), "--json", "--yes")
    data = json.loads(out)
    assert rc == 0 and data["summary"] == "2 passed, 0 failed"
    assert [r["status"] for r in data["results"]] == ["pass", "pass"]
    assert data["results"][1]["measured"] == "the env block in memory (count) = 1"


def test_list_masks_a_secret_the_lesson_quotes_in_its_title_and_goal(lesson_dir):
    leaky = GOOD.replace('env = ["A=1"]', 'env = ["A=1", "DB_PASSWORD=hunter2"]') \
        .replace('expected = ["A=1"]', 'expected = ["A=1", "DB_PASSWORD=hunter2"]') \
        .replace("A tiny lesson", "Where hunter2 lives").replace("Check that", "Find hunter2:")
    lesson_dir("leaky.toml", leaky)
    for argv in ((), ("--json",)):
        rc, out, err = run_cli("lesson", "list", "--no-builtin", "--dir",
                               str(lesson_dir.dir), *argv)
        assert rc == 0, err
        assert "Where *** lives" in out and "Find ***:" in out
        assert "hunter2" not in out + err


def test_list_fits_80_columns(monkeypatch):
    """Each lesson's heading line (id, title, minutes, checks) ran to 100+ columns and
    the goal was filled to 88."""
    monkeypatch.setenv("COLUMNS", "80")
    rc, out, _ = run_cli("lesson", "list")
    assert rc == 0 and "[ready]" in out
    assert [line for line in out.splitlines() if len(line) > 80] == []


def test_run_by_a_number_out_of_range_names_the_range():
    rc, _, err = run_cli("lesson", "run", "99")
    assert rc == 2 and "no lesson number 99: they are numbered 1 to" in err
