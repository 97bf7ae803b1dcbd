"""memlab/cli/_views.py renderables at the widths people use (QA regressions)."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from memlab.cli._views import regions_table
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
    from memlab.cli._views import checks_table

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
