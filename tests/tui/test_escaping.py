"""Strings from a process never reach the terminal as control sequences.

An env value `ESC ] 0 ; PWNED BEL` retitles the terminal, `ESC [ 2J` clears it and
`ESC ] 52` writes the clipboard; an argv string, comm, the executable's path or any
mapped path is just as much the process's choice.  Every view shows them escaped
(`\\x1b`), through memlab.render.safe.printable.  These tests render the screen and
look for any C0/C1 control character or DEL in it (a newline ends a screen line)."""

from __future__ import annotations

import shutil

import pytest
from textual.widgets import DataTable

from memlab.model import Region, StackString
from memlab.processes import ProcessInfo
from memlab.tui.app import MemlabApp
from memlab.tui.palette import memlab_commands
from memlab.tui.source import LaunchRequest, LiveSource
from memlab.tui.widgets.virtual import VirtualTable
from tests.tui import fakes
from tests.tui.conftest import cells, screen_text, settle, started

TITLE = "\x1b]0;PWNED\x07"  # OSC 0: set the window title
CLEAR = "\x1b[2J"  # CSI 2J: erase the screen
HOSTILE_PATH = f"/tmp/lib{TITLE}evil{CLEAR}.so"
HOSTILE_ENV = (f"EVIL_TOKEN{TITLE}=s3cret{CLEAR}\x9b".encode(), *fakes.ENV,
               f"ZZ={CLEAR}{TITLE}hello\x7f".encode())


def controls(text: str) -> set[str]:
    """The control characters in rendered screen text (newline separates lines)."""
    return {c for c in text if c != "\n" and (ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F)}


def shown(app) -> str:
    """The screen as text, after checking that no control character is on it."""
    text = screen_text(app)
    assert not controls(text), (sorted(map(repr, controls(text))), text)
    return text


def hostile_snapshots():
    """(first, after malloc) snapshots whose every process-chosen string holds escape
    sequences: env names and values, argv, AT_EXECFN, comm, exe, a mapped path, a
    warning; `malloc` then adds another hostile mapping (the Drive log names it)."""
    mapped = Region(0x7FFFF7F9B000, 0x7FFFF7F9C000, "r--p", 0, "fd:01", 99, HOSTILE_PATH,
                    False, "file")
    regions = tuple(sorted((*fakes.REGIONS, mapped), key=lambda r: r.start))
    snap, memory = fakes.build(env=HOSTILE_ENV, regions=regions)
    argv0 = f"/opt/{TITLE}sleeper".encode()
    stack = snap.stack._replace(
        argv=(StackString(snap.stack.argv[0].slot, snap.stack.argv[0].address, argv0),),
        execfn=argv0.decode(), platform=f"x86{CLEAR}_64")
    snap = snap._replace(exe=f"/opt/{TITLE}sleeper", argv=(argv0.decode(),),
                         stat=snap.stat._replace(comm=f"sl{TITLE}"), stack=stack,
                         warnings=(f"warning about {HOSTILE_PATH}",))
    grown = Region(0x7FFFF7F9C000, 0x7FFFF7F9D000, "rw-p", 0, "fd:01", 98,
                   HOSTILE_PATH + "2", False, "file")
    after = snap._replace(regions=tuple(sorted((*snap.regions, grown),
                                               key=lambda r: r.start)))
    return snap, after, memory


def exposure_results():
    """What the exposure panel's observers would answer, quoting hostile strings."""
    from memlab.exposure.matrix import Matrix, Row, Victim
    from memlab.exposure.observers import Cell
    from memlab.exposure.removal import Source, ThreeWay
    from memlab.exposure.search import Hit

    victim = Victim(fakes.PID, 0, 0, f"sl{TITLE}", True, ("EVIL_TOKEN",), None)
    rows = (Row("same_uid", "same uid (0)", 0, fakes.PID,
                (Cell("environ", "same_uid", True, secret_found=True, size=10),)),
            Row("other_uid", "other uid (65534)", None, fakes.PID,
                skipped=f"the observer failed: {CLEAR}"))
    matrix = Matrix(victim, rows, channels=("environ",), notes=(f"note {TITLE}",))
    value = f"s3cret{CLEAR}".encode()
    three = ThreeWay(fakes.PID, f"EVIL_TOKEN{TITLE}", value,
                    Source(value, True), Source(value, True, 0x7FFFFFFFE000, HOSTILE_PATH),
                    Source(None, False), None,
                    copies=(Hit(0x555555559010, HOSTILE_PATH, "file", 16, b"", b""),))
    return [matrix], three


async def test_every_view_shows_hostile_strings_escaped():
    first, after, memory = hostile_snapshots()
    matrices, three = exposure_results()
    processes = [*fakes.PROCESSES,
                 ProcessInfo(6666, f"us{CLEAR}er", 1000, f"evil{TITLE}", False,
                             f"owned by {TITLE}")]
    source = fakes.FakeSource([first, after], memory=memory, processes=processes,
                        samples=["sleeper"], matrices=matrices, three_way=three)
    source.last_launch = LaunchRequest("sleeper", HOSTILE_ENV)
    app = MemlabApp(source)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await settle(app, pilot)
        screens = {"map": shown(app)}  # map first: tower, maps table, status line
        paths = cells(app.query_one("#regions", VirtualTable), "path")
        # escaped; a long path may be cut in the middle, never inside an escape
        assert any(p.startswith("/tmp/lib") and p.endswith("\\x1b[2J.so")
                   for p in paths)
        assert not any("\x1b" in p or "\x07" in p for p in paths)
        assert "sl\\x1b]0;PWNED\\x07" in screens["map"]  # comm on the status line
        await pilot.press("v")  # reveal: the secret's value is drawn too
        for key in ("e", "s", "x"):
            await pilot.press(key)
            await settle(app, pilot)
            screens[key] = shown(app)
        assert "\\x1b[2J\\x1b]0;PWNED\\x07hello\\x7f" in screens["e"]  # env table
        assert "s3cret\\x1b[2J\\x9b" in screens["e"]
        assert "/opt/\\x1b]0;PWNED\\x07sleeper" in screens["s"]  # argv[0]
        app.query_one("HexView").open_region(  # the hex view's header names the region
            next(r for r in first.regions if r.path == HOSTILE_PATH))
        await settle(app, pilot)
        assert "/tmp/lib\\x1b]0;PWNED\\x07evil" in shown(app)
        commands = list(memlab_commands(app))  # ctrl+p: one entry per env name and verb
        assert "scrub EVIL_TOKEN\\x1b]0;PWNED\\x07" in [c.title for c in commands]
        assert not controls("".join(c.title + c.help for c in commands))
        app.run_command("malloc 4096")  # Drive: the log names the new mapping
        await settle(app, pilot, rounds=5)
        await pilot.press("d")
        await settle(app, pilot)
        assert "new mapping /tmp/lib\\x1b]0;PWNED\\x07evil" in shown(app)
        await pilot.press("o", "o")  # Exposure: run the (scripted) observers
        await settle(app, pilot, rounds=5)
        text = shown(app)
        assert "note \\x1b]0;PWNED\\x07" in text and "EVIL_TOKEN\\x1b]0;PWNED" in text
        await pilot.press("k")  # Pod: a pod whose manifest and files are hostile
        await settle(app, pilot)
        pod_state(app)
        shown(app)
        app.notify(f"an error quoting {HOSTILE_PATH}")  # every notification
        await settle(app, pilot)
        assert "an error quoting /tmp/lib\\x1b]0;PWNED" in shown(app)
        # (the Pod view's inputs have the keys now: the actions the keys p, l run)
        app.action_pick_process()  # the process picker: every process names itself
        await settle(app, pilot)
        assert "evil\\x1b]0;PWNED\\x07" in shown(app)
        await pilot.press("escape")
        app.action_launch_panel()  # the launch panel, on the hostile entry
        await settle(app, pilot)
        table = app.screen.query_one("#launch-env", DataTable)
        table.move_cursor(row=table.row_count - 1)
        await settle(app, pilot)
        assert "control characters: type a new value" in shown(app)  # not in the box


def pod_state(app) -> None:
    """Draw the Pod view for a pod whose names, env and volume files hold escapes."""
    from memlab.k8s.envvars import EnvVar

    view = app.query_one("PodView")
    view.state = {"name": f"pod{TITLE}", "pid": fakes.PID, "note": f"note{CLEAR}",
                  "env": [EnvVar(f"A{TITLE}", f"v{CLEAR}", "envFrom configmap x")],
                  "proc_environ": {f"A{TITLE}": f"v{CLEAR}"},
                  "files": {f"/etc/config/{TITLE}": f"line1\n{CLEAR}".encode()},
                  "data_targets": {"config": f"..2026{TITLE}"}}
    view.errors = [f"apply: {CLEAR}"]
    view._draw()


@pytest.fixture
def hostile_sample(tmp_path):
    """The sleeper sample copied to a path with escape sequences in its name (so exe,
    comm, every maps line of the binary, argv[0] and AT_EXECFN hold them), launched
    with a hostile env value and argument."""
    from memlab.samples import resolve_target

    exe = tmp_path / f"sl{TITLE}eeper{CLEAR}"
    shutil.copy2(resolve_target("sleeper"), exe)
    source = LiveSource()
    source.launch(LaunchRequest(str(exe), (f"ZZ={CLEAR}{TITLE}hello".encode(),
                                           b"LOG_LEVEL=info"), args=(f"arg{TITLE}",)))
    yield source
    source.stop()


async def test_real_process_with_escapes_in_env_argv_and_paths(hostile_sample):
    app = MemlabApp(hostile_sample)
    async with started(app, (120, 40)) as pilot:
        assert app.snapshot.pid == hostile_sample.pid
        text = shown(app)  # Map: the tower and the maps table name the binary
        assert " pid %d sl\\x1b]0;PWNED\\x07eep " % hostile_sample.pid in text  # comm
        paths = cells(app.query_one("#regions", VirtualTable), "path")
        # cut in the middle, never inside the escape
        assert any("…" in p and p.endswith("r\\x1b[2J") for p in paths), paths
        assert "text sl" in text  # the tower's block for the binary (cut in the middle)
        await pilot.press("e")
        await settle(app, pilot)
        text = shown(app)
        assert "\\x1b[2J\\x1b]0;PWNED\\x07hello" in text
        entries = app.query_one("#env-entries", VirtualTable)
        assert entries.get_row_at(0)[3].plain == "\\x1b[2J\\x1b]0;PWNED\\x07hello"
        await pilot.press("s")
        await settle(app, pilot)
        text = shown(app)
        assert "arg\\x1b]0;PWNED\\x07" in text  # argv[1]
        await pilot.press("x")
        await settle(app, pilot)
        shown(app)


def test_hex_text_column_is_printable_ascii_or_a_dot():
    from memlab.tui.widgets.hexfmt import hex_line

    for start in range(0, 256, 16):
        line = hex_line(0x1000, bytes(range(start, start + 16)), 16).plain
        column = line[-16:]
        assert column == "".join(chr(b) if 0x20 <= b <= 0x7E else "."
                                 for b in range(start, start + 16))


def test_lesson_verdicts_show_measurements_escaped():
    from memlab.tui.widgets.lessons import _verdict_text

    t = _verdict_text("fail", "the value", f"V={TITLE}", CLEAR).plain
    assert not controls(t) and "V=\\x1b]0;PWNED\\x07 (expected \\x1b[2J)" in t
