"""The one rule for the TUI's thread workers: an error memlab knows (the process exited,
permission denied, a file it could not parse) becomes a message in the view, never a
traceback.

`background` is textual's `work(thread=True)` plus that rule: a MemlabError the worker
does not handle itself is posted as `WorkerError` to the widget that started it, which
may show it in place; the message bubbles on to the app, which shows it in the banner.
Anything else is a bug: it propagates to Textual, which hands it to
`MemlabApp._handle_exception` (one line, exit status 1, no traceback on the terminal).
"""

from __future__ import annotations

import functools
from typing import Callable

from textual import work
from textual.dom import DOMNode

from memlab.errors import MemlabError
from memlab.tui.messages import WorkerError


def background(*, group: str = "default", exclusive: bool = False) -> Callable:
    """Decorate a method of a widget, screen or app to run it in a thread worker."""

    def decorate(method: Callable) -> Callable:
        @functools.wraps(method)
        def guarded(node: DOMNode, *args, **kwargs):
            try:
                return method(node, *args, **kwargs)
            except MemlabError as err:
                pid = getattr(getattr(node.app, "source", None), "pid", None)
                node.post_message(WorkerError(pid, err))
                return None

        return work(thread=True, group=group, exclusive=exclusive)(guarded)

    return decorate
