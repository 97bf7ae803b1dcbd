"""Core files end to end: a real sleeper, its gcore and its kernel core, read by a real
`memlab` process; bad files; `memlab exposure core`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from memlab.core.dump import kernel_dump, launch_in
from memlab.launch import launch
from memlab.procfs.coredump import read_core_pattern
from memlab.safefs import open_trusted
from tests.helpers import REPO, sample

needs_gcore = pytest.mark.skipif(shutil.which("gcore") is None, reason="gdb's gcore missing")
IN_CWD = read_core_pattern().in_cwd
needs_core_in_cwd = pytest.mark.skipif(
    not IN_CWD, reason=f"core_pattern {read_core_pattern().raw!r} does not write cores in "
    "the process's working directory")
COMMANDS = [("inspect",), ("env",), ("stack",), ("layout",), ("search", "x")]


def memlab(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "memlab", *args], cwd=REPO, text=True,
                          capture_output=True, stdin=subprocess.DEVNULL, timeout=120)


def one_line_error(p: subprocess.CompletedProcess, code: int = 2) -> str:
    assert p.returncode == code, (p.returncode, p.stdout, p.stderr)
    assert "Traceback" not in p.stderr + p.stdout
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("memlab: "), p.stderr
    return lines[0]


def gcore(pid: int, where) -> str:
    subprocess.run(["gcore", "-o", str(where / "g"), str(pid)], check=True,
                   capture_output=True, timeout=120)
    return str(where / f"g.{pid}")


def env_view(d: dict) -> tuple:
    env = d["env"]
    return (env["start"], env["end"], env["size"], env["region"],
            env["distance_to_stack_top"], env["distance_to_args"],
            [(e["name"], e["value"], e["address"], e["length"]) for e in env["entries"]],
            d["stat"])


@needs_gcore
@pytest.mark.parametrize("name", ["sleeper", "sleeper-static-pie"])
def test_gcore_env_and_stack_equal_the_live_process(name, tmp_path):
    env = [b"DB_PASSWORD=hunter2", b"A=1", b"SPACES=x y  z", b"EMPTY="]
    with launch(name, [], env) as child:
        live_env = json.loads(memlab("env", str(child.pid), "--json", "--reveal").stdout)
        live_stack = json.loads(memlab("stack", str(child.pid), "--json").stdout)
        live = json.loads(memlab("inspect", str(child.pid), "--json").stdout)
        core = gcore(child.pid, tmp_path)
    p = memlab("env", core, "--json", "--reveal")
    assert p.returncode == 0, p.stderr
    from_core = json.loads(p.stdout)
    assert live_env["source"] == "process" and from_core["source"] == "core"
    assert from_core["pid"] == live_env["pid"] == child.pid
    # entries and addresses, and the stat fields that locate the block
    assert env_view(from_core) == env_view(live_env)
    assert [e["value"] for e in from_core["env"]["entries"]] == ["hunter2", "1", "x y  z", ""]
    st = json.loads(memlab("stack", core, "--json").stdout)
    for key in ("sp", "argc", "argv", "envp", "auxv", "auxv_address", "at_random",
                "platform", "execfn", "execfn_address", "padding", "complete"):
        assert st["stack"][key] == live_stack["stack"][key], key
    assert st["stack"]["auxv_matches_proc"] is True  # NT_AUXV is the stack's copy
    d = json.loads(memlab("inspect", core, "--json").stdout)
    assert d["schema"] == "memlab.snapshot/1" and d["source"] == "core"
    assert d["core"]["writer"] == "gdb (gcore)" and d["core"]["signal"] == 0
    assert d["auxv"] == live["auxv"] and d["exe"] == live["exe"]
    # every region of the live maps is in the core's, same bounds (gcore skips none
    # of the ones it names; [vvar] is left out: gdb cannot read it)
    core_bounds = {(r["start"], r["end"]) for r in d["regions"]}
    live_bounds = {(r["start"], r["end"]) for r in live["regions"]
                   if not r["path"] or not r["path"].startswith("[vvar")}
    assert live_bounds <= core_bounds | {(r["start"], r["end"]) for r in live["regions"]
                                         if r["path"] == "[vsyscall]"}
    for r in d["regions"]:
        if r["path"] == "[stack]":
            assert (r["start"], r["end"]) in live_bounds


@needs_core_in_cwd
def test_kernel_core_of_a_crashed_sleeper_decodes(tmp_path):
    env = [b"API_TOKEN=tok-123", b"B=2"]
    with open_trusted(str(tmp_path)) as d:
        child = launch_in(d, sample("sleeper"), [], env)
        with child:
            dump = kernel_dump(child, d, read_core_pattern())
    assert dump.path is not None, dump.why
    assert child.returncode == -6  # SIGABRT
    st = os.stat(dump.path)
    assert st.st_uid == os.geteuid() and st.st_mode & 0o777 == 0o600
    p = memlab("env", dump.path, "--json", "--reveal")
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert [f"{e['name']}={e['value']}".encode() for e in d["env"]["entries"]] == env
    d = json.loads(memlab("inspect", dump.path, "--json").stdout)
    assert d["core"]["writer"] == "kernel" and d["core"]["signal"] == 6
    assert d["pid"] == child.pid and d["stack"]["complete"] is True
    assert any("coredump_filter" in w for w in d["warnings"])
    assert d["env"]["entries"][0]["value"] == "***"  # masked without --reveal
    p = memlab("inspect", dump.path)
    assert p.returncode == 0 and "written by kernel" in p.stdout and "tok-123" not in p.stdout
    p = memlab("search", dump.path, "tok-123", "--json")
    hits = json.loads(p.stdout)["hits"]
    assert p.returncode == 0 and hits and all("tok-123" not in h["context"] for h in hits)
    assert any(h["region"] == "[stack]" for h in hits)


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    import gzip

    d = tmp_path_factory.mktemp("bad")
    raw = gzip.decompress((REPO / "tests/data/core/kernel-sleeper-static.core.gz")
                          .read_bytes())
    (d / "half.core").write_bytes(raw[:len(raw) // 2])
    (d / "notes.txt").write_text("not a core\n")
    return {"truncated": str(d / "half.core"), "text": str(d / "notes.txt"),
            "elf": sample("sleeper"), "zero": "/dev/zero", "missing": str(d / "nope")}


@pytest.mark.parametrize("kind,says", [
    ("truncated", "truncated"), ("text", "not an ELF core file"),
    ("elf", "not an ELF core file"), ("zero", "not a process id nor a readable"),
    ("missing", "not a process id nor a readable")])
@pytest.mark.parametrize("command", COMMANDS)
def test_bad_core_files_one_line_exit_2(bad_files, kind, says, command):
    p = memlab(command[0], bad_files[kind], *command[1:])
    assert says in one_line_error(p)


def test_exposure_core_finds_the_secret_masked_then_revealed():
    p = memlab("exposure", "core", "--json")
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert d["schema"] == "memlab.exposure-core/1"
    assert "s3cr3t-in-the-core" not in p.stdout and d["secret"] == "***"
    assert d["in_env_block"] is True and d["count"] >= 1
    assert all("[***]" in h["context"] for h in d["hits"])
    assert d["core"]["uid"] == os.geteuid()
    assert not os.path.exists(d["core"]["path"])  # removed: no secret left on disk
    with open(f"/proc/{os.getpid()}/coredump_filter") as f:  # the sample inherits ours
        assert int(d["coredump_filter"], 16) == int(f.read(), 16)
    if IN_CWD:
        assert d["writer"] == "kernel" and d["core"]["mode"] == "0600"
        assert d["signal"] == "SIGABRT"
    else:  # piped or elsewhere: gcore, and memlab says why
        assert d["writer"] == "gcore" and any("gcore instead" in n for n in d["notes"])
    p = memlab("exposure", "core", "--reveal", "--secret", "other-secret-42")
    assert p.returncode == 0, p.stderr
    assert "DB_PASSWORD=other-secret-42" in p.stdout and "[other-secret-42]" in p.stdout
    assert "mode" in p.stdout and "readable by" in p.stdout


@needs_core_in_cwd
def test_exposure_core_nodump_writes_no_core_and_says_why():
    p = memlab("exposure", "core", "--nodump", "--json")
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert d["core"] is None and d["count"] == 0
    assert "PR_SET_DUMPABLE" in d["how"]
    p = memlab("exposure", "core", "--nodump")
    assert "no core file" in p.stdout and "PR_SET_DUMPABLE" in p.stdout


def test_exposure_core_options_only_for_core():
    assert "--nodump" in one_line_error(memlab("exposure", "demo", "--nodump"))
