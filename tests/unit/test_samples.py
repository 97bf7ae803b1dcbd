"""memlab.samples: listing the bundled samples and resolving launch targets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from memlab import samples
from memlab.errors import UsageError
from tests.helpers import REPO


def test_samples_dir_is_the_repo_c_samples(monkeypatch):
    monkeypatch.delenv(samples.SAMPLES_ENV, raising=False)
    assert samples.samples_dir() == REPO / "c_samples"


@pytest.mark.usefixtures("samples_built")
def test_default_sample_is_listed_in_all_four_variants_with_its_description():
    found = {s.name: s for s in samples.list_samples()}
    assert samples.DEFAULT_SAMPLE == "sleeper"
    for name in ("sleeper", "sleeper-nopie", "sleeper-static", "sleeper-static-pie"):
        s = found[name]
        assert s.source == REPO / "c_samples" / "sleeper.c"
        assert s.path == REPO / "c_samples" / "bin" / name
        assert s.built  # the samples_built fixture ran `make samples`
        assert s.description.startswith("sleeper: a long-running process")
        assert s.to_dict()["built"] is True


def test_every_c_file_has_a_header_comment():
    for s in samples.list_samples():
        assert s.description, f"{s.source} has no leading /* ... */ comment"


def _fake_tree(tmp_path: Path) -> Path:
    (tmp_path / "bin").mkdir()
    (tmp_path / "demo.c").write_text("/*\n * demo: shows a thing.\n * more\n */\nint main;\n")
    (tmp_path / "nocomment.c").write_text("int main(void) { return 0; }\n")
    built = tmp_path / "bin" / "demo"
    built.write_bytes(b"#!/bin/sh\n")
    built.chmod(0o755)
    return tmp_path


def test_override_dir_description_and_built_flag(tmp_path, monkeypatch):
    monkeypatch.setenv(samples.SAMPLES_ENV, str(_fake_tree(tmp_path)))
    got = {s.name: s for s in samples.list_samples()}
    assert set(got) == {"demo", "nocomment"}
    assert got["demo"].description == "demo: shows a thing."
    assert got["demo"].built and not got["nocomment"].built
    assert got["nocomment"].description == ""
    assert samples.resolve_target("demo") == str(tmp_path / "bin" / "demo")
    assert samples.is_sample_path(str(tmp_path / "bin" / "demo"))
    assert not samples.is_sample_path("/usr/bin/sleep")


def test_unbuilt_sample_says_make_samples(tmp_path, monkeypatch):
    monkeypatch.setenv(samples.SAMPLES_ENV, str(_fake_tree(tmp_path)))
    with pytest.raises(UsageError, match="run `make samples`") as info:
        samples.resolve_target("nocomment")
    assert info.value.exit_code == 2 and "\n" not in str(info.value)


@pytest.mark.usefixtures("samples_built")
def test_resolve_sample_name_path_and_PATH():
    assert samples.resolve_target("sleeper") == str(REPO / "c_samples" / "bin" / "sleeper")
    assert samples.resolve_target("/usr/bin/sleep") == "/usr/bin/sleep"
    found = samples.resolve_target("sleep")  # $PATH lookup, like execvp
    assert os.path.basename(found) == "sleep" and os.path.isabs(found)


def test_relative_path_stays_relative(tmp_path, monkeypatch):
    prog = tmp_path / "prog"
    prog.write_bytes(b"#!/bin/sh\n")
    prog.chmod(0o755)
    monkeypatch.chdir(tmp_path)
    assert samples.resolve_target("./prog") == "./prog"


@pytest.mark.parametrize("target,match", [
    ("", "empty"),
    ("/nonexistent/x", "no such file"),
    ("/", "is a directory"),
    ("/dev/null", "not a regular file"),
    ("/etc/passwd", "not executable"),
    ("surely-not-a-command-xyz", "neither a bundled sample"),
])
def test_bad_targets(target, match):
    with pytest.raises(UsageError, match=match):
        samples.resolve_target(target)


def test_the_four_sleeper_builds_say_how_they_differ():
    """`memlab samples` printed the same description four times."""
    got = {s.name: s.description for s in samples.list_samples()
           if s.name.startswith("sleeper")}
    assert len(set(got.values())) == 4
    assert "PIE" in got["sleeper"] and "-no-pie" in got["sleeper-nopie"]
    assert "-static:" in got["sleeper-static"] and "below the binary" in got["sleeper-static-pie"]
