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
