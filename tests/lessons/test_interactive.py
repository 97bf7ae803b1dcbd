"""`memlab lesson run NAME` on a terminal: it pauses between steps (enter, b back, q
quit) and asks the quiz, checking each answer against what memlab measured."""

from __future__ import annotations

import os
import re
import pty
import select
import subprocess
import sys

from tests.helpers import REPO, wait_until


class Terminal:
    def __init__(self, *argv: str):
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen([sys.executable, "-m", "memlab", *argv], cwd=REPO,
                                     stdin=slave, stdout=slave, stderr=slave,
                                     env={**os.environ, "NO_COLOR": "1"}, close_fds=True)
        os.close(slave)
        self.seen = ""
        self.pos = 0  # expect() looks past the previous match

    def _read(self, wait: float) -> bool:
        """Add what the lesson printed within `wait` seconds to seen; False at its end."""
        if select.select([self.master], [], [], wait)[0]:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:  # EIO: the child closed the terminal
                chunk = b""
            if not chunk:
                return False
            self.seen += chunk.decode("utf-8", "replace")
        return True

    def expect(self, text: str, timeout: float = 20.0) -> str:
        """Wait until text is printed after the previous match; return the screen so far."""
        def shown():
            at = self.seen.find(text, self.pos)
            if at < 0 and not self._read(0.05):
                at = self.seen.find(text, self.pos)
                assert at >= 0, f"{text!r} never shown:\n{self.seen[-2000:]}"
            return at + 1
        at = wait_until(shown, timeout, interval=0,
                        what=lambda: f"{text!r}; screen so far:\n{self.seen[-2000:]}") - 1
        self.pos = at + len(text)
        return self.seen

    def send(self, line: str) -> None:
        os.write(self.master, line.encode() + b"\r")

    def close(self) -> int:
        code = self.proc.wait(timeout=20)
        os.close(self.master)
        return code


PROMPT = "[Enter] next · b back · r run again · q quit >"


def test_interactive_lesson_pauses_goes_back_and_checks_quiz_answers():
    t = Terminal("lesson", "run", "where-env-lives")
    try:
        t.expect("── Step 1/4")
        t.expect(PROMPT)
        t.send("")  # next
        t.expect("── Step 2/4")
        t.expect("what did it show? >")
        t.send("")  # no idea: twice, then memlab runs the command itself
        t.expect("what did it show? >")
        t.send("")
        t.expect("memlab ran it: PASS")
        t.expect(PROMPT)
        t.send("b")  # back: step 1 shown again (with its result), not re-run
        t.expect(PROMPT)
        t.send("")
        t.expect(PROMPT)
        t.send("")
        t.expect("── Step 3/4")
        t.expect("your answer >")  # the prediction, before memlab measures
        t.send("b")
        # judged after the step measured: its verdicts come first, then the prediction
        after = t.expect("not quite: for 'some alignment padding' to be right")
        assert "your prediction, against the measurement:" in after.split("your answer >")[-1]
        assert "nothing measured" not in after
        t.expect(PROMPT)
        t.send("")
        t.expect("── Step 4/4")
        t.expect(PROMPT)
        t.send("")
        t.expect("your answer >")
        pids = set(re.findall(r"launched sleeper as pid (\d+)", t.seen))
        assert t.seen.count("── Step 1/4") == 2 and len(pids) == 1, pids  # not re-run
        t.send("a")  # wrong: [heap]
        t.expect("not quite: for '[heap]' to be right")
        t.expect("one more try.")
        t.send("d")  # wrong again: the answer is shown, with the evidence
        t.expect("answer: [stack]")
        t.expect("evidence: PASS")
        t.expect("your answer >")
        t.send("8")
        t.expect("right: 8")
        out = t.expect("── What you measured")
        assert "FAIL" not in out
    finally:
        code = t.close()
    assert code == 0


def test_q_quits_and_ends_the_lesson_processes():
    t = Terminal("lesson", "run", "immutable-env")
    try:
        out = t.expect(PROMPT)
        pid = int(out.split("launched sleeper as pid ")[1].split()[0])
        t.send("q")
    finally:
        code = t.close()
    assert code == 0

    def ended():
        try:
            with open(f"/proc/{pid}/stat") as f:
                return f.read().rsplit(")", 1)[1].split()[0] == "Z"
        except FileNotFoundError:
            return True
    wait_until(ended, what=f"the lesson's sleeper (pid {pid}) to end")
