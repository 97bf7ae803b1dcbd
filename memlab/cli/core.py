"""The core commands: launch, inspect, env, stack, samples.

Each reads one Snapshot (memlab.collect.snapshot) and prints it: JSON per the contract in
docs/json.md with --json (rich is then never imported), rich tables otherwise.
"""

from __future__ import annotations

import argparse
import sys

from memlab.cli._output import (CorePath, add_json_flag, add_reveal_flag, pid_or_core_arg,
                                print_json)
from memlab.errors import AccessDenied, UsageError

SCHEMA_ENV = "memlab.env/1"
SCHEMA_STACK = "memlab.stack/1"
SCHEMA_SAMPLES = "memlab.samples/1"

_RAW = argparse.RawDescriptionHelpFormatter

LAUNCH_EPILOG = """\
examples:
  memlab launch sleeper                              a sample, running and ready
  memlab launch -e DB_PASSWORD=hunter2 --reveal sleeper
  memlab launch --json -i -e A=1 -e 'B=x y' /usr/bin/env
                                                     exactly two env strings, pristine
  memlab launch --no-aslr --hold exec /usr/bin/sleep -- 100
  memlab launch --env-file app.env --keep sleeper-static
                                                     keep it alive; Enter ends it

--hold exec stops the process right after execve, before its first instruction
(ptrace): the initial stack and env block are exactly what the kernel built.  It works
for any executable and is the default for non-samples.  --hold ready (default for the
bundled samples) lets the sample run until it printed its JSON self-report; memlab then
checks every address the sample printed against its own /proc-derived numbers.
The process is killed when memlab exits (with --keep: after Enter or Ctrl-C).
"""

INSPECT_EPILOG = """\
examples:
  memlab inspect 1234                 regions with kinds, stat fields, env + stack verdicts
  memlab inspect 1234 --json | jq '.regions[] | select(.kind=="heap")'
  memlab inspect $$ --elf             also correlate the ELF file (load bias, PT_LOADs)
  memlab inspect ./core.1234          a core file (kernel or gcore): the same snapshot

PID|CORE: ASCII digits are a process id; anything else must be an ELF core file
(e_type ET_CORE).  From a core: regions from its PT_LOAD segments and NT_FILE note,
auxv from NT_AUXV, pid, comm and registers from NT_PRSTATUS/NT_PRPSINFO, the env block
and initial stack found on the stack segment (docs/cli.md#core-files).

Another user's process: the kernel hides its maps (exit 4) and masks the address fields
of /proc/PID/stat; memlab shows them as "hidden", never as addresses.
"""

ENV_EPILOG = """\
examples:
  memlab env 1234                     each NAME=value string, its address, masked secrets
  memlab env 1234 --reveal            secret-looking values shown
  memlab env 1234 --json
  memlab env ./core.1234 --json       the env block as the core file holds it

Masked: values of secret-looking names (PASSWORD, MYSQL_PWD, TOKEN, *_KEY ...), values
shaped like credentials, URL passwords, and for a pod started by `memlab k8s run` every
value kubelet took from a Secret, whatever its name.

The block lies between env_start and env_end (/proc/PID/stat fields 50-51), normally at
the top of [stack]; memlab reads it from memory and compares it byte for byte with
/proc/PID/environ.  It is the block execve built: setenv/unsetenv in the program do not
change it (they change libc's environ array).
"""

STACK_EPILOG = """\
examples:
  memlab stack 1234                   argc, argv[], envp[], auxv, AT_RANDOM, padding
  memlab stack 1234 --json
  memlab stack ./core.1234            from a core file: argc found below NT_AUXV's copy

Decoded from startstack (/proc/PID/stat field 28), where execve left argc; the auxv read
from the stack is compared with /proc/PID/auxv.
"""

SAMPLES_EPILOG = """\
examples:
  memlab samples
  memlab samples --json
"""


def register(sub) -> None:
    p = sub.add_parser("launch", help="start a program with an exact environment and "
                       "show its memory", epilog=LAUNCH_EPILOG, formatter_class=_RAW,
                       description="fork + execve TARGET (a bundled sample name, a path or "
                       "a command on $PATH) with exactly the environment you give, hold it, "
                       "and show its snapshot.")
    p.add_argument("-e", "--env", action="append", default=[], metavar="K=V",
                   help="set K=V (repeatable, order kept; -e K takes K from memlab's env)")
    p.add_argument("--env-file", action="append", default=[], metavar="FILE",
                   help="K=V lines (# comments); applied before -e")
    p.add_argument("-i", "--clear-env", action="store_true",
                   help="start from an empty environment (like env -i)")
    p.add_argument("--no-aslr", action="store_true",
                   help="personality(ADDR_NO_RANDOMIZE), like setarch -R")
    p.add_argument("--hold", choices=("exec", "ready"), default=None,
                   help="where to hold the process (default: ready for samples, exec "
                   "otherwise)")
    p.add_argument("--keep", action="store_true",
                   help="keep the process until Enter or Ctrl-C, then end it")
    add_json_flag(p)
    add_reveal_flag(p)
    p.add_argument("target", metavar="TARGET")
    p.add_argument("args", nargs=argparse.REMAINDER, metavar="-- ARGS",
                   help="arguments for TARGET: everything after TARGET (memlab's own "
                   "options go before it; a leading -- is dropped)")
    p.set_defaults(func=cmd_launch)

    p = sub.add_parser("inspect", help="snapshot of a running process",
                       epilog=INSPECT_EPILOG, formatter_class=_RAW,
                       description="Read /proc/PID/{stat,maps,auxv,environ,mem}: regions "
                       "classified, env block located and verified, initial stack decoded.")
    p.add_argument("pid", type=pid_or_core_arg, metavar="PID|CORE")
    add_json_flag(p)
    add_reveal_flag(p)
    p.add_argument("--elf", action="store_true",
                   help="also correlate the executable's ELF file with the maps")
    p.add_argument("-X", "--memory", action="store_true",
                   help="also read /proc/PID/smaps: rss, pss, shared/private clean/dirty, "
                   "swap per region (pmap -X's columns; regions[].memory in JSON)")
    p.set_defaults(func=cmd_inspect)

    p = sub.add_parser("env", help="the environment block of a process",
                       epilog=ENV_EPILOG, formatter_class=_RAW,
                       description="The NAME=value strings execve copied to the top of the "
                       "stack, with their addresses, cross-checked against "
                       "/proc/PID/environ.")
    p.add_argument("pid", type=pid_or_core_arg, metavar="PID|CORE")
    add_json_flag(p)
    add_reveal_flag(p)
    p.set_defaults(func=cmd_env)

    p = sub.add_parser("stack", help="the initial stack execve built",
                       epilog=STACK_EPILOG, formatter_class=_RAW,
                       description="argc, argv[], envp[], auxv, AT_RANDOM, AT_PLATFORM, "
                       "AT_EXECFN and the random padding, decoded from startstack.")
    p.add_argument("pid", type=pid_or_core_arg, metavar="PID|CORE")
    add_json_flag(p)
    add_reveal_flag(p)
    p.set_defaults(func=cmd_stack)

    p = sub.add_parser("samples", help="list the bundled C samples",
                       epilog=SAMPLES_EPILOG, formatter_class=_RAW)
    add_json_flag(p)
    p.set_defaults(func=cmd_samples)


# --------------------------------------------------------------------------- helpers
def _snapshot(pid: int | CorePath, *, with_elf: bool = False, memory: bool = False):
    if isinstance(pid, CorePath):
        if with_elf or memory:
            raise UsageError(f"{'--elf' if with_elf else '-X/--memory'} reads a live "
                             "process's files (/proc/PID/exe, smaps): not available for a "
                             "core file")
        from memlab.core.snapshot import core_snapshot

        return core_snapshot(pid)
    if memory:  # smaps: only when asked (docs/benchmarks.md)
        from memlab.collect import snapshot

        extend = None
        if with_elf:
            from memlab.elf.attach import with_elf as extend
        return snapshot(pid, partial=True, extend=extend, memory=True)
    if with_elf:
        # the ELF layer (dataclasses, pyelftools when it parses): only for --elf
        from memlab.elf.attach import snapshot_with_elf

        return snapshot_with_elf(pid, partial=True)
    from memlab.collect import snapshot

    return snapshot(pid, partial=True)


def _refused(snap, need: str) -> AccessDenied | None:
    """The error to end with when the kernel refused what this command needs."""
    denied = snap.extra.get("denied", [])
    if need not in denied:
        return None
    from memlab.procfs._io import access_rule, proc_path

    return AccessDenied(f"permission denied: reading {need} needs {access_rule(need)}",
                        pid=snap.pid, path=proc_path(snap.pid, need))


def _print(*renderables) -> None:
    from memlab.cli._output import console

    c = console()  # its width: memlab.cli._output (PIPE_WIDTH when piped)
    for r in renderables:
        if r is not None:
            c.print(r)


def _masker(snap, reveal: bool):
    """What to mask in snap: its secret-looking env and argv, and the values its pod
    took from a Secret (memlab.secrets.Masker.for_snapshot)."""
    from memlab.secrets import Masker

    # a core's pid names no live process now: no pod's Secrets to look up by it
    return Masker.for_snapshot(snap, reveal, pods=snap.extra.get("source") != "core")


def _snapshot_json(snap, reveal: bool) -> dict:
    # extra["denied"] (files the kernel refused) is merged in
    from memlab.render import json as json_form

    d = json_form.snapshot(snap, reveal, _masker(snap, reveal))
    d.setdefault("denied", [])
    return d


# --------------------------------------------------------------------------- inspect
def show_snapshot(snap, reveal: bool, masker=None, memory: bool = False) -> None:
    from memlab.cli import _text as v

    items = [v.header(snap, masker or _masker(snap, reveal))]
    core = snap.extra.get("core")
    if core:
        items.append(v.ptext(f"core file {core['path']} written by {core['writer']}, "
                             f"signal {core['signal']}, rip {core['registers']['rip']}, "
                             f"rsp {core['registers']['rsp']} ({core['rsp_region']})"))
    if snap.regions and memory:
        from memlab.cli.resident_cmds import memory_table

        items.append(memory_table(snap))
    elif snap.regions:
        items.append(v.regions_table(snap.regions))
    items.append(v.stat_table(snap.stat))
    if snap.env is not None:
        items.append(v.env_summary(snap.env))
    if snap.stack is not None:
        st = snap.stack
        line = v.Text(f"initial stack: argc={st.argc}, {len(st.envp)} envp, "
                      f"{len(st.auxv)} auxv pairs; auxv vs /proc/PID/auxv: ")
        line.append_text(v.verdict(st.auxv_matches_proc))
        items.append(line)
    if snap.elf:  # its reason may quote the executable's path
        items.append(v.ptext("elf: " + _elf_line(snap.elf)))
    items.append(v.warnings_text(snap.warnings))
    _print(*items)


def _elf_line(elf) -> str:
    """One line from the ELF area (Snapshot.elf, memlab.elf.memorymap.ElfMemoryMap); `memlab
    elf PID` and `--json` show all of it."""
    if not elf.available:
        return f"not available ({elf.reason})"
    parts = [f"{elf.info.kind} executable"]
    if elf.bias is not None and elf.bias.value is not None:
        parts.append(f"load bias 0x{elf.bias.value:x} ({elf.bias.source})")
    parts.append("every PT_LOAD matches its maps lines"
                 if all(m.verdict == "exact" for m in elf.segments)
                 else "some PT_LOADs differ from maps (see `memlab elf PID`)")
    return "; ".join(parts)


def cmd_inspect(args) -> int:
    snap = _snapshot(args.pid, with_elf=args.elf, memory=args.memory)
    if args.json:
        print_json(_snapshot_json(snap, args.reveal))
    else:
        show_snapshot(snap, args.reveal, memory=args.memory)
    err = _refused(snap, "maps")
    if err:
        raise err
    return 0


# --------------------------------------------------------------- env / stack
def _part_command(args, part: str, source: str, schema: str, stat_keys: tuple[str, ...],
                  masked_what: str, renderables) -> int:
    """`memlab env` and `memlab stack`: one part of the snapshot (snap.<part>, read from
    /proc/PID/<source>) as JSON or as `renderables(v, snap, masker) -> items` under the
    header; the stat fields that locate it either way."""
    snap = _snapshot(args.pid)
    masker = _masker(snap, args.reveal)
    value = getattr(snap, part)
    err = _refused(snap, "maps") or (_refused(snap, source) if value is None else None)
    if args.json:
        from memlab.render import json as json_form

        stat = json_form.proc_stat(snap.stat)
        to_json = json_form.env_block if part == "env" else json_form.initial_stack
        print_json({"schema": schema, "source": snap.extra.get("source", "process"),
                    "pid": snap.pid, "exe": snap.exe,
                    part: to_json(value, args.reveal, masker) if value else None,
                    "stat": {k: stat[k] for k in stat_keys},
                    "warnings": list(snap.warnings)})
    else:
        from memlab.cli import _text as v

        items = [v.header(snap, masker)]
        if value is not None:
            items += renderables(v, snap, masker)
        elif snap.stat.masked:
            items.append(v.Text(f"{masked_what}: hidden by the kernel", style="yellow"))
        items.append(v.warnings_text(snap.warnings))
        _print(*items)
    if err:
        raise err
    return 0


def cmd_env(args) -> int:
    return _part_command(
        args, "env", "environ", SCHEMA_ENV,
        ("env_start", "env_end", "arg_start", "arg_end", "masked"), "env_start/env_end",
        lambda v, snap, masker: [v.env_summary(snap.env),
                                 v.env_table(snap.env, masker.reveal, masker)])


def cmd_stack(args) -> int:
    return _part_command(
        args, "stack", "mem", SCHEMA_STACK,
        ("start_stack", "arg_start", "arg_end", "env_start", "env_end", "masked"),
        "startstack",
        lambda v, snap, masker: [v.stack_layout(snap),
                                 v.stack_tables(snap.stack, masker.reveal, masker)])


# --------------------------------------------------------------------------- samples
def cmd_samples(args) -> int:
    from memlab.samples import list_samples, samples_dir

    samples = list_samples()
    if args.json:
        print_json({"schema": SCHEMA_SAMPLES, "dir": str(samples_dir()),
                    "samples": [s.to_dict() for s in samples]})
    else:
        from memlab.cli import _text as v

        _print(v.samples_table(samples))
    return 0


# --------------------------------------------------------------------------- launch
def cmd_launch(args) -> int:
    from memlab.envbuild import build_env
    from memlab.launch import launch
    from memlab.samples import is_sample_path, resolve_target

    target_args = args.args[1:] if args.args[:1] == ["--"] else args.args
    exe = resolve_target(args.target)
    is_sample = is_sample_path(exe)
    hold = args.hold or ("ready" if is_sample else "exec")
    if hold == "ready" and not is_sample:
        raise UsageError(f"--hold ready waits for a bundled sample's JSON self-report; "
                         f"{args.target!r} is not a sample: use --hold exec")
    env = build_env(args.env, args.env_file, args.clear_env)
    with launch(args.target, target_args, env, no_aslr=args.no_aslr, hold=hold) as child:
        from memlab.collect import snapshot

        snap = snapshot(child.pid)
        checks = []
        if child.report:
            from memlab.analysis.selfreport import compare

            checks = compare(snap, child.report)
        info = {"pid": child.pid, "argv": child.argv, "exe": child.exe, "hold": hold,
                "held_at_exec": child.held_at_exec, "no_aslr": args.no_aslr,
                "report": child.report,
                "self_check": [c.to_dict() for c in checks]}
        masker = _masker(snap, args.reveal)
        if args.json:
            d = _snapshot_json(snap, args.reveal)
            info["argv"] = masker.argv(child.argv)
            d["launch"] = info
            print_json(d)
        else:
            show_snapshot(snap, args.reveal, masker)
            if snap.env is not None:
                from memlab.cli import _text as v

                _print(v.env_table(snap.env, args.reveal, masker))
            if checks:
                from memlab.cli import _text as v

                _print(v.checks_table(checks))
        if args.keep:
            _keep(child, hold)
    return 0


def _keep(child, hold: str) -> None:
    """Wait for Enter, EOF or Ctrl-C; the caller's `with` then ends the process."""
    state = ("held at its first instruction (ptrace stop)" if hold == "exec"
             else "running")
    print(f"memlab: pid {child.pid} is {state}; inspect it from another terminal, e.g. "
          f"`memlab stack {child.pid}`. Press Enter or Ctrl-C to end it.",
          file=sys.stderr, flush=True)
    try:
        sys.stdin.readline()
    except KeyboardInterrupt:
        pass
