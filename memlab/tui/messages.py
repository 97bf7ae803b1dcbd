"""Messages thread workers post to the app (workers never touch widgets)."""

from __future__ import annotations

from textual.message import Message

from memlab.errors import MemlabError
from memlab.model import Snapshot


class SnapshotReady(Message):
    def __init__(self, snapshot: Snapshot, forced: bool) -> None:
        super().__init__()
        self.snapshot = snapshot
        self.forced = forced


class SnapshotFailed(Message):
    """The process vanished (or became unreadable): report it in place."""

    def __init__(self, pid: int | None, error: MemlabError) -> None:
        super().__init__()
        self.pid = pid
        self.error = error


class WorkerError(Message):
    """A thread worker met a MemlabError it does not handle itself (memlab.tui.workers):
    the widget that started it may show it in place; it bubbles on to the app."""

    def __init__(self, pid: int | None, error: MemlabError) -> None:
        super().__init__()
        self.pid = pid
        self.error = error


class CommandDone(Message):
    def __init__(self, line: str, answer: dict | None, error: MemlabError | None,
                 before: Snapshot | None = None, syscalls: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.before = before  # the snapshot shown when the command was sent
        self.syscalls = syscalls  # the traced calls it caused, as text lines
        self.line = line
        self.answer = answer
        self.error = error
