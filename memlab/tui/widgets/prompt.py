"""A one-line prompt that Esc cancels: the `/` filter bar and the map's `g` address box."""

from __future__ import annotations

from textual.binding import Binding
from textual.message import Message
from textual.widgets import Input


class PromptInput(Input):
    """An Input that posts Cancelled (and hides itself) on Esc."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", show=False)]

    class Cancelled(Message):
        def __init__(self, prompt: PromptInput) -> None:
            super().__init__()
            self.prompt = prompt

        @property
        def control(self) -> PromptInput:
            return self.prompt

    def action_cancel(self) -> None:
        self.value = ""
        self.display = False
        self.post_message(self.Cancelled(self))
