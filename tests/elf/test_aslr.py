"""The ASLR experiment on real launches."""

from __future__ import annotations

import pytest

from memlab.aslr import COLUMNS, _entropy, render_text, run_experiment
from memlab.errors import UsageError
from tests.helpers import sample


def test_entropy_bits():
    e = _entropy([0x1000, 0x3000, 0x1000, None])
    assert e.changed_mask == 0x2000 and e.changed_bits == 1 and e.bit_range == (13, 13)
    assert e.values_seen == 3 and e.distinct == 2
    assert _entropy([5, 5]).constant and _entropy([]).values_seen == 0


def test_sleeper_bases_vary_with_aslr():
    res = run_experiment("sleeper", 5)
    assert res.hold == "ready" and res.kind == "pie" and len(res.rows) == 5
    for key in ("text", "start_brk", "mmap", "stack_top", "vdso", "env_start"):
        col = res.columns[key]
        assert col.values_seen == 5 and not col.constant, key
        assert col.bit_range[0] >= 4  # page-granular (env: 16-byte aligned)
    assert len({r.pid for r in res.rows}) == 5
    text = render_text(res)
    assert "ASLR on" in text and "bits" in text
    assert all(len(line) <= 80 for line in text.splitlines()[:9])
    d = res.to_dict()
    assert d["schema"] == "memlab.aslr/1" and d["runs"] == 5
    assert set(d["columns"]) == {k for k, _, _ in COLUMNS}
    assert all(0 < r["start_brk_minus_end"] <= (1 << 30) + 8192 for r in d["rows"])


def test_no_aslr_is_constant():
    res = run_experiment("sleeper", 3, no_aslr=True)
    assert all(c.constant and c.values_seen == 3 for c in res.columns.values())
    # ELF_ET_DYN_BASE, docs/kernel-facts.md#heap-start-and-aslr
    assert res.rows[0].values["text"] == 0x555555554000
    assert res.rows[0].values["stack_top"] == 0x7FFFFFFFF000
    assert "every column constant" in render_text(res)


def test_static_pie_heap_below_binary_is_said():
    res = run_experiment("sleeper-static-pie", 3)
    assert all(r.heap_below_binary and r.brk_minus_end < 0 for r in res.rows)
    text = render_text(res)
    assert "heap BELOW the binary" in text and "static-PIE" in text


@pytest.mark.parametrize("variant", ["sleeper-nopie", "sleeper-static"])
def test_fixed_text_for_et_exec(variant):
    res = run_experiment(sample(variant), 3)
    assert res.columns["text"].constant and res.rows[0].values["text"] == 0x400000
    assert not res.columns["start_brk"].constant


def test_system_binary_held_at_exec():
    res = run_experiment("/usr/bin/sleep", 3, args=("30",))
    assert res.hold == "exec"
    assert not res.columns["text"].constant and not res.columns["stack_top"].constant
    assert res.columns["start_brk"].values_seen == 3
    assert any("first instruction" in n for n in res.notes)


def test_bad_runs():
    with pytest.raises(UsageError):
        run_experiment("sleeper", 0)
