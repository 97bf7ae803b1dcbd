"""Regenerate the README's pictures: `.venv/bin/python docs/images/make_images.py`.

tui.svg is a Textual screenshot of `memlab tui` on the sleeper (demo env, no ASLR, 120x40);
layout.svg is `memlab layout PID --svg` of a sleeper started the same way.  The samples
are copied to /tmp/memlab/c_samples first, so the pictures show that path rather than
wherever this clone lives.  Needs `make setup samples`.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from memlab.safefs import open_trusted  # noqa: E402  (after the path: run as a script)
OUT = ROOT / "docs" / "images"
SAMPLES = Path("/tmp/memlab/c_samples")


def copy_samples() -> None:
    # /tmp is shared: /tmp/memlab must be ours, not writable by others and not a link
    # (memlab.safefs), or another user could point root's rmtree and copy elsewhere.
    with open_trusted(SAMPLES.parent, create=True, mode=0o755) as d:
        d.rmtree(SAMPLES.name)
    shutil.copytree(ROOT / "c_samples", SAMPLES)
    os.environ["MEMLAB_SAMPLES_DIR"] = str(SAMPLES)


async def tui_screenshot() -> None:
    sys.path.insert(0, str(ROOT))
    from memlab.tui.app import MemlabApp
    from memlab.tui.source import LaunchRequest, LiveSource, demo_env
    from tests.tui.conftest import settle

    source = LiveSource()
    source.launch(LaunchRequest("sleeper", tuple(demo_env()), no_aslr=True))
    try:
        app = MemlabApp(source)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(app, pilot)
            app.save_screenshot(filename="tui.svg", path=str(OUT))
    finally:
        source.stop()


def layout_svg() -> None:
    env = {"DB_PASSWORD": "hunter2", "LOG_LEVEL": "info", "PATH": "/usr/bin:/bin",
           "HOME": "/root", "LANG": "C.UTF-8"}
    sleeper = subprocess.Popen(["setarch", "-R", str(SAMPLES / "bin" / "sleeper")], env=env,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        sleeper.stdout.readline()  # its self-report: it is running
        pid = subprocess.run(["pgrep", "-P", str(sleeper.pid)], capture_output=True,
                             text=True).stdout.split() or [str(sleeper.pid)]
        memlab = Path(sys.executable).parent / "memlab"
        subprocess.run([str(memlab), "layout", pid[0], "--svg", str(OUT / "layout.svg")],
                       check=True, stdout=subprocess.DEVNULL)
    finally:
        sleeper.kill()
        sleeper.wait()


if __name__ == "__main__":
    copy_samples()
    asyncio.run(tui_screenshot())
    layout_svg()
    print(f"wrote {OUT / 'tui.svg'} and {OUT / 'layout.svg'}")
