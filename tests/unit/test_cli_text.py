"""memlab/cli/_text.py renderables at the widths people use (QA regressions)."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from memlab.cli._text import regions_table
from memlab.model import Region

LIBC = "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"


def render(renderable, width: int) -> list[str]:
    buf = io.StringIO()
    Console(file=buf, width=width, no_color=True, soft_wrap=False,
            highlight=False).print(renderable)
    return buf.getvalue().splitlines()


@pytest.mark.parametrize("width", [80, 100, 120])
def test_maps_table_never_crops_a_path(width):
    """At 80 columns the table was one column too wide: rich cropped the last character
    of every folded line, so `/tmp/qa/c_samples/bin/sleeper` read `/tmp/qa/c_smples...`."""
    regions = [Region(0xffffffffff600000, 0xffffffffff601000, "--xp", 0, "00:00", 0,
                      "[vsyscall]", kind="vsyscall"),
               Region(0x7f0000000000, 0x7f0000026000, "r-xp", 4096, "fd:01", 42, LIBC,
                      kind="lib")]
    lines = render(regions_table(regions), width)
    assert all(len(line) <= width for line in lines)
    # The path column: text right of the kind column on the lib row and the lines below.
    start = next(i for i, line in enumerate(lines) if " lib " in line)
    col = lines[start].index("/usr")
    folded = "".join(line[col:].strip() for line in lines[start:]
                     if line[:col].strip() in ("", lines[start][:col].strip()))
    assert folded == LIBC


def test_matching_env_checks_are_one_row_and_a_mismatch_keeps_its_own():
    """`memlab launch sleeper` listed one self-check row per env string (41 in a plain
    shell, 100,000 rows and minutes of rendering for a big env file)."""
    from memlab.analysis.selfreport import Check
    from memlab.cli._text import checks_table

    src = "env block (stat env_start + offset)"
    checks = [Check("argv", 0x7ffd0000, 0x7ffd0000, "startstack + 8", True)]
    checks += [Check(f"env V{i}", 0x7ffe0000 + 4 * i, 0x7ffe0000 + 4 * i, src, True)
               for i in range(1000)]
    checks.append(Check("env BAD", 0x7fff0000, 0x7fff0010, src, False))
    text = "\n".join(render(checks_table(checks), 120))
    assert "env strings (1000)" in text and "0x7ffe0000" in text and "..0x7ffe0f9c" in text
    assert "env V1 " not in text and "env V999" not in text
    assert "env BAD" in text and "DIFFERS" in text
    assert text.index("argv") < text.index("env strings") < text.index("env BAD")


def _env_block(n: int):
    from memlab.model import EnvBlock, EnvEntry

    base = 0x7ffe00000000
    raws = [b"V%d=x" % i for i in range(n - 1)] + [b"EVIL=\x1b[2Jgone"]
    entries, addr = [], base
    for raw in raws:
        entries.append(EnvEntry(raw=raw, address=addr))
        addr += len(raw) + 1
    return EnvBlock(start=base, end=addr, raw=b"\0".join(raws) + b"\0",
                    entries=tuple(entries), region="[stack]", matches_proc_environ=True,
                    distance_to_stack_top=0, distance_to_args=0)


def test_a_huge_table_prints_every_row_as_plain_lines():
    """`memlab launch -i --env-file` with 100,000 entries took 27 s in rich's Table; past
    RICH_ROW_LIMIT the same columns are printed as plain lines, every row kept."""
    from memlab.cli._text import RICH_ROW_LIMIT, PlainLines, env_table

    small = env_table(_env_block(RICH_ROW_LIMIT), reveal=False)
    assert not isinstance(small, PlainLines)
    n = RICH_ROW_LIMIT + 1
    big = env_table(_env_block(n), reveal=False)
    assert isinstance(big, PlainLines)
    lines = render(big, 80)
    assert f"({n} rows" in lines[0] and lines[1].split() == ["address", "+off", "len",
                                                             "name", "value"]
    rows = lines[3:]
    assert len(rows) == n
    assert rows[0].split() == ["0x7ffe00000000", "0", "4", "V0", "x"]
    assert rows[-2].split()[3:] == [f"V{n - 2}", "x"]
    # control characters from the process never reach the terminal (render.safe)
    assert "\x1b" not in "\n".join(lines)
    assert rows[-1].split()[3:] == ["EVIL", "\\x1b[2Jgone"]


@pytest.mark.parametrize("raw", [b"T=\x1b]52;c;aGk=\x07", b"T=\x1b[2J", b"T=a\x9bb", b"T=\x00"])
def test_terminal_control_from_a_process_is_shown_escaped(raw):
    """An env value like ESC]52 (write the reader's clipboard) or ESC[2J (clear the
    screen) is printed as \\x1b..., in the rich table as in the plain one."""
    from memlab.cli._text import env_table
    from memlab.model import EnvBlock, EnvEntry

    env = EnvBlock(start=0x1000, end=0x1000 + len(raw) + 1, raw=raw + b"\0",
                   entries=(EnvEntry(raw=raw, address=0x1000),), region="[stack]",
                   matches_proc_environ=True, distance_to_stack_top=0, distance_to_args=0)
    out = "\n".join(render(env_table(env, reveal=True), 120))
    assert not any(ch in out for ch in "\x1b\x07\x9b\x00")
    assert "\\x" in out
