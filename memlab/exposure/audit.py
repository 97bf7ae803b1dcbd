"""Audit: which running processes carry secret-looking environment variables, and who
else can read them.

Every process the caller may read is checked by reading /proc/PID/environ once (through
memlab.procfs, so errors are the usual memlab errors).  A process that exits during the
scan (ENOENT/ESRCH, or a zombie) is counted as vanished; one the kernel refuses is counted
as denied; a kernel thread reads empty and is counted as such.  None of these is fatal.

What counts as a finding is deliberately narrower than what memlab masks on screen
(memlab.secrets masks SESSION, COOKIE, AUTH ... too, because hiding a harmless value costs
nothing, while a CI audit that fails on XDG_SESSION_ID would be switched off):
  - names containing PASSWORD/PASSWD, SECRET or TOKEN, names ending in KEY, and AWS_*
    names other than plain configuration (AWS_REGION, AWS_PROFILE ...);
  - any value shaped like a credential (memlab.secrets.looks_secret_value: JWTs, AWS key
    ids, GitHub/Slack tokens, PEM private keys, URLs with user:password@).
Values are never kept: a finding holds the variable's name and the value's length only.

Who else can read it: the kernel lets any process with the same uid read
/proc/PID/environ, as long as the target is dumpable (kernel/ptrace.c
__ptrace_may_access); root (CAP_SYS_PTRACE) reads it regardless.  The files inside a non-dumpable
process's /proc/PID are owned by root while the directory keeps its euid (fs/proc/base.c
task_dump_owner), which is how uid and dumpability are read from outside, with one stat()
each instead of reading /proc/PID/status.

A process whose main thread exited (pthread_exit) while other threads run is audited
like any other: memlab.procfs reads its environ through a live thread
(/proc/PID/task/TID/environ).  Its /proc/PID files are root-owned because the main
thread has no mm left (task_dump_owner), so its dumpability is read from the live
thread's files too.
"""

from __future__ import annotations

import errno
import os
import pwd
import re
import time
from typing import Any, Callable, Iterable, NamedTuple

from memlab.errors import AccessDenied, MemlabError, NoSuchProcess, ZombieProcess, errno_of
from memlab.procfs._io import list_pids, live_thread, proc_path, read_proc_file
from memlab.secrets import MASK, looks_secret_value

SCHEMA = "memlab.audit/1"

# The names the issue lists: *PASSWORD*, *SECRET*, *TOKEN*, *KEY (incl. *_KEY), AWS_*.
_NAME_RULES: tuple[tuple[str, re.Pattern[bytes]], ...] = (
    ("name contains PASSWORD", re.compile(rb"PASSW(?:OR)?D", re.I)),
    ("name contains SECRET", re.compile(rb"SECRET", re.I)),
    ("name contains TOKEN", re.compile(rb"TOKEN", re.I)),
    ("name ends in KEY", re.compile(rb"KEY$", re.I)),
    ("name starts with AWS_", re.compile(rb"^AWS_", re.I)),
)
# AWS_* names that configure the SDK and hold no credential (AWS CLI docs, "Environment
# variables to configure the AWS CLI").
AWS_CONFIG_NAMES = frozenset({
    "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
    "AWS_DEFAULT_OUTPUT", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_PAGER",
    "AWS_CA_BUNDLE", "AWS_RETRY_MODE", "AWS_MAX_ATTEMPTS", "AWS_SDK_LOAD_CONFIG",
    "AWS_ENDPOINT_URL", "AWS_EXECUTION_ENV", "AWS_USE_FIPS_ENDPOINT",
    "AWS_USE_DUALSTACK_ENDPOINT", "AWS_ROLE_SESSION_NAME", "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_RUNTIME_API",
})
# Where a finding can be, found in one pass over the whole environ block: every finding's
# NAME=value entry contains one of these substrings, so only the entries around a match
# are split and judged.  Most processes cost one regex search; one with AWS_CA_BUNDLE or
# a URL in every env judges one or two entries, not all of them.  Keep in step with
# _NAME_RULES and memlab.secrets._SECRET_VALUE (a hypothesis test compares the result
# with judging every entry).
_CANDIDATE = re.compile(
    rb"PASSW|SECRET|TOKEN|KEY=|AWS_|eyJ|AKIA|gh[pousr]_|xox[abposr]-|-----BEGIN|://", re.I)


_ANY_NAME_RULE = re.compile(b"|".join(rule.pattern for _, rule in _NAME_RULES), re.I)


def finding_reason(name: bytes, value: bytes) -> str | None:
    """Why NAME=value is a finding, or None.  Empty values are never findings."""
    if not value:
        return None
    text_name = name.decode("utf-8", "backslashreplace")
    for reason, rule in _NAME_RULES if _ANY_NAME_RULE.search(name) else ():
        if rule.search(name):
            if reason.startswith("name starts with AWS_") and \
                    text_name.upper() in AWS_CONFIG_NAMES:
                continue
            return reason
    if looks_secret_value(value.decode("utf-8", "backslashreplace")):
        return "value is shaped like a credential"
    return None


def scan_block(data: bytes) -> list[tuple[str, int, str]]:
    """(variable, value length, reason) for each finding in an environ block, in block
    order."""
    out: list[tuple[str, int, str]] = []
    judged_to = 0  # entries that start before this offset were judged already
    for m in _CANDIDATE.finditer(data):
        if m.start() < judged_to:
            continue
        start = data.rfind(b"\0", 0, m.start()) + 1
        end = data.find(b"\0", m.end())
        if end < 0:
            end = len(data)
        judged_to = end + 1
        name, eq, value = data[start:end].partition(b"=")
        reason = finding_reason(name, value) if eq else None
        if reason:
            out.append((name.decode("utf-8", "backslashreplace"), len(value), reason))
    return out


# --------------------------------------------------------------------------- results
class Readers(NamedTuple):
    """Who besides the process itself can read its environment."""

    uid: int
    dumpable: bool | None  # None: cannot tell (root-owned processes look the same)
    same_uid_processes: int  # other processes running as uid (now)

    @property
    def summary(self) -> str:
        if self.dumpable is False:
            return "root only (the process is not dumpable)"
        if self.uid == 0:
            return "root only (a root process)"
        n = self.same_uid_processes
        return (f"root and any process of uid {self.uid} "
                f"({n} other running now)")

    def to_dict(self) -> dict[str, Any]:
        return {"uid": self.uid, "root": True, "dumpable": self.dumpable,
                "same_uid_processes": self.same_uid_processes,
                "summary": self.summary}


class Finding(NamedTuple):
    pid: int
    uid: int  # effective uid (the one the kernel's access check compares)
    user: str
    name: str  # the process name (comm)
    variable: str
    value_length: int
    reason: str
    readers: Readers

    def to_dict(self) -> dict[str, Any]:
        return {"pid": self.pid, "uid": self.uid, "user": self.user, "name": self.name,
                "variable": self.variable, "value": MASK,
                "value_length": self.value_length, "reason": self.reason,
                "readers": self.readers.to_dict()}


class AuditReport:
    """Filled in while the scan runs."""

    def __init__(self) -> None:
        self.findings: list[Finding] = []
        self.scanned = 0  # processes whose environ memlab read
        self.vanished = 0  # exited during the scan (gone, or a zombie)
        self.denied = 0  # the kernel refused (another uid, or not dumpable)
        self.empty = 0  # kernel threads: no user memory, nothing to audit
        self.errors: list[str] = []  # anything else, one line each
        self.total = 0  # pids listed at the start
        self.elapsed = 0.0
        self.uid = os.geteuid()  # who ran the audit

    @property
    def processes_with_findings(self) -> int:
        return len({f.pid for f in self.findings})

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA, "auditor_uid": self.uid, "total": self.total,
            "scanned": self.scanned, "vanished": self.vanished, "denied": self.denied,
            "empty": self.empty, "errors": list(self.errors),
            "processes_with_findings": self.processes_with_findings,
            "findings": [f.to_dict() for f in self.findings],
            "elapsed_ms": round(self.elapsed * 1000, 1),
        }


# --------------------------------------------------------------------------- scan
_users: dict[int, str] = {}


def user_name(uid: int) -> str:
    if uid not in _users:
        try:
            _users[uid] = pwd.getpwuid(uid).pw_name
        except KeyError:
            _users[uid] = str(uid)
    return _users[uid]


def proc_euid(pid: int) -> int | None:
    """The euid of a process from the owner of its /proc/PID directory: the kernel keeps
    directories owned by the effective uid for exactly this use, even when the process
    is not dumpable (fs/proc/base.c task_dump_owner).  None when it is gone."""
    try:
        return os.stat(proc_path(pid)).st_uid
    except OSError:
        return None


def is_dumpable(pid: int, euid: int) -> bool | None:
    """Whether the process is dumpable, seen from outside: the files inside /proc/PID of a
    non-dumpable process are owned by root (task_dump_owner).  None when it cannot be
    told (a root process: root-owned either way) or the process is gone."""
    if euid == 0:
        return None
    try:
        if os.stat(proc_path(pid, "environ")).st_uid == euid:
            return True
        tid = live_thread(pid)  # root-owned: not dumpable, or the main thread exited
        return tid is not None and os.stat(proc_path(pid, "environ", tid)).st_uid == euid
    except OSError:
        return None


def audit(pids: Iterable[int] | None = None, *,
          progress: Callable[[int, int, int], None] | None = None,
          exclude_self: bool = True) -> AuditReport:
    """Scan every process (or just `pids`).  progress(done, total, pid) is called before
    each process is read.  Never raises for a process that vanishes or denies access."""
    t0 = time.perf_counter()
    report = AuditReport()
    pid_list = list_pids() if pids is None else list(pids)
    me = os.getpid()
    if exclude_self:
        pid_list = [p for p in pid_list if p != me]
    report.total = len(pid_list)
    hits: list[tuple[int, list[tuple[str, int, str]]]] = []
    for i, pid in enumerate(pid_list):
        if progress is not None:
            progress(i, report.total, pid)
        try:
            data = read_proc_file(pid, "environ")
        except (ZombieProcess, NoSuchProcess):  # exited between listdir and read
            report.vanished += 1
            continue
        except AccessDenied:
            report.denied += 1
            continue
        except MemlabError as err:
            if errno_of(err) in (errno.ESRCH, errno.ENOENT):
                # A live task without an mm: a kernel thread (6.x answers ESRCH at open,
                # older kernels an empty file) -- nothing to audit, not a denial.
                report.empty += 1
            else:
                report.errors.append(str(err))
            continue
        if not data:
            report.empty += 1  # kernel thread
            continue
        report.scanned += 1
        found = scan_block(data)
        if found:
            hits.append((pid, found))
    if hits:
        _resolve(report, hits, pid_list)
    report.elapsed = time.perf_counter() - t0
    return report


def _resolve(report: AuditReport, hits: list[tuple[int, list[tuple[str, int, str]]]],
             pid_list: list[int]) -> None:
    """Owner, name and readers of each process with findings (a second, small pass)."""
    euids: dict[int, int] = {}
    for pid in pid_list:  # one stat() each, only when there is something to report
        euid = proc_euid(pid)
        if euid is not None:
            euids[pid] = euid
    per_uid: dict[int, int] = {}
    for euid in euids.values():
        per_uid[euid] = per_uid.get(euid, 0) + 1
    for pid, found in hits:
        euid = euids.get(pid)
        try:
            # comm, not status: one short read instead of parsing ~55 lines.
            name = read_proc_file(pid, "comm").decode("utf-8", "backslashreplace").strip()
        except (ZombieProcess, NoSuchProcess):
            name = "?"  # it exited after its environ was read: still report the secret
        except MemlabError as err:
            report.errors.append(str(err))
            continue
        if euid is None:
            euid = -1
        same = per_uid.get(euid, 0) - 1
        readers = Readers(uid=euid, dumpable=is_dumpable(pid, euid),
                          same_uid_processes=max(0, same))
        for variable, length, reason in found:
            report.findings.append(Finding(
                pid=pid, uid=euid, user=user_name(euid), name=name,
                variable=variable, value_length=length, reason=reason, readers=readers))
