"""Checks show the real thing: beside memlab's verdict, the kernel's own text the value
was read from (the /proc/PID/maps line, the /proc/PID/stat field, the bytes at the
address), and never the lesson file's "$name.path" reference syntax."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from memlab.kernel.abi import STAT_ADDRESS_FIELDS
from memlab.lessons.checks import describe_check, describe_ref
from memlab.lessons.evidence import hex_line, inotify_line, kernel_lines, maps_line
from memlab.lessons.measure import region_fact
from memlab.procfs.maps import parse_maps_line
from tests.lessons.test_cli import run_cli, summary

DATA = Path(__file__).resolve().parents[1] / "data"
REF_SYNTAX = re.compile(r"\$[A-Za-z_][\w-]*\.")
# the engine's internal paths and call syntax: a measurement's dotted path (results.0.,
# rows.same_uid., files./etc/...), a bare "pid = ", a check written as name(param=...)
INTERNAL = re.compile(
    r"\bresults\.\d+\.|\brows\.|\bfiles\./|(?:^|[\s;:])pid = |\b[a-z_]+\([a-z_]+="
    r"|\b(?:file_modes|mounts|objects|values|links|data_targets|env_drift|reply|"
    r"proc_environ|initstack|node_paths)\.[\w/]")


# an xxd line's text column is the process's memory, not memlab's words: AT_RANDOM's
# random bytes may well read "$WaA." there
XXD_TEXT = re.compile(r"^(\s*memory of PID \d+: [0-9a-f]+: [0-9a-f* ]+?)  .*$")


def memlab_words(line: str) -> str:
    """A line of lesson output without the bytes an xxd line quotes."""
    return XXD_TEXT.sub(r"\1", line)


def test_memlab_words_drops_only_the_quoted_bytes():
    line = "          memory of PID 596: 7ffeda782c29: 3b8f 409a 2457  ;.@.$WaA........"
    assert memlab_words(line) == "          memory of PID 596: 7ffeda782c29: 3b8f 409a 2457"
    assert REF_SYNTAX.search(line) and not REF_SYNTAX.search(memlab_words(line))
    assert memlab_words("measured: $p.stat.env_start  x") == "measured: $p.stat.env_start  x"


@pytest.mark.parametrize("name", ["maps_cat.txt", "maps_python3.txt", "maps_static.txt",
                                  "maps_edge.txt"])
def test_maps_line_is_the_line_the_kernel_printed(name):
    lines = [ln for ln in (DATA / name).read_bytes().splitlines() if ln.strip()]
    assert lines
    for n, line in enumerate(lines, 1):
        try:
            region = parse_maps_line(line, n)
        except ValueError:
            continue  # maps_edge.txt has malformed lines on purpose
        text = line.decode("utf-8", "backslashreplace")
        assert maps_line(region_fact(region)) == text.rstrip(), (name, n)


def test_hex_line_masks_secret_bytes_in_both_columns():
    block = b"DB_PASSWORD=hunter2\0LOG_LEVEL=info"
    env = {"start": 0x7ffd0000, "end": 0x7ffd0000 + len(block) + 1,
           "raw": block.decode("latin-1")}
    facts = {"p": {"pid": 42, "env": env, "regions": [], "stat": {"env_start": 0x7ffd0000}}}
    shown = kernel_lines({"address": "$p.stat.env_start"}, {"address": 0x7ffd0000}, facts)
    joined = "\n".join(shown)
    assert "/proc/42/stat field 50 (env_start): 2147287040" in joined
    assert "4442 5f50 4153 5357 4f52 443d" in joined and "DB_PASSWORD=" in joined
    assert "hunter" not in joined and "6875 6e74" not in joined and "68756e74" not in joined
    revealed = kernel_lines({"address": "$p.stat.env_start"}, {"address": 0x7ffd0000},
                            facts, reveal=True)
    assert "6875 6e74" in "\n".join(revealed)
    # the layout xxd prints: address, 8 groups of 2 bytes, two spaces, the text
    assert hex_line(0x10000, b"AB\0") == "00010000: 4142 00" + " " * 32 + "  AB."


def test_a_stack_check_shows_the_maps_line_of_stack_and_the_stat_field():
    rc, out, _ = run_cli("lesson", "run", "where-env-lives", "--check")
    assert rc == 0 and summary(out)[1] == 0, out
    # the try-it step ran `grep stack /proc/PID/maps`: the kernel's line, verbatim
    real = re.search(r"the command printed: (\S+-\S+ .*\[stack\])", out)
    assert real, out
    pid = re.search(r"grep stack /proc/(\d+)/maps", out).group(1)
    assert f"/proc/{pid}/maps: {real.group(1)}" in out
    # the stat field a verdict's address came from, in decimal as fs/proc/array.c prints it
    m = re.search(rf"/proc/{pid}/stat env_start = (0x[0-9a-f]+)", out)
    field = STAT_ADDRESS_FIELDS["env_start"]
    assert f"/proc/{pid}/stat field {field} (env_start): {int(m.group(1), 16)}" in out
    # and the bytes there: the env block's first variable, its value masked
    assert re.search(rf"memory of PID {pid}: {int(m.group(1), 16):08x}: 4442 5f50 ", out), out
    assert "hunter2" not in out and "6875 6e74" not in out


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_no_reference_syntax_reaches_the_learner(lang):
    rc, out, err = run_cli("lesson", "run", "--all", "--check", "--lang", lang)
    assert rc == 0 and summary(out)[1] == 0, out[-3000:]
    leaked = [ln for ln in map(memlab_words, (out + err).splitlines())
              if REF_SYNTAX.search(ln) or INTERNAL.search(ln)]
    assert not leaked, leaked[:5]
    # each measurement by where it comes from, also in a quiz's "because", in memlab's
    # words of the lesson's language (memlab.lessons.words)
    if lang == "en":
        assert re.search(r"measured: pod \w+: /etc/config/LOG_LEVEL = ", out)
        assert "exposure demo, same uid: /proc/PID/environ = SECRET" in out
        assert re.search(r"container pid of pod \w+ = \d+", out)
        assert "the env block in memory (names) has " in out
        assert re.search(r", because /proc/\d+/environ: MY_ENV_VARIABLE is my-value: ", out)
    else:
        assert re.search(r"측정값: 파드 \w+: /etc/config/LOG_LEVEL = ", out)
        assert "노출 실험, 같은 uid: /proc/PID/environ = SECRET" in out
        assert re.search(r"파드 \w+ 컨테이너의 PID = \d+", out)
        assert "메모리 속 env 블록 (이름)" in out
        assert re.search(r", 근거: /proc/\d+/environ: MY_ENV_VARIABLE 값은 my-value: ", out)
    # the kernel's text for the k8s and watch lessons
    # (memlab's label in the lesson's language, the kernel's text as it is)
    assert re.search(r"inotify (?:event|이벤트): wd=\d+ mask=IN_DELETE_SELF name=", out), \
        out[-3000:]
    assert re.search(r"ls -ln /etc/token/token: -r-------- 1 0 0 \d+ token", out) or \
        "simulated" in out or "시뮬레이션" in out
    for secret in ("hunter2", "c0re-dump-pw-4242", "pg-Xq7-4417"):
        assert secret not in out + err
    assert "/proc/" in out and re.search(r"/proc/\d+/maps: [0-9a-f]+-[0-9a-f]+ ", out)


def test_at_random_shows_the_sixteen_bytes_and_stat_fields_their_number():
    at = 0x7ffe00000f59
    facts = {"p": {"pid": 7, "regions": [{"start": 0x7ffe00000000, "end": 0x7ffe00001000,
                                          "perms": "rw-p", "offset": 0, "dev": "00:00",
                                          "inode": 0, "path": "[stack]"}],
                   "initstack": {"at_random_address": at, "at_random": "00ff" * 8},
                   "stat": {"start_stack": 0x7ffe00000800}}}
    shown = kernel_lines({"address": "$p.initstack.at_random_address", "sp": "$p.stat.start_stack"},
                         {"address": at, "sp": 0x7ffe00000800}, facts)
    assert shown == (
        "/proc/7/maps: 7ffe00000000-7ffe00001000 rw-p 00000000 00:00 0" + " " * 26 + "[stack]",
        "memory of PID 7: 7ffe00000f59: " + " ".join(["00ff"] * 8) + "  " + ".." * 8,
        f"/proc/7/stat field 28 (start_stack): {0x7ffe00000800}")
    assert kernel_lines({"value": "$p.stat.start_stack"}, {"value": 1}, {}) == ()


def test_wrong_patterns_are_caught():
    """The leak patterns find what the engine used to print (so the test can fail)."""
    for line in ("measured: results.0.env_drift.MY_ENV_VARIABLE.on_restart = my-value-2",
                 "measured: rows.same_uid.environ.verdict = SECRET",
                 "measured: files./etc/config/LOG_LEVEL = DEBUG",
                 "measured: pid = 3024; pid = 3024",
                 "because equals(value=x, expected=y): x = 1",
                 "measured: `env` via runc exec: values.LOG_LEVEL = info"):
        assert INTERNAL.search(line), line
    for line in ("measured: container pid of pod v = 3024; container pid of pod w = 3024",
                 "measured: pod v: /etc/config/LOG_LEVEL = DEBUG",
                 "traced pid 7: brk(NULL) = 0x55d000", "read /proc/PID/environ."):
        assert not INTERNAL.search(line), line


# captured measurements, as the actions saved them (memlab/lessons/actions/*.py)
POD = {"pid": 3024, "files": {"/etc/config/LOG_LEVEL": "DEBUG",
                              "/etc/app/settings.conf": "color=blue"},
       "file_modes": {"/etc/token/token": {"mode": "0400", "uid": 0, "gid": 0,
                                           "ls": "-r-------- 1 0 0 15 token"}},
       "mounts": {"/etc/config": {"listing": ["..data"], "host_dir": "/x"}},
       "data_targets": {"config": "..2026_01_01"},
       "links": {"config": {"LOG_LEVEL": "..data/LOG_LEVEL"}},
       "proc_environ": {"values": {"LOG_LEVEL": "info"}, "names": ["LOG_LEVEL"]},
       "results": [{"env_drift": {"LOG_LEVEL": {"running": "info", "on_restart": "debug"}}}],
       }
MADE_BY = {"v": "k8s_run", "a": "k8s_apply", "x": "exposure", "p": "launch", "o": "other_user",
           "c": "core_dump", "t": "trace", "w": "wait_output", "m": "k8s_mountinfo",
           "k": "k8s_validate"}
FACTS = {"v": POD, "a": POD, "x": {"rows": {"same_uid": {"environ": {"verdict": "SECRET"}},
                                            "other_uid": {"file": {"errno": "EACCES"}}}},
         "p": {"pid": 77, "env": {"names": ["A"]}, "stat": {"env_start": 1}},
         "o": {"observer_uid": 65534, "target_pid": 1, "environ": {"errno": "EACCES"}},
         "c": {"pid": 9, "dumpable": 0, "rlimit_core": "unlimited", "written": False},
         "t": {"pid": 5, "rss_growth": 4096, "calls": []},
         "w": {"trigger": "..data", "lines": []},
         "k": {"objects": {"db": {"data_hex": {"key.p12": "000102ff"}}}}}


@pytest.mark.parametrize("ref, words", [
    ("$v.files./etc/config/LOG_LEVEL", "pod v: /etc/config/LOG_LEVEL"),
    ("$v.files./etc/app/settings.conf", "pod v: /etc/app/settings.conf"),
    ("$v.file_modes./etc/token/token.mode", "stat of /etc/token/token in pod v: mode"),
    ("$v.pid", "container pid of pod v"),
    ("$v.mounts./etc/config.listing", "pod v: mount /etc/config (ls)"),
    ("$a.data_targets.config", "pod a: readlink config/..data"),
    ("$v.links.config.LOG_LEVEL", "pod v: readlink config/LOG_LEVEL"),
    ("$v.proc_environ.values.LOG_LEVEL", "/proc/3024/environ: LOG_LEVEL"),
    ("$v.env.LOG_LEVEL", "kubelet's env for the container: LOG_LEVEL"),
    ("$a.results.0.env_drift.LOG_LEVEL.on_restart",
     "pod a: LOG_LEVEL in a restarted container"),
    ("$x.rows.same_uid.environ.verdict", "exposure demo, same uid: /proc/PID/environ"),
    ("$x.rows.other_uid.file.errno", "exposure demo, another uid: the 0400 file: errno"),
    ("$p.env.names", "the env block in memory (names)"),
    ("$p.stat.env_start", "/proc/77/stat env_start"),
    ("$o.environ.errno", "another uid reading /proc/1/environ: errno"),
    ("$c.written", "core file written (dumpable 0, RLIMIT_CORE unlimited)"),
    ("$t.rss_growth", "/proc/5/status VmRSS growth (bytes)"),
    ("$w.trigger", "the watcher's reload trigger (the inotify name)"),
    ("$k.objects.db.data_hex.key.p12",
     "object db as the API server stores it: data_hex key.p12"),
])
def test_a_measurement_reads_as_where_it_comes_from(ref, words):
    assert describe_ref(ref, FACTS, MADE_BY) == "\0" + words
    assert not INTERNAL.search(words)


def test_a_check_without_say_reads_as_words_not_a_call():
    params = {"value": "$v.proc_environ.values.LOG_LEVEL", "expected": "info"}
    assert describe_check("equals", params, None, FACTS, MADE_BY) == \
        "/proc/3024/environ: LOG_LEVEL is info"
    assert describe_check("equals", params, "the lesson's words") == "the lesson's words"
    assert describe_check("compare", {"left": "$t.rss_growth", "op": "<", "right": 1048576},
                          None, FACTS, MADE_BY) == "/proc/5/status VmRSS growth (bytes) < 0x100000"
    pair = describe_check("equals", {"value": ["$v.files./etc/config/LOG_LEVEL", "$v.pid"],
                                     "expected": ["DEBUG", 3024]}, None, FACTS, MADE_BY)
    assert pair == "pod v: /etc/config/LOG_LEVEL is DEBUG, container pid of pod v is 3024"
    for name in ("contains", "lacks", "in_region", "page_align_of", "ordered"):
        text = describe_check(name, {"container": "$p.env.names", "item": "A",
                                     "address": "$p.stat.env_start", "regions": "$p.regions",
                                     "region": "[stack]", "value": "$p.stat.env_start",
                                     "of": "$p.stat.env_start",
                                     "values": ["$p.stat.env_start", "$v.pid"]},
                              None, FACTS, MADE_BY)
        assert not INTERNAL.search(text) and "=" not in text, (name, text)


def test_inotify_watch_and_mountinfo_and_mode_and_trace_evidence():
    ev = {"event": "inotify", "wd": 1, "name": None, "mask": ["ATTRIB"]}
    gone = {"event": "inotify", "wd": 1, "name": None, "mask": ["DELETE_SELF"]}
    moved = {"event": "inotify", "wd": 2, "name": "..data", "mask": ["MOVED_TO"]}
    import json
    watch = {"lines": [json.dumps(e) for e in (ev, gone, moved)], "seen": ["inotify"],
             "trigger": None}
    shown = kernel_lines({"container": "$w.seen", "item": "DELETE_SELF"},
                         {"container": ["inotify"], "item": "DELETE_SELF"}, {"w": watch})
    assert shown == ("inotify event: wd=1 mask=IN_DELETE_SELF name=(the watched file itself)",)
    assert inotify_line(moved) == "inotify event: wd=2 mask=IN_MOVED_TO name=..data"
    trig = kernel_lines({"value": "$w.trigger"}, {"value": "..data"},
                        {"w": {**watch, "trigger": "..data"}})
    assert trig == ("inotify event: wd=2 mask=IN_MOVED_TO name=..data",)
    line = "181 160 0:62 / /etc/token ro,relatime - tmpfs tmpfs rw,size=65536k,mode=755"
    mi = {"pid": 12, "line": line, "mount_point": "/etc/token", "fstype": "tmpfs"}
    assert kernel_lines({"value": ["$m.line", "$v.pid"]}, {"value": [line, 3024]},
                        {"m": mi, "v": POD}) == (f"/proc/12/mountinfo: {line}",)
    assert kernel_lines({"value": "$v.file_modes./etc/token/token.mode"}, {"value": "0400"},
                        {"v": POD}) == ("ls -ln /etc/token/token: -r-------- 1 0 0 15 token",)
    trace = {"pid": 5, "calls": [{"name": "brk"}, {"name": "mmap"}],
             "lines": ["brk(0x56000) = 0x56000", "mmap(NULL, 100003840, PROT_READ|PROT_WRITE, "
                       "MAP_PRIVATE|MAP_ANONYMOUS, -1, 0x0) = 0x7f0000000000"],
             "status_lines": {"before": {"VmRSS": "VmRSS:\t    1744 kB"},
                              "after": {"VmRSS": "VmRSS:\t    1748 kB"}}}
    assert kernel_lines({"left": "$t.brk_result", "right": "$t.reply.sbrk"},
                        {"left": 0x56000, "right": 0x56000}, {"t": trace}) == \
        ("traced pid 5: brk(0x56000) = 0x56000",)
    assert kernel_lines({"left": "$t.rss_growth"}, {"left": 4096}, {"t": trace}) == (
        "/proc/5/status before: VmRSS:      1744 kB",
        "/proc/5/status after: VmRSS:      1748 kB")
    assert kernel_lines({"v": "$t.count"}, {"v": 0}, {"t": {**trace, "lines": []}}) == \
        ("traced pid 5: no brk or mmap call",)


def test_a_real_watch_shows_the_inotify_events_the_kernel_sent():
    rc, out, _ = run_cli("lesson", "run", "volumes-hot-reload", "--check")
    assert rc == 0 and summary(out)[1] == 0, out
    # the file watcher's own events: wd, mask bits by their IN_ names, as read(2) gave them
    assert re.search(r"DELETE_SELF is one of them\n\s+inotify event: wd=\d+ "
                     r"mask=IN_DELETE_SELF name=", out), out
    assert not [ln for ln in out.splitlines() if INTERNAL.search(ln)]


def test_a_missing_measurement_is_named_by_its_source_not_its_path(lesson_dir):
    from tests.lessons.conftest import GOOD
    path = lesson_dir("m.toml", GOOD.replace('value = "$p.env.entries"',
                                             'value = "$p.proc_environ.values.NOPE"'))
    rc, out, _ = run_cli("lesson", "run", str(path), "--check", "--yes")
    assert rc != 0
    assert re.search(r"measured: /proc/\d+/environ has no 'NOPE' \(it has: A\)", out), out
    assert not INTERNAL.search(out) and "p.proc_environ" not in out


def test_a_refused_reader_shows_the_kernels_errno_and_its_text():
    other = {"observer_uid": 65534, "target_pid": 1, "target_uid": 0,
             "environ": {"ok": False, "errno": "EACCES"}, "mem": {"ok": True, "errno": None}}
    assert kernel_lines({"v": "$o.environ.errno"}, {"v": "EACCES"}, {"o": other}) == \
        ("open /proc/1/environ as uid 65534: -1 EACCES (Permission denied)",)
    assert kernel_lines({"v": "$o.mem.ok"}, {"v": True}, {"o": other}) == ()
    core = {"file": {"name": "core", "ls": "-rw------- 1 0 0 450560 core"},
            "other_uid": {"uid": 65534, "errno": "EACCES"}}
    assert kernel_lines({"v": "$c.other_uid.errno"}, {"v": "EACCES"}, {"c": core}) == \
        ("open core as uid 65534: -1 EACCES (Permission denied)",)
