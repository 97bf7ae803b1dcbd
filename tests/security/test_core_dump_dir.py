"""`memlab exposure core` writes a core full of secrets: only into a directory memlab
made and holds (its state directory, memlab.statedir), never through a planted link."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.helpers import REPO


def exposure_core(runtime) -> subprocess.CompletedProcess:
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime)}
    return subprocess.run([sys.executable, "-m", "memlab", "exposure", "core", "--json"],
                          cwd=REPO, env=env, text=True, capture_output=True, timeout=120)


def test_planted_cores_symlink_is_refused_and_nothing_is_written_there(tmp_path):
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    (runtime / "memlab").mkdir(mode=0o700)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.symlink(elsewhere, runtime / "memlab" / "cores")
    p = exposure_core(runtime)
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert len(p.stderr.strip().splitlines()) == 1 and "Traceback" not in p.stderr
    assert os.listdir(elsewhere) == []


def test_core_lands_in_a_private_run_directory_and_is_removed(tmp_path):
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    p = exposure_core(runtime)
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    path = d["core"]["path"]
    cores = runtime / "memlab" / "cores"
    assert os.path.dirname(os.path.dirname(path)) == str(cores)
    assert (os.stat(cores).st_mode & 0o777) == 0o700
    assert os.listdir(cores) == []  # the run directory and its core are gone
