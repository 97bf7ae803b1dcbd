"""The shipped lessons cover the course: every section of the article (docs/article.md)
and every claim listed there as wrong or loose, each with a learning goal, under
5 minutes, and a quiz."""

from __future__ import annotations

from memlab.lessons.engine import discover
from memlab.lessons.lessonfile import CONTENT_DIR


def test_shipped_lessons_load_and_cover_the_course():
    cat = discover()
    assert cat.errors == []
    ids = [lesson.id for lesson in cat.lessons]
    assert len(ids) >= 9, ids
    for lesson in cat.lessons:
        assert lesson.goal and 1 <= lesson.minutes <= 5 and lesson.quizzes
    # every section of the article (docs/article.md, 1-12) is covered by some lesson
    covered = {c for lesson in cat.lessons for c in lesson.chapters}
    assert set(range(1, 13)) <= covered, set(range(1, 13)) - covered


def test_every_wrong_or_loose_claim_is_corrected_by_a_lesson():
    cat = discover()
    corrected = {c for lesson in cat.lessons for c in lesson.corrects}
    assert {"malloc-does-not-read-_end", "the-os-can-change-another-process-env",
            "env-exposed-only-to-ptrace-readers", "env-and-args-are-not-a-segment-of-their-own",
            "whole-volume-dir-is-bind-mounted", "sa-tokens-not-auto-created-since-1.24",
            "hot-reload-waits-for-the-next-sync"} <= corrected


def test_content_dir_is_shipped_inside_the_package():
    assert (CONTENT_DIR / "__init__.py").exists()
    assert len(list(CONTENT_DIR.glob("*.toml"))) >= 9
