"""Captured initial stacks (see README.md here); load_case(name) gives them back parsed."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from memlab.analysis.bytesmemory import BytesMemory
from memlab.model import AuxvEntry, ProcStat, Region
from memlab.procfs.auxv import parse_auxv
from memlab.procfs.environ import parse_cmdline
from memlab.procfs.maps import parse_maps
from memlab.procfs.stat import parse_stat

HERE = Path(__file__).resolve().parent
CASES = sorted(p.name for p in HERE.iterdir() if (p / "meta.json").exists())


@dataclass
class Case:
    name: str
    regions: list[Region]
    stat: ProcStat
    auxv: list[AuxvEntry]
    environ: bytes
    cmdline: list[bytes]
    stack_bytes: bytes
    base: int
    meta: dict

    def memory(self) -> BytesMemory:
        return BytesMemory(self.base, self.stack_bytes)

    @property
    def stack_region(self) -> Region:
        return next(r for r in self.regions if r.path == "[stack]")


def load_case(name: str) -> Case:
    d = HERE / name
    meta = json.loads((d / "meta.json").read_text())
    return Case(
        name=name,
        regions=parse_maps((d / "maps").read_bytes()),
        stat=parse_stat((d / "stat").read_bytes()),
        auxv=parse_auxv((d / "auxv").read_bytes()),
        environ=(d / "environ").read_bytes(),
        cmdline=parse_cmdline((d / "cmdline").read_bytes()),
        stack_bytes=(d / "stack.bin").read_bytes(),
        base=int(meta["base"], 16),
        meta=meta,
    )
