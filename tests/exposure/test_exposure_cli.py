"""The CLI front door: JSON keys, masking, exit codes, --help examples."""

from __future__ import annotations

import json

import pytest

from memlab.cli import main
from memlab.cli.exposure_cmds import EXIT_FINDINGS
from memlab.launch import launch
from tests.exposure.conftest import requires_root
from tests.helpers import NOBODY, run_as


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


@requires_root
def test_exposure_demo_json(capsys):
    code, out, _ = run(capsys, "exposure", "demo", "--json")
    assert code == 0
    d = json.loads(out)
    assert d["schema"] == "memlab.exposure/1"
    assert [r["key"] for r in d["rows"]] == ["same_uid", "other_uid", "root",
                                             "same_uid_nodump"]
    cell = d["rows"][1]["cells"][0]
    assert set(cell) >= {"channel", "observer", "ok", "errno", "errno_name",
                         "secret_found", "note", "verdict"}
    assert (cell["channel"], cell["errno_name"], cell["errno"]) == ("environ", "EACCES", 13)
    assert "hunter2" not in out  # the demo secret never printed


@requires_root
def test_exposure_demo_text(capsys):
    code, out, _ = run(capsys, "exposure", "demo")
    assert code == 0
    assert "EACCES" in out and "SECRET" in out and "EPERM" in out and "masked" in out


def test_exposure_pid_and_errors(capsys):
    with launch("sleeper", env=[b"DB_PASSWORD=cli-pw-1"], hold="ready") as p:
        code, out, _ = run(capsys, "exposure", str(p.pid), "--json")
        assert code == 0
        d = json.loads(out)
        assert d["victim"]["pid"] == p.pid
        assert d["victim"]["secret_names"] == ["DB_PASSWORD"]
        assert "cli-pw-1" not in out
    assert run(capsys, "exposure", "nonsense")[0] == 2
    code, _, err = run(capsys, "exposure", "999999999")
    assert code == 3 and err.startswith("memlab: ")


def test_exposure_removal_json(capsys):
    code, out, _ = run(capsys, "exposure", "removal", "--json")
    assert code == 0
    d = json.loads(out)
    assert [s["command"].split(" ")[0] for s in d["steps"]] == [
        "", "unsetenv", "setenv", "", "copy", "scrub"]
    assert d["steps"][1]["view"]["proc_environ"]["has_secret"] is True
    assert d["steps"][5]["view"]["proc_environ"]["has_secret"] is False


def test_search_json_masking_and_reveal(capsys):
    with launch("sleeper", env=[b"DB_PASSWORD=find-me-42"], hold="ready") as p:
        code, out, _ = run(capsys, "search", str(p.pid), "find-me-42", "--json")
        assert code == 0
        d = json.loads(out)
        assert d["count"] >= 1 and "find-me-42" not in out
        hit = d["hits"][0]
        assert set(hit) == {"address", "region", "kind", "offset", "context"}
        assert hit["address"].startswith("0x")
        code, out, _ = run(capsys, "search", str(p.pid), "find-me-42", "--json", "--reveal")
        assert "DB_PASSWORD=[find-me-42]" in out
        code, out, _ = run(capsys, "search", str(p.pid), "66696e642d6d65", "--hex")
        assert code == 0 and "hit(s)" in out
    assert run(capsys, "search", "999999999", "x")[0] == 3


@requires_root
def test_search_another_users_process_exits_4(capsys):
    with launch("sleeper", env=[b"X=1"], hold="ready") as p:
        assert run_as(NOBODY, main, ["search", str(p.pid), "X=1"]) == 4


def test_audit_exit_codes(capsys):
    with launch("sleeper", env=[b"SERVICE_TOKEN=ci-token-1"], hold="ready") as p:
        code, out, _ = run(capsys, "audit", "--json")
        assert code == 0
        d = json.loads(out)
        mine = [f for f in d["findings"] if f["pid"] == p.pid]
        assert [f["variable"] for f in mine] == ["SERVICE_TOKEN"]
        assert mine[0]["value"] == "***" and "ci-token-1" not in out
        assert set(d) >= {"schema", "scanned", "vanished", "denied", "findings"}
        assert run(capsys, "audit", "--fail-on-findings")[0] == EXIT_FINDINGS


@pytest.mark.parametrize("cmd", [["exposure"], ["search"], ["audit"]])
def test_help_has_examples(capsys, cmd):
    with pytest.raises(SystemExit):
        main([*cmd, "--help"])
    out = capsys.readouterr().out
    assert "examples:" in out and "exit codes:" in out


def test_headless_imports_stay_light():
    """The exposure modules never import textual, and import pyelftools/rich lazily."""
    import subprocess
    import sys

    code = ("import sys, memlab.exposure.matrix, memlab.exposure.search, "
            "memlab.exposure.audit, memlab.exposure.removal, memlab.cli.exposure_cmds; "
            "print(sorted(m for m in ('textual', 'elftools', 'rich') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def _big_child(size: int) -> int:
    """A child holding `size` bytes of touched memory (large enough for a progress bar)."""
    import mmap
    import os
    import signal

    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            area = mmap.mmap(-1, size)
            area.write(b"\x01" * size)
            os.write(w, b"k")
            signal.pause()
        finally:
            os._exit(0)
    os.close(w)
    os.read(r, 1)
    os.close(r)
    return pid


@pytest.mark.parametrize("tty", [True, False])
def test_search_progress_bar_on_a_terminal_only(tty):
    """Large process + stderr a terminal: a progress bar on stderr (never on stdout)."""
    import os
    import signal
    import subprocess
    import sys

    pid = _big_child(256 << 20)
    needle = os.urandom(12).hex()  # made after the fork: not in the child's memory
    master, slave = os.openpty()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "memlab", "search", str(pid), needle, "--json"],
            stdout=subprocess.PIPE, stderr=slave if tty else subprocess.PIPE,
            env={**os.environ, "COLUMNS": "100", "TERM": "xterm"}, timeout=60)
        os.close(slave)
        slave = -1
        err = b""
        if tty:
            os.set_blocking(master, False)
            try:
                while chunk := os.read(master, 65536):
                    err += chunk
            except (BlockingIOError, OSError):
                pass
        else:
            err = proc.stderr
        assert proc.returncode == 0
        assert json.loads(proc.stdout)["count"] == 0
        assert (b"searching" in err) is tty
    finally:
        if slave >= 0:
            os.close(slave)
        os.close(master)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


def test_bad_pids_and_counts_are_usage_errors(capsys):
    """exposure/search said `no such process` (exit 3) for PID 0 and -1 where inspect
    says `not a process id` (exit 2); --max-hits 0 or -3 was accepted."""
    for bad in ("0", "-1"):
        code, _, err = run(capsys, "exposure", bad)
        assert code == 2 and err.startswith("memlab: TARGET must be")
    for argv in (("search", "--", "0", "x"), ("search", "--", "-1", "x"),
                 ("search", "1", "x", "--max-hits", "0"),
                 ("search", "1", "x", "--max-hits", "-3")):
        with pytest.raises(SystemExit) as info:
            run(capsys, *argv)
        assert info.value.code == 2
        err = capsys.readouterr().err
        assert "not a process id" in err or "must be at least 1" in err


def test_empty_secret_is_a_usage_error_not_the_demo_default(capsys):
    """`exposure demo --secret ''` silently searched for the built-in demo secret."""
    code, out, err = run(capsys, "exposure", "demo", "--secret", "")
    assert code == 2 and out == "" and err.startswith("memlab: --secret is empty")


def test_search_in_a_kernel_thread_says_so_and_exits_1(capsys):
    """`memlab search 2 X` printed `0 hit(s) in 0.0 MiB` and exited 0, where every other
    command says a kernel thread has no user memory (exit 1)."""
    code, out, err = run(capsys, "search", "2", "x")
    assert code == 1 and out == "" and "kernel thread" in err
