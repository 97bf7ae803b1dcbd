"""The base class of every view: it is handed snapshots, never reads them itself."""

from __future__ import annotations

from textual.containers import Vertical

from memlab.model import Snapshot


class SnapshotView(Vertical):
    """A view of the current Snapshot.  The app calls `show(snapshot, previous)` after
    each refresh that changed something (previous: the snapshot before it, for diffs)
    and again when the reveal-secrets toggle flips.  Views read memory only through
    `self.app.source` in thread workers."""

    snapshot: Snapshot | None = None
    previous: Snapshot | None = None

    def on_mount(self) -> None:
        self.call_after_refresh(self._catch_up)

    def _catch_up(self) -> None:
        """Mounted after the app already had a snapshot (a lazily mounted tab), or
        handed one while its children were still being composed: draw the latest."""
        if self.snapshot is not None:
            self.show(self.snapshot, self.previous)
        elif getattr(self.app, "snapshot", None) is not None:
            self.show(self.app.snapshot, getattr(self.app, "previous", None))

    def show(self, snapshot: Snapshot, previous: Snapshot | None) -> None:
        self.snapshot, self.previous = snapshot, previous
        if self.is_mounted:  # else on_mount draws it, once compose made the children
            self.render_snapshot()

    def render_snapshot(self) -> None:
        raise NotImplementedError

    def mark_gone(self, title: str | None) -> None:
        """The process exited (title: "last snapshot of pid N (exited: ...)"): the view
        keeps its last snapshot, greyed, under that title.  None: it is live again."""
        self.set_class(title is not None, "gone")
        self.border_title = title

    @property
    def reveal(self) -> bool:
        return bool(getattr(self.app, "reveal", False))

    def focus_main(self) -> None:
        """Give the keyboard to this view's main widget (its first focusable one)."""
        for widget in self.query("*"):
            if widget.focusable and widget.display:
                widget.focus()
                return
