"""The pure parsers behind the downward API and dockerconfigjson: resource quantities
(k8s.io/apimachinery/pkg/api/resource ParseQuantity, the divisor's Quantity.String()),
Go's json.Unmarshal acceptance, fieldpath SplitMaybeSubscriptedPath - fuzzed."""

from __future__ import annotations

import json
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memlab.k8s.resources import (QuantityError, canonical_divisor, milli_value,
                                  parse_quantity, value)
from memlab.k8s.validation import _json_error, split_maybe_subscripted_path


@pytest.mark.parametrize("text, want", [
    ("500m", Fraction(1, 2)), ("1.5", Fraction(3, 2)), ("128Mi", 128 * 2**20),
    ("1e3", 1000), ("2k", 2000), (".5", Fraction(1, 2)), (3, 3), ("1Ki", 1024),
])
def test_parse_quantity(text, want):
    assert parse_quantity(text)[0] == want


@pytest.mark.parametrize("text", ["", "abc", "1KB", "1 Mi", "--1", True])
def test_parse_quantity_refuses(text):
    with pytest.raises(QuantityError):
        parse_quantity(text)


def test_canonical_divisor_is_quantity_string():
    """validateContainerResourceDivisor compares divisor.String(): 1000m is "1", 1024
    (decimal) stays "1024" and is refused, 1Ki is "1Ki"."""
    assert canonical_divisor("1000m") == "1" and canonical_divisor("1m") == "1m"
    assert canonical_divisor("1Ki") == "1Ki" and canonical_divisor("1024") is None
    assert canonical_divisor("1M") == "1M" and canonical_divisor("2") is None


def test_value_and_milli_value_round_up():
    """Quantity.Value / MilliValue round up (ExtractContainerResourceValue uses them)."""
    assert value(Fraction(1, 3)) == 1 and milli_value(Fraction(1, 3000)) == 1


_suffixes = st.sampled_from(["", "m", "k", "M", "G", "Ki", "Mi", "Gi", "e3", "E", "n"])


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=10**6), _suffixes)
def test_parse_quantity_integers_with_suffixes(n, suffix):
    q, fmt = parse_quantity(f"{n}{suffix}")
    assert q >= 0 and fmt in ("BinarySI", "DecimalSI", "DecimalExponent")
    assert (q == 0) == (n == 0)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=20))
def test_parse_quantity_never_crashes(text):
    try:
        parse_quantity(text)
    except QuantityError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64))
def test_go_json_unmarshal_never_crashes(data):
    msg = _json_error(data)
    assert msg is None or isinstance(msg, str)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=8), st.integers() | st.text(max_size=8),
                       max_size=5))
def test_go_json_unmarshal_accepts_every_object(d):
    assert _json_error(json.dumps(d).encode()) is None


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=30))
def test_split_maybe_subscripted_path_round_trips(text):
    path, sub, ok = split_maybe_subscripted_path(text)
    if ok:
        assert f"{path}['{sub}']" == text and path
    else:
        assert (path, sub) == (text, "")
