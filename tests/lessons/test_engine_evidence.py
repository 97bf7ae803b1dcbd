"""What the lesson engine accepts as evidence and what it shows: a try-it command's output
must show the measured value itself (not a digit of it), a Secret's values are masked
whatever the manifest's style, and --json verdicts carry the kernel's own lines."""

from __future__ import annotations

import base64
import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from memlab.lessons.checks import set_reveal
from memlab.lessons.engine import (LessonRunner, _in_output, _secret_manifest_values,
                                   lesson_masker, load_lesson)
from tests.lessons.conftest import GOOD
from tests.lessons.test_cli import run_cli

@pytest.fixture(autouse=True)
def _masked_again():
    """A --reveal run sets memlab.lessons.checks' reveal for the process: put it back."""
    yield
    set_reveal(False)


MAPS = "7ffd92918000-7ffd92939000 rw-p 00000000 00:00 0                          [stack]"
NONPIE_HEAP = "00406000-00427000 rw-p 00000000 00:00 0                                  [heap]"


@pytest.mark.parametrize("output, measured, shown", [
    ("count: 41", 41, True),
    ("count: 29", 41, False),  # 41 is 0x29: a bare "29" is decimal 29
    ("0x29", 41, True),
    ("a) yes  b) no", 10, False),  # 10 is 0xa: a lone letter is no evidence
    ("1 0 a", 10, False),  # every digit of it, never the value
    ("0xA", 10, True),
    ("f", 15, False),
    (MAPS, 0x7ffd92939000, True),  # maps prints bare hex
    (MAPS, 0x7ffd92918000, True),
    (MAPS, 0x7ffd9293, False),  # a prefix of an address
    (NONPIE_HEAP, 0x406000, True),  # digits only, but one end of a maps range
    (NONPIE_HEAP, 406000, False),
    ("10000000-10021000 rw-p", 10000000, False),  # a range end is hex, not decimal
    ("x 12345678 y", 0x12345678, False),  # could be decimal: not shown as hex
    ("x 12345678 y", 12345678, True),
    ("", 0, False),
    ("00:00 10 0400", 0, False),  # 0 as part of other numbers
    ("00:00 0", 0, True),
    ("mode 0400", 400, False),
    ("took 1.5 s", 5, False),
    ("-1", 1, False),
    ("-1", -1, True),
    ("41개", 41, True),  # Hangul is not part of an ASCII number
    ("LOG_LEVEL    info", "info", True),
    ("information", "info", False),
    ("a.b*c(d)", "a.b*c(d)", True),  # regex metacharacters are literal
    ("aXbbc(d)", "a.b*c(d)", False),
    ("x", "", False),
    ("", "x", False),
    ("DB_PASSWORD=s3cret\0HOME=/", "s3cret", True),
    ("DB_PASSWORD=s3cret2", "s3cret", False),
    pytest.param("9" * 5000, 9, False, id="5000-digits"),  # int() would refuse it
    ("5", True, False),
    ("None", None, False),
])
def test_try_it_output_must_show_the_whole_value_in_a_form_that_means_it(output, measured,
                                                                         shown):
    assert bool(_in_output(output, measured)) is shown


def test_the_matching_line_is_returned():
    out = f"00400000-00401000 r--p 00000000 08:01 12 /bin/x\n{MAPS}\n"
    assert _in_output(out, 0x7ffd92939000) == MAPS
    assert _in_output("one\ntwo three\nfour", "three\nfour") == "two three\nfour"


NUMBERS = st.integers(min_value=-2**64, max_value=2**64) | st.integers(min_value=0,
                                                                      max_value=300)


@given(NUMBERS, NUMBERS)
def test_another_number_never_shows_the_value(n, other):
    assert _in_output(str(n), n) and _in_output(f"n = {n}.", n)
    if n >= 0:
        assert _in_output(f"0x{n:x}", n) and _in_output(f"0x{n:X}", n)
    if other != n:
        assert not _in_output(str(other), n)
        if other >= 0:
            assert not _in_output(f"0x{other:x}", n)


TEN_VARS = GOOD.replace('env = ["A=1"]', "env = [" + ", ".join(
    f'"V{i}=x"' for i in range(10)) + "]").replace('expected = ["A=1"]', 'expected = [' + (
        ", ".join(f'"V{i}=x"' for i in range(10))) + "]").replace("answer = 1", "answer = 10")


def _try_it(lesson_dir, command: str):
    text = TEN_VARS.replace("[[step.check]]", f"""[step.try]
command = "{command}"
question = "How many variables does it count?"
answer_from = "$p.env.count"
[[step.check]]""", 1)
    lesson = load_lesson(lesson_dir("t.toml", text))
    with LessonRunner(lesson, allow_programs=True) as r:
        return [x for x in r.run_step(0).results if x.where.endswith("try it")][0]


@pytest.mark.parametrize("command, status", [
    ("echo a 1 0", "fail"),  # 10 = 0xa: its hex digit and its decimal digits, apart
    ("echo 110 100 0xab", "fail"),
    ("true", "fail"),  # no output at all
    ("echo variables: 10", "pass"),
    ("echo 0xa", "pass"),
])
def test_a_try_it_command_passes_only_when_its_output_shows_the_value(lesson_dir, command,
                                                                      status):
    result = _try_it(lesson_dir, command)
    assert result.status == status, result
    if status == "fail":
        assert "never shows 10" in result.verdict.measured


# --- Secret values in the lesson's manifests, whatever their style ------------------------

FLOW = base64.b64encode(b"flow-data-7731").decode()


def test_secret_values_are_found_in_flow_style_json_and_multi_document_manifests():
    text = f"""apiVersion: v1
kind: ConfigMap
metadata: {{name: c}}
data: {{plain: not-a-secret}}
---
apiVersion: v1
kind: Secret
metadata: {{name: s}}
stringData: {{password: flow-s3cret-1}}
data: {{k: {FLOW}}}
---
{{"apiVersion": "v1", "kind": "Secret", "metadata": {{"name": "j"}},
  "stringData": {{"token": "json-tok-2"}}}}
---
apiVersion: v1
kind: Secret
metadata:
  name: b
stringData:
  cert: |
    first-line-3
    second-line-4
"""
    got = set(_secret_manifest_values(text))
    assert {b"flow-s3cret-1", b"flow-data-7731", b"json-tok-2", b"first-line-3",
            b"second-line-4"} <= got
    assert b"not-a-secret" not in got  # a ConfigMap is not masked


@pytest.mark.parametrize("text", [
    "kind: Secret\nstringData: {password: broken-s3cret, more: [\n",  # unclosed
    "kind: Secret\nstringData:\n  password: broken-s3cret\n  password: again\n",  # duplicate
    "kind: Secret\nstringData:\n\tpassword: broken-s3cret\n",  # a tab
])
def test_a_manifest_that_does_not_parse_is_masked_conservatively(text):
    assert b"broken-s3cret" in _secret_manifest_values(text)


FLOW_LESSON = f'''\
[lesson]
title = "Flow style"
goal = "A Secret written in flow style is masked."
minutes = 1

[[step]]
text = "Validate."
[[step.action]]
do = "k8s_validate"
save = "s"
manifest = """
apiVersion: v1
kind: Secret
metadata: {{name: db}}
stringData: {{password: flow-s3cret-1}}
data: {{k: {FLOW}}}
"""
[[step.action]]
do = "k8s_validate"
save = "f"
file = "from-file.yaml"
[[step.check]]
name = "equals"
say = "the password is flow-s3cret-1"
value = "$s.objects.db.data.password"
expected = "flow-s3cret-1"
[[step.check]]
name = "equals"
value = "$s.objects.db.data.k"
expected = "flow-data-7731"
[[step.check]]
name = "equals"
value = "$f.objects.j.data.token"
expected = "file-tok-5"

[[quiz]]
question = "What does stringData's password decode to?"
answer_from = "$s.objects.db.data.password"
'''

FILE_SECRET = ('{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "j"}, '
               '"stringData": {"token": "file-tok-5"}}\n')
VALUES = ("flow-s3cret-1", "flow-data-7731", "file-tok-5")


def test_a_flow_style_secret_never_reaches_check_or_json_output_without_reveal(lesson_dir):
    lesson_dir("from-file.yaml", FILE_SECRET)
    path = str(lesson_dir("flow.toml", FLOW_LESSON))
    assert set(VALUES) <= {v.decode() for v in lesson_masker(load_lesson(path)).values}
    for mode in ("--check", "--json"):
        rc, out, err = run_cli("lesson", "run", path, mode, "--yes")
        assert rc == 0, out + err
        assert not [v for v in VALUES if v in out + err], out
        rc, out, err = run_cli("lesson", "run", path, mode, "--yes", "--reveal")
        assert rc == 0 and all(v in out for v in VALUES), out  # the test can fail
    rc, out, err = run_cli("lesson", "run", path, "--no-pause", "--yes")
    assert not [v for v in VALUES if v in out + err], out  # the walk, its text and notes


def test_a_broken_manifest_fails_the_lesson_without_showing_its_secret(lesson_dir):
    lesson_dir("from-file.yaml", FILE_SECRET)
    path = str(lesson_dir("broken.toml", FLOW_LESSON.replace("data: {k: ", "data: {k: [")))
    rc, out, err = run_cli("lesson", "run", path, "--check", "--yes")
    assert rc == 1 and "FAIL" in out and "Traceback" not in out + err, out + err
    assert "flow-s3cret-1" not in out + err, out


# --- the kernel's lines in --json ---------------------------------------------------------

def test_json_verdicts_carry_the_kernel_lines_masked():
    rc, out, err = run_cli("lesson", "run", "where-env-lives", "--json")
    assert rc == 0, out + err
    results = json.loads(out)["results"]
    assert all(isinstance(r["source"], list) and all(isinstance(x, str) for x in r["source"])
               for r in results)
    lines = [x for r in results for x in r["source"]]
    assert any(re.match(r"/proc/\d+/maps: [0-9a-f]{8,}-[0-9a-f]{8,} rw-p .*\[stack\]$", x)
               for x in lines), lines
    env = [x for x in lines if "DB_PASSWORD=" in x]
    assert env and "hunter2" not in out, env
    rc, out, _ = run_cli("lesson", "run", "where-env-lives", "--json", "--reveal")
    assert any("DB_PASSWORD=hunt" in x for r in json.loads(out)["results"]
               for x in r["source"])  # the bytes as xxd shows them, 16 a line


# --- every text the lesson CLI prints is masked: notes, action errors, try-it -------------

LEAKY = '''\
[lesson]
title = "Leaks"
goal = "Nothing the lesson knows as secret is printed."
minutes = 1

[[step]]
text = "Launch."
[[step.action]]
do = "launch"
env = ["DB_PASSWORD=sekrit-9931"]
save = "p"
[[step.action]]
do = "command"
process = "p"
line = "getenv DB_PASSWORD"
[step.try]
command = "echo {$p.env.entries.0}"
question = "What did echo print?"
answer_from = "$p.env.entries.0"
[[step.check]]
name = "equals"
value = "$p.env.count"
expected = 1

[[step]]
text = "Ask the sample for something it refuses."
[[step.action]]
do = "command"
process = "p"
line = "frobnicate sekrit-9931"

[[quiz]]
question = "How many variables?"
answer_from = "$p.env.count"
'''


def test_notes_action_errors_and_try_it_never_print_a_secret(lesson_dir):
    path = str(lesson_dir("leaky.toml", LEAKY))
    for mode in ("--check", "--json", "--no-pause"):
        rc, out, err = run_cli("lesson", "run", path, mode, "--yes")
        assert rc == 1, out + err  # step 2's action fails: the sample refuses the line
        assert "sekrit-9931" not in out + err, out
    rc, out, _ = run_cli("lesson", "run", path, "--check", "--yes")
    # the try-it command ran with the real value (not the mask) and its verdict is masked
    assert re.search(r"^PASS  leaky step 1 try it: .*\n.*printed: DB_PASSWORD=\*\*\*$", out,
                     re.M), out
    assert re.search(r"^FAIL  leaky step 2: the step's action runs\n.*refused", out, re.M), out
    rc, out, _ = run_cli("lesson", "run", path, "--check", "--yes", "--reveal")
    assert "sekrit-9931" in out  # the test can fail


def test_try_it_output_masks_a_secret_the_lesson_never_named(lesson_dir):
    """What a try-it command printed is judged as memlab's views judge text: a
    secret-looking NAME=value is masked even when the lesson does not know the value."""
    from tests.lessons.conftest import GOOD

    text = GOOD.replace('[[step.check]]', '''[step.try]
command = "echo API_TOKEN=tok-unknown-777 count={$p.env.count}"
question = "What count did it print?"
answer_from = "$p.env.count"
[[step.check]]''', 1)
    path = str(lesson_dir("printer.toml", text))
    rc, out, err = run_cli("lesson", "run", path, "--check", "--yes")
    assert rc == 0, out + err
    assert re.search(r"^PASS  printer step 1 try it: .*\n.*printed: API_TOKEN=\*\*\*", out,
                     re.M), out
    assert "tok-unknown-777" not in out + err, out
