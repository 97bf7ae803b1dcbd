"""PIDs (and other numbers a user types) are ASCII digits only.

Python's int() also takes " 12", "+12", "1_2", "١٢" (Arabic-Indic digits) and "１２"
(fullwidth): a PID written so is not what the user sees, so every command refuses it
with exit 2, through the one parser (memlab.cli._output.pid_arg)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from memlab.cli import build_parser, main
from memlab.errors import UsageError
from tests.helpers import REPO

OWN = str(os.getpid())
BAD = [" 12", "12 ", "\t12", "٣", "١٢", "１２", "+12", "0x1c", "1_2", "-1", "0", "",
       "1e3", "١" + OWN, OWN + "\u200b"]

# every command that takes a PID, with the PID's place marked
COMMANDS = [
    ("inspect", "{}"), ("env", "{}"), ("stack", "{}"), ("elf", "{}"), ("layout", "{}"),
    ("heap", "{}"), ("exposure", "{}"), ("search", "{}", "needle"),
]


@pytest.mark.parametrize("bad", BAD)
@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_pid_must_be_ascii_digits(capsys, command, bad):
    argv = [a.format(bad) for a in command]
    try:
        rc = main(argv)
    except SystemExit as stop:  # argparse's error(): exit 2
        rc = stop.code
    err = capsys.readouterr().err
    assert rc == 2, (argv, rc, err)
    assert len(err.strip().splitlines()) == 1, err
    # `elf TARGET` takes a file or a PID: what is not a PID is a file name
    assert "process id" in err or "PID" in err or (
        command[0] == "elf" and "no such file" in err), err


@pytest.mark.parametrize("bad", BAD)
def test_tui_pid_must_be_ascii_digits(bad):
    from memlab.cli.tui_cmd import request_from_args

    args = build_parser(["tui"]).parse_args(["tui", bad])
    with pytest.raises(UsageError, match="process id"):
        request_from_args(args)


def test_plain_digits_still_work(capsys):
    assert main(["stack", "--json", OWN]) == 0
    capsys.readouterr()


def test_lesson_numbers_and_quiz_answers_are_ascii_digits():
    """`lesson run N` and a quiz answer "2" (the second choice) follow the same rule."""
    from memlab.lessons.engine import answers_match

    assert answers_match("2", "y", ("x", "y"))
    assert not answers_match("٢", "y", ("x", "y"))
    assert not answers_match("２", "y", ("x", "y"))
    proc = subprocess.run([sys.executable, "-m", "memlab", "lesson", "run", "١", "--check"],
                          cwd=REPO, capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 2, proc
    assert "no lesson named" in proc.stderr and "passed" not in proc.stdout, proc


BAD_NUMBERS = [
    ("aslr", "sleeper", "--runs", "99999999999999999999"),
    ("aslr", "sleeper", "--runs", "1001"),
    ("aslr", "sleeper", "--runs", "1e9"),
    ("aslr", "sleeper", "--runs", "٣"),
    ("search", OWN, "needle", "--max-hits", "1000000000000"),
    ("search", OWN, "needle", "--max-hits", "１０"),
    ("k8s", "run", "pod.yaml", "--timeout", "1e300"),
    ("k8s", "run", "pod.yaml", "--timeout", "nan"),
    ("k8s", "run", "pod.yaml", "--timeout", "١٢"),
]


@pytest.mark.parametrize("argv", BAD_NUMBERS, ids=" ".join)
def test_counts_and_timeouts_have_upper_bounds(argv):
    """Refused with one line and exit 2 before anything is launched or waited for."""
    proc = subprocess.run([sys.executable, "-m", "memlab", *argv], cwd=REPO, text=True,
                          capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    err = proc.stderr.strip()
    assert proc.returncode == 2 and len(err.splitlines()) == 1, proc
    assert "must be" in err or "not a number" in err, err
