"""Run every tests/bench/bench_*.py and print one table.

    python -m tests.bench               all modules
    python -m tests.bench procfs core   only modules whose name contains a filter

Exits 1 if any bench function raised (its traceback goes to stderr, the others still run),
2 if the filters matched no module.
"""

from __future__ import annotations

import importlib
import inspect
import sys
import time
import traceback
from pathlib import Path

COLUMNS = ("name", "value", "unit", "compare_to", "ratio", "note")


def discover(filters: list[str]) -> list[str]:
    here = Path(__file__).resolve().parent
    names = sorted(p.stem for p in here.glob("bench_*.py"))
    if filters:
        names = [n for n in names if any(f in n for f in filters)]
    return [f"{__package__}.{n}" for n in names]


def bench_functions(module) -> list:
    """The module's own bench_* functions, in source order."""
    fns = [fn for name, fn in vars(module).items()
           if name.startswith("bench_") and inspect.isfunction(fn)
           and fn.__module__ == module.__name__]
    return sorted(fns, key=lambda fn: fn.__code__.co_firstlineno)


def check_row(row: object, where: str) -> dict:
    if not isinstance(row, dict) or "name" not in row or "value" not in row:
        raise TypeError(f"{where} returned a row without name/value: {row!r}")
    return row


def cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def run(filters: list[str]) -> int:
    from rich.console import Console
    from rich.table import Table

    modules = discover(filters)
    if not modules:
        print(f"no bench module matches {filters}", file=sys.stderr)
        return 2
    table = Table(title="memlab benchmarks", show_lines=False)
    table.add_column("bench", style="dim")
    for col in COLUMNS:
        table.add_column(col, justify="right" if col in ("value", "ratio") else "left",
                         overflow="fold")
    failed = []
    for dotted in modules:
        try:
            module = importlib.import_module(dotted)
            fns = bench_functions(module)
        except Exception:  # report and keep going: one broken module must not hide the rest
            failed.append(dotted)
            traceback.print_exc()
            continue
        for fn in fns:
            where = f"{dotted.rsplit('.', 1)[-1][len('bench_'):]}.{fn.__name__[len('bench_'):]}"
            print(f"running {where} ...", file=sys.stderr, flush=True)
            start = time.perf_counter()
            try:
                rows = [check_row(r, where) for r in fn()]
            except Exception:  # same: the traceback is printed, the exit code says so
                failed.append(where)
                traceback.print_exc()
                table.add_row(where, "FAILED", *[""] * (len(COLUMNS) - 1))
                continue
            print(f"  {len(rows)} rows in {time.perf_counter() - start:.1f} s",
                  file=sys.stderr)
            for row in rows:
                table.add_row(where, *(cell(row.get(col)) for col in COLUMNS))
    # piped (make bench | tee): wide enough that rows stay on one line
    Console(highlight=False, width=None if sys.stdout.isatty() else 200).print(table)
    if failed:
        print(f"{len(failed)} bench(es) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
