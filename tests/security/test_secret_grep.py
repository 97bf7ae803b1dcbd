"""Planted secrets never leave memlab unmasked: every read command's output is grepped.

A sleeper runs with a secret in each form memlab recognises (a secret-looking name,
MYSQL_PWD, PGPASSWORD, URLs with a password, argv `--password=x`, `--token x`) and a heap
copy of one of them.  Every read command of the CLI (text, JSON, SVG) and every TUI
view must show none of the secrets, nor any 6 characters of one; with --reveal (or the
TUI's `v`) they do appear, so the grep can fail.
"""

from __future__ import annotations

import json
import random
import string

import pytest

from memlab.cli import main
from memlab.launch import launch
from tests.conftest import requires_root
from tests.helpers import sample

# Letters that are no hex digit, in no English word: a 6-letter piece of a secret cannot
# turn up by chance in an address or a path.
_ALPHABET = "".join(c for c in string.ascii_letters if c.lower() not in "abcdefilou")


def _secret(rng: random.Random) -> str:
    return "".join(rng.choice(_ALPHABET) for _ in range(20))


def leaks(out: str, secrets: list[str]) -> list[str]:
    """The 6-character pieces of the secrets that appear in out."""
    return sorted({s[i:i + 6] for s in secrets for i in range(len(s) - 5)
                   if s[i:i + 6] in out})


class Planted:
    def __init__(self) -> None:
        rng = random.Random()
        self.db, self.mysql, self.pg, self.url, self.redis, self.flag, self.token, \
            self.argv_url = (_secret(rng) for _ in range(8))
        self.env = [
            f"DB_PASSWORD={self.db}".encode(),
            b"NEXT_VAR=plain",
            f"MYSQL_PWD={self.mysql}".encode(),
            f"PGPASSWORD={self.pg}".encode(),
            f"DATABASE_URL=postgres://app:{self.url}@db.example:5432/app".encode(),
            f"REDIS_URL=redis://:{self.redis}@cache:6379/0".encode(),
        ]
        self.args = [f"--password={self.flag}", "--token", self.token,
                     f"mysql://root:{self.argv_url}@db/app"]

    @property
    def all(self) -> list[str]:
        return [self.db, self.mysql, self.pg, self.url, self.redis, self.flag, self.token,
                self.argv_url]


@pytest.fixture
def victim():
    planted = Planted()
    with launch("sleeper", planted.args, planted.env, hold="ready") as child:
        child.command("copy DB_PASSWORD")  # a heap copy: the value lives twice
        planted.pid = child.pid
        yield planted


def run(capsys, *argv: str) -> str:
    code = main(list(argv))
    out = capsys.readouterr()
    assert code == 0, out.err
    return out.out + out.err


def read_commands(p: Planted, tmp_path) -> list[list[str]]:
    pid = str(p.pid)
    cmds = [["inspect", pid], ["inspect", "--json", pid], ["inspect", "--elf", pid],
            ["env", pid], ["env", "--json", pid], ["stack", pid], ["stack", "--json", pid],
            ["layout", pid], ["layout", "--json", pid],
            ["layout", pid, "--svg", str(tmp_path / "layout.svg")],
            ["elf", pid], ["heap", pid]]
    needles = [p.db, p.db[4:12], "DB_PASSWORD", "NEXT_VAR", "PASSWORD=", p.mysql[:8],
               "MYSQL_PWD", "postgres://", "redis://", "@cache", "--token", "--password",
               p.flag[5:13], p.token[2:9], p.argv_url[:7]]
    for needle in needles:
        cmds += [["search", pid, "--", needle], ["search", "--json", pid, "--", needle]]
    return cmds


def test_no_read_command_prints_a_planted_secret(victim, capsys, tmp_path):
    for argv in read_commands(victim, tmp_path):
        out = run(capsys, *argv)
        if "--svg" in argv:
            out += (tmp_path / "layout.svg").read_text()
        assert not leaks(out, victim.all), (argv, leaks(out, victim.all))


def test_reveal_shows_them(victim, capsys):
    """The grep above can fail: the same commands with --reveal print the secrets."""
    pid = str(victim.pid)
    out = run(capsys, "env", "--reveal", pid) + run(capsys, "stack", "--json", "--reveal", pid)
    for s in victim.all:
        assert s in out
    out = run(capsys, "search", "--reveal", pid, victim.db[:6])
    assert victim.db[6:] in out


@requires_root
def test_exposure_and_audit_print_no_secret(victim, capsys):
    pid = str(victim.pid)
    for argv in (["exposure", pid], ["exposure", "--json", pid], ["audit"],
                 ["audit", "--json"]):
        out = run(capsys, *argv)
        assert not leaks(out, victim.all), (argv, leaks(out, victim.all))


def test_json_masks_urls_but_keeps_where_they_connect(victim, capsys):
    d = json.loads(run(capsys, "env", "--json", str(victim.pid)))
    values = {e["name"]: e["value"] for e in d["env"]["entries"]}
    assert values["DATABASE_URL"] == "postgres://app:***@db.example:5432/app"
    assert values["REDIS_URL"] == "redis://:***@cache:6379/0"
    assert values["MYSQL_PWD"] == values["PGPASSWORD"] == "***"
    assert values["NEXT_VAR"] == "plain"


# --------------------------------------------------------------------------- TUI
def screen_texts_of_every_view(planted: Planted, reveal: bool) -> list[str]:
    """Screen text and SVG export of every TUI view of a live sleeper with planted
    secrets, its heap copy shown in the hex view."""
    import asyncio

    from memlab.tui.app import MemlabApp
    from memlab.tui.source import LaunchRequest, LiveSource
    from memlab.tui.widgets.hexview import HexView
    from tests.tui.conftest import screen_text, settle, started

    source = LiveSource()
    source.launch(LaunchRequest("sleeper", tuple(planted.env), args=tuple(planted.args)))
    copy = source.command("copy DB_PASSWORD")
    out: list[str] = []

    async def drive() -> None:
        app = MemlabApp(source, reveal=reveal)
        async with started(app, (160, 50)) as pilot:
            for spec in app.views:
                await pilot.press(spec.key)
                await settle(app, pilot)
                if spec.id == "hex":  # the heap copy (secret_copies know nothing of it)
                    hexview = app.query_one(HexView)
                    snap = app.snapshot
                    addr = int(copy["address"], 16)
                    hexview.open_region(snap.region_at(addr))
                    hexview.grid.goto(addr)
                    await settle(app, pilot)
                out.append(screen_text(app))
                out.append(app.export_screenshot())

    try:
        asyncio.run(drive())
    finally:
        source.stop()
    return out


def hex_pieces(secret: str) -> list[str]:
    """4 bytes of the secret as the hex column shows them (`53 33 63 72`)."""
    raw = secret.encode()
    return [" ".join(f"{b:02x}" for b in raw[i:i + 4]) for i in range(len(raw) - 3)]


def test_tui_views_show_no_planted_secret():
    planted = Planted()
    masked = screen_texts_of_every_view(planted, reveal=False)
    for text in masked:
        assert not leaks(text, planted.all), leaks(text, planted.all)
        assert not [p for p in hex_pieces(planted.db) if p in text]
    # the hex view's row with the heap copy is on screen: revealed, its bytes show
    revealed = "\n".join(screen_texts_of_every_view(planted, reveal=True))
    assert planted.db[:12] in revealed  # the ASCII column of the hex dump
    assert [p for p in hex_pieces(planted.db) if p in revealed]  # and the hex column


# --------------------------------------------------------------------------- pods
POD = """\
apiVersion: v1
kind: Secret
metadata: {name: app-settings}
stringData:
  greeting: %s
---
apiVersion: v1
kind: Pod
metadata: {name: grep-pod}
spec:
  containers:
  - name: app
    image: busybox
    command: ["%s", "--password=$(FOO)", "$(FOO)"]
    env:
    - name: FOO
      valueFrom:
        secretKeyRef: {name: app-settings, key: greeting}
    - name: PLAIN
      value: visible-value
"""


def test_pod_secret_with_a_harmless_name_stays_masked(capsys, tmp_path, monkeypatch):
    """`memlab k8s run` suggests `memlab env PID`: a value kubelet took from a Secret is
    masked there even under a name like FOO (memlab knows it from its pod state)."""
    from memlab.k8s import pod as k8spod

    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    value = _secret(random.Random())
    with k8spod.run(POD % (value, sample("sleeper"))) as pr:
        pid = str(pr.pid)
        assert pr.launched.argv[1:] == [f"--password={value}", value]  # kubelet expanded
        outs = [run(capsys, *argv) for argv in (["env", pid], ["env", "--json", pid],
                                                ["inspect", "--json", pid],
                                                ["inspect", pid], ["stack", pid],
                                                ["stack", "--json", pid],
                                                ["search", pid, value[:8]])]
        outs.append(json.dumps(pr.to_dict()) + pr.note)  # what `k8s run` prints
        for out in outs:
            assert not leaks(out, [value]), leaks(out, [value])
        assert "visible-value" in outs[0]
        d = json.loads(outs[1])
        assert {e["name"]: e["value"] for e in d["env"]["entries"]}["FOO"] == "***"
        assert value in run(capsys, "env", "--reveal", pid)
