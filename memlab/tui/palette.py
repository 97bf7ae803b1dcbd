"""The command palette's (ctrl+p) memlab entries: every view, the app's actions, and
per-variable sample commands while a launched sample has an env block."""

from __future__ import annotations

from typing import Iterable

from textual.app import SystemCommand


def memlab_commands(app) -> Iterable[SystemCommand]:
    """What MemlabApp.get_system_commands adds after textual's own commands."""
    for v in app.views:
        yield SystemCommand(f"View: {v.title}", v.teaches,
                            lambda v=v: app.action_show_view(v.id))
    yield SystemCommand("Launch…", "launch a sample or a program with an env you choose",
                        app.action_launch_panel)
    yield SystemCommand("Attach…", "pick a running process", app.action_pick_process)
    yield SystemCommand("Refresh now", "read the process again", app.action_refresh)
    yield SystemCommand("Toggle live refresh", "re-read every second",
                        app.action_toggle_live)
    yield SystemCommand("Reveal/mask secrets", "show secret-looking values",
                        app.action_toggle_reveal)
    yield SystemCommand("Screenshot (SVG)", "save the screen as SVG", app.action_save_svg)
    # only to a process that understands them (a bundled sample memlab launched)
    if app.source.speaks_commands() and app.snapshot is not None and app.snapshot.env:
        from memlab.render.safe import printable

        for e in app.snapshot.env.entries:
            shown = printable(e.name)  # the name as the process has it, escaped
            for verb in ("unsetenv", "scrub", "copy"):
                yield SystemCommand(f"{verb} {shown}", f"send `{verb} {shown}` to the "
                                    "sample", lambda c=f"{verb} {e.name}":
                                    app.run_command(c))
        yield SystemCommand("malloc 1048576", "allocate 1 MiB in the sample",
                            lambda: app.run_command("malloc 1048576"))
