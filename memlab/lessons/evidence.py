"""The kernel's own text behind a check's numbers, shown beside memlab's verdict: the
/proc/PID/maps line that holds an address, the /proc/PID/stat field a value was read
from (as the kernel prints it: decimal), the bytes at an address in the env block (an
xxd-style line), the /proc/PID/environ entry.  Built from what the actions measured
(memlab.lessons.measure), so it never opens /proc itself; secret values are masked
(memlab.secrets) unless --reveal.
"""

from __future__ import annotations

import errno as errno_mod
import json
import os
from typing import Any, Iterable, Mapping

from memlab.kernel.abi import STAT_ADDRESS_FIELDS
from memlab.lessons.checks import REF_RE, key_length
from memlab.lessons.words import word
from memlab.secrets import display_value

MAX_LINES = 4  # per check: the lines nearest the verdict, not a dump
HEX_WIDTH = 16  # bytes per hex line, as xxd prints them


# what a watcher (wait_output) or the syscall tracer (trace) measured: heads whose
# evidence is the inotify events / the traced calls
_WATCH_HEADS = frozenset({"seen", "trigger", "found", "file_value", "path_value",
                          "elapsed", "lines", "alive"})
_TRACE_HEADS = frozenset({"brk", "brk_result", "mmap", "mmap_result", "mmap_length",
                          "mapping_start", "names", "count"})


def maps_line(r: Mapping[str, Any]) -> str:
    """One /proc/PID/maps line as fs/proc/task_mmu.c show_map_vma prints it: start-end
    perms offset dev inode, then the name padded to column 73 (seq_setwidth(m, 25 +
    sizeof(void *) * 6 - 1) and seq_pad)."""
    head = (f"{r['start']:08x}-{r['end']:08x} {r['perms']} {r.get('offset', 0):08x} "
            f"{r.get('dev') or '00:00'} {r.get('inode', 0)} ")
    path = r.get("path")
    if not path:
        return head.rstrip()
    return head.ljust(72) + " " + path + (" (deleted)" if r.get("deleted") else "")


def _region_at(regions: Iterable[Mapping[str, Any]], addr: int) -> Mapping[str, Any] | None:
    for r in regions:
        if isinstance(r, Mapping) and r.get("start", 1) <= addr < r.get("end", 0):
            return r
    return None


def _secret_spans(block: bytes, secrets: Iterable[str], reveal: bool) -> list[tuple[int, int]]:
    """[start, end) offsets in the env block of values to mask."""
    if reveal:
        return []
    spans: list[tuple[int, int]] = []
    pos = 0
    for raw in block.split(b"\0"):
        name, eq, value = raw.partition(b"=")
        if eq:
            n, v = name.decode("utf-8", "replace"), value.decode("utf-8", "replace")
            if display_value(n, v, False) != v:
                start = pos + len(name) + 1
                spans.append((start, start + len(value)))
        pos += len(raw) + 1
    for text in secrets:
        needle = text.encode("utf-8", "replace")
        at = block.find(needle) if needle else -1
        while at >= 0:
            spans.append((at, at + len(needle)))
            at = block.find(needle, at + 1)
    return spans


def hex_line(addr: int, data: bytes, masked: Iterable[int] = ()) -> str:
    """`addr: 4442 5f50 ...  DB_PASSWORD=...` (xxd's layout); masked bytes show as ** / *."""
    hidden = set(masked)
    pairs = ["**" if i in hidden else f"{b:02x}" for i, b in enumerate(data)]
    groups = " ".join("".join(pairs[i:i + 2]) for i in range(0, len(pairs), 2))
    text = "".join("*" if i in hidden else (chr(b) if 32 <= b < 127 else ".")
                   for i, b in enumerate(data))
    width = HEX_WIDTH * 2 + HEX_WIDTH // 2 - 1
    return f"{addr:08x}: {groups.ljust(width)}  {text}"


def _env_bytes(env: Mapping[str, Any], addr: int, secrets: Iterable[str],
               reveal: bool) -> str | None:
    start, end, raw = env.get("start"), env.get("end"), env.get("raw")
    if not (isinstance(start, int) and isinstance(end, int) and isinstance(raw, str)):
        return None
    if not start <= addr < end:
        return None
    block = raw.encode("latin-1", "replace") + b"\0"
    off = addr - start
    data = block[off:off + HEX_WIDTH]
    if not data:
        return None
    spans = _secret_spans(block, secrets, reveal)
    masked = [i - off for a, b in spans for i in range(max(a, off), min(b, off + len(data)))]
    return hex_line(addr, data, masked)


def _environ_entry(pid: Any, environ: Mapping[str, Any], name: str, reveal: bool) -> str:
    values = environ.get("values") or {}
    if name not in values:
        return f"/proc/{pid}/environ: no {name}= entry"
    return f"/proc/{pid}/environ: {name}={display_value(name, str(values[name]), reveal)}"


def _environ_block(pid: Any, environ: Mapping[str, Any], reveal: bool) -> str:
    shown = []
    for entry in environ.get("entries") or []:
        name, eq, value = str(entry).partition("=")
        shown.append(f"{name}={display_value(name, value, reveal)}" if eq else str(entry))
    return f"/proc/{pid}/environ: " + "\\0".join(shown)


def inotify_line(event: Mapping[str, Any], lang: str = "en") -> str:
    """One inotify event as read(2) returns it (struct inotify_event in
    include/uapi/linux/inotify.h): wd, the mask bits by their IN_ names, the name."""
    wd = event.get("wd")
    mask = "|".join(f"IN_{m}" for m in event.get("mask") or []) or "0"
    name = event.get("name")
    return word(lang, "ev_inotify", wd=wd if isinstance(wd, int) else "?", mask=mask,
                name=name if name else word(lang, "ev_watched_self"))


def _inotify_events(lines: Any) -> list[Mapping[str, Any]]:
    out = []
    for raw in lines if isinstance(lines, list) else []:
        try:
            obj = json.loads(raw)
        except (TypeError, ValueError):
            continue
        if isinstance(obj, dict) and obj.get("event") == "inotify":
            out.append(obj)
    return out


def _watch_events(meas: Mapping[str, Any], literals: list[str], lang: str) -> list[str]:
    """The inotify events behind a watcher's measurement: those with a mask bit the check
    names (DELETE_SELF), else those naming the reload's trigger (..data), else the last."""
    events = _inotify_events(meas.get("lines"))
    if not events:
        return []
    named = [e for e in events if set(literals) & set(e.get("mask") or [])]
    trigger = meas.get("trigger")
    by_name = [e for e in events if trigger and e.get("name") == trigger]
    chosen = named or by_name or events[-MAX_LINES:]
    return [inotify_line(e, lang) for e in chosen]


def _watcher_said(meas: Mapping[str, Any], lang: str) -> str | None:
    """A watcher that prints no inotify events (it reloads on them): its own line."""
    lines = [x for x in meas.get("lines") or [] if isinstance(x, str)]
    if not lines or _inotify_events(lines):
        return None
    try:
        obj = json.loads(lines[-1])
    except ValueError:
        return None
    if not isinstance(obj, dict):
        return None
    # its own keys, in its order, without the long path and the sample's name
    shown = {k: v for k, v in obj.items() if k not in ("file", "sample", "mode", "pid")}
    return word(lang, "ev_watcher", line=json.dumps(shown, separators=(",", ":")))


def _traced(meas: Mapping[str, Any], head: str, lang: str) -> list[str]:
    """The traced calls as strace prints them (memlab.trace.decode.call_text)."""
    lines = [x for x in meas.get("lines") or [] if isinstance(x, str)]
    want = head.split("_")[0]
    if want in ("brk", "mmap"):
        lines = [x for x in lines if x.startswith(want + "(")]
    pid = meas.get("pid", "PID")
    if not lines:
        return [word(lang, "ev_traced_none", pid=pid, want=want if want in ("brk", "mmap")
                     else word(lang, "ev_brk_or_mmap"))]
    return [word(lang, "ev_traced", pid=pid, line=x) for x in lines]


_CHANNEL_PATH = {"environ": "/proc/{pid}/environ", "mem": "/proc/{pid}/mem",
                 "cmdline": "/proc/{pid}/cmdline"}


def _refused(cell: Any, path: str, uid: Any, lang: str) -> str | None:
    """What the kernel answered a reader that was refused: the errno of the open, with
    its text (fs/proc/base.c mem_open/environ_open -> proc_mem_open -> mm_access)."""
    if not isinstance(cell, Mapping) or not isinstance(cell.get("errno"), str):
        return None
    name = cell["errno"]
    num = getattr(errno_mod, name, None)
    text = f" ({os.strerror(num)})" if isinstance(num, int) else ""
    return word(lang, "ev_open_as", path=path, uid=uid, line=f"-1 {name}{text}")


def kernel_lines(params: Mapping[str, Any], values: Mapping[str, Any],
                 measurements: Mapping[str, Any], secrets: Iterable[str] = (),
                 reveal: bool = False, lang: str = "en") -> tuple[str, ...]:
    """What the kernel printed for each "$name.path" parameter of a check (its resolved
    value in `values`): the stat field, the maps line holding the address, the bytes
    there, the environ entry.  Nothing for literals or for values with no such source.
    `lang`: the words of the label in front of a line (memlab.lessons.words)."""
    secrets = list(secrets)
    lines: list[str] = []

    def add(line: str | None) -> None:
        if line and line not in lines:
            lines.append(line)

    def refs(raw: Any) -> list[str]:
        return [raw] if isinstance(raw, str) else \
            [r for r in raw if isinstance(r, str)] if isinstance(raw, list) else []

    # literal words a check compares with ("DELETE_SELF"): which events to show
    literals = [v for v in params.values() if isinstance(v, str) and not v.startswith("$")]
    for key, raw in params.items():
        for ref in refs(raw):
            m = REF_RE.match(ref)
            if not m:
                continue
            root, parts = m.group(1), [p for p in m.group(2).split(".") if p]
            meas = measurements.get(root)
            if not isinstance(meas, Mapping) or not parts:
                continue
            pid = meas.get("pid", "PID")
            head = parts[0]
            if head == "stat" and len(parts) == 2 and parts[1] in STAT_ADDRESS_FIELDS:
                stat = meas.get("stat") or {}
                v = stat.get(parts[1])
                if isinstance(v, int):
                    add(word(lang, "ev_stat_field", pid=pid, n=STAT_ADDRESS_FIELDS[parts[1]],
                             name=parts[1], value=v))
            if head == "proc_environ" and isinstance(meas.get("proc_environ"), Mapping):
                environ = meas["proc_environ"]
                if len(parts) == 3 and parts[1] == "values":
                    add(_environ_entry(pid, environ, parts[2], reveal))
                elif len(parts) == 2 and parts[1] in ("raw", "entries"):
                    add(_environ_block(pid, environ, reveal))
            if head in ("line", "fstype", "options", "source", "root") \
                    and isinstance(meas.get("line"), str) and "mount_point" in meas:
                add(f"/proc/{pid}/mountinfo: {meas['line']}")
            if head in _WATCH_HEADS and isinstance(meas.get("lines"), list):
                for line in _watch_events(meas, literals, lang):
                    add(line)
                add(_watcher_said(meas, lang))
            if head in _TRACE_HEADS and isinstance(meas.get("calls"), list):
                for line in _traced(meas, head, lang):
                    add(line)
            if head == "file_modes" and isinstance(meas.get("file_modes"), Mapping):
                rest = parts[1:]
                path = ".".join(rest[:key_length(meas["file_modes"], rest) or len(rest)])
                info = meas["file_modes"].get(path)
                if isinstance(info, Mapping) and isinstance(info.get("ls"), str):
                    add(f"ls -ln {path}: {info['ls']}")
            if head == "file" and isinstance(meas.get("file"), Mapping) \
                    and isinstance(meas["file"].get("ls"), str):
                add(f"ls -ln {meas['file'].get('name', 'core')}: {meas['file']['ls']}")
            if head in ("hits", "copies", "in_env_block") and \
                    isinstance(meas.get("hit_lines"), list):
                for line in meas["hit_lines"]:
                    add(word(lang, "ev_core_at", line=line))
            if head in ("rss_growth", "vm_growth") and \
                    isinstance(meas.get("status_lines"), Mapping):
                key = "VmRSS" if head == "rss_growth" else "VmSize"
                for when in ("before", "after"):
                    line = (meas["status_lines"].get(when) or {}).get(key)
                    if line:
                        add(word(lang, "ev_status", pid=pid, when=word(lang, f"ev_{when}"),
                                 line=line.expandtabs(8)))
            if head in _CHANNEL_PATH and "observer_uid" in meas:  # other_user
                add(_refused(meas.get(head), _CHANNEL_PATH[head].format(
                    pid=meas.get("target_pid", "PID")), meas.get("observer_uid"), lang))
            if head == "other_uid" and isinstance(meas.get("file"), Mapping):  # core_dump
                cell = meas.get("other_uid")
                add(_refused(cell, meas["file"].get("name", "the core"),
                             cell.get("uid") if isinstance(cell, Mapping) else "?", lang))
            if head in ("stack", "heap") and isinstance(meas.get(head), Mapping):
                add(f"/proc/{pid}/maps: {maps_line(meas[head])}")
            value = values.get(key) if not isinstance(raw, list) else None
            if isinstance(raw, list):
                idx = raw.index(ref)
                got = values.get(key)
                value = got[idx] if isinstance(got, list) and idx < len(got) else None
            if isinstance(value, int) and not isinstance(value, bool) and value > 0xFFFF:
                region = _region_at(meas.get("regions") or [], value)
                if region is not None:
                    add(f"/proc/{pid}/maps: {maps_line(region)}")
                init = meas.get("initstack")
                if isinstance(init, Mapping) and value == init.get("at_random_address") \
                        and isinstance(init.get("at_random"), str):
                    # the 16 bytes execve put there (fs/binfmt_elf.c create_elf_tables)
                    add(word(lang, "ev_memory", pid=pid,
                             line=hex_line(value, bytes.fromhex(init["at_random"]))))
                env = meas.get("env")
                if isinstance(env, Mapping):
                    line = _env_bytes(env, value, secrets, reveal)
                    if line:
                        add(word(lang, "ev_memory", pid=pid, line=line))
    return tuple(lines[:MAX_LINES])
