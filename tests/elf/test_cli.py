"""memlab elf | layout | heap | aslr through the real CLI entry point."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from memlab.cli import main
from memlab.cli._output import PIPE_WIDTH, console
from memlab.launch import launch
from tests.helpers import REPO, sample


@pytest.fixture
def sleeper():
    with launch(sample("sleeper"), hold="ready", env=[b"A=1"]) as child:
        yield child


def run(capsys, *argv):
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def test_elf_json(capsys, sleeper):
    rc, out, _ = run(capsys, "elf", sleeper.pid, "--json")
    assert rc == 0
    d = json.loads(out)
    assert d["schema"] == "memlab.elf/1" and d["available"] and d["all_segments_exact"]
    assert {"file", "bias", "segments", "symbols", "libc", "heap"} <= set(d)
    syms = {s["name"]: s["address"] for s in d["symbols"]}
    assert syms["main"] == sleeper.report["main"] and syms["end"] == sleeper.report["end"]
    assert d["bias"]["consistent"] is True and d["bias"]["value"].startswith("0x")


def test_elf_text_and_file(capsys, sleeper):
    rc, out, _ = run(capsys, "elf", sleeper.pid)
    assert rc == 0 and "load bias" in out and "consistent" in out and "exact" in out
    assert "\x1b[" not in out  # piped: plain
    rc, out, _ = run(capsys, "elf", "/usr/bin/sleep")
    assert rc == 0 and "stripped" in out and "unknown: main" in out
    rc, _, err = run(capsys, "elf", "/nonexistent/file")
    assert rc == 2 and err.startswith("memlab: ")


def test_layout_text_svg_json(capsys, sleeper, tmp_path, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("COLUMNS", raising=False)
    svg = tmp_path / "l.svg"
    rc, out, err = run(capsys, "layout", sleeper.pid, "--svg", svg)
    assert rc == 0 and "[stack]" in out and "[heap]" in out and "◀ _end" in out
    assert "\x1b[" not in out
    # piped: one width, PIPE_WIDTH (docs/cli.md "Output width"), whatever the command
    assert all(len(line) <= PIPE_WIDTH for line in out.splitlines()[1:])
    assert console().width == PIPE_WIDTH
    monkeypatch.setenv("COLUMNS", "120")
    assert console().width == 120
    rc, out, err = run(capsys, "layout", sleeper.pid)
    assert all(len(line) <= 120 for line in out.splitlines()[1:])
    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg")
    labels = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")
              if t.get("class") == "label"]
    assert "[stack]" in labels and "[heap]" in labels
    rc, out, _ = run(capsys, "layout", sleeper.pid, "--json")
    d = json.loads(out)
    assert d["schema"] == "memlab.layout/1"
    starts = [int(b["start"], 16) for b in d["blocks"]]
    assert starts == sorted(starts, reverse=True)
    rc, _, err = run(capsys, "layout", sleeper.pid, "--svg", tmp_path / "no" / "x.svg")
    assert rc == 2 and "cannot write" in err


def test_heap_cli(capsys, sleeper):
    rc, out, _ = run(capsys, "heap", sleeper.pid, "--json")
    d = json.loads(out)
    assert rc == 0 and d["schema"] == "memlab.heap/1"
    assert d["end_symbol"] == sleeper.report["end"]
    assert d["gaps"]["start_brk_minus_end"] > 0 and d["explanation"]
    rc, out, _ = run(capsys, "heap", sleeper.pid)
    assert "start_brk" in out and "why:" in out and "[heap]" in out


def test_aslr_cli(capsys):
    rc, out, _ = run(capsys, "aslr", "sleeper", "--runs", "2", "--no-aslr", "--json")
    d = json.loads(out)
    assert rc == 0 and d["runs"] == 2 and d["no_aslr"]
    assert all(c["constant"] for c in d["columns"].values())
    rc, out, _ = run(capsys, "aslr", "/usr/bin/sleep", "-n", "2", "--", "60")
    assert rc == 0 and "held at exec" in out
    rc, _, err = run(capsys, "aslr", "sleeper", "--runs", "0")
    assert rc == 2
    rc, _, err = run(capsys, "aslr", "sleeper", "--bogus")
    assert rc == 2 and "after --" in err


def test_missing_pid_exit_code(capsys):
    for cmd in ("elf", "layout", "heap"):
        rc, _, err = run(capsys, cmd, 999999999)
        assert rc == 3 and err.startswith("memlab: ")


def test_help_has_examples(capsys):
    for cmd in ("elf", "layout", "heap", "aslr"):
        with pytest.raises(SystemExit):
            main([cmd, "--help"])
        out, _ = capsys.readouterr()
        assert "examples:" in out


def test_rich_colour_on_a_terminal(sleeper):
    from rich.console import Console

    from memlab.elf.attach import snapshot_with_elf
    from memlab.render.layout import build_blocks
    from memlab.render.layout_text import render_rich

    con = Console(force_terminal=True, color_system="standard", width=80)
    with con.capture() as cap:
        con.print(render_rich(build_blocks(snapshot_with_elf(sleeper.pid))))
    assert "\x1b[" in cap.get()


def test_headless_imports_stay_light():
    code = ("import sys, memlab.elf, memlab.render.layout, memlab.render.layout_text, "
            "memlab.render.layout_svg, memlab.aslr, "
            "memlab.cli.elf_cmds, memlab.analysis.heap; "
            "print(sorted(m for m in ('elftools', 'textual', 'rich') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=REPO, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("bad", ["0", "-1", "abc"])
def test_bad_pid_is_a_usage_error_like_inspect(capsys, bad):
    """layout/heap said `no such process` (exit 3) for 0 and -1, and `invalid int value`
    for abc, where inspect, env and stack say `not a process id` (exit 2)."""
    for cmd in ("inspect", "layout", "heap"):
        with pytest.raises(SystemExit) as info:  # argparse's usage exit
            run(capsys, cmd, "--", bad)
        assert info.value.code == 2
        assert "not a process id" in capsys.readouterr().err
    if bad != "abc":  # elf takes PID|FILE: digits are a PID
        rc, _, err = run(capsys, "elf", bad)
        assert rc == 2 and ("not a process id" in err or "no such file" in err)


def test_aslr_runs_must_be_positive_and_progress_stays_off_pipes(capsys):
    for bad in ("0", "-5"):
        try:
            rc = run(capsys, "aslr", "sleeper", "--runs", bad)[0]
        except SystemExit as e:
            rc = e.code
        assert rc == 2
    capsys.readouterr()
    rc, out, err = run(capsys, "aslr", "sleeper", "--runs", "10", "--json")
    assert rc == 0 and json.loads(out)["runs"] == 10
    assert "run 1/10" not in err  # stderr is not a terminal here


def test_layout_svg_empty_path_is_an_error_not_ignored(capsys, sleeper):
    rc, _, err = run(capsys, "layout", sleeper.pid, "--svg", "")
    assert rc == 2 and err.startswith("memlab: cannot write the SVG")
