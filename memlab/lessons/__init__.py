"""Guided lessons: TOML files (content/*.toml, format in FORMAT.md) whose steps run
memlab's own actions and check what it measured.  Front ends use engine.LessonRunner."""
