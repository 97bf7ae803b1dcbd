"""The real `memlab tui` in a real terminal (tmux): what a learner sees, and that no
launched process outlives it (q, SIGTERM, SIGHUP)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.helpers import gone, wait_until

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")

MEMLAB = str(Path(sys.executable).with_name("memlab"))


class Tmux:
    """One private tmux server (its own socket) running one command in a 120x40 pane."""

    def __init__(self, command: str) -> None:
        self.socket = f"memlab-test-{os.getpid()}-{time.monotonic_ns()}"
        self.run("new-session", "-d", "-s", "t", "-x", "120", "-y", "40", command)

    def run(self, *args: str) -> str:
        # COLUMNS/LINES (set by pytest's terminal) would override the pane size in
        # Textual: the new tmux server inherits this environment
        env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
        env.setdefault("TERM", "xterm-256color")
        out = subprocess.run(["tmux", "-L", self.socket, "-f", "/dev/null", *args],
                             capture_output=True, text=True, timeout=10, env=env)
        return out.stdout

    def capture(self) -> str:
        return self.run("capture-pane", "-p", "-t", "t")

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", "t", *keys)

    def wait_for(self, *needles: str, timeout: float = 15.0) -> str:
        def shown():
            screen = self.capture()
            return screen if all(n in screen for n in needles) else None
        return wait_until(shown, timeout, interval=0.1,
                          what=lambda: f"{needles} on screen:\n{self.capture()}")

    def memlab_process(self) -> psutil.Process:
        pane = int(self.run("list-panes", "-t", "t", "-F", "#{pane_pid}").split()[0])
        root = psutil.Process(pane)
        for p in [root, *root.children(recursive=True)]:
            if any("memlab" in part for part in p.cmdline()):
                return p
        raise AssertionError("memlab not found in the pane")

    def kill(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)


def wait_gone(pid: int, what: str = "", timeout: float = 10.0) -> None:
    wait_until(lambda: gone(pid), timeout, what=what or f"pid {pid} to end")


@pytest.fixture
def tui():
    t = Tmux(f"{MEMLAB} tui")
    yield t
    t.kill()


def launched_sample(memlab: psutil.Process) -> psutil.Process:
    children = [c for c in memlab.children() if c.name().startswith("sleeper")]
    assert len(children) == 1, children
    return children[0]


def test_memlab_tui_in_tmux_shows_map_and_quits_cleanly(tui):
    screen = tui.wait_for("[stack]", "[heap]", "Map (m)")
    assert "env strings" in screen  # the pieces at the top of [stack], in the tower
    memlab = tui.memlab_process()
    sample = launched_sample(memlab)
    assert f"pid {sample.pid} sleeper" in screen
    tui.keys("e")
    screen = tui.wait_for("DB_PASSWORD", "matches /proc/PID/environ")
    assert "hunter2" not in screen and "***" in screen  # masked until v
    tui.keys("v")
    tui.wait_for("hunter2")
    tui.keys("q")
    wait_gone(sample.pid, "the launched sample to end with `q`")
    wait_gone(memlab.pid)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_signal_ends_tui_and_its_sample(tui, sig):
    tui.wait_for("[stack]")
    memlab = tui.memlab_process()
    sample = launched_sample(memlab)
    memlab.send_signal(sig)
    wait_gone(sample.pid, f"the launched sample to end with {sig.name}")
    wait_gone(memlab.pid)


def test_sigkill_still_ends_the_sample_via_pdeathsig(tui):
    tui.wait_for("[stack]")
    memlab = tui.memlab_process()
    sample = launched_sample(memlab)
    memlab.kill()  # no handler runs: PR_SET_PDEATHSIG is the last line of defence
    wait_gone(sample.pid)


def test_launch_from_tui_replaces_and_quit_ends_the_new_one(tui):
    tui.wait_for("[stack]")
    memlab = tui.memlab_process()
    first = launched_sample(memlab)
    tui.keys("l")
    tui.wait_for("Launch a process")
    # the path box has the focus: a path (or sample name) + enter launches
    tui.keys("-l", "sleeper-nopie")
    tui.keys("Enter")
    wait_until(lambda: gone(first.pid), 10,
               what=lambda: "the replaced process to end:\n" + tui.capture())
    second = launched_sample(memlab)
    assert second.pid != first.pid
    tui.wait_for(f"pid {second.pid}")
    tui.keys("q")
    wait_gone(second.pid)


def test_closed_terminal_ends_tui_even_when_not_session_leader():
    """`make run` in a terminal that is then closed: the hangup goes to the session
    leader (here sh, as make under `make run`), not to memlab, which must notice the
    dead terminal itself instead of spinning on it with its sample alive."""
    t = Tmux(f"sh -c '{MEMLAB} tui; true'")
    try:
        t.wait_for("[stack]")
        shell = t.memlab_process()  # sh -c '... memlab tui; true': memlab is its child
        (memlab,) = [c for c in shell.children() if c.name() != "sh"]
        sample = launched_sample(memlab)
    finally:
        t.kill()
    wait_gone(memlab.pid, "memlab to end on a closed terminal")
    wait_gone(sample.pid)


def test_escape_sequences_in_the_env_do_not_reach_the_terminal():
    """An env value ESC]0;PWNED BEL (set the window title) and ESC[2J (clear the
    screen), shown in the Env view: the pane's title stays, the value is shown
    escaped.  The command line builds the value with printf, as a user would."""
    t = Tmux(f"{MEMLAB} tui --launch sleeper -i -e "
             "\"$(printf 'ZZ=\\033[2J\\033]0;PWNED\\007hello')\"")
    try:
        t.wait_for("[stack]")
        title = t.run("display-message", "-p", "-t", "t", "#{pane_title}")
        t.keys("e")
        t.wait_for("\\x1b[2J\\x1b]0;PWNED\\x07hello", "matches /proc/PID/environ")
        after = t.run("display-message", "-p", "-t", "t", "#{pane_title}")
        assert "PWNED" not in after and after == title
        t.keys("q")
    finally:
        t.kill()


def test_real_terminal_ctrl_c_text_ctrl_s_in_the_panel_esc_and_nothing_left(tmp_path):
    """In a real terminal: ^C's hint is words (no `[b]` markup), ctrl+s works in the
    launch panel and saves under $XDG_PICTURES_DIR, Esc leaves the hex jump prompt after
    a bad address, and `q` leaves nothing in the state directory or the working one."""
    pics, run, work = tmp_path / "pics", tmp_path / "run", tmp_path / "work"
    for d in (run, work):
        d.mkdir(mode=0o700)
    t = Tmux(f"cd {work} && XDG_PICTURES_DIR={pics} XDG_RUNTIME_DIR={run} {MEMLAB} tui")
    try:
        t.wait_for("[stack]")
        memlab = t.memlab_process()
        t.keys("C-c")
        screen = t.wait_for("quits memlab")
        assert "[b]" not in screen
        t.keys("l")
        t.wait_for("Launch a process")
        t.keys("C-s")
        t.wait_for("screenshot saved")
        assert len(list(pics.iterdir())) == 1
        t.keys("Escape")
        wait_until(lambda: "Launch a process" not in t.capture(), 10,
                   what="the launch panel to close")
        t.keys("x")
        t.wait_for("j: jump to address")
        t.keys("j")
        t.wait_for("enter to jump")
        t.keys("-l", "zz")
        t.wait_for("  zz  ")
        t.keys("Enter")
        t.wait_for("not a hex address")
        t.keys("Escape")
        # (a key sent with the Escape would be read as alt+key: wait for the effect)
        wait_until(lambda: "  zz  " not in t.capture(), 10,
                   what="the jump prompt to close on Esc")
        t.keys("q")  # the prompt let go: q quits instead of typing into it
        wait_gone(memlab.pid, "memlab to quit with q after Esc")
    finally:
        t.kill()
    assert list(run.iterdir()) == [] and list(work.iterdir()) == []
