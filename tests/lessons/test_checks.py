"""Every check in the registry can fail, and can pass, and shows what it measured.

The cases are keyed by check name; a check added to memlab/lessons/checks.py without a
failing case here makes test_every_check_has_a_failing_case fail."""

from __future__ import annotations

import pytest

from memlab.lessons.checks import CHECKS, FAIL, PASS, Args, fmt, set_reveal

STACK = {"start": 0x7FFE0000, "end": 0x7FFF0000, "path": "[stack]", "kind": "stack"}
HEAP = {"start": 0x5000, "end": 0x9000, "path": "[heap]", "kind": "heap"}
REGIONS = [HEAP, STACK]

# name -> (params that must FAIL, params that must PASS); "$..." labels are cosmetic.
CASES: dict[str, tuple[dict, dict]] = {
    "equals": ({"value": 3, "expected": 2}, {"value": "0x10", "expected": 16}),
    "differs": ({"value": 1, "other": 1}, {"value": 1, "other": 2}),
    "compare": ({"left": 5, "op": "<", "right": 4}, {"left": 4, "op": "<", "right": 5}),
    "between": ({"value": 10, "low": 0, "high": 10}, {"value": 9, "low": 0, "high": 10}),
    "in_region": ({"address": 0x6000, "regions": REGIONS, "region": "[stack]"},
                  {"address": 0x7FFE0010, "regions": REGIONS, "region": "[stack]"}),
    "same_region": ({"a": 0x6000, "b": 0x7FFE0010, "regions": REGIONS},
                    {"a": 0x7FFE0000, "b": 0x7FFEFFFF, "regions": REGIONS}),
    "contains": ({"container": ["A", "B"], "item": "C"}, {"container": "A=1\0B=2", "item": "B=2"}),
    "lacks": ({"container": "DB_PASSWORD=hunter2", "item": "hunter2"},
              {"container": {"A": "1"}, "item": "B"}),
    "length": ({"value": [1, 2], "expected": 3}, {"value": "abc", "expected": 3}),
    "ordered": ({"values": [1, 3, 2]}, {"values": [1, 2, 3]}),
    "distinct": ({"values": [7, 7, 7], "at_least": 2}, {"values": [7, 7, 7], "at_most": 1}),
    "page_aligned": ({"value": 0x1001}, {"value": 0x2000}),
    "page_align_of": ({"value": 0x2000, "of": 0x2001}, {"value": 0x3000, "of": 0x2001}),
    "matches": ({"value": "eu-west", "pattern": "^us-"}, {"value": "us-east", "pattern": "^us-"}),
}


def run(name: str, params: dict):
    return CHECKS[name].fn(Args(params, {k: f"$m.{k}" for k in params}))


def test_every_check_has_a_failing_case():
    assert set(CHECKS) <= set(CASES), f"add a failing case for {set(CHECKS) - set(CASES)}"


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_check_can_fail_and_says_what_it_measured(name):
    failing, passing = CASES[name]
    v = run(name, failing)
    assert v.status == FAIL, (name, v)
    assert v.measured, f"{name} failed without saying what it measured"
    assert run(name, passing).status == PASS, (name, run(name, passing))


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_declared_parameters_match_the_cases(name):
    spec = CHECKS[name]
    for params in CASES[name]:
        assert set(spec.params) <= set(params) <= set(spec.all_params)


def test_measured_value_is_in_the_verdict():
    v = run("equals", {"value": 0x7FFE1234, "expected": 0})
    assert "0x7ffe1234" in v.measured and v.expected == "0"


def test_unknown_operator_fails_not_raises():
    assert run("compare", {"left": 1, "op": "=<", "right": 2}).status == FAIL


def test_secret_values_masked_unless_revealed():
    try:
        assert "hunter2" not in fmt(["DB_PASSWORD=hunter2"])
        assert "hunter2" not in fmt({"DB_PASSWORD": "hunter2"})
        assert "LOG_LEVEL=info" in fmt(["LOG_LEVEL=info"])
        set_reveal(True)
        assert "hunter2" in fmt(["DB_PASSWORD=hunter2"])
    finally:
        set_reveal(False)


@pytest.mark.parametrize("name, params", [
    ("matches", {"value": "XXXXXXXXXXX", "pattern": "^X+$"}),
    ("equals", {"value": "XXXXXXXXXXX", "expected": "XXXXXXXXXXX"}),
])
def test_a_secret_looking_names_value_is_masked_in_the_verdict(name, params):
    """A measurement whose source ends in a secret-looking name (DB_PASSWORD) shows its
    value masked, as the kernel's line beside it does, whatever the check."""
    labels = {k: "\0/proc/1/environ: DB_PASSWORD" if k == "value" else v
              for k, v in params.items()}
    v = CHECKS[name].fn(Args(params, labels))
    assert v.status == PASS
    assert "DB_PASSWORD = ***" in v.measured and "XXX" not in v.measured, v.measured
    set_reveal(True)
    try:
        assert "XXXXXXXXXXX" in CHECKS[name].fn(Args(params, labels)).measured
    finally:
        set_reveal(False)
