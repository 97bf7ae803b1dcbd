"""memlab.render.safe.fit: the one helper that escapes a process string and cuts it to
a column width (the text picture, the TUI tower and the Pod view all use it)."""

from __future__ import annotations

import pytest

from memlab.render import layout, layout_text
from hypothesis import given
from hypothesis import strategies as st

from memlab.render.safe import fit, fit_middle, printable
from memlab.tui.widgets.tower import short_label


@pytest.mark.parametrize("s", ["", "a", "hello", "x" * 40, "tab\there", "\x1b[2J"])
def test_a_string_that_fits_comes_back_escaped_and_uncut(s):
    width = len(printable(s))
    assert fit(s, width) == printable(s)
    assert fit(s, width + 5) == printable(s)
    assert "…" not in fit(s, width)


def test_a_longer_string_is_cut_with_the_ellipsis_last():
    assert fit("abcdefgh", 5) == "abcd…"
    assert fit("abcdefgh", 7) == "abcdef…"


def test_width_one_is_the_ellipsis_and_zero_or_less_is_empty():
    assert fit("abc", 1) == "…"
    assert fit("abc", 0) == ""
    assert fit("abc", -3) == ""
    assert fit("", 0) == ""  # nothing to cut: the empty string fits anywhere


@pytest.mark.parametrize("width", range(0, 30))
def test_never_longer_than_width_and_never_a_raw_control(width):
    s = "ab\x1b]0;PWNED\x07cd\x9b\x7fef"
    out = fit(s, width)
    assert len(out) <= width
    assert out == printable(out)  # nothing left to escape


def test_escaping_comes_first_and_an_escape_is_never_cut_in_half():
    s = "ab\x1bcdef"  # printable: ab\x1bcdef, 10 characters
    assert fit(s, 10) == "ab\\x1bcdef"
    assert fit(s, 9) == "ab\\x1bcd…"
    assert fit(s, 7) == "ab\\x1b…"
    # room for 2..5 characters before the "…": the escape does not fit whole, so it goes
    for width in (3, 4, 5, 6):
        assert fit(s, width) == "ab…", width
    assert fit("\x07\x07", 4) == "…"  # not "\x0…"


def test_a_literal_backslash_x_is_not_taken_for_an_escape():
    # the process wrote a backslash and "x41" itself: four plain characters, cut as such
    assert fit("a\\x41bcd", 5) == "a\\x4…"


def test_the_text_picture_cuts_labels_in_the_middle():
    block = layout.Block(kind="lib", label="L" * 23 + "\x1b" + "LLLL", start=0, end=4096)
    lines: list = []
    layout_text._block_lines(block, 0, 80, lines)  # a 26-column label at depth 0
    assert "L" * 12 + "…" + "L" * 5 + "\\x1bLLLL " in lines[0][0]  # the escape whole
    block = layout.Block(kind="lib", label="L" * 30 + "\x1b" + "L" * 10, start=0, end=4096)
    lines = []
    layout_text._block_lines(block, 0, 80, lines)
    assert "L" * 12 + "…" + "L" * 10 + "    " in lines[0][0]  # does not fit whole: out


def test_tower_labels_prefer_the_basename_then_cut_in_the_middle():
    assert short_label("/usr/lib/libc.so.6", 30) == "/usr/lib/libc.so.6"
    assert short_label("/usr/lib/libc.so.6", 12) == "libc.so.6"
    assert short_label("/usr/lib/libc.so.6", 5) == "li….6"  # both ends of the name
    assert short_label("/tmp/a\x1bbcdef", 9) == "a…cdef"
    assert short_label("/tmp/a\x1bbcdef", 6) == "a…def"  # not "a\\x1…"
    assert short_label("/tmp/ab\x1b", 5) == "ab…"  # the escape whole or not at all
    assert short_label("/usr/lib/libc.so.6", 0) == ""


def test_fit_middle_keeps_the_whole_file_name_when_it_can():
    assert fit_middle("/usr/lib/x86_64-linux-gnu/libc.so.6", 16) == "/usr/…/libc.so.6"
    assert fit_middle("/usr/lib/x86_64-linux-gnu/libc.so.6", 12) == "/usr/…c.so.6"  # too long
    assert fit_middle("/tmp/x/sl\x1beeper", 16) == "/tm…/sl\\x1beeper"  # escaped whole


@given(st.text(max_size=60), st.integers(min_value=0, max_value=70))
def test_fit_middle_fits_and_keeps_both_ends(s, width):
    out = fit_middle(s, width)
    shown = printable(s)
    assert len(out) <= max(width, 0)
    if len(shown) <= width:
        assert out == shown
    elif width >= 2:
        head, _, tail = out.partition("…")
        assert shown.startswith(head) and shown.endswith(tail)
