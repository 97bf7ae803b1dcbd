"""Lesson files: the shipped ones load; every mistake names its file and line; one broken
file never stops the others."""

from __future__ import annotations

import pytest

from memlab.lessons.engine import LessonFileError, discover, load_lesson
from tests.lessons.conftest import GOOD


def line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


def test_good_file_loads(lesson_dir):
    lesson = load_lesson(lesson_dir("tiny.toml", GOOD))
    assert lesson.id == "tiny" and len(lesson.steps) == 1 and lesson.check_count == 2


def test_toml_syntax_error_names_file_and_line(lesson_dir):
    bad = GOOD.replace('minutes = 1', 'minutes = = 1')
    path = lesson_dir("syntax.toml", bad)
    with pytest.raises(LessonFileError) as info:
        load_lesson(path)
    err = info.value
    assert err.line == line_of(bad, "minutes = = 1")
    assert str(err).startswith(f"{path}:{err.line}: TOML syntax error")


@pytest.mark.parametrize("old,new,needle,words", [
    ('do = "launch"', 'do = "lanch"', 'do = "lanch"', "unknown action 'lanch'"),
    ('name = "equals"', 'name = "equal"', 'name = "equal"', "unknown check 'equal'"),
    ('env = ["A=1"]', 'enviro = ["A=1"]', "enviro", "takes no parameter 'enviro'"),
    ('value = "$p.env.entries"', 'value = "$q.env.entries"', "$q.env", "refers to 'q'"),
    ('expected = ["A=1"]', 'expect = ["A=1"]', "expect =", "takes no parameter 'expect'"),
    ('text = "Launch."', 'txt = "Launch."', "txt", "unknown key 'txt'"),
])
def test_semantic_errors_name_file_and_line(lesson_dir, old, new, needle, words):
    bad = GOOD.replace(old, new)
    path = lesson_dir("bad.toml", bad)
    with pytest.raises(LessonFileError) as info:
        load_lesson(path)
    assert words in str(info.value)
    assert info.value.line == line_of(bad, needle), str(info.value)
    assert str(info.value).startswith(f"{path}:{info.value.line}: ")


def test_a_quiz_memlab_cannot_check_is_refused(lesson_dir):
    bad = GOOD.replace('answer_from = "$p.env.count"\n', "")
    with pytest.raises(LessonFileError, match="memlab must be able to check"):
        load_lesson(lesson_dir("q.toml", bad))


def test_broken_files_do_not_stop_the_others(lesson_dir):
    lesson_dir("a-good.toml", GOOD)
    lesson_dir("b-syntax.toml", GOOD.replace("[[step]]", "[[step]"))
    lesson_dir("c-action.toml", GOOD.replace('"launch"', '"explode"'))
    cat = discover([lesson_dir.dir], builtin=False)
    assert [x.id for x in cat.lessons] == ["a-good"]
    assert sorted(e.path.rsplit("/", 1)[1] for e in cat.errors) == ["b-syntax.toml",
                                                                   "c-action.toml"]
    assert all(e.line for e in cat.errors)
