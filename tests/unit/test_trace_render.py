"""render/trace: a traced call as text lines and as memlab.trace/1 JSON."""

from __future__ import annotations

from pathlib import Path

from memlab.procfs.maps import parse_maps
from memlab.render.trace import traced_json, traced_lines
from memlab.trace.decode import Call
from memlab.trace.mapdiff import diff
from memlab.trace.session import Traced

DATA = Path(__file__).resolve().parent.parent / "data" / "trace"
MMAP = Call(10, 9, "mmap", (0, 100003840, 3, 0x22, 0xFFFFFFFF, 0), None,
            0x7FCA10A36000, False)


def test_a_call_with_its_change():
    before = parse_maps((DATA / "mmap_grown_before.txt").read_bytes())
    after = parse_maps((DATA / "mmap_grown_after.txt").read_bytes())
    t = Traced(MMAP, diff(before, after), len(after))
    lines = traced_lines(t, 10)
    assert lines[0].startswith("mmap(NULL, 100003840, PROT_READ|PROT_WRITE")
    assert lines[1] == ("    ~ grown 7fca10a36000-7fca16998000 rw-p anon: 12.0 KiB -> "
                        "95.4 MiB (was 7fca16995000-7fca16998000)")
    doc = traced_json(t, 10)
    assert doc["schema"] == "memlab.trace/1" and doc["result"] == "0x7fca10a36000"
    assert doc["changes"][0]["change"] == "grown" and doc["regions"] == len(after)
    # a thread's call names the thread
    assert traced_lines(t._replace(call=MMAP._replace(tid=11)), 10)[0].startswith("[11] ")


def test_maps_not_readable_shows_no_change():
    t = Traced(MMAP, [], None)
    assert traced_lines(t, 10)[1] == ("    (maps not readable around this call: no "
                                      "change shown)")
    assert traced_json(t, 10)["regions"] is None
