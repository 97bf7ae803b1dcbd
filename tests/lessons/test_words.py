"""memlab's own words around a lesson (memlab.lessons.words): every language has the
same keys, the Korean ones are Korean, and a Korean lesson's runner speaks Korean all
the way through -- except the PASS/FAIL/SKIP tags and the summary line, which CI reads."""

from __future__ import annotations

import io
import re
import string
import sys

import pytest

from memlab.lessons.words import TABLES, WORDS
from tests.lessons.test_cli import run_cli, summary

HANGUL = re.compile(r"[\uac00-\ud7a3]")


def _leaves(tree, path=()):
    """(path, text) for every string in a nested table."""
    if isinstance(tree, dict):
        for k, v in tree.items():
            yield from _leaves(v, path + (k,))
    else:
        yield path, tree


def _fragments(template: str) -> list[str]:
    """The literal text of a format template, without its {fields}."""
    return [lit.strip() for lit, *_ in string.Formatter().parse(template) if lit.strip()]


def english_phrases(min_len: int = 12) -> set[str]:
    """memlab's English words (literal parts of the tables) that Korean output must not
    show: longer than min_len and not the same in Korean (a path like /proc/PID/maps)."""
    ko = {f for t in TABLES.values() for _, v in _leaves(t["ko"]) for f in _fragments(v)}
    return {f for t in TABLES.values() for _, v in _leaves(t["en"]) for f in _fragments(v)
            if len(f) > min_len and f not in ko}


@pytest.mark.parametrize("name", sorted(TABLES))
def test_every_language_has_the_same_keys_and_fields(name):
    tables = TABLES[name]
    en = dict(_leaves(tables["en"]))
    for lang, t in tables.items():
        other = dict(_leaves(t))
        assert set(other) == set(en), (lang, set(other) ^ set(en))
        for key, text in other.items():  # the same {fields}: a lookup never misses one
            fields = {f for _, f, *_ in string.Formatter().parse(text) if f}
            assert fields == {f for _, f, *_ in string.Formatter().parse(en[key]) if f}, key


@pytest.mark.parametrize("name", sorted(TABLES))
def test_korean_words_are_korean_or_deliberately_the_same(name):
    en, ko = dict(_leaves(TABLES[name]["en"])), dict(_leaves(TABLES[name]["ko"]))
    bad = [(k, v) for k, v in ko.items() if not HANGUL.search(v) and v != en[k]]
    assert not bad, bad
    # and the bulk of them really is Korean, not the English left in place
    assert sum(bool(HANGUL.search(v)) for v in ko.values()) >= len(ko) // 3


def test_the_english_phrases_the_korean_check_must_not_show_are_many():
    phrases = english_phrases()
    assert len(phrases) > 50 and "the env block in memory" in phrases
    assert "/proc/{pid}/maps" not in phrases


class _Keyboard(io.StringIO):
    """A learner at a terminal: stdin is a tty that types LINES."""

    def isatty(self) -> bool:
        return True


def test_a_korean_lesson_run_speaks_korean_around_the_lesson(monkeypatch):
    # every prediction/quiz answered "a", try-its answered "?", then enter through
    monkeypatch.setattr(sys, "stdin", _Keyboard("a\na\n?\n?\n" * 3 + "\n" * 40 + "q\n" * 5))
    monkeypatch.setenv("NO_COLOR", "1")
    rc, out, err = run_cli("lesson", "run", "where-env-lives", "--lang", "ko")
    ko = WORDS["ko"]
    for key in ("goal", "nav_prompt", "quiz_head", "your_answer", "evidence", "try_head",
                "try_prompt", "memlab_ran", "prediction_vs"):
        shown = ko[key].split("{")[0].strip()
        assert shown in out, (key, shown, out[-3000:])
    assert "── 1/" in out and "단계:" in out
    for english in ("── Step", "Goal:", "your answer >", "── Quiz", "evidence:", "q quit",
                    "Try it yourself", "what did it show", "memlab ran it", "measured:"):
        assert english not in out, english
    assert "hunter2" not in out and not err


def test_lesson_list_in_korean_keeps_ids_and_numbers():
    rc, out, _ = run_cli("lesson", "list", "--lang", "ko")
    assert rc == 0
    assert "[준비됨]" in out or "[실행 불가]" in out
    assert "목표:" in out and "goal:" not in out and "[ready]" not in out
    assert re.search(r"^ 3\. where-env-lives\s", out, re.M)
    rc, en, _ = run_cli("lesson", "list", "--lang", "en")
    assert "goal:" in en and "[ready]" in en and "목표" not in en


def test_korean_check_keeps_the_tags_and_summary_english():
    rc, out, _ = run_cli("lesson", "run", "where-env-lives", "--lang", "ko", "--check")
    assert rc == 0 and summary(out)[1] == 0
    assert re.search(r"^PASS  where-env-lives step 1: ", out, re.M)
    assert "측정값:" in out and "measured:" not in out
