"""Hostile files given to memlab: a manifest, an --env-file, a lesson file.

Each one is refused with one line on stderr and exit 2 (usage), never a traceback, an
"internal error" or a hang, and without memlab growing past 1 GiB: memlab runs in a
subprocess with RLIMIT_AS at 1 GiB (a regression fails with MemoryError instead of
eating the machine) and a timeout.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys

import pytest

from memlab.inputfile import ENV_FILE, LESSON, MANIFEST
from tests.helpers import REPO

MEMORY_LIMIT = 1 << 30


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def run_memlab(*argv: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "memlab", *argv], cwd=REPO, text=True,
                          capture_output=True, timeout=timeout, preexec_fn=_limit_memory,
                          stdin=subprocess.DEVNULL,
                          env={**os.environ, "NO_COLOR": "1", "MEMLAB_DEBUG": ""})


def assert_refused(proc: subprocess.CompletedProcess, *words: str) -> str:
    err = proc.stderr.strip()
    assert proc.returncode == 2, (proc.returncode, proc.stdout[-2000:], err[-2000:])
    assert len(err.splitlines()) == 1, err[-2000:]
    assert "Traceback" not in err and "internal error" not in err, err
    for word in words:
        assert word in err, err
    return err


# --- the hostile files ----------------------------------------------------------------

def billion_laughs(levels: int = 9, fan: int = 10) -> str:
    lines = [f'l0: &l0 [{", ".join(["lol"] * fan)}]']
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * fan)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


YAML_ATTACKS = {
    "billion-laughs": (billion_laughs(), "excessive aliasing"),
    # merge keys (<<) copy a mapping's pairs: a chain of them doubles at each level
    "merge-key-bomb": ("a0: &a0 {k0: 1}\n" + "".join(
        f"a{i}: &a{i} {{<<: *a{i - 1}, p{i}: *a{i - 1}, q{i}: *a{i - 1}}}\n"
        for i in range(1, 40)), "excessive aliasing"),
    "anchor-holds-itself": ("a: &a [1, *a]\n", "deep"),
    "deep-flow": ("x: " + "[" * 5000 + "]" * 5000 + "\n", "nested more than 64"),
    "deep-block": ("".join("  " * i + f"k{i}:\n" for i in range(200)) + "  " * 200 + "v\n",
                   "nested more than 64"),
    "deep-through-aliases": ("a0: &a0 [x]\n" + "".join(
        f"a{i}: &a{i} [*a{i - 1}]\n" for i in range(1, 200)), "nested more than 64"),
    "nul-byte": ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a\0b}\n", ":3: "),
    "escape-byte": ("apiVersion: v1\x1b]0;pwned\x07\n", ":1: "),
    "sequence-as-key": ("? [a, b]\n: c\n", "map key"),
    "too-many-nodes": ("x: [" + ",".join(["1"] * 120_000) + "]\n", "YAML nodes"),
}


@pytest.mark.parametrize("name", sorted(YAML_ATTACKS))
def test_hostile_yaml_manifest(tmp_path, name):
    text, word = YAML_ATTACKS[name]
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    err = assert_refused(run_memlab("k8s", "env", str(path)), word)
    assert str(path) in err
    assert "\x1b" not in err and "\0" not in err


def test_hostile_yaml_in_validate_and_inline(tmp_path):
    """`k8s validate` reports the file on stdout (one verdict per file) and exits 2; the
    library refuses YAML text given inline the same way (a lesson's manifest = '''...''')."""
    path = tmp_path / "bomb.yaml"
    path.write_text(billion_laughs())
    proc = run_memlab("k8s", "validate", str(path))
    assert proc.returncode == 2 and "excessive aliasing" in proc.stdout, proc
    assert "Traceback" not in proc.stderr + proc.stdout
    from memlab.k8s.manifests import ManifestError, load_text

    with pytest.raises(ManifestError, match="excessive aliasing"):
        load_text(billion_laughs())


def test_aliases_within_bounds_still_load():
    """A manifest that shares a block through an anchor (merge keys, as people write them)
    still loads: the bound is on expansion, not on using aliases."""
    from memlab.k8s.manifests import load_text

    text = """\
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers:
  - &c {name: a, image: busybox, env: [{name: A, value: "1"}]}
  - <<: *c
    name: b
"""
    (pod,) = load_text(text)
    assert [c["name"] for c in pod.containers] == ["a", "b"]


TOML_ATTACKS = {
    "deep-arrays": "x = " + "[" * 5000 + "]" * 5000 + "\n",
    "deep-inline-tables": "x = " + "{a = " * 5000 + "1" + "}" * 5000 + "\n",
    "deep-dotted-keys": ".".join(["k"] * 5000) + " = 1\n",
    "deep-but-parseable": "x = " + "[" * 100 + "]" * 100 + "\n",
}


@pytest.mark.parametrize("name", sorted(TOML_ATTACKS))
def test_deeply_nested_lesson(tmp_path, name):
    path = tmp_path / f"{name}.toml"
    path.write_text(TOML_ATTACKS[name])
    err = assert_refused(run_memlab("lesson", "run", str(path), "--check"),
                         "nested more than 64")
    assert str(path) in err


# --- not a regular file, or too big: every kind of input file ------------------------

KINDS = {  # how each kind of file is given to memlab, and its size limit
    "manifest": (lambda f: ("k8s", "env", f), MANIFEST.limit),
    "env file": (lambda f: ("launch", "--env-file", f, "-i", "/bin/true"), ENV_FILE.limit),
    "lesson file": (lambda f: ("lesson", "run", f, "--check"), LESSON.limit),
}


def _fifo(tmp_path):
    path = tmp_path / "fifo.toml"
    os.mkfifo(path)
    return str(path), "FIFO"


def _loop(tmp_path):
    (tmp_path / "loop-a.toml").symlink_to(tmp_path / "loop-b.toml")
    (tmp_path / "loop-b.toml").symlink_to(tmp_path / "loop-a.toml")
    return str(tmp_path / "loop-a.toml"), "symlink loop"


def _directory(tmp_path):
    path = tmp_path / "dir.toml"
    path.mkdir()
    return str(path), "directory"


def _huge(tmp_path, limit):
    path = tmp_path / "huge.toml"
    with open(path, "wb") as f:  # sparse: no disk used, st_size says it all
        f.truncate(limit + 1)
    return str(path), "too big"


SPECIAL = {
    "dev-zero": lambda tmp_path, limit: ("/dev/zero", "character device"),
    "fifo": lambda tmp_path, limit: _fifo(tmp_path),
    "symlink-loop": lambda tmp_path, limit: _loop(tmp_path),
    "directory": lambda tmp_path, limit: _directory(tmp_path),
    "huge": lambda tmp_path, limit: _huge(tmp_path, limit),
}


@pytest.mark.parametrize("special", sorted(SPECIAL))
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_special_files_refused(tmp_path, kind, special):
    argv, limit = KINDS[kind]
    path, word = SPECIAL[special](tmp_path, limit)
    err = assert_refused(run_memlab(*argv(path)), word)
    assert path in err


def test_a_symlink_to_a_manifest_is_fine(tmp_path):
    """Symlinks are followed (only a loop is refused): a user may link to a manifest."""
    from memlab.k8s.manifests import load_file

    real = tmp_path / "real.yaml"
    real.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\n")
    (tmp_path / "link.yaml").symlink_to(real)
    (cm,) = load_file(tmp_path / "link.yaml")
    assert cm.data == {"a": "b"}


def test_read_input_stops_at_the_limit_when_the_size_lies(tmp_path):
    """A file whose st_size says less than it holds (/proc, /sys files say 0) is still
    read no further than the limit."""
    from memlab.inputfile import InputFileError, InputKind, read_input

    with pytest.raises(InputFileError, match="too big"):
        read_input("/proc/self/maps", InputKind("test file", 16))
    assert read_input("/proc/self/comm", InputKind("test file", 4096))


@pytest.mark.parametrize("special", ["dev-zero", "fifo", "huge"])
def test_exposure_secret_file_is_read_bounded(tmp_path, special):
    """`memlab exposure PID --file F`: the `file` channel's observer reads F; /dev/zero, a
    FIFO or a huge file becomes a refused cell, not a hang or an observer eating memory."""
    path, word = SPECIAL[special](tmp_path, 1 << 20)
    proc = run_memlab("exposure", str(os.getpid()), "--file", path, "--json", timeout=60)
    assert proc.returncode == 0, proc
    import json

    cells = [c for row in json.loads(proc.stdout)["rows"] for c in row.get("cells", [])
             if c.get("channel") == "file"]
    # another uid's observer may not even reach the file (EACCES): refused as well
    assert cells and all(not c["ok"] for c in cells), cells
    assert any(word in c["note"] for c in cells), cells
