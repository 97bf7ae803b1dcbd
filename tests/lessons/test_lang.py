"""Lessons in Korean: `--lang ko` (default from LC_ALL / LC_MESSAGES / LANG) runs the
Korean file of a lesson where there is one, with the same steps, actions, checks and
quizzes as the English one (only the words differ), and it passes `--check`."""

from __future__ import annotations

import re

import pytest

from memlab.lessons.lessonfile import CONTENT_DIR, default_lang, discover, load_lesson
from tests.lessons.test_cli import run_cli, summary

TRANSLATED = sorted((CONTENT_DIR / "ko").glob("*.toml"))
ENGLISH = sorted(CONTENT_DIR.glob("*.toml"))
HANGUL = re.compile(r"[\uac00-\ud7a3]")


def shape(lesson):
    """Everything but the words: what runs, what is checked, how quizzes are judged."""
    def check(c):
        return (c.name, c.params)

    def quiz(q):
        return (len(q.choices), q.choices.index(q.answer) if q.choices else q.answer,
                q.answer_from, check(q.check) if q.check else None,
                tuple((q.choices.index(ch), check(c)) for ch, c in q.when))
    return (lesson.id, lesson.order, lesson.minutes, lesson.chapters, lesson.corrects,
            tuple((tuple((a.do, a.params, a.save) for a in s.actions),
                   tuple(check(c) for c in s.checks), s.needs_root, s.highlight,
                   quiz(s.predict) if s.predict else None,
                   (s.try_it.command, s.try_it.answer_from) if s.try_it else None)
                  for s in lesson.steps),
            tuple(quiz(q) for q in lesson.quizzes))


def untwinned(content_dir, lang="ko"):
    """The lesson files of content_dir without a twin in content_dir/lang, and the other
    way round: a translation whose English lesson is gone (or was renamed)."""
    en = {p.name for p in content_dir.glob("*.toml")}
    tr = {p.name for p in (content_dir / lang).glob("*.toml")}
    return sorted(f"{n}: no {lang}/{n}" for n in en - tr) + \
        sorted(f"{lang}/{n}: no English {n}" for n in tr - en)


def test_every_english_lesson_has_a_korean_twin_and_back():
    assert ENGLISH and untwinned(CONTENT_DIR) == []


def test_a_missing_twin_is_named(tmp_path):
    (tmp_path / "ko").mkdir()
    for name in ("01-a.toml", "02-b.toml"):
        (tmp_path / name).write_text("")
    (tmp_path / "ko" / "01-a.toml").write_text("")
    (tmp_path / "ko" / "09-gone.toml").write_text("")
    assert untwinned(tmp_path) == ["02-b.toml: no ko/02-b.toml", "ko/09-gone.toml: no English 09-gone.toml"]


@pytest.mark.parametrize("path", ENGLISH, ids=lambda p: p.stem)
def test_english_lesson_and_its_korean_twin_have_one_structure(path):
    twin = CONTENT_DIR / "ko" / path.name
    assert twin.is_file(), f"{path.name} has no Korean twin: memlab/lessons/content/ko/{path.name}"
    assert shape(load_lesson(twin)) == shape(load_lesson(path)), path.name


def test_there_is_a_korean_lesson():
    assert TRANSLATED, "no lesson in memlab/lessons/content/ko"


@pytest.mark.parametrize("path", TRANSLATED, ids=lambda p: p.stem)
def test_korean_lesson_has_the_english_structure_in_korean_words(path):
    ko, en = load_lesson(path), load_lesson(CONTENT_DIR / path.name)
    assert shape(ko) == shape(en)
    texts = [ko.title, ko.goal, ko.summary] + [s.title for s in ko.steps] + \
        [s.text for s in ko.steps] + [q.question for q in ko.quizzes] + \
        [c.say for s in ko.steps for c in s.checks]
    assert all(HANGUL.search(t) for t in texts if t), [t for t in texts if not HANGUL.search(t)]
    assert ko.trusted  # memlab's own: no yes needed


@pytest.mark.parametrize("path", TRANSLATED, ids=lambda p: p.stem)
def test_korean_lesson_passes_check(path):
    rc, out, _ = run_cli("lesson", "run", path.stem.split("-", 1)[1], "--lang", "ko", "--check")
    assert rc == 0 and summary(out)[1] == 0, out
    assert HANGUL.search(out) and "hunter2" not in out
    # memlab's own words around the lesson are Korean too (memlab.lessons.words)
    from tests.lessons.test_words import english_phrases

    assert not [p for p in english_phrases() if p in out], out[-3000:]
    assert "measured:" not in out and "측정값:" in out


def test_the_language_comes_from_the_locale():
    assert default_lang({"LANG": "ko_KR.UTF-8"}) == "ko"
    assert default_lang({"LC_ALL": "C.UTF-8", "LANG": "ko_KR.UTF-8"}) == "en"
    assert default_lang({}) == "en"
    ko = discover(lang="ko")
    assert ko.get("where-env-lives").path.parent.name == "ko"
    assert discover().get("where-env-lives").path.parent == CONTENT_DIR
    assert len(ko.lessons) == len(discover().lessons)
