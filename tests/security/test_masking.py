"""Masking that holds: cut windows, heap copies, argv flags, URLs, error messages, pod
state, and terminal safety (exposure output, bidi controls)."""

from __future__ import annotations

import json
import os
import shutil
import threading

import pytest

from memlab.cli import main
from memlab.errors import LaunchError, UsageError
from memlab.exposure.search import render_context, search
from memlab.envbuild import build_env, read_env_file
from memlab.launch import launch
from memlab.render.safe import fit, json_text, printable
from memlab.secrets import display_value, looks_secret_name
from tests.helpers import sample, wait_until

SECRET = b"S3cretPassw0rdValue"


def context(data: bytes, needle: bytes, masker=None, width: int = 24) -> str:
    """The context `memlab search` shows for the first hit of needle in data: width
    bytes either side, masked by what the whole strings around them say."""
    from memlab.secrets import Masker

    masker = masker or Masker()
    at = data.index(needle)
    lo, hi = max(0, at - width), min(len(data), at + len(needle) + width)
    spans = [(max(0, a - lo), min(hi - lo, b - lo)) for a, b in masker.byte_spans(data, lo, hi)]
    return render_context(data[lo:at], needle, data[at + len(needle):hi], False, spans)


# --------------------------------------------------------------------------- windows
def test_a_window_that_cuts_off_the_name_still_masks_the_value():
    block = b"HOME=/root\0" + b"X" * 30 + b"\0DB_PASSWORD=" + SECRET + b"\0NEXT_VAR=plain\0"
    # the window starts inside the value: the 24 bytes before the hit hold no '='
    assert context(block, b"NEXT_VAR", width=10) == "***\\0[***]=plain\\0"
    out = context(block, b"Value", width=8)
    assert out == "[***]\\0NEXT_VA"  # the secret bytes next to the hit join it
    assert "Passw0rd" not in context(block, b"rdVa")


def test_searching_part_of_a_secret_shows_none_of_it():
    block = b"DB_PASSWORD=" + SECRET + b"\0NEXT_VAR=plain\0"
    assert context(block, b"Passw0rd") == "DB_PASSWORD=[***]\\0NEXT_VAR=plain\\0"


@pytest.fixture
def sleeper_with_secret():
    env = [b"DB_PASSWORD=" + SECRET, b"NEXT_VAR=plain", b"LANG=C"]
    with launch("sleeper", [], env, hold="ready") as child:
        copy = child.command("copy DB_PASSWORD")
        yield child, int(copy["address"], 16)


def test_search_contexts_of_a_live_process(sleeper_with_secret):
    child, heap_copy = sleeper_with_secret
    for needle in (b"NEXT_VAR", b"Passw0rd", b"S3cret", b"rdValue", b"_PASSWORD"):
        result = search(child.pid, needle)
        assert result.hits, needle
        for h in result.hits:
            ctx = h.context(needle)
            for i in range(len(SECRET) - 5):
                assert SECRET[i:i + 6].decode() not in ctx, (needle, ctx)
    # the heap copy is found, and revealed its bytes are there
    hits = search(child.pid, b"S3cret").hits
    assert any(h.address == heap_copy for h in hits)
    assert any("Passw0rdValue" in h.context(b"S3cret", reveal=True) for h in hits)


def test_heap_copies_whole_or_in_pieces_are_masked():
    from memlab.secrets import Masker

    masker = Masker.build([b"DB_PASSWORD=" + SECRET])
    heap = b"\x01\x02junk" + SECRET + b"\0\0" + SECRET[3:15] + b"?" + SECRET[:4] + b"\0<"
    out = context(heap, b"<", masker, width=len(heap))
    assert out == "..junk***\\0\\0***?S3cr\\0[***]"  # a piece under 5 bytes says nothing
    # a masker that does not know the value: shown
    assert context(heap, b"junk") == "..[***]S3cretPassw0rdValue\\0\\0ret"


# --------------------------------------------------------------------------- recognising
@pytest.mark.parametrize("name", ["MYSQL_PWD", "PGPASSWORD", "REDIS_PASSWORD", "DB_PWD"])
def test_more_secret_names(name):
    assert looks_secret_name(name)
    assert display_value(name, "x1", reveal=False) == "***"


@pytest.mark.parametrize("name", ["PWD", "OLDPWD", "PATH", "HOME"])
def test_working_directory_is_no_secret(name):
    assert not looks_secret_name(name)


@pytest.mark.parametrize("argv, masked", [
    (["prog", "--password=hunter2"], ["prog", "--password=***"]),
    (["prog", "--db-password=hunter2"], ["prog", "--db-password=***"]),
    (["prog", "--token", "abcd1234"], ["prog", "--token", "***"]),
    (["prog", "--api-key=k123"], ["prog", "--api-key=***"]),
    (["prog", "-passphrase=p9"], ["prog", "-passphrase=***"]),
    (["prog", "--client-secret", "s3"], ["prog", "--client-secret", "***"]),
    (["prog", "--password", "--verbose"], ["prog", "--password", "--verbose"]),
    (["prog", "--password-file=/run/secrets/x"], ["prog", "--password-file=***"]),  # cautious
    (["prog", "--keyboard=us", "--bypass=1"], ["prog", "--keyboard=us", "--bypass=1"]),
    (["env", "DB_PASSWORD=x1", "LANG=C"], ["env", "DB_PASSWORD=***", "LANG=C"]),
    (["psql", "postgres://app:pw12@db:5432/x"], ["psql", "postgres://app:***@db:5432/x"]),
    (["redis-cli", "-u", "redis://:rpw9@cache:6379"], ["redis-cli", "-u",
                                                        "redis://:***@cache:6379"]),
])
def test_argv_secrets(argv, masked):
    from memlab.secrets import Masker

    assert Masker().argv(argv) == masked
    assert Masker(reveal=True).argv(argv) == argv


def test_a_secret_value_in_argv_is_masked_wherever_it_is():
    from memlab.secrets import Masker

    masker = Masker.build([b"DB_PASSWORD=" + SECRET], ["app", "--opt=x:" + SECRET.decode()])
    assert masker.argv(["app", "--opt=x:" + SECRET.decode()]) == ["app", "--opt=x:***"]


def test_urls_keep_all_but_the_password():
    assert display_value("DATABASE_URL", "postgres://u:pw@h/db", False) == "postgres://u:***@h/db"
    assert display_value("CACHE", "redis://:pw@h:6379", False) == "redis://:***@h:6379"
    assert display_value("HOMEPAGE", "https://example.com/a:b", False) == \
        "https://example.com/a:b"
    assert display_value("DB_DSN", "postgres://u:pw@h/db", False) == "***"


def test_lesson_verdicts_mask_argv_and_urls():
    from memlab.lessons.checks import fmt, set_reveal

    set_reveal(False)
    assert fmt(["prog", "--password=hunter2", "postgres://u:pw12@h/db"]) == \
        "[prog, --password=***, postgres://u:***@h/db]"


def test_lesson_and_tui_commands_are_logged_masked():
    from memlab.secrets import mask_command

    assert mask_command("setenv DB_PASSWORD hunter2") == "setenv DB_PASSWORD ***"
    assert mask_command("setenv LOG_LEVEL debug") == "setenv LOG_LEVEL debug"


# --------------------------------------------------------------------------- errors
def test_empty_name_error_does_not_quote_the_value(tmp_path):
    with pytest.raises(UsageError) as err:
        build_env(["=hunter2value"], clear=True)
    assert "hunter2" not in str(err.value) and "12-byte value" in str(err.value)
    env_file = tmp_path / "app.env"
    env_file.write_bytes(b"A=1\n=hunter2value\n")
    with pytest.raises(UsageError) as err:
        read_env_file(str(env_file))
    assert "hunter2" not in str(err.value) and ":2:" in str(err.value)


def test_e2big_names_the_string_never_quotes_it():
    value = "hunter2-" * 20000  # over MAX_ARG_STRLEN
    with pytest.raises(LaunchError) as err:
        launch("sleeper", [], [f"DB_PASSWORD={value}".encode()], hold="ready")
    msg = str(err.value)
    assert "DB_PASSWORD" in msg and "hunter2" not in msg and "MAX_ARG_STRLEN" in msg
    with pytest.raises(LaunchError) as err:
        launch("sleeper", [value], [], hold="ready")
    assert "argv[1]" in str(err.value) and "hunter2" not in str(err.value)


# --------------------------------------------------------------------------- pod state
def _hostile_pod_root(root, pid: int) -> None:
    """Pod directories that are traps: a FIFO, a symlink, a huge file, bad JSON."""
    (root / "fifo").mkdir(parents=True)
    os.mkfifo(root / "fifo" / "pod.json")
    (root / "link").mkdir()
    os.symlink("/proc/self/environ", root / "link" / "pod.json")
    (root / "big").mkdir()
    with open(root / "big" / "pod.json", "wb") as f:
        f.truncate(64 << 20)
    (root / "junk").mkdir()
    (root / "junk" / "pod.json").write_text('{"pid": ' + "[" * 100_000)
    (root / "boolpid").mkdir()
    (root / "boolpid" / "pod.json").write_text(json.dumps(
        {"pid": True, "env": [{"name": "X", "value": "v", "from_secret": True}]}))
    os.symlink("/", root / "rootlink")
    (root / "afile").write_text("not a directory")


def test_pod_secret_lookup_survives_hostile_state(tmp_path, monkeypatch):
    from memlab.k8s.podsecrets import secrets_for_pid

    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    from memlab.k8s.poddir import default_pod_root

    root = default_pod_root()
    _hostile_pod_root(root, 1)
    # no hang on the FIFO: the lookup runs in a thread the test can give up on
    found = []
    threading.Thread(target=lambda: found.append(secrets_for_pid(1)), daemon=True).start()
    wait_until(lambda: found, 30, what="secrets_for_pid to return past a FIFO")
    assert found == [(frozenset(), frozenset())]
    # a sane pod next to them is still found, with its Secret objects' values
    good = root / "good"
    (good / "objects").mkdir(parents=True)
    (good / "pod.json").write_text(json.dumps({"pid": 4242, "env": [
        {"name": "FOO", "value": "from-a-secret", "from_secret": True},
        {"name": "BAR", "value": "plain", "from_secret": False}]}))
    (good / "objects" / "Secret_default_s.json").write_text(json.dumps(
        {"kind": "Secret", "data": {"tls.key": "dm9sdW1lLW9ubHk="}}))  # volume-only
    names, values = secrets_for_pid(4242)
    assert names == {"FOO"} and values == {b"from-a-secret", b"volume-only"}
    shutil.rmtree(root)


# --------------------------------------------------------------------------- terminal
BIDI = "\u202e\u2066\u2067\u2068\u2069\u202a\u202b\u202c\u202d\u200e\u200f\u061c"


def test_bidi_controls_are_escaped():
    s = "user" + BIDI + "name"
    assert printable(s) == "user" + "".join(f"\\u{ord(c):04x}" for c in BIDI) + "name"
    assert all(c not in printable(s) for c in BIDI)
    assert fit("ab\u202ecd", 9) == "ab\\u202e…"
    assert fit("ab\u202ecd", 8) == "ab…"  # never cut inside an escape
    assert json.loads(json_text(json.dumps(s, ensure_ascii=False))) == s
    assert all(c not in json_text(json.dumps(s, ensure_ascii=False)) for c in BIDI)


def test_exposure_escapes_the_process_and_variable_names(tmp_path, capsys):
    """A process named `ESC ] 0 ; ...` retitled the terminal of whoever ran
    `memlab exposure PID`; a variable name with U+202E reordered the line."""
    exe = tmp_path / "x\x1b]0;pwn\x07\u202e"
    shutil.copy(sample("sleeper"), exe)
    env = [b"DB_PASSWORD\x1b[2J\xe2\x80\xae=hunter2value", b"LANG=C"]
    with launch(str(exe), [], env, hold="ready") as child:
        code = main(["exposure", str(child.pid)])
        out = capsys.readouterr().out
    assert code == 0
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    assert "\\x1b]0;pwn" in out and "DB_PASSWORD\\x1b[2J\\u202e" in out


def test_env_view_escapes_bidi_in_names(capsys):
    env = [b"A\xe2\x80\xaeB=1", b"LANG=C"]
    with launch("sleeper", [], env, hold="ready") as child:
        assert main(["env", str(child.pid)]) == 0
        assert main(["env", "--json", str(child.pid)]) == 0
        out = capsys.readouterr().out
    assert "\u202e" not in out and "A\\u202eB" in out
