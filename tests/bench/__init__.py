"""Benchmarks: `make bench` (python -m tests.bench [FILTER...]).  Not timed tests.

Each tests/bench/bench_<area>.py defines functions ``bench_*()`` returning a list of rows
(dicts with name, value, unit, compare_to, ratio, note).  The runner imports every module,
calls each function and prints one table.
"""
