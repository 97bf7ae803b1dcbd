"""The core CLI (launch, inspect, env, stack, samples) as a user runs it: a real `memlab`
process (python -m memlab), real targets, exit codes, one-line errors, no tracebacks.
"Another user" rows fork a child that drops to uid 65534 and runs memlab's main() there
(tests.helpers.run_as), capturing its stdout/stderr."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest

from memlab.launch import launch
from tests.conftest import requires_root
from tests.helpers import NOBODY, REPO, run_as


def memlab(*args: str, stdin: str | None = "") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "memlab", *args], cwd=REPO, text=True,
                          capture_output=True, input=stdin, timeout=60)


def one_line_error(proc: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("memlab: ")
    return lines[0]


# --------------------------------------------------------------------------- launch
def test_launch_env_exactly_two_entries_inside_stack_above_args():
    p = memlab("launch", "--json", "-i", "-e", "A=1", "-e", "B=x y", "/usr/bin/env")
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert d["schema"] == "memlab.snapshot/1"
    assert d["launch"]["held_at_exec"] is True and d["launch"]["hold"] == "exec"
    env = d["env"]
    entries = [(e["name"], e["value"], e["length"]) for e in env["entries"]]
    assert entries == [("A", "1", 3), ("B", "x y", 5)]
    a, b = (int(e["address"], 16) for e in env["entries"])
    start, end = int(env["start"], 16), int(env["end"], 16)
    # byte for byte: "A=1\0B=x y\0", nothing before, between or after
    assert (a, b, end) == (start, start + 4, start + 10) and env["size"] == 10
    assert env["matches_proc_environ"] is True
    # inside [stack] ...
    stack = [r for r in d["regions"] if r["path"] == "[stack]"]
    assert len(stack) == 1 and stack[0]["kind"] == "stack"
    assert int(stack[0]["start"], 16) <= start < end <= int(stack[0]["end"], 16)
    assert env["region"] == "[stack]"
    # ... right above the argument strings
    assert int(d["stat"]["arg_end"], 16) == start and env["distance_to_args"] == 0
    assert all(int(x["address"], 16) < start for x in d["stack"]["argv"])
    assert [x["string"] for x in d["stack"]["envp"]] == ["A=1", "B=x y"]
    assert d["stack"]["auxv_matches_proc"] is True
    assert d["argv"] == ["/usr/bin/env"]


def test_launch_sample_text_shows_self_check_and_masks_secrets():
    p = memlab("launch", "-e", "DB_PASSWORD=hunter2", "-e", "X=[bold]y[/bold]",
               "-e", "[red]N=v", "sleeper-static")
    assert p.returncode == 0, p.stderr
    assert "hunter2" not in p.stdout and "***" in p.stdout
    # process strings are never parsed as rich markup
    assert "[bold]y[/bold]" in p.stdout and " [red]N " in p.stdout  # env table name
    assert "env strings" in p.stdout  # matching env self-checks: one summary row
    assert "✓ match" in p.stdout and "✗" not in p.stdout
    assert "[heap]" in p.stdout and "[stack]" in p.stdout
    p = memlab("launch", "--reveal", "--json", "-i", "-e", "DB_PASSWORD=hunter2", "sleeper")
    d = json.loads(p.stdout)
    assert d["env"]["entries"][0]["value"] == "hunter2"
    assert all(c["ok"] for c in d["launch"]["self_check"])
    assert len(d["launch"]["self_check"]) >= 12


def test_launch_keep_ends_the_process_on_enter():
    p = memlab("launch", "--json", "--keep", "-i", "sleeper", stdin="\n")
    assert p.returncode == 0, p.stderr
    pid = json.loads(p.stdout)["pid"]
    assert "Press Enter" in p.stderr
    assert not os.path.exists(f"/proc/{pid}") or b"(sleeper)" not in open(
        f"/proc/{pid}/stat", "rb").read()


def test_launch_usage_errors():
    assert memlab("launch", "--hold", "ready", "/usr/bin/env").returncode == 2
    p = memlab("launch", "/nonexistent/prog")
    assert p.returncode == 2 and "no such file" in one_line_error(p)


def test_launch_args_after_double_dash():
    p = memlab("launch", "--json", "-i", "/usr/bin/sleep", "--", "100")
    d = json.loads(p.stdout)
    assert d["argv"] == ["/usr/bin/sleep", "100"]
    assert [a["string"] for a in d["stack"]["argv"]] == ["/usr/bin/sleep", "100"]


# --------------------------------------------------------------------------- inspect/env/stack
@pytest.fixture
def sleeper():
    with launch("sleeper", ["x"], [b"A=1", b"DB_PASSWORD=hunter2"], hold="ready") as c:
        yield c


def test_inspect_env_stack_json(sleeper):
    p = memlab("inspect", str(sleeper.pid), "--json")
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert d["pid"] == sleeper.pid and d["warnings"] == [] and d["denied"] == []
    kinds = {r["kind"] for r in d["regions"]}
    assert {"text", "rodata", "data", "heap", "stack", "lib", "vdso"} <= kinds
    assert all(r["start"].startswith("0x") for r in d["regions"])
    assert d["env"]["entries"][1] == {"name": "DB_PASSWORD", "value": "***",
                                      "address": d["env"]["entries"][1]["address"],
                                      "length": 19}
    assert {a["type"] for a in d["auxv"]} >= {"AT_PHDR", "AT_RANDOM", "AT_EXECFN"}

    e = json.loads(memlab("env", str(sleeper.pid), "--json", "--reveal").stdout)
    assert e["schema"] == "memlab.env/1"
    assert [x["value"] for x in e["env"]["entries"]] == ["1", "hunter2"]
    s = json.loads(memlab("stack", str(sleeper.pid), "--json").stdout)
    assert s["schema"] == "memlab.stack/1" and s["stack"]["argc"] == 2
    assert s["stack"]["envp"][1]["string"] == "DB_PASSWORD=***"
    assert len(bytes.fromhex(s["stack"]["at_random"])) == 16


def test_text_outputs(sleeper):
    for cmd in ("inspect", "env", "stack"):
        p = memlab(cmd, str(sleeper.pid))
        assert p.returncode == 0 and p.stderr == "", (cmd, p.stderr)
        assert "hunter2" not in p.stdout
    assert "✓ match" in memlab("env", str(sleeper.pid)).stdout
    stack = memlab("stack", str(sleeper.pid)).stdout
    assert "AT_RANDOM" in stack and "end of [stack]" in stack
    assert "argc = 2  <- startstack" in stack
    p = memlab("inspect", str(sleeper.pid), "--elf")
    assert p.returncode == 0 and "elf: pie executable; load bias 0x" in p.stdout, p.stderr
    d = json.loads(memlab("inspect", str(sleeper.pid), "--elf", "--json").stdout)
    assert d["elf"]["available"] is True


def test_samples():
    d = json.loads(memlab("samples", "--json").stdout)
    names = {s["name"] for s in d["samples"]}
    assert {"sleeper", "sleeper-nopie", "sleeper-static", "sleeper-static-pie"} <= names
    assert "sleeper" in memlab("samples").stdout


# --------------------------------------------------------------------------- errors
def test_wrong_pid():
    for cmd in ("inspect", "env", "stack"):
        p = memlab(cmd, "99999999")
        assert p.returncode == 3 and "no such process" in one_line_error(p)
    p = memlab("inspect", "nope")
    assert p.returncode == 2 and "Traceback" not in p.stderr


def test_vanished_process():
    with launch("sleeper", [], [b"A=1"], hold="ready") as child:
        pid = child.pid
    p = memlab("inspect", str(pid), "--json")
    assert p.returncode == 3 and "no such process" in one_line_error(p)


def test_zombie():
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    try:
        for _ in range(10000):  # until it has exited (not reaped: a zombie)
            if open(f"/proc/{pid}/stat", "rb").read().rsplit(b")", 1)[1].split()[0] == b"Z":
                break
        p = memlab("inspect", str(pid))
        assert p.returncode == 3 and "zombie" in one_line_error(p)
    finally:
        os.waitpid(pid, 0)


def test_kernel_thread():
    if b"(kthreadd)" not in open("/proc/2/stat", "rb").read():
        pytest.skip("PID 2 is not kthreadd here")
    for cmd in ("inspect", "env", "stack"):
        p = memlab(cmd, "2", "--json")
        assert p.returncode == 1 and "kernel thread" in one_line_error(p)


def _cli_as_nobody(args: list[str]) -> tuple[int, str, str]:
    """memlab's main() in a child that dropped to uid 65534, stdout/stderr captured."""
    from memlab.cli import build_parser, main

    build_parser()  # import every command module while root can still read the venv
    import memlab.cli._text  # noqa: F401  (and the text-mode renderers)
    import rich.console  # noqa: F401

    def child():
        out, err = io.StringIO(), io.StringIO()
        sys.stdout, sys.stderr = out, err
        try:
            rc = main(args)
        finally:
            sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
        return rc, out.getvalue(), err.getvalue()

    return run_as(NOBODY, child)


@requires_root
@pytest.mark.root
def test_another_users_process_is_denied_and_stat_hidden(sleeper):
    pid = str(sleeper.pid)
    real = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    real_addrs = {f"0x{int(real[n - 3]):x}" for n in (26, 27, 28, 45, 46, 47, 48, 49, 50, 51)}
    rc, out, err = _cli_as_nobody(["inspect", pid, "--json"])
    assert rc == 4
    assert err.count("\n") == 1 and err.startswith("memlab: permission denied")
    assert "Traceback" not in out + err
    d = json.loads(out)
    assert d["stat"]["masked"] is True
    assert {d["stat"][k] for k in ("start_code", "end_code", "start_stack", "start_data",
                                  "end_data", "start_brk", "arg_start", "arg_end",
                                  "env_start", "env_end")} == {"hidden"}
    assert d["regions"] == [] and d["env"] is None and d["stack"] is None
    assert "maps" in d["denied"]
    assert not any(a in out for a in real_addrs)
    rc, out, err = _cli_as_nobody(["inspect", pid])
    assert rc == 4 and "hidden by the kernel" in out
    assert not any(a in out for a in real_addrs)
    for cmd in ("env", "stack"):
        rc, out, err = _cli_as_nobody([cmd, pid])
        assert rc == 4 and err.count("\n") == 1 and "hidden" in out


@pytest.mark.parametrize("argv", [("inspect", "abc"), ("launch", "--hold", "x", "sleeper"),
                                  ("k8s", "run"), ("bogus",), ("search", "1"),
                                  ("aslr", "sleeper", "--runs", "x")])
def test_argparse_usage_errors_are_one_memlab_line(argv):
    """argparse printed its usage block and `memlab inspect: error: ...` (two or more
    lines, not the documented `memlab: ...` line)."""
    p = memlab(*argv)
    assert p.returncode == 2
    line = one_line_error(p)
    assert line.startswith("memlab: ") and "--help`)" in line


def test_top_level_help_fits_80_columns_and_lists_exit_code_5():
    p = memlab("--help")
    assert all(len(line) <= 80 for line in p.stdout.splitlines())
    assert "5 `memlab audit --fail-on-findings`" in p.stdout


HELP_COMMANDS = ("launch", "inspect", "env", "stack", "samples", "elf", "layout", "heap",
                 "aslr", "exposure", "search", "audit", "tui", "lesson list", "lesson run",
                 "k8s validate", "k8s env", "k8s run", "k8s apply")


def test_every_help_has_examples_and_its_prose_fits_80_columns():
    """Raw descriptions/epilogs were not wrapped: 3-12 lines over 80 columns in every
    --help.  Only whole example commands (kept for copy and paste) may be longer."""
    script = ("import sys, os, contextlib, io\n"
              "from memlab.cli import build_parser\n"
              "for cmd in sys.argv[1:]:\n"
              "    argv = cmd.split() + ['--help']\n"
              "    buf = io.StringIO()\n"
              "    with contextlib.redirect_stdout(buf):\n"
              "        try: build_parser(argv).parse_args(argv)\n"
              "        except SystemExit: pass\n"
              "    print('=====', cmd); print(buf.getvalue())\n")
    p = subprocess.run([sys.executable, "-c", script, *HELP_COMMANDS], cwd=REPO,
                       capture_output=True, text=True, timeout=60,
                       env={**os.environ, "COLUMNS": "80"})
    assert p.returncode == 0, p.stderr
    for block in p.stdout.split("===== ")[1:]:
        cmd, _, text = block.partition("\n")
        assert "examples:" in text and "  memlab " in text, cmd
        long = [line for line in text.splitlines() if len(line) > 80
                and not line.lstrip().startswith("memlab ")]
        assert not long, (cmd, long)
