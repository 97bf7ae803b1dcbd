"""memlab.sizes.human_size: the one size format (binary units, 3 significant digits)
used by the CLI, `memlab layout` (text and SVG) and the TUI."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memlab.sizes import MAX_WIDTH, UNITS, human_size, parse_size

SIZES = st.integers(min_value=0, max_value=1 << 64)


@pytest.mark.parametrize("n, text", [
    (0, "0 B"), (999, "999 B"), (1000, "0.977 KiB"), (1024, "1.00 KiB"),
    (8192, "8.00 KiB"), (124 * 1024 + 700, "125 KiB"), (124 * 1024, "124 KiB"),
    (1000 * 1024, "0.977 MiB"), (132 << 20, "132 MiB"), (1 << 64, "16.0 EiB"),
    ((1 << 64) - (1 << 52), "16.0 EiB"), (-4096, "-4.00 KiB"),
])
def test_examples(n, text):
    assert human_size(n) == text


@pytest.mark.parametrize("n", [(1 << 64) - (1 << 52), (1 << 64) - 1, 16776960 << 40])
def test_no_old_variants(n):
    """The formats this replaced wrote the top of the address space as `16383.8 PiB`
    and `16776960T`."""
    text = human_size(n)
    assert "PiB" not in text and not text.endswith("T")
    assert text == "16.0 EiB"


def _digits(text: str) -> str:
    return text.split()[0].replace(".", "").lstrip("-").lstrip("0")


@given(SIZES)
@settings(max_examples=500)
def test_three_significant_digits_and_width(n):
    text = human_size(n)
    assert len(text) <= MAX_WIDTH
    assert re.fullmatch(r"\d+(\.\d+)? (" + "|".join(UNITS) + ")", text)
    if n >= 1000:
        assert len(_digits(text)) == 3, text
    else:
        assert text == f"{n} B"
    # rounded, never further than half a unit in the last digit: 0.5 % at most
    assert abs(parse_size(text) - n) <= 0.0052 * max(n, 1)


@given(SIZES, SIZES)
@settings(max_examples=500)
def test_monotonic(a, b):
    a, b = min(a, b), max(a, b)
    assert parse_size(human_size(a)) <= parse_size(human_size(b))


@given(st.integers(min_value=1, max_value=1 << 64))
def test_negative_is_the_positive_with_a_sign(n):
    assert human_size(-n) == "-" + human_size(n)
    assert len(human_size(-n)) <= MAX_WIDTH + 1
