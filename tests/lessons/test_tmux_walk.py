"""A learner's walk through `where-env-lives` in a real terminal (tmux): a prediction
before memlab measures, a try-it-yourself step whose command the learner runs in a
second tmux window (a real `grep stack /proc/PID/maps`), a wrong answer, its
explanation, and the retry."""

from __future__ import annotations

import re
import shutil

import pytest

from tests.tui.test_real_tui import MEMLAB, Tmux

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")

PROMPT = "[Enter] next · b back · r run again · q quit >"


class Scrollback(Tmux):
    """The lesson scrolls: look at the pane's history too.  Keys and captures aim at the
    lesson's own window (by id), whatever window the other terminal opened."""

    def __init__(self, command: str) -> None:
        super().__init__(command)
        self.window = self.run("display-message", "-p", "-t", "t", "#{window_id}").strip()

    def capture(self) -> str:
        return self.run("capture-pane", "-p", "-J", "-S", "-3000", "-t", self.window)

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", self.window, *keys)

    def count(self, needle: str) -> int:
        return self.capture().count(needle)

    def wait_count(self, needle: str, n: int) -> str:
        return self.wait_for_fn(lambda s: s.count(needle) >= n, needle)

    def wait_for_fn(self, ok, what: str, timeout: float = 20.0) -> str:
        from tests.helpers import wait_until

        def shown():
            screen = self.capture()
            return screen if ok(screen) else None
        return wait_until(shown, timeout, interval=0.1,
                          what=lambda: f"{what!r} on screen:\n{self.capture()[-3000:]}")

    def other_terminal(self, command: str) -> str:
        """Run command in a second window, as the learner would; its output."""
        self.run("new-window", "-d", "-n", "other", f"{command}; sleep 30")
        try:
            return self.wait_for_fn_window(command)
        finally:
            self.run("kill-window", "-t", "other")

    def wait_for_fn_window(self, command: str) -> str:
        from tests.helpers import wait_until

        def shown():
            out = self.run("capture-pane", "-p", "-J", "-t", "other")
            return out if out.strip() else None
        return wait_until(shown, 20, interval=0.1, what=f"output of {command!r}")


@pytest.fixture
def lesson():
    # the pane outlives memlab: without it the session ends with the lesson, and a
    # capture that comes a moment late sees an empty screen
    t = Scrollback(f"env NO_COLOR=1 {MEMLAB} lesson run where-env-lives;"
                   " echo \"[memlab exited: $?]\"; sleep 600")
    yield t
    t.kill()


def test_a_learner_walks_where_env_lives(lesson):
    t = lesson
    t.wait_for("── Step 1/4", PROMPT)
    t.keys("Enter")
    screen = t.wait_for("Try it yourself", "what did it show? >")
    command = re.search(r"\$ (grep stack /proc/\d+/maps)", screen).group(1)
    shown = t.other_terminal(command)
    end = re.search(r"^[0-9a-f]+-([0-9a-f]+) .*\[stack\]", shown, re.M).group(1)
    t.keys("0x1234", "Enter")  # wrong
    t.wait_for("not quite", "(one more try)")
    t.keys(end, "Enter")  # what the command showed
    t.wait_for(f"right: you typed '{end}'")
    t.wait_count(PROMPT, 2)
    t.keys("Enter")
    # step 3 asks BEFORE it measures: the evidence is not on screen yet
    screen = t.wait_for("predict first", "your answer >")
    assert "env_start == arg_end: the env strings follow" not in screen.split("predict first")[-1]
    t.keys("a", "Enter")
    screen = t.wait_for("your prediction, against the measurement:", "right: none")
    t.wait_count(PROMPT, 3)
    t.keys("Enter")
    t.wait_count(PROMPT, 4)
    t.keys("Enter")
    t.wait_for("── Quiz", "your answer >")
    t.keys("a", "Enter")  # wrong: [heap]
    screen = t.wait_for("not quite: for '[heap]' to be right", "one more try.")
    assert "measured:" in screen.split("not quite")[-1]
    t.keys("b", "Enter")  # the retry
    t.wait_for("right: [stack]")
    t.wait_count("your answer >", 3)
    t.keys("8", "Enter")
    # the lesson ends; the pane stays (see the fixture), so the end cannot be missed
    screen = t.wait_for("right: 8", "── What you measured", "[memlab exited: 0]")
    assert "FAIL" not in screen and "hunter2" not in screen
    assert "$p." not in screen  # engine syntax never reaches the learner
