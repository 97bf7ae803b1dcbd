"""What removes a secret: the three-way view (execve / /proc/PID/environ / libc environ
read from memory) after unsetenv, setenv, copy and scrub, on real sample processes."""

from __future__ import annotations

import json

import pytest

from memlab.cli import main
from memlab.errors import MemlabError
from memlab.exposure.removal import read_libc_environ, three_way, walkthrough
from memlab.launch import launch
from tests.helpers import sample, wait_until

NAME = "DB_PASSWORD"
SECRET = b"rm-secret-0123456789"
ENV = [b"HOME=/", NAME.encode() + b"=" + SECRET, b"OTHER=1"]


def proc_environ(pid: int) -> bytes:
    """Read directly, without memlab: the kernel's view is the thing under test."""
    with open(f"/proc/{pid}/environ", "rb") as f:
        return f.read()


@pytest.fixture(scope="module")
def steps():
    w = walkthrough(secret=SECRET, name=NAME)
    return {(s.victim, s.command.split(" ")[0] or "start"): s.three_way for s in w.steps}


def test_start_all_three_views_hold_the_secret_in_the_stack_block(steps):
    v = steps[("A", "start")]
    for src in (v.execve, v.proc_environ, v.libc_environ):
        assert src.value == SECRET
    assert v.proc_environ.region == "[stack]"
    assert v.libc_environ.address == v.proc_environ.address  # the same string
    assert v.symbol.array_region == "[stack]"  # environ still points at envp[]


def test_unsetenv_leaves_the_secret_in_proc_environ(steps):
    v = steps[("A", "unsetenv")]
    assert v.libc_environ.value is None and not v.libc_environ.has_secret
    assert v.proc_environ.value == SECRET and v.proc_environ.has_secret
    assert any(h.region == "[stack]" and h.address == v.proc_environ.address + len(NAME) + 1
               for h in v.copies)


def test_setenv_moves_libc_to_the_heap_and_leaves_the_block(steps):
    v = steps[("A", "setenv")]
    assert v.libc_environ.value == b"rotated-value"
    assert v.libc_environ.region == "[heap]"
    assert v.symbol.array_region == "[heap]"  # setenv reallocated the array
    assert v.proc_environ.value == SECRET


def test_copy_puts_a_second_copy_on_the_heap(steps):
    v = steps[("B", "copy")]
    kinds = {h.region for h in v.copies}
    assert {"[heap]", "[stack]"} <= kinds


def test_scrub_removes_it_from_proc_but_not_from_the_heap_copy(steps):
    v = steps[("B", "scrub")]
    assert not v.proc_environ.has_secret
    assert v.proc_environ.value == b"X" * len(SECRET)
    block = v.proc_environ.address + len(NAME) + 1
    assert all(h.address != block for h in v.copies)
    assert any(h.region == "[heap]" for h in v.copies)


def test_proc_environ_after_unsetenv_and_after_scrub_and_memlab_search_finds_heap_copy(
        capsys):
    """The acceptance test, end to end with the CLI: the kernel's own /proc view, then
    `memlab search` after scrub."""
    with launch("sleeper", env=ENV, hold="ready") as a:
        assert a.command(f"unsetenv {NAME}")["was_set"] is True
        assert SECRET in proc_environ(a.pid)  # unsetenv: still there
    with launch("sleeper", env=ENV, hold="ready") as b:
        heap_copy = int(b.command(f"copy {NAME}")["address"], 16)
        assert b.command(f"scrub {NAME}")["cmd"] == "scrub"
        assert SECRET not in proc_environ(b.pid)  # scrub: gone from the block
        assert main(["search", str(b.pid), SECRET.decode(), "--json"]) == 0
        out = json.loads(capsys.readouterr().out)
        addresses = {int(h["address"], 16): h for h in out["hits"]}
        assert heap_copy in addresses
        assert addresses[heap_copy]["region"] == "[heap]"
        assert addresses[heap_copy]["kind"] == "heap"
        assert SECRET.decode() not in json.dumps(out)  # masked without --reveal


@pytest.mark.parametrize("variant", ["sleeper", "sleeper-nopie", "sleeper-static",
                                     "sleeper-static-pie"])
def test_libc_environ_read_from_memory_matches_the_samples_own_answer(variant):
    """Cross-check (c): memlab's symbol+bias+memory read vs what the program itself says
    its environ is, for PIE, non-PIE, static and static-PIE builds."""
    with launch(sample(variant), env=ENV, hold="ready") as p:
        p.command("setenv NEWVAR fresh")
        own = p.command("environ")
        sym, entries = read_libc_environ(p.pid)
        assert sym.array == int(own["environ"], 16)
        assert [(s, a) for s, a, _ in entries] == [
            (int(e["slot"], 16), int(e["address"], 16)) for e in own["entries"]]
        assert [s.split(b"=")[0].decode() for _, _, s in entries] == [
            e["name"] for e in own["entries"]]
        # Dynamic builds name `environ` themselves: a copy relocation puts it in the
        # executable; static builds have libc inside the executable.
        assert sym.file.endswith(variant)
        view = three_way(p, NAME)
        assert view.libc_environ.value == SECRET and view.execve.value == SECRET


def test_view_json_masks_unless_reveal(steps):
    v = steps[("A", "start")]
    masked = json.dumps(v.to_dict())
    assert SECRET.decode() not in masked
    assert SECRET.decode() in json.dumps(v.to_dict(reveal=True))


def test_environ_found_in_libc_when_the_program_does_not_name_it():
    """/bin/sleep never mentions `environ`: no copy relocation, so the variable is
    libc's own (.dynsym of libc.so.6, bias from where libc is mapped).  Untouched env:
    the array must point at exactly the strings /proc/PID/environ shows, in order."""
    from memlab.procfs.stat import read_stat

    with launch("/bin/sleep", ["30"], env=[b"A=1", b"DB_PASSWORD=x"], hold="none") as p:
        def environ_set_up():
            try:
                sym, entries = read_libc_environ(p.pid)
            except MemlabError:  # ld.so has not mapped libc yet
                return None
            return (sym, entries) if entries else None
        sym, entries = wait_until(environ_set_up, what="libc to set environ up")
        assert "libc.so" in sym.file
        assert [s for _, _, s in entries] == [b"A=1", b"DB_PASSWORD=x"]
        env_start = read_stat(p.pid).env_start
        assert [a for _, a, _ in entries] == [env_start, env_start + 4]
        assert sym.array_region == "[stack]"


def test_verdicts_against_the_value_execve_gave():
    """scrub: scrubbed in the block; unsetenv/setenv: the bytes are still there."""
    w = walkthrough()
    steps = {(s.victim, s.command.split(" ")[0] or "start"): s.three_way for s in w.steps}
    assert steps[("A", "start")].verdict("proc_environ") == "secret"
    assert steps[("A", "unsetenv")].verdict("proc_environ") == "secret"
    assert steps[("A", "unsetenv")].verdict("libc_environ") == "unset (bytes still there)"
    assert steps[("A", "setenv")].verdict("libc_environ") == "changed (bytes still there)"
    assert steps[("B", "scrub")].verdict("proc_environ") == "scrubbed"
    assert steps[("B", "scrub")].verdict("libc_environ") == "scrubbed"
    d = steps[("B", "scrub")].to_dict()
    assert d["proc_environ"]["verdict"] == "scrubbed"
