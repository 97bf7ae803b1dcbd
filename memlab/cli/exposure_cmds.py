"""`memlab exposure`, `memlab search`, `memlab audit`: who can see a process's secrets."""

from __future__ import annotations

import argparse
import sys

from memlab.cli._output import (CorePath, add_json_flag, add_reveal_flag, console,
                                count_arg, pid_arg, pid_or_core_arg, print_json)
from memlab.errors import UsageError

# Exit code of `memlab audit --fail-on-findings` when a secret is exposed (CI fails the
# job).  Distinct from 1 (memlab failed) and 3/4 (no such process / access denied).
EXIT_FINDINGS = 5
# A process this large (readable bytes) gets a progress bar on a terminal.
PROGRESS_THRESHOLD = 64 << 20

EXPOSURE_EPILOG = """\
TARGET is `demo`, `removal`, `core` or a PID.

  demo      launch a sample with DB_PASSWORD in its environment (and the same secret in
            a 0400 file), then read it from separate observer processes: same uid,
            another uid (65534), root, and the same uid against a non-dumpable twin.
            Each cell is what the kernel answered: SECRET (read, secret inside), read,
            masked (stat with its addresses hidden), or the errno (EACCES, EPERM).
            Rows memlab cannot run without root are listed as skipped, with the reason.
  PID       the same matrix for an existing process (no non-dumpable row); the secret
            looked for is --secret, else the values of its secret-looking variables.
  core      the crash-dump channel: launch a sample with DB_PASSWORD in its
            environment, RLIMIT_CORE raised and its working directory in memlab's
            private state directory, make it dump (SIGABRT), and find the secret in the
            core file, with who can read that file.  core_pattern decides where the
            kernel puts cores: a pipe to systemd-coredump or apport (or a path
            elsewhere) makes memlab take the core with gdb's gcore instead, and say so.
            --nodump: the sample first calls prctl(PR_SET_DUMPABLE, 0): no core.
  removal   what removes a secret: unsetenv, setenv, an in-place scrub and a heap copy,
            each shown three ways (execve's env, /proc/PID/environ, libc's environ
            array read from memory) with every copy of the secret left in memory.

examples:
  memlab exposure demo
  memlab exposure demo --json | jq '.rows[] | {key, cells: [.cells[] | .verdict]}'
  memlab exposure 1234 --secret hunter2 --file /run/secrets/db_password
  memlab exposure removal --reveal
  memlab exposure core
  memlab exposure core --nodump

exit codes: 0 ok, 1 failure, 2 usage, 3 no such process, 4 access denied
"""

SEARCH_EPILOG = """\
Every occurrence of TEXT in the readable memory of PID (stack, heap, libraries, anonymous
mappings), with its address, region, kind and a little context.  The match is shown as
[***]; around it, the values of secret-looking NAME=value strings (judged on the whole
string, not the cut context), --password=x style flags, URL passwords, and every copy
of a value the process holds as a secret (its env, argv, its pod's Secrets; whole or in
pieces of 5 bytes or more) are shown as ***, unless --reveal.
Reading needs ptrace-attach access (same uid and a dumpable process, or root).

examples:
  memlab search 1234 hunter2
  memlab search 1234 hunter2 --json --reveal
  memlab search 1234 'de ad be ef' --hex

exit codes: 0 ok (hits or not: see "count"), 1 failure, 2 usage, 3 no such process,
            4 access denied
"""

AUDIT_EPILOG = f"""\
Reads /proc/PID/environ of every process you may read and reports each secret-looking
variable (names with PASSWORD, SECRET, TOKEN, ending in KEY, AWS_* credentials; values
shaped like JWTs, AWS key ids, GitHub/Slack tokens, private keys, URLs with a password),
with who else can read it.  Values are always masked.  Processes that exit during the
scan or refuse access are counted, never fatal.

examples:
  memlab audit
  sudo memlab audit --json | jq '.findings[] | [.pid, .user, .variable]'
  memlab audit --fail-on-findings      # in CI: exit {EXIT_FINDINGS} when a secret is exposed

exit codes: 0 ok (findings are reported but do not fail without --fail-on-findings),
            {EXIT_FINDINGS} findings with --fail-on-findings, 1 failure, 2 usage
"""


def register(sub) -> None:
    p = sub.add_parser("exposure", help="who can read a process's secrets (access matrix)",
                       description="Who can read a process's secret, channel by channel.",
                       epilog=EXPOSURE_EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("target", metavar="TARGET", help="demo | removal | core | PID")
    p.add_argument("--secret", help="the secret to look for (default: the values of the "
                   "process's secret-looking variables; demo: a built-in one)")
    p.add_argument("--file", help="PID only: a secret file to try as the `file` channel")
    p.add_argument("--sample", default="sleeper",
                   help="demo/removal/core: the bundled sample to launch (default: "
                   "sleeper)")
    p.add_argument("--nodump", action="store_true",
                   help="core: the sample makes itself non-dumpable first")
    p.add_argument("--keep-core", action="store_true",
                   help="core: keep the core file in memlab's state directory")
    add_json_flag(p)
    add_reveal_flag(p)
    p.set_defaults(func=cmd_exposure)

    p = sub.add_parser("search", help="find every copy of a byte string in a process",
                       description="Find every occurrence of TEXT in a process's memory.",
                       epilog=SEARCH_EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("pid", type=pid_or_core_arg, metavar="PID|CORE")
    p.add_argument("text", metavar="TEXT")
    p.add_argument("--hex", action="store_true", help="TEXT is hex bytes ('deadbeef')")
    # at most a million hits: each is kept with its context (some hundred bytes)
    p.add_argument("--max-hits", type=count_arg(1_000_000), default=10_000,
                   help="stop after N hits")
    add_json_flag(p)
    add_reveal_flag(p)
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("audit", help="secret-looking env variables in running processes",
                       description="Scan every readable process for secrets in its "
                       "environment, and say who else can read them.",
                       epilog=AUDIT_EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--fail-on-findings", action="store_true",
                   help=f"exit {EXIT_FINDINGS} when anything is found (for CI)")
    add_json_flag(p)
    p.set_defaults(func=cmd_audit)


# --------------------------------------------------------------------------- exposure
_STYLE = {"SECRET": "bold red", "read": "green", "masked": "yellow", "empty": "dim"}


def cmd_exposure(args) -> int:
    from memlab.exposure import matrix, removal

    if args.secret == "":
        raise UsageError("--secret is empty: give the text to look for, or leave the "
                         "option out")
    secret = args.secret.encode() if args.secret else None
    if args.target != "core" and (args.nodump or args.keep_core):
        raise UsageError("--nodump and --keep-core are for `exposure core`")
    if args.target == "core":
        return _exposure_core(args, secret)
    if args.target == "removal":
        w = removal.walkthrough(args.sample, secret=secret or removal.DEMO_SECRET)
        if args.json:
            print_json(w.to_dict(args.reveal))
        else:
            _print_walkthrough(w, args.reveal)
        return 0
    if args.target == "demo":
        if args.file:
            raise UsageError("--file is for `exposure PID`: the demo makes its own file")
        m = matrix.demo(secret or matrix.DEMO_SECRET, target=args.sample)
    else:
        try:
            pid = pid_arg(args.target)
        except argparse.ArgumentTypeError:
            raise UsageError(f"TARGET must be demo, removal, core or a PID, not "
                             f"{args.target!r}") from None
        m = matrix.access_matrix(pid, secret=secret, file=args.file)
    if args.json:
        print_json(m.to_dict())
    else:
        _print_matrix(m)
    return 0


def _exposure_core(args, secret: bytes | None) -> int:
    from rich.text import Text

    from memlab.exposure.coredump import DEMO_SECRET, core_exposure
    from memlab.render.safe import printable

    if args.file:
        raise UsageError("--file is for `exposure PID`")
    r = core_exposure(args.sample, secret or DEMO_SECRET, nodump=args.nodump,
                      keep=args.keep_core)
    d = r.to_dict(args.reveal)
    if args.json:
        print_json(d)
        return 0
    con = console()

    def say(line: str, style: str = "") -> None:
        con.print(Text(printable(line), style=style))

    say(f"core_pattern: {d['core_pattern']!r}"
        + (f" (piped to {d['core_pattern_handler']})" if d["core_pattern_piped"] else ""))
    say(f"victim pid {r.pid}, {d['variable']}={d['secret']} in its environment"
        + ("; made non-dumpable (nodump)" if r.nodump else ""))
    for note in d["notes"]:
        say("note: " + note, "dim")
    core = d["core"]
    if core is None:
        say(f"no core file: {d['how']}", "bold yellow")
        return 0
    say(f"core file: {core['path']} ({core['size']} bytes), written by {d['writer']}: "
        f"{d['how']}")
    say(f"owner uid {core['uid']}, mode {core['mode']}: readable by {core['readers']}"
        + ("" if r.kept else " (memlab removed it)"))
    say(f"secret in the core's env block: {'yes' if r.in_env_block else 'no'}"
        + (f" at {d['env_address']}" if d["env_address"] else ""),
        "bold red" if r.in_env_block else "green")
    say(f"copies of the secret in the core: {d['count']}")
    for h in d["hits"]:
        say(f"  {h['address']}  {h['region']:<14} {h['context']}")
    return 0


def _print_matrix(m) -> None:
    from rich.table import Table
    from rich.text import Text

    from memlab.render.safe import printable

    con = console()
    v = m.victim
    dump = {True: "dumpable", False: "NOT dumpable", None: "dumpable: n/a (root)"}
    # the process's name and its variables' names are the process's choice: escaped
    con.print(Text(printable(
        f"victim pid {v.pid} ({v.name}), uid {v.uid}, {dump[v.dumpable]}; "
        f"secret in: {', '.join(v.secret_names) or '-'}"
        + (f"; file {v.file}" if v.file else ""))))
    # One column per observer, one row per channel: fits an 80-column terminal.
    t = Table("channel", *(r.label.replace(" vs ", "\nvs ").replace(" (", "\n(")
                           for r in m.rows))
    for channel in m.channels:
        cells = []
        for row in m.rows:
            c = row.cell(channel)
            if row.skipped or c is None:
                cells.append(Text("skipped", style="dim"))
            else:
                cells.append(Text(c.verdict, style=_STYLE.get(c.verdict, "bold")))
        t.add_row(Text(channel), *cells)
    con.print(t)
    for row in m.rows:
        if row.skipped:
            con.print(Text(printable(f"skipped {row.label}: {row.skipped}"), style="dim"))
    con.print(Text("SECRET: read, and the secret was in it.  read: readable.  masked: "
                   "stat with addresses hidden.  EACCES/EPERM: the kernel refused.",
                   style="dim"))
    for note in m.notes:
        con.print(Text("note: " + printable(note)))


def _print_walkthrough(w, reveal: bool) -> None:
    from rich.table import Table
    from rich.text import Text

    from memlab.render.safe import printable

    con = console()
    for step in w.steps:
        v = step.three_way
        title = f"process {step.victim} (pid {v.pid}): " + (step.command or "start")
        t = Table("view", "verdict", "value", "where", title=title, title_justify="left")
        views = v.to_dict(reveal)
        for label, channel in (("(a) execve env", "execve"),
                               ("(b) /proc/PID/environ", "proc_environ"),
                               ("(c) libc environ", "libc_environ")):
            d = views[channel]
            where = " ".join(x for x in (d["address"], d["region"]) if x) or "-"
            t.add_row(Text(label), Text(d["verdict"]),
                      Text("-" if d["value"] is None else printable(d["value"])),
                      Text(printable(where)))
        con.print(t)
        copies = v.to_dict(reveal)["copies"]
        con.print(Text(f"copies of the secret in memory: {len(copies)}"))
        for c in copies:
            con.print(Text(printable(f"  {c['address']}  {c['region']:<14} {c['context']}")))
        con.print(Text(step.lesson, style="italic"))
        con.print()


# --------------------------------------------------------------------------- search
def cmd_search(args) -> int:
    from memlab.exposure.search import classified_regions, parse_needle, search, searchable

    needle = parse_needle(args.text, hex_input=args.hex)
    if isinstance(args.pid, CorePath):
        result = _search_core(args.pid, needle, args.max_hits)
        if args.json:
            print_json({**result.to_dict(args.reveal), "source": "core",
                        "core": str(args.pid)})
            return 0
        return _print_search(result, needle, args.reveal)
    regions = classified_regions(args.pid)
    total = sum(r.size for r in searchable(regions)[0])
    if sys.stderr.isatty() and total >= PROGRESS_THRESHOLD:
        from rich.console import Console
        from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

        with Progress("searching", BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                      console=Console(stderr=True), transient=True) as bar:
            task = bar.add_task("search", total=total)
            result = search(args.pid, needle, regions=regions, max_hits=args.max_hits,
                            progress=lambda done, _t: bar.update(task, completed=done))
    else:
        result = search(args.pid, needle, regions=regions, max_hits=args.max_hits)
    if args.json:
        print_json(result.to_dict(args.reveal))
        return 0
    return _print_search(result, needle, args.reveal)


def _search_core(path: str, needle: bytes, max_hits: int):
    """search over a core file's segments: the regions of its snapshot, the secrets of
    its env block masked (no pod lookup: the pid in a core names no live process)."""
    from memlab.core.reader import CoreFile
    from memlab.core.snapshot import snapshot_from_core
    from memlab.exposure.search import search
    from memlab.secrets import Masker

    with CoreFile(path) as core:
        snap = snapshot_from_core(core)
        return search(snap.pid, needle, regions=snap.regions, max_hits=max_hits,
                      masker=Masker.for_snapshot(snap, pods=False), reader=core)


def _print_search(result, needle: bytes, reveal: bool) -> int:
    from rich.table import Table
    from rich.text import Text

    from memlab.render.safe import printable

    con = console()
    con.print(Text(f"{len(result.hits)} hit(s){' (truncated)' if result.truncated else ''}"
                   f" in {result.bytes_scanned / (1 << 20):.1f} MiB of pid {result.pid} "
                   f"({result.regions_scanned} regions, {result.elapsed * 1000:.0f} ms, "
                   f"{result.throughput / 1e9:.2f} GB/s, {result.method})"))
    if result.hits:
        t = Table("address", "region", "kind", "context")
        for h in result.hits:
            t.add_row(Text(f"0x{h.address:x}"), Text(printable(h.region)), Text(h.kind),
                      Text(h.context(needle, reveal)))
        con.print(t)
    for region, why in result.skipped:
        con.print(Text(printable(f"skipped {region}: {why}"), style="dim"))
    return 0


# --------------------------------------------------------------------------- audit
def cmd_audit(args) -> int:
    from memlab.exposure.audit import audit

    report = audit()
    if args.json:
        print_json(report.to_dict())
    else:
        from rich.table import Table
        from rich.text import Text

        from memlab.render.safe import printable

        con = console()
        con.print(Text(
            f"{len(report.findings)} finding(s) in {report.processes_with_findings} "
            f"process(es); scanned {report.scanned} of {report.total} "
            f"(denied {report.denied}, vanished {report.vanished}, kernel threads "
            f"{report.empty}) in {report.elapsed * 1000:.0f} ms"))
        if report.findings:
            t = Table("pid", "user", "name", "variable", "value", "why", "who else can read")
            for f in report.findings:
                t.add_row(Text(str(f.pid)), Text(printable(f.user)), Text(printable(f.name)),
                          Text(printable(f.variable)),
                          Text("***"), Text(f.reason), Text(f.readers.summary))
            con.print(t)
        if report.denied:
            why = ("even to root (another security context)" if report.uid == 0 else
                   "run as root to audit them (memlab never escalates)")
            con.print(Text(f"{report.denied} process(es) refused: {why}", style="dim"))
        for err in report.errors:
            con.print(Text("error: " + printable(err), style="dim"))
    if args.fail_on_findings and report.findings:
        return EXIT_FINDINGS
    return 0
