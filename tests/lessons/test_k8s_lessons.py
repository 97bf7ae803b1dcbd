"""The lessons on pods in the container runtime (exec-vs-proc, subpath-and-users): as
root with runc they run the real runtime (runc exec, the container's mountinfo, runAsUser
refused for real); as uid 65534 they run simulated, say so in their output, and skip
exactly one check, naming what the learner would need (root and runc)."""

from __future__ import annotations

import os
import re
import shutil

import pytest

from memlab.lessons import checks
from memlab.lessons.engine import LessonRunner, discover
from tests.helpers import NOBODY, run_as
from tests.lessons.test_cli import run_cli, summary
from tests.lessons.test_unprivileged import _preload

LESSONS = ("exec-vs-proc", "subpath-and-users")
SECRETS = ("pg-Xq7-4417", "tok-shop-5d81c2")  # the lessons' Secret values
REF = re.compile(r"\$[A-Za-z_]\w*\.")  # the lesson file's reference syntax
requires_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
requires_runc = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("runc"),
                                   reason="needs root and runc")


def _check(lesson: str, *extra: str) -> tuple[int, str]:
    try:
        rc, out, err = run_cli("lesson", "run", lesson, "--check", *extra)
    finally:
        checks.set_reveal(False)
    return rc, out + err


@requires_runc
@pytest.mark.parametrize("lang", ["en", "ko"])
def test_exec_vs_proc_in_runc_as_root(lang, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    rc, out = _check("exec-vs-proc", "--lang", lang)
    assert rc == 0 and summary(out)[1:] == (0, 0), out
    # the runtime's own copy, through runc exec, and the learner's try-it ran for real
    # in memlab's words of the lesson's language (memlab.lessons.words)
    via, printed = {"en": ("`env` via runc exec:", "measured: the command printed:"),
                    "ko": ("runc exec로 실행한 `env`:", "측정값: 명령의 출력:")}[lang]
    assert f"{via} LOG_LEVEL = info" in out, out
    assert re.search(r"^PASS  exec-vs-proc step 3 try it: .*memlab k8s exec --pod \S+ -- env"
                     rf"\n\s+{printed} LOG_LEVEL=info$", out, re.M), out
    assert "simulated" not in out
    assert not [s for s in SECRETS if s in out] and not REF.search(out), out


@requires_runc
def test_subpath_and_users_in_runc_as_root(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    rc, out = _check("subpath-and-users")
    assert rc == 0 and summary(out)[1:] == (0, 0), out
    # the kernel's mountinfo line of the Secret volume, and the refusal of uid 1000
    assert re.search(r"'EACCES', True, 2000, '\d+ \d+ \d+:\d+ / /etc/token \S+ - tmpfs tmpfs ",
                     out), out
    assert "via runc exec: output = color=blue" in out
    assert not [s for s in SECRETS if s in out] and not REF.search(out), out


@requires_runc
def test_reveal_shows_the_secret_the_app_scrubbed(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    rc, out = _check("exec-vs-proc", "--reveal")
    assert rc == 0 and ": DB_PASSWORD = pg-Xq7-4417" in out, out  # the test can fail


def _as_nobody(lesson: str, lang: str) -> tuple[int, str]:
    def go():
        os.environ["HOME"] = "/"
        return _check(lesson, "--lang", lang)
    _preload()
    return run_as(NOBODY, go)


@requires_root
@pytest.mark.parametrize("lang", ["en", "ko"])
@pytest.mark.parametrize("lesson", LESSONS)
def test_simulated_as_nobody_says_so_and_skips_one_check(lesson, lang, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    rc, out = _as_nobody(lesson, lang)
    passed, failed, skipped = summary(out)
    assert rc == 0 and failed == 0 and skipped == 1 and passed >= 14, out
    assert {"en": "via simulated exec (a new host process with the pod's env)",
            "ko": "시뮬레이션 exec(파드의 env를 받은 새 호스트 프로세스)로 실행한"}[lang] in out, out
    [why] = re.findall(r"^SKIP  .*\n\s+(.*)$", out, re.M)
    assert "root" in why and "runc" in why, why
    assert not [s for s in SECRETS if s in out], out


@requires_root
def test_exec_in_a_simulated_pod_is_a_new_process_with_the_pods_env():
    """k8s_exec without the runtime: what runc exec does (a new process, the config's env),
    as the pod's user; the try-it for `memlab k8s exec` is skipped with the reason."""
    lesson = discover().get("exec-vs-proc")

    def go():
        os.environ["HOME"] = "/"
        with LessonRunner(lesson) as r:
            for step in lesson.steps[:3]:
                r.run_step(step)
            x, w, s = (r.measurements[k] for k in "xws")
            return (x["simulated"], x["env"]["values"]["LOG_LEVEL"],
                    x["env"]["values"]["DB_PASSWORD"] == w["env"]["DB_PASSWORD"],
                    s["proc_environ"]["values"]["DB_PASSWORD"].strip("X"),
                    str(x["via_runtime"]))
    _preload()
    simulated, level, same, scrubbed, via = run_as(NOBODY, go)
    assert simulated.startswith("simulated: ") and "root" in simulated
    assert (level, same, scrubbed) == ("info", True, "")
    assert "needs the pod in the container runtime" in via and "runc" in via
