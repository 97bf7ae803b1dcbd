"""Checks show the real thing: beside memlab's verdict, the kernel's own text the value
was read from (the /proc/PID/maps line, the /proc/PID/stat field, the bytes at the
address), and never the lesson file's "$name.path" reference syntax."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from memlab.kernel.abi import STAT_ADDRESS_FIELDS
from memlab.lessons.evidence import hex_line, kernel_lines, maps_line
from memlab.lessons.measure import region_fact
from memlab.procfs.maps import parse_maps_line
from tests.lessons.test_cli import run_cli, summary

DATA = Path(__file__).resolve().parents[1] / "data"
REF_SYNTAX = re.compile(r"\$[A-Za-z_][\w-]*\.")


@pytest.mark.parametrize("name", ["maps_cat.txt", "maps_python3.txt", "maps_static.txt",
                                  "maps_edge.txt"])
def test_maps_line_is_the_line_the_kernel_printed(name):
    lines = [ln for ln in (DATA / name).read_bytes().splitlines() if ln.strip()]
    assert lines
    for n, line in enumerate(lines, 1):
        try:
            region = parse_maps_line(line, n)
        except ValueError:
            continue  # maps_edge.txt has malformed lines on purpose
        text = line.decode("utf-8", "backslashreplace")
        assert maps_line(region_fact(region)) == text.rstrip(), (name, n)


def test_hex_line_masks_secret_bytes_in_both_columns():
    block = b"DB_PASSWORD=hunter2\0LOG_LEVEL=info"
    env = {"start": 0x7ffd0000, "end": 0x7ffd0000 + len(block) + 1,
           "raw": block.decode("latin-1")}
    facts = {"p": {"pid": 42, "env": env, "regions": [], "stat": {"env_start": 0x7ffd0000}}}
    shown = kernel_lines({"address": "$p.stat.env_start"}, {"address": 0x7ffd0000}, facts)
    joined = "\n".join(shown)
    assert "/proc/42/stat field 50 (env_start): 2147287040" in joined
    assert "4442 5f50 4153 5357 4f52 443d" in joined and "DB_PASSWORD=" in joined
    assert "hunter" not in joined and "6875 6e74" not in joined and "68756e74" not in joined
    revealed = kernel_lines({"address": "$p.stat.env_start"}, {"address": 0x7ffd0000},
                            facts, reveal=True)
    assert "6875 6e74" in "\n".join(revealed)
    # the layout xxd prints: address, 8 groups of 2 bytes, two spaces, the text
    assert hex_line(0x10000, b"AB\0") == "00010000: 4142 00" + " " * 32 + "  AB."


def test_a_stack_check_shows_the_maps_line_of_stack_and_the_stat_field():
    rc, out, _ = run_cli("lesson", "run", "where-env-lives", "--check")
    assert rc == 0 and summary(out)[1] == 0, out
    # the try-it step ran `grep stack /proc/PID/maps`: the kernel's line, verbatim
    real = re.search(r"the command printed: (\S+-\S+ .*\[stack\])", out)
    assert real, out
    pid = re.search(r"grep stack /proc/(\d+)/maps", out).group(1)
    assert f"/proc/{pid}/maps: {real.group(1)}" in out
    # the stat field a verdict's address came from, in decimal as fs/proc/array.c prints it
    m = re.search(rf"/proc/{pid}/stat env_start = (0x[0-9a-f]+)", out)
    field = STAT_ADDRESS_FIELDS["env_start"]
    assert f"/proc/{pid}/stat field {field} (env_start): {int(m.group(1), 16)}" in out
    # and the bytes there: the env block's first variable, its value masked
    assert re.search(rf"memory of PID {pid}: {int(m.group(1), 16):08x}: 4442 5f50 ", out), out
    assert "hunter2" not in out and "6875 6e74" not in out


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_no_reference_syntax_reaches_the_learner(lang):
    rc, out, err = run_cli("lesson", "run", "--all", "--check", "--lang", lang)
    assert rc == 0 and summary(out)[1] == 0, out[-3000:]
    leaked = [ln for ln in (out + err).splitlines() if REF_SYNTAX.search(ln)]
    assert not leaked, leaked[:5]
    assert "/proc/" in out and re.search(r"/proc/\d+/maps: [0-9a-f]+-[0-9a-f]+ ", out)


def test_at_random_shows_the_sixteen_bytes_and_stat_fields_their_number():
    at = 0x7ffe00000f59
    facts = {"p": {"pid": 7, "regions": [{"start": 0x7ffe00000000, "end": 0x7ffe00001000,
                                          "perms": "rw-p", "offset": 0, "dev": "00:00",
                                          "inode": 0, "path": "[stack]"}],
                   "initstack": {"at_random_address": at, "at_random": "00ff" * 8},
                   "stat": {"start_stack": 0x7ffe00000800}}}
    shown = kernel_lines({"address": "$p.initstack.at_random_address", "sp": "$p.stat.start_stack"},
                         {"address": at, "sp": 0x7ffe00000800}, facts)
    assert shown == (
        "/proc/7/maps: 7ffe00000000-7ffe00001000 rw-p 00000000 00:00 0" + " " * 26 + "[stack]",
        "memory of PID 7: 7ffe00000f59: " + " ".join(["00ff"] * 8) + "  " + ".." * 8,
        f"/proc/7/stat field 28 (start_stack): {0x7ffe00000800}")
    assert kernel_lines({"value": "$p.stat.start_stack"}, {"value": 1}, {}) == ()
