"""The CLI commands beyond inspect/env/stack print what a process, an ELF file or a
manifest chose (paths, symbol names, env values, file contents) with its control
characters escaped: `ESC ] 0 ; title BEL` must not retitle the reader's terminal."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET

import pytest

from memlab.cli import main
from memlab.launch import launch
from tests.helpers import sample
from tests.lessons.conftest import GOOD

TITLE = "\x1b]0;PWNED\x07"
CLEAR = "\x1b[2J"


def controls(text: str) -> set[str]:
    return {c for c in text if c != "\n" and (ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F)}


def run(capsys, *argv):
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert not controls(out) and not controls(err), (out, err)
    return rc, out, err


@pytest.fixture
def hostile_exe(tmp_path):
    """The sleeper sample under a name with escape sequences in it."""
    exe = tmp_path / f"sl{TITLE}eeper{CLEAR}"
    shutil.copy2(sample("sleeper"), exe)
    return exe


def test_elf_and_layout_of_a_hostile_path(capsys, hostile_exe, tmp_path, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "400")  # the long tmp path on one line
    escaped = "sl\\x1b]0;PWNED\\x07eeper\\x1b[2J"
    rc, out, _ = run(capsys, "elf", hostile_exe)  # the file: its path on the first line
    assert rc == 0 and out.splitlines()[0].endswith(escaped)
    with launch(str(hostile_exe), hold="exec", env=[f"V=\x9b{TITLE}".encode()]) as child:
        rc, out, _ = run(capsys, "elf", child.pid)
        assert rc == 0 and escaped in out
        svg = tmp_path / "layout.svg"
        rc, out, _ = run(capsys, "layout", child.pid, "--svg", svg)
        assert rc == 0 and escaped in out
        # XML 1.0 forbids ESC and BEL even as character references: escaped first
        root = ET.parse(svg).getroot()
        labels = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
        assert any(escaped in (label or "") for label in labels)
        # JSON with ensure_ascii=False: C0 escaped by json.dumps, C1 (U+009B is CSI
        # for a UTF-8 xterm) by print_json; the value itself survives
        rc, out, _ = run(capsys, "env", child.pid, "--json", "--reveal")
        assert rc == 0 and "\\u009b" in out
        env = json.loads(out)["env"]["entries"]
        assert [e["value"] for e in env] == [f"\x9b{TITLE}"]


def test_an_error_quoting_a_path_is_escaped(capsys):
    rc, _, err = run(capsys, "elf", f"/nonexistent/{TITLE}")
    assert rc == 2 and "/nonexistent/\\x1b]0;PWNED\\x07" in err


def test_k8s_env_prints_configmap_values_escaped(capsys, tmp_path):
    pod = tmp_path / "pod.yaml"
    pod.write_text("""\
apiVersion: v1
kind: ConfigMap
metadata: {name: cm}
data:
  EVIL: "\\e]0;PWNED\\a\\e[2Jx"
---
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers:
  - name: app
    image: busybox
    envFrom:
    - configMapRef: {name: cm}
""")
    rc, out, _ = run(capsys, "k8s", "env", pod, "--no-runtime", "--no-services")
    assert rc == 0 and "EVIL  \\x1b]0;PWNED\\x07\\x1b[2Jx" in out


def test_lesson_verdict_lines_escape_what_was_measured():
    from memlab.cli.lesson_cmds import _result_line
    from memlab.lessons.checks import FAIL, Verdict
    from memlab.lessons.engine import CheckResult

    line = _result_line(CheckResult("l", "step 1", "the value", Verdict(
        FAIL, f"V={TITLE}", f"{CLEAR}"), 1))
    assert not controls(line)
    assert "measured: V=\\x1b]0;PWNED\\x07 (expected \\x1b[2J)" in line


def hostile_lesson() -> str:
    """tests.lessons GOOD with escape sequences in every text a lesson file gives."""
    esc = {"TITLE": "\\u001b]0;PWNED\\u0007", "CLEAR": "\\u001b[2J"}  # TOML escapes
    text = GOOD
    for old, new in [
        ('title = "A tiny lesson"', 'id = "evil{TITLE}"\ntitle = "Title {TITLE} here"'),
        ('goal = "Check that a launched sample\'s env block is in [stack]."',
         'goal = "Goal {CLEAR} here."\nsummary = "Summary {CLEAR}."'),
        ('text = "Launch."',
         'title = "Step {TITLE}"\ntext = "Text {CLEAR}."\nafter = "After {CLEAR}."'),
        ('name = "equals"', 'name = "equals"\nsay = "say {TITLE}"'),
        ('question = "How many variables?"', 'question = "Question {CLEAR}?"\n'
         'choices = ["1", "two {CLEAR}"]\nexplain = "Explain {CLEAR}."'),
    ]:
        assert old in text, old
        text = text.replace(old, new.format(**esc))
    return text


@pytest.mark.parametrize("argv", [
    ("lesson", "list"),
    ("lesson", "run", "1", "--no-pause", "--yes"),  # the interactive walk (no tty here)
    ("lesson", "run", "--all", "--check", "--yes"),
])
@pytest.mark.usefixtures("samples_built")  # the lesson launches sleeper
def test_lesson_text_from_a_user_directory_is_escaped(capsys, tmp_path, argv):
    (tmp_path / "evil.toml").write_text(hostile_lesson())
    rc, out, err = run(capsys, *argv, "--dir", tmp_path, "--no-builtin")
    assert rc == 0, (out, err)
    if "--check" not in argv:
        assert "Title \\x1b]0;PWNED\\x07 here" in out
        assert "Goal \\x1b[2J here." in out
    if argv[1] == "list":
        assert "evil\\x1b]0;PWNED\\x07" in out
    elif "--check" in argv:
        assert "evil\\x1b]0;PWNED\\x07 step 1: say \\x1b]0;PWNED\\x07" in out
    else:
        for shown in ("Step \\x1b]0;PWNED\\x07", "Text \\x1b[2J.", "After \\x1b[2J.",
                      "Question \\x1b[2J?", "b) two \\x1b[2J", "Explain \\x1b[2J.",
                      "Summary \\x1b[2J."):
            assert shown in out, shown


def test_an_internal_error_is_one_escaped_line_and_exit_1(capsys, monkeypatch):
    """A bug's message can quote process text: escaped, on one line, exit 1 (failure)."""
    from memlab.cli import lesson_cmds

    def boom(args):
        raise RuntimeError(f"bad {CLEAR}value\nsecond{TITLE}")

    monkeypatch.delenv("MEMLAB_DEBUG", raising=False)
    monkeypatch.setattr(lesson_cmds, "cmd_list", boom)  # what register() hands argparse
    rc, out, err = run(capsys, "lesson", "list")
    assert rc == 1 and out == ""
    assert err == ("memlab: internal error: RuntimeError: bad \\x1b[2Jvalue\\x0asecond"
                   "\\x1b]0;PWNED\\x07 (set MEMLAB_DEBUG=1 for a traceback)\n")


@pytest.mark.parametrize("command", ["inspect", "elf", "layout", "env"])
def test_emoji_codes_and_markup_in_a_path_are_printed_as_named(capsys, tmp_path, monkeypatch,
                                                               command):
    """rich turns `:smile:` into an emoji even where markup is off, and would style
    `[bold]`: a file named so must be shown exactly as the kernel names it."""
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "400")
    exe = tmp_path / "a:smile:b[bold]c"
    shutil.copy2(sample("sleeper"), exe)
    with launch(str(exe), hold="exec", env=[b"V=:thumbs_up:[red]x"]) as child:
        rc, out, _ = run(capsys, command, child.pid, "--reveal") if command == "env" else \
            run(capsys, command, child.pid)
    assert rc == 0
    shown = ":thumbs_up:[red]x" if command == "env" else "a:smile:b[bold]c"
    assert shown in out
    assert "\N{SMILING FACE WITH OPEN MOUTH AND SMILING EYES}" not in out
    assert "\N{THUMBS UP SIGN}" not in out
