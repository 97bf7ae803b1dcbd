"""Compare a sample's self-report (the addresses it printed about itself) with what
memlab derived from /proc.  Every row is one address two sources must agree on.

The samples (c_samples/sleeper.c) print argv, argv[0], environ, environ[0], each env
string's address, getauxval(AT_EXECFN/AT_RANDOM/AT_PLATFORM), a local variable, and
addresses of main / a rodata string / a .data and a .bss global / malloc / sbrk(0).
The first group must be EQUAL to memlab's numbers; the second must fall in the region
of the right kind (the ELF area checks the exact symbol values).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from memlab.model import Snapshot, hexaddr


@dataclass(frozen=True)
class Check:
    what: str  # "argv[0]", "env B", "main"
    reported: int | None  # what the program printed
    derived: int | str | None  # memlab's address, or the region kind it expects
    source: str  # where memlab's number comes from
    ok: bool

    def to_dict(self) -> dict[str, Any]:
        return {"what": self.what, "reported": hexaddr(self.reported),
                "derived": self.derived if isinstance(self.derived, str) or self.derived
                is None else hexaddr(self.derived),
                "source": self.source, "ok": self.ok}


def _addr(value: Any) -> int | None:
    if isinstance(value, str) and value.startswith("0x"):
        return int(value, 16)
    return None


def compare(snap: Snapshot, report: dict[str, Any]) -> list[Check]:
    checks: list[Check] = []

    def equal(what: str, key_or_value, derived: int | None, source: str) -> None:
        reported = _addr(report.get(key_or_value)) if isinstance(key_or_value, str) \
            else key_or_value
        if reported is None and derived is None:
            return
        checks.append(Check(what, reported, derived, source, reported == derived))

    def inside(what: str, key: str, kinds: tuple[str, ...], extra_ok=None) -> None:
        reported = _addr(report.get(key))
        if reported is None:
            return
        region = snap.region_at(reported)
        kind = region.kind if region else None
        ok = kind in kinds and (extra_ok is None or extra_ok(reported))
        checks.append(Check(what, reported, "/".join(kinds), f"maps: in {kind or 'nothing'}"
                            + (f" {region.label}" if region else ""), ok))

    st = snap.stack
    if st is not None:
        envp_base = st.sp + 8 * (st.argc + 2)
        equal("argv", "argv", st.sp + 8, "startstack + 8")
        equal("argv[0]", "argv0", st.argv[0].address if st.argv else None,
              "argv[0] pointer on the stack")
        equal("environ", "environ", envp_base, "startstack + 8*(argc+2): envp[]")
        equal("AT_EXECFN string", "at_execfn", st.execfn_address, "auxv on the stack")
    if snap.env is not None:
        equal("environ[0]", "environ0", snap.env.entries[0].address
              if snap.env.entries else None, "stat env_start")
        by_name: dict[str, list[int | None]] = {}
        for e in snap.env.entries:
            by_name.setdefault(e.name, []).append(e.address)
        for item in report.get("env") or []:
            name = item.get("name", "")
            addrs = by_name.get(name) or [None]
            equal(f"env {name}", _addr(item.get("address")), addrs.pop(0),
                  "env block (stat env_start + offset)")
    equal("AT_RANDOM bytes", "at_random", snap.auxv_value("AT_RANDOM"), "/proc/PID/auxv")
    equal("AT_PLATFORM string", "at_platform", snap.auxv_value("AT_PLATFORM"),
          "/proc/PID/auxv")
    if st is not None:
        inside("local variable", "local", ("stack",), lambda a: a < st.sp)
    inside("main", "main", ("text",))
    inside("rodata string", "rodata", ("rodata",))
    inside(".data global", "data", ("data",))
    inside(".bss global", "bss", ("bss", "data"))  # small .bss shares .data's last page
    inside("malloc(16)", "malloc", ("heap",))
    heap = [r for r in snap.regions if r.kind == "heap"]
    if heap:
        equal("sbrk(0)", "sbrk", heap[0].end, "end of [heap] in maps")
    return checks
