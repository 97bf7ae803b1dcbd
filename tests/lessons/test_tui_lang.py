"""The TUI's Lessons view speaks the lessons' language: `memlab tui --lang ko`, or the
locale (LC_ALL / LC_MESSAGES / LANG) when no --lang is given, lists the Korean files."""

from __future__ import annotations

import asyncio
import re

import pytest
from textual.widgets import DataTable

from memlab.cli import main
from memlab.lessons.lessonfile import CONTENT_DIR
from memlab.tui.app import MemlabApp
from memlab.tui.source import LaunchRequest, LiveSource, demo_env
from tests.tui.conftest import settle

HANGUL = re.compile(r"[\uac00-\ud7a3]")
TRANSLATED = sorted(p.stem.split("-", 1)[1] for p in (CONTENT_DIR / "ko").glob("*.toml"))


async def lessons_view(lang: str | None) -> dict[str, tuple[str, str]]:
    """lesson id -> (the title the Lessons view shows, the folder its file came from)."""
    source = LiveSource()
    source.launch(LaunchRequest("sleeper", tuple(demo_env()), no_aslr=True))
    app = MemlabApp(source, lang=lang)
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            await settle(app, pilot)
            await pilot.press("g")  # the Lessons view
            await settle(app, pilot)
            table = app.query_one("#lessons-table", DataTable)
            view = table.parent
            shown = {}
            for lesson in view.catalog.lessons:
                row = table.get_row(lesson.id)
                shown[lesson.id] = (row[1].plain, lesson.path.parent.name)
            return shown
    finally:
        source.stop()


@pytest.mark.parametrize("lang, env", [("ko", {"LANG": "C.UTF-8"}),
                                       (None, {"LANG": "ko_KR.UTF-8"})],
                         ids=["--lang ko", "LANG=ko_KR"])
def test_the_lessons_view_shows_korean_lessons(lang, env, monkeypatch):
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    shown = asyncio.run(lessons_view(lang))
    assert TRANSLATED and set(TRANSLATED) <= set(shown)
    for lesson_id in TRANSLATED:
        title, folder = shown[lesson_id]
        assert folder == "ko" and HANGUL.search(title), (lesson_id, title)


def test_lang_en_overrides_a_korean_locale(monkeypatch):
    monkeypatch.setenv("LANG", "ko_KR.UTF-8")
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.delenv("LC_MESSAGES", raising=False)
    shown = asyncio.run(lessons_view("en"))
    assert all(folder != "ko" and not HANGUL.search(title)
               for title, folder in shown.values()), shown


def test_tui_rejects_an_unknown_language(capsys):
    with pytest.raises(SystemExit) as exited:  # argparse's usage error: status 2, one line
        main(["tui", "--lang", "xx"])
    err = capsys.readouterr().err
    assert exited.value.code == 2 and "--lang" in err and len(err.strip().splitlines()) == 1, err


async def korean_pane() -> dict[str, str]:
    """What the Lessons view and the where-env-lives pane show at 120x40 with --lang ko:
    the view's help and headings, the pane's head, a run step, its try-it."""
    from textual.widgets import Static

    from memlab.lessons.words import word

    source = LiveSource()
    source.launch(LaunchRequest("sleeper", tuple(demo_env()), no_aslr=True))
    app = MemlabApp(source, lang="ko")
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(app, pilot)
            await pilot.press("g")
            await settle(app, pilot)
            view = app.query_one("#view-lessons")
            table = app.query_one("#lessons-table", DataTable)
            seen = {"help": view.query_one("#lessons-help", Static).render().plain,
                    "columns": " ".join(str(c.label) for c in table.columns.values())}
            pane = view.open_lesson("where-env-lives")
            await settle(app, pilot)
            seen["head"] = pane.query_one("#lesson-head").render().plain
            seen["step"] = pane.query_one("#lesson-step").render().plain
            await pilot.press("enter")  # step 1 runs
            await settle(app, pilot)
            await pilot.press("n", "enter")  # step 2 runs, then its try-it asks
            await settle(app, pilot)
            seen["verdicts"] = pane.query_one("#lesson-verdicts").render().plain
            seen["placeholder"] = pane.query_one("#lesson-answer").placeholder
            assert seen["placeholder"] == word("ko", "tui_try_placeholder")
            return seen
    finally:
        source.stop()


def test_the_korean_lesson_pane_speaks_korean_around_the_lesson():
    from memlab.lessons.words import WORDS

    seen = asyncio.run(korean_pane())
    ko = WORDS["ko"]
    assert seen["help"] == ko["tui_help"]
    assert ko["tui_col_lesson"] in seen["columns"] and "lesson" not in seen["columns"]
    assert "목표: " in seen["head"] and "1/" in seen["head"] and "단계" in seen["head"]
    assert ko["tui_enter_runs"] in seen["step"]
    assert ko["tui_try_head"] in seen["verdicts"] and ko["tui_try_hint"] in seen["verdicts"]
    everything = "\n".join(seen.values())
    for english in ("Goal:", "step 1/", "Try it yourself", "[enter] runs", "min)",
                    "type what it showed", "measured:"):
        assert english not in everything, (english, everything)
    assert HANGUL.search(seen["verdicts"]) and "hunter2" not in everything
