"""Pure pieces of the TUI: diffs, command checking, the view registry, hex lines,
import hygiene, and the process verdicts."""

from __future__ import annotations

import os
import subprocess
import sys

import psutil
import pytest

from memlab.errors import UsageError
from memlab.processes import list_processes, verdict
from memlab.tui.diff import env_changed_addresses, region_changes, summarize
from memlab.tui.source import check_command
from tests.helpers import NOBODY, loaded_after, run_as, wait_until
from tests.tui import fakes

from tests.conftest import requires_root


def test_scrub_changes_exactly_the_value_bytes():
    before, _ = fakes.build()
    after, _ = fakes.build(env=fakes.scrubbed())
    changed = env_changed_addresses(before, after)
    entry = before.env.entries[0]  # DB_PASSWORD=hunter2
    value_start = entry.address + len(b"DB_PASSWORD=")
    assert changed == frozenset(range(value_start, value_start + len(b"hunter2")))
    assert "7 bytes changed" in summarize(before, after)[0]


def test_unsetenv_changes_no_byte_and_says_so():
    before, _ = fakes.build()
    lines = summarize(before, before)
    assert env_changed_addresses(before, before) == frozenset()
    assert lines[0].startswith("env block: no byte changed")


def test_heap_growth_is_reported():
    before, _ = fakes.build()
    after = fakes.after_malloc(before)
    changes = list(region_changes(before, after).values())
    assert [(c.region.path, c.change, c.delta) for c in changes] == [("[heap]", "grew", 0x21000)]
    assert any("[heap] grew by 132 KiB" in s for s in summarize(before, after))


def test_other_process_is_not_compared():
    before, _ = fakes.build()
    other = before._replace(pid=before.pid + 1)
    assert env_changed_addresses(before, other) == frozenset()
    assert summarize(before, other) == ["a new process: nothing to compare with"]


@pytest.mark.parametrize("line", ["setenv A b c", "unsetenv A", "scrub A", "copy A",
                                  "malloc 4096"])
def test_valid_commands(line):
    assert check_command(line) == line


@pytest.mark.parametrize("line", ["", "rm -rf /", "unsetenv", "malloc lots", "scrub A B"])
def test_invalid_commands(line):
    with pytest.raises(UsageError):
        check_command(line)


def test_view_registry_keys_are_unique_and_reserved_keys_free():
    from memlab.tui.views import load_views
    views, _ = load_views()
    keys = [v.key for v in views]
    assert len(keys) == len(set(keys))
    assert not set(keys) & {"q", "l", "p", "r", "a", "v", "j"}
    assert [v.id for v in views][:5] == ["map", "env", "stack", "hex", "drive"]


def test_hex_line_marks_unreadable_and_masks():
    from memlab.tui.widgets.hexfmt import hex_line
    assert "unreadable" in hex_line(0x1000, None, 16).plain
    line = hex_line(0x1000, b"AB[heap]", 8, masked_at=lambda a: a == 0x1001)
    assert line.plain == "000000001000 41 ** 5b 68 65 61 70 5d A*[heap]"


def test_headless_modules_do_not_import_textual():
    loaded = loaded_after("import memlab.tui.source, memlab.tui.diff, memlab.processes, "
                          "memlab.cli.tui_cmd, memlab.cli; memlab.cli.build_parser()")
    assert "textual" not in loaded


def test_verdict_rules():
    kw = dict(my_uid=1000, privileged=False)
    assert verdict(2, 0, (0, 0, 0), "sleeping", **kw)[1].startswith("kernel thread")
    assert verdict(50, 2, (0, 0, 0), "idle", **kw)[1].startswith("kernel thread")
    assert verdict(50, 1, (1000,) * 3, "zombie", **kw)[1].startswith("zombie")
    assert verdict(50, 1, (1000,) * 3, "sleeping", **kw) == (True, None)
    ok, why = verdict(50, 1, (1000, 0, 0), "sleeping", **kw)  # setuid: saved uid 0
    assert not ok and "uid 0" in why
    assert verdict(50, 1, (0, 0, 0), "sleeping", my_uid=1000, privileged=True) == (True, None)


def test_list_processes_marks_kernel_threads_zombies_and_self():
    child = subprocess.Popen(["true"])
    psutil.Process(child.pid)  # exists
    try:
        wait_until(lambda: psutil.Process(child.pid).status() == psutil.STATUS_ZOMBIE,
                   what="`true` exited, unreaped")
        rows = {r.pid: r for r in list_processes()}
        assert rows[os.getpid()].readable and rows[os.getpid()].why is None
        assert rows[child.pid].why.startswith("zombie")
        if 2 in rows:  # kthreadd is visible outside pid namespaces
            assert not rows[2].readable and "kernel thread" in rows[2].why
    finally:
        child.wait()


@requires_root
def test_other_uid_sees_roots_processes_as_unreadable():
    rows = run_as(NOBODY, lambda: [tuple(r) for r in list_processes()])
    mine = {r[0]: r for r in rows}
    me = mine[os.getpid()]  # this test process runs as root
    assert me[4] is False and "owned by uid 0" in me[5] and "CAP_SYS_PTRACE" in me[5]


def _tui_args(*argv):
    from memlab.cli import build_parser
    from memlab.cli.tui_cmd import request_from_args
    return request_from_args(build_parser().parse_args(["tui", *argv]))


def test_tui_cli_arguments():
    default = _tui_args()
    assert default.target == "sleeper" and default.env[0] == b"DB_PASSWORD=hunter2"
    assert any(e.startswith(b"LOG_LEVEL=") for e in default.env)
    assert _tui_args("1234") is None  # attach
    req = _tui_args("--launch", "/usr/bin/sleep", "-i", "-e", "A=1", "--no-aslr", "--", "600")
    assert (req.target, req.env, req.no_aslr, req.args) == ("/usr/bin/sleep", (b"A=1",),
                                                           True, ("600",))
    for bad in (["abc"], ["12", "-e", "A=1"], ["-e", "A=1"]):
        with pytest.raises(UsageError):
            _tui_args(*bad)


def test_tui_cli_errors_are_one_line_with_exit_codes():
    from memlab.cli import main
    out = subprocess.run([sys.executable, "-m", "memlab", "tui", "999999999"],
                         capture_output=True, text=True)
    assert out.returncode == 3 and out.stderr.startswith("memlab: no such process")
    assert "Traceback" not in out.stderr
    assert main(["tui", "--launch", "no-such-program-xyz"]) == 2


def test_a_view_whose_outside_requirement_is_missing_is_left_out_with_why():
    from memlab.tui.views import ViewSpec, missing_requirement
    spec = lambda *req: ViewSpec("x", "X", "z", "", object, req)  # noqa: E731
    assert missing_requirement(spec("program:memlab-no-such-program")).startswith(
        "needs program 'memlab-no-such-program'")
    assert missing_requirement(spec("program:sh")) is None
    assert missing_requirement(spec()) is None


@pytest.mark.parametrize("req", ["memlab.k8s.pod", "yaml", "memlab.lessons.engine:discover"])
def test_a_view_may_require_only_things_outside_memlab(req):
    from memlab.tui.views import ViewSpec
    with pytest.raises(ValueError, match="outside memlab"):
        ViewSpec("x", "X", "z", "", object, (req,))


def test_a_merged_mapping_is_one_that_grew():
    """The kernel merges a new anonymous mmap into the mapping below it: that mapping
    starts lower, and is the same one grown, not "new" + "gone"."""
    from memlab.tui.diff import gone_regions

    before, _ = fakes.build()
    anon = next(r for r in before.regions if r.path is None)
    grown = anon._replace(start=anon.start - 0x4000000)
    after = before._replace(regions=tuple(grown if r is anon else r
                                          for r in before.regions))
    changes = list(region_changes(before, after).values())
    assert [(c.change, c.delta) for c in changes] == [("grew", 0x4000000)]
    assert gone_regions(before, after) == []
    lines = summarize(before, after, "malloc 67108864")
    assert not any("gone" in s or "new mapping" in s for s in lines), lines
    assert not any("no byte changed" in s for s in lines)  # not after malloc


def test_answers_are_sentences():
    from memlab.tui.diff import answer_sentence

    said = answer_sentence({"cmd": "scrub", "name": "DB_PASSWORD", "address": "0x7ffd10",
                            "length": 7})
    assert said == "overwrote DB_PASSWORD's value with X, in place (7 bytes at 0x7ffd10)"
    assert answer_sentence({"ok": True}, "scrub K") == "overwrote K's value with X, in place"
    said = answer_sentence({"cmd": "unsetenv", "name": "LOG_LEVEL", "was_set": True})
    assert "stay in the env block" in said and "{" not in said
