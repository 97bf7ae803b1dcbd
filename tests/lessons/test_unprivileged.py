"""Every lesson's key evidence works as a normal user, and no lesson prints a secret:
`memlab lesson run --all --check` as uid 65534 fails nothing and skips at most one check
per lesson (each skip saying what the learner would need); its output (as root too) holds
no secret value the lessons use unless --reveal."""

from __future__ import annotations

import contextlib
import io
import os
import re
from collections import Counter

import pytest

from memlab.cli import main
from memlab.lessons import checks
from memlab.lessons.engine import discover, lesson_masker
from tests.helpers import NOBODY, run_as

requires_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch uid")


def _check_all(*extra: str) -> tuple[int, str]:
    buf = io.StringIO()
    try:
        with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
            rc = main(["lesson", "run", "--all", "--check", *extra])
    finally:
        checks.set_reveal(False)  # --reveal is the CLI's, for one run
    return rc, buf.getvalue()


def _preload() -> None:
    """What the run imports lazily, loaded before the child drops to another uid (this
    interpreter's own library may be closed to it, e.g. pyenv under /root)."""
    import _strptime  # noqa: F401  (datetime.strptime: memlab.k8s.serviceaccount)
    import ctypes  # noqa: F401
    import pdb  # noqa: F401

    import elftools.elf.elffile  # noqa: F401

    from memlab.cli.lesson_cmds import _memlab_in_process

    _memlab_in_process(["env", str(os.getpid())])  # what a try-it `memlab env` loads
    for lesson in discover().lessons:
        lesson.availability()


def _secrets() -> set[str]:
    out: set[str] = set()
    for lesson in discover().lessons:
        out |= {v.decode() for v in lesson_masker(lesson).values if v.isascii()}
    return out


@requires_root
@pytest.mark.parametrize("lang", ["en", "ko"])
def test_all_lessons_pass_as_nobody_with_at_most_one_skip_each(lang, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    _preload()
    rc, out = run_as(NOBODY, lambda: _check_all("--lang", lang))
    assert rc == 0, out
    m = re.search(r"^(\d+) passed, 0 failed(?:, (\d+) skipped)?$", out, re.M)
    assert m, out
    skips = re.findall(r"^SKIP  (\S+) .*\n\s+(.*)$", out, re.M)
    per_lesson = Counter(lesson for lesson, _ in skips)
    assert all(n <= 1 for n in per_lesson.values()), per_lesson
    for _, why in skips:  # what the learner would need (runc, root: in both languages)
        assert re.search(r"root|uid", why), why
    # the lesson that is about other users shows the refusal for real
    if lang == "en":
        assert re.search(r"^PASS  who-can-read step 2: another uid gets EACCES", out, re.M), out
    else:
        assert re.search(r"^PASS  who-can-read step 2: .*EACCES", out, re.M), out
        assert "측정값:" in out and "measured:" not in out
    assert not _leaks(out)


def _leaks(out: str) -> list[str]:
    return [s for s in _secrets() if s in out]


def test_no_secret_value_in_the_check_output_without_reveal():
    secrets = _secrets()
    assert {"hunter2", "tok-1234567890"} <= secrets, secrets
    rc, out = _check_all()
    assert rc == 0, out
    assert not _leaks(out), _leaks(out)
    rc, shown = _check_all("--reveal")
    assert "hunter2" in shown  # the test can fail: --reveal shows them


def test_inherited_env_in_lesson_output_is_judged_as_the_views_judge_it():
    """how-env-gets-in shows memlab's own environment (the parent's): a secret-looking
    entry is masked, a CA-bundle path is not, exactly as memlab.secrets judges them for
    `memlab env` and the TUI."""
    import subprocess
    import sys

    from memlab.secrets import Masker
    from tests.helpers import REPO

    extra = {"MY_API_TOKEN": "zz-inherited-secret-zz",  # first in the parent's env below
             "NODE_EXTRA_CA_CERTS": "/etc/ssl/certs/ca-certificates.crt"}
    out = subprocess.run([sys.executable, "-m", "memlab", "lesson", "run", "how-env-gets-in",
                          "--check"], cwd=REPO, capture_output=True, text=True, timeout=120,
                         env={**extra, **os.environ, "NO_COLOR": "1"}).stdout
    assert "MY_API_TOKEN=***" in out, out  # shown, and masked
    assert out.rstrip().endswith("0 failed"), out
    assert "zz-inherited-secret-zz" not in out
    for name, value in extra.items():  # where shown (a long list shows its first items)
        if f"{name}=" in out:
            assert Masker().env_string(f"{name}={value}") in out, name
