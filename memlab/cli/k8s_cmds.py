"""memlab k8s validate|env|run|apply: Pod/ConfigMap/Secret manifests, run here as kubelet would.

Exit codes: 0 ok; 2 a manifest is malformed or invalid (nothing is written); 1 the pod
cannot start (FailedMount, CreateContainerConfigError) or the process failed to launch.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from memlab.cli._output import add_json_flag, add_reveal_flag, print_json
from memlab.errors import EXIT_OK, EXIT_USAGE, LaunchError, MemlabError, UsageError
from memlab.render.safe import json_text, printable

_RAW = argparse.RawDescriptionHelpFormatter

K8S_EPILOG = """\
examples:
  memlab k8s validate pod.yaml cm.yaml          the API server's checks, its messages
  memlab k8s env pod.yaml -f cm.yaml            the container's env, sorted, with sources
  memlab k8s run pod.yaml -f cm.yaml            run it here; Ctrl-C stops it
  memlab k8s apply cm-v2.yaml --pod DIR         update a ConfigMap under a running pod

The bundled examples (the two manifests of docs/article.md) are in memlab/k8s/examples/.
"""

VALIDATE_EPILOG = """\
examples:
  memlab k8s validate memlab/k8s/examples/volume-pod.yaml
  memlab k8s validate secret.yaml --json

Checks what memlab uses, with Kubernetes' own messages: key names, the 1 MiB limit,
data/binaryData duplicates, base64, Secret types and their required keys (stringData is
merged into data first, stringData wins), items paths and modes, env names, references
from volumeMounts.  Also malformed YAML, unknown kinds/fields and wrong types (an
unquoted `PORT: 80` under data:), with the line.  Exit 2 if anything is invalid.
"""

ENV_EPILOG = """\
examples:
  memlab k8s env memlab/k8s/examples/env-pod.yaml -f memlab/k8s/examples/my-configmap.yaml
  memlab k8s env pod.yaml -f objects.yaml --container sidecar --json --reveal

kubelet's order: envFrom sources (later win, prefix prepended), then env entries
($(VAR) expanded in literal values only), then service variables for names not set.
The runtime adds HOSTNAME and the image's PATH underneath (--no-runtime drops them).
Output is sorted: the real order is a Go map's.  A missing object or key that is not
optional prints kubelet's CreateContainerConfigError message and exits 1.
"""

RUN_EPILOG = """\
examples:
  memlab k8s run memlab/k8s/examples/volume-pod.yaml      busybox `sh -c "sleep 3600"`
  memlab k8s run memlab/k8s/examples/env-pod.yaml -f memlab/k8s/examples/my-configmap.yaml
                                                          redis image -> sample sleeper
  memlab k8s run volume-pod.yaml --exec 'hotreload /etc/config/LOG_LEVEL HOSTNAME'
  memlab k8s run pod.yaml -f cm.yaml --json               JSON lines (started/stdout/...)

Validates everything, resolves volumes (FailedMount) and env
(CreateContainerConfigError) before writing anything; then writes the pod directory
(default $XDG_RUNTIME_DIR/memlab/pods/POD when XDG_RUNTIME_DIR is your own, else
/tmp/memlab-UID/pods/POD; --pod-dir DIR must be empty or memlab's own): each
configMap/secret volume as kubelet's AtomicWriter lays it out, and execve's the
container's command with the computed env.  A command that does not exist here (an
image's entrypoint) is replaced by a bundled sample (--exec, default sleeper).

mountPath: memlab does not create mount namespaces.  rootfs/<mountPath> in the pod
directory links to the volume; the container's command is NOT rewritten.  Arguments you
give an --exec sample that start with a mountPath are mapped to the pod directory.

Runs in the foreground until the process exits or Ctrl-C (the process is killed:
children never outlive memlab).  From another terminal, `memlab k8s apply` updates a
ConfigMap/Secret; the volume changes (printed here), the env does not.
"""

EXEC_EPILOG = """\
Runs CMD inside the pod's running container through the runtime (`runc exec`), with
the env the runtime holds for it (config.json process.env): what `kubectl exec POD --
env` shows, which is not necessarily what the process has in memory (`memlab env PID`).
Needs a pod started by `memlab k8s run` with a runtime (not simulated).

examples:
  memlab k8s exec --pod DIR -- cat /etc/config/LOG_LEVEL
  memlab k8s exec --pod DIR --container sidecar -- env
"""

PS_EPILOG = """\
Lists the pods under memlab's pod root: each container's runtime state, host pid and
container pid (NSpid), mount and PID namespaces, and its mounts (--json: all of them).
"""

APPLY_EPILOG = """\
examples:
  memlab k8s apply memlab/k8s/examples/test-config-debug.yaml \
      --pod /tmp/memlab-0/pods/test-pod-volume-only
  memlab k8s apply cm.yaml --pod DIR --json

Validates the update as the API server does (immutable objects, a Secret's type), stores
it, and re-runs AtomicWriter for every volume that projects it, as kubelet's sync would
(a real cluster takes up to 60-90 s).  Prints the ..data switch and, for each variable a
restarted container would see differently, both values: the running process keeps its env.
DIR must be memlab's pod directory: yours, mode 0700, with the pod.json memlab wrote.
"""


def _add_pod_args(parser, container_help: str | None = None) -> None:
    """`k8s env` and `k8s run`: the pod manifest, its ConfigMaps/Secrets, the container."""
    parser.add_argument("pod", metavar="POD.yaml")
    parser.add_argument("-f", "--filename", dest="objects", action="append", default=[],
                        metavar="OBJ.yaml", help="ConfigMaps/Secrets (repeatable)")
    parser.add_argument("--container", "-c", metavar="NAME", help=container_help)


def register(sub) -> None:
    p = sub.add_parser("k8s", help="Pod/ConfigMap/Secret manifests, run here as kubelet would",
                       description=__doc__.splitlines()[0], epilog=K8S_EPILOG,
                       formatter_class=_RAW)
    ksub = p.add_subparsers(dest="k8s_command", metavar="SUBCOMMAND")
    p.set_defaults(func=lambda args: (p.print_help(), EXIT_USAGE)[1])

    v = ksub.add_parser("validate", help="validate manifests as the API server would",
                        epilog=VALIDATE_EPILOG, formatter_class=_RAW)
    v.add_argument("files", nargs="+", metavar="FILE")
    add_json_flag(v)
    v.set_defaults(func=cmd_validate)

    e = ksub.add_parser("env", help="a container's environment as kubelet computes it",
                        epilog=ENV_EPILOG, formatter_class=_RAW)
    _add_pod_args(e, container_help="default: the first container")
    e.add_argument("--no-runtime", action="store_true",
                   help="leave out HOSTNAME and the image PATH the runtime adds")
    e.add_argument("--no-services", action="store_true",
                   help="leave out the KUBERNETES_* service variables")
    e.add_argument("--kubelet-version", default="1.34", metavar="1.N",
                   help="before 1.30 envFrom keys that are not valid env names were skipped "
                        "with a Warning event (default 1.34)")
    add_json_flag(e)
    add_reveal_flag(e)
    e.set_defaults(func=cmd_env)

    r = ksub.add_parser("run", help="run a pod's container here (env + volumes)",
                        epilog=RUN_EPILOG, formatter_class=_RAW)
    _add_pod_args(r)
    r.add_argument("--exec", dest="exec_sample", metavar="'SAMPLE [ARGS]'",
                   help="run this bundled sample (or program) instead of the command; "
                        "one shell-quoted string")
    r.add_argument("--pod-dir", metavar="DIR", help="where to lay out the pod")
    r.add_argument("--runtime", metavar="PATH",
                   help="the OCI runtime (default: runc, else crun, on PATH)")
    r.add_argument("--simulate", action="store_true",
                   help="run the container as a host process, without a runtime")
    r.add_argument("--timeout", type=_seconds, default=5.0,
                   help="seconds to wait for start")
    add_json_flag(r)
    add_reveal_flag(r)
    r.set_defaults(func=cmd_run)

    a = ksub.add_parser("apply", help="update a ConfigMap/Secret under a running pod",
                        epilog=APPLY_EPILOG, formatter_class=_RAW)
    a.add_argument("manifest", metavar="OBJ.yaml")
    a.add_argument("--pod", required=True, metavar="DIR", help="the pod directory")
    add_json_flag(a)
    add_reveal_flag(a)
    a.set_defaults(func=cmd_apply)

    t = ksub.add_parser("rotate-token", help="issue a new (fake) service-account token "
                        "into a pod's kube-api-access volume",
                        description="kubelet's token manager refreshes a projected "
                        "service-account token before it expires; this does it now, "
                        "through the volume's ..data swap.  The token is memlab's fake.")
    t.add_argument("--pod", required=True, metavar="DIR", help="the pod directory")
    add_json_flag(t)
    t.set_defaults(func=cmd_rotate_token)

    x = ksub.add_parser("exec", help="run a command in a running container (runc exec)",
                        epilog=EXEC_EPILOG, formatter_class=_RAW)
    x.add_argument("--pod", required=True, metavar="DIR", help="the pod directory")
    x.add_argument("--container", "-c", metavar="NAME", help="default: the pod's container")
    x.add_argument("cmd", nargs=argparse.REMAINDER, metavar="-- CMD [ARGS...]")
    x.set_defaults(func=cmd_exec)

    ps = ksub.add_parser("ps", help="the pods memlab runs: containers, pids, namespaces",
                         epilog=PS_EPILOG, formatter_class=_RAW)
    add_json_flag(ps)
    ps.set_defaults(func=cmd_ps)


def _say(line: str, **kw) -> None:
    """Print one line for people.  Manifests, the pod's files and the process's own
    output are data: their control characters are shown escaped (memlab.render.safe)."""
    print(printable(line), **kw)


# --- validate -----------------------------------------------------------------------------

def _seconds(value: str) -> float:
    """argparse type: a positive number of seconds (--timeout -1 used to fail as
    "the child neither exec'd nor failed in time", exit 1)."""
    try:
        n = float(value) if value.isascii() else None  # float() also takes "١٢"
    except ValueError:
        n = None
    if n is None:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {value!r}")
    if not 0 < n <= MAX_TIMEOUT:  # nan and inf fail this too
        raise argparse.ArgumentTypeError(f"must be a number of seconds from 0 to "
                                         f"{MAX_TIMEOUT}, not {value}")
    return n


MAX_TIMEOUT = 600  # --timeout: a process that needs more than 10 minutes to start is stuck


def cmd_validate(args) -> int:
    from memlab.k8s import manifests, validation
    report = []
    ok = True
    for path in args.files:
        try:
            objs = manifests.load_file(path)
        except MemlabError as err:
            ok = False
            report.append({"file": path, "line": None, "kind": None, "name": None,
                           "namespace": None, "valid": False,
                           "errors": [{"message": str(err)}]})
            continue
        if not objs:  # like `kubectl apply -f empty.yaml`: "no objects passed to apply"
            ok = False
            report.append({"file": path, "line": None, "kind": None, "name": None,
                           "namespace": None, "valid": False,
                           "errors": [{"message": f"{path}: no objects (the file is empty "
                                       "or only comments)"}]})
            continue
        for obj in objs:
            errs = validation.validate(obj)
            ok = ok and not errs
            report.append({
                "file": obj.source, "line": obj.line, "kind": obj.kind, "name": obj.name,
                "namespace": obj.namespace, "valid": not errs,
                "warnings": validation.warnings(obj),
                "errors": [{"field": e.field, "type": e.type, "detail": e.detail,
                            "line": obj.line_of(e.path), "message": str(e)} for e in errs]})
    if args.json:
        print_json({"schema": "memlab.k8s.validate/1", "valid": ok, "objects": report})
    else:
        for r in report:
            if r["kind"] is None:
                _say(f"invalid  {r['errors'][0]['message']}")
                continue
            head = f"{r['file']}:{r['line']}: {r['kind']} {r['namespace']}/{r['name']}"
            if r["valid"]:
                _say(f"valid    {head}")
            for w in r.get("warnings") or []:  # kubectl: "Warning: <the server's text>"
                _say(f"Warning: {w}")
            for e in r["errors"]:
                _say(f"invalid  {r['file']}:{e['line']}: The {r['kind']} \"{r['name']}\" "
                     f"is invalid: {e['message']}")
    return EXIT_OK if ok else EXIT_USAGE


# --- env ----------------------------------------------------------------------------------

def _load_pod(pod_path: str, object_paths: list[str]):
    from memlab.k8s import manifests, validation
    docs = manifests.load_file(pod_path)
    for p in object_paths:
        docs.extend(manifests.load_file(p))
    docs = validation.expand_workloads(docs)  # a DaemonSet: its pod template
    pods = [d for d in docs if isinstance(d, manifests.Pod)]
    if len(pods) != 1:
        raise manifests.ManifestError(f"{pod_path}: expected exactly one Pod, found "
                                      f"{len(pods)}")
    for d in docs:
        validation.check(d)
    store = manifests.ObjectStore(d for d in docs if not isinstance(d, manifests.Pod))
    from memlab.k8s.serviceaccount import admit
    return admit(pods[0], store), store


def _kubelet_minor(version: str) -> int:
    major, _, minor = version.lstrip("v").partition(".")
    if major != "1" or not minor.split(".")[0].isdigit():
        raise UsageError(f"--kubelet-version: expected 1.N, not {version!r}")
    return int(minor.split(".")[0])


def cmd_env(args) -> int:
    from memlab.k8s.envvars import container_environment
    pod, store = _load_pod(args.pod, args.objects)
    c = pod.container(args.container)
    minor = _kubelet_minor(args.kubelet_version)
    events: list[str] = []
    env = container_environment(pod, c, store, runtime=not args.no_runtime,
                                services=not args.no_services, kubelet_minor=minor,
                                events=events)
    if args.json:
        print_json({"schema": "memlab.k8s.env/1", "pod": pod.name,
                    "namespace": pod.namespace, "container": c.get("name"),
                    "env": [e.to_dict(args.reveal) for e in env], "events": events})
        return EXIT_OK
    for ev in events:
        _say(f"# event: {ev}")
    width = max((len(e.name) for e in env), default=4)
    vals = [e.display(args.reveal) for e in env]
    import shutil

    cols = shutil.get_terminal_size().columns  # COLUMNS, else 80
    longest_source = max((len(e.source) for e in env), default=0)
    vwidth = min(max((len(v) for v in vals), default=5), 40,
                 max(cols - width - longest_source - 4, 12))
    _say(f"# pod {pod.namespace}/{pod.name} container {c.get('name')}: "
         f"{len(env)} variables")
    _say("# (sorted by name; the order the container sees is unspecified)")
    for e, v in zip(env, vals):
        line = f"{e.name:<{width}}  {v:<{vwidth}}  {e.source}"
        if len(line) <= cols:
            _say(line)
        else:  # too wide for the terminal: the source on its own line, below
            _say(f"{e.name:<{width}}  {v}")
            pad = width + 2 if width + 5 + len(e.source) <= cols else 4
            _say(f"{'':<{pad}}<- {e.source}")
    return EXIT_OK


# --- run ----------------------------------------------------------------------------------

def _emit(args, obj: dict) -> None:
    """--json: one compact JSON object per line (a stream); flushed."""
    sys.stdout.write(json_text(json.dumps(obj, ensure_ascii=False)) + "\n")
    sys.stdout.flush()


def _print_started(pr, reveal: bool) -> None:
    _say(f"pod {pr.pod.namespace}/{pr.pod.name} container {pr.container.get('name')}")
    _say(f"pod dir  {pr.pod_dir}")
    if pr.simulated:
        _say(pr.simulated)
    else:
        _say(f"runtime  {pr.runtime.path} (state {pr.runtime.root}); {rt_note()}")
        for cr in pr.containers_run:
            kind = ("sandbox (pause)" if cr.sandbox else
                    "init container" if cr.init else "container")
            _say(f"{kind} {cr.name}: runc id {cr.id}, bundle {cr.bundle}"
                 + ("" if cr.init else f", host pid {cr.host_pid}"))
    _say(f"process  pid {pr.pid}: {' '.join(pr.shown_argv(reveal))}")
    _say(f"note     {pr.note}")
    for w in pr.warnings:
        _say(f"warning  {w}")
    _say(f"env ({len(pr.env)}, frozen at execve):")
    for e in pr.env:
        _say(f"  {e.name}={e.display(reveal)}    [{e.source}]")
    from memlab.k8s.poddir import volume_tree
    for vs in pr.volume_sources:
        host = vs.host_dir(pr.pod_dir)
        _say(f"volume {vs.name} ({vs.kind} {vs.object_name}) at {host}:")
        for ent in volume_tree(host):
            extra = f" -> {ent['target']}" if ent["type"] == "symlink" else (
                f" ({ent['size']} bytes)" if ent["type"] == "file" else "/")
            _say(f"  {ent['mode']}  {ent['path']}{extra}")
    for m in pr.mounts:
        if pr.simulated:
            _say(f"mount    {m.mount_path} -> {m.mapped_path} (mapped under the pod dir; the "
                 "command is not rewritten)")
        elif m.sub_path:
            _say(f"mount    {m.mount_path}: read-only bind of {m.sub_path} as resolved now "
                 "(a subPath never sees a later ..data swap)")
        else:
            _say(f"mount    {m.mount_path}: read-only bind mount of {m.host_dir}")
    _say("Ctrl-C stops the pod.  From another terminal:")
    _say(f"  memlab k8s apply CM.yaml --pod {pr.pod_dir}    update a ConfigMap/Secret")
    _say(f"  memlab env {pr.pid}    the env block execve wrote at the top of the stack")
    if not pr.simulated:
        _say(f"  memlab k8s exec --pod {pr.pod_dir} -- env    what `kubectl exec` shows")
    sys.stdout.flush()


def cmd_run(args) -> int:
    from memlab.k8s.pod import prepare
    objects = list(args.objects)
    runtime = False if args.simulate else (args.runtime or True)
    pr = prepare(args.pod, objects, container=args.container, pod_dir=args.pod_dir,
                 runtime=runtime)
    sample, exec_args = None, []
    if args.exec_sample:
        import shlex
        try:
            words = shlex.split(args.exec_sample)
        except ValueError as err:
            raise UsageError(f"--exec: {err}") from err
        if not words:
            raise UsageError("--exec: empty command")
        sample, exec_args = words[0], words[1:]
    pr.start(sample, exec_args, timeout=args.timeout)
    try:
        if args.json:
            _emit(args, {"event": "started", **pr.to_dict(args.reveal)})
        else:
            _print_started(pr, args.reveal)
        if pr.launched.report is not None:
            line = json.dumps(pr.launched.report, ensure_ascii=False)
            _emit(args, {"event": "stdout", "line": line}) if args.json else \
                _say(f"[{pr.pid}] {line}", flush=True)
        _follow(pr, args)
    except KeyboardInterrupt:
        code = pr.stop()
        if args.json:
            _emit(args, {"event": "stopped", "exit_code": code})
        else:
            print()  # below the ^C
            _say(f"pod stopped (process killed, exit {code}); pod dir kept: {pr.pod_dir}")
        return EXIT_OK
    finally:
        pr.stop()
    code = pr.launched.returncode
    if args.json:
        _emit(args, {"event": "exited", "exit_code": code})
    else:
        _say(f"process exited ({code}); pod dir kept: {pr.pod_dir}")
    return EXIT_OK if code == 0 else 1


def _follow(pr, args) -> None:
    """Relay the process's stdout and report volume swaps until the process exits."""
    targets = pr.data_targets()
    while True:
        try:
            line = pr.launched.read_stdout_line(timeout=0.2)
        except LaunchError:
            line = ""  # nothing within the timeout
        if line is None:  # EOF: the process closed stdout / exited
            pr.launched.wait()
            return
        if line:
            if args.json:
                _emit(args, {"event": "stdout", "line": line})
            else:
                _say(f"[{pr.pid}] {line}", flush=True)
        now = pr.data_targets()
        for vol, target in now.items():
            if target != targets.get(vol):
                msg = {"event": "volume", "volume": vol, "data_target": target,
                       "previous": targets.get(vol)}
                if args.json:
                    _emit(args, msg)
                else:
                    _say(f"volume {vol}: ..data -> {target} (was {targets.get(vol)}); "
                         "env unchanged", flush=True)
        targets = now
        if not pr.launched.alive:
            pr.launched.wait()
            return
        time.sleep(0.0 if line else 0.05)


# --- apply --------------------------------------------------------------------------------

def cmd_apply(args) -> int:
    from memlab.k8s.apply import ENV_NOTE, apply_to_pod_dir
    from memlab.k8s.poddir import pod_dir_running
    results = apply_to_pod_dir(args.pod, args.manifest)
    running = pod_dir_running(args.pod)
    if args.json:
        print_json({"schema": "memlab.k8s.apply/1", "pod_dir": args.pod,
                    "running_pid": running,
                    "results": [r.to_dict(args.reveal) for r in results], "note": ENV_NOTE})
        return EXIT_OK
    shown: set[str] = set()
    for r in results:
        head = f"{r.object} {r.action}"
        if r.volume is None:
            _say(f"{head}; no volume of this pod projects it")
        elif r.event:
            _say(f"{head}; volume {r.volume}: {r.event} (old content kept)")
        elif r.write and r.write.written:
            w = r.write
            extra = ""
            if w.links_created:
                extra += f", new links {w.links_created}"
            if w.removed:
                extra += f", removed {w.removed}"
            _say(f"{head}; volume {r.volume}: ..data -> {w.ts_dir} (was {w.old_ts_dir}; "
                 f"old dir deleted){extra}")
        elif r.write:
            extra = f", recreated links {r.write.links_created}" if r.write.links_created \
                else ""
            _say(f"{head}; volume {r.volume}: content identical, nothing written{extra}")
        if r.object not in shown:
            shown.add(r.object)
            for name, d in (r.to_dict(args.reveal)["env_drift"] or {}).items():
                _say(f"  env {name}: the running process keeps {d['running']!r}; "
                     f"a restarted container would get {d['on_restart']!r}")
    if running is None:
        _say("note: the pod is not running: the object is stored and the files were "
             "updated, but no process sees them until `memlab k8s run` starts it again")
    else:
        _say(f"note: {ENV_NOTE}")
    return EXIT_OK


# --- rotate-token -------------------------------------------------------------------------

def cmd_rotate_token(args) -> int:
    from memlab.k8s.volumes import rotate_token
    results = rotate_token(args.pod)
    if not results:
        raise UsageError(f"{args.pod}: the pod has no service-account token volume "
                         "(automountServiceAccountToken: false?)")
    if args.json:
        print_json({"schema": "memlab.k8s.rotate-token/1", "pod_dir": args.pod,
                    "writes": [r.to_dict() for r in results]})
        return EXIT_OK
    for r in results:
        _say(f"token rotated: ..data -> {r.ts_dir} (was {r.old_ts_dir}); the running "
             "process reads the new token at its next open()")
    return EXIT_OK


# --- exec / ps ----------------------------------------------------------------------------

def rt_note() -> str:
    from memlab.k8s.runtime import NETWORK_NOTE
    return NETWORK_NOTE


def _write_bytes(stream, data: bytes) -> None:
    """CMD's bytes as they are; to a text stream without a buffer (a lesson's try-it run
    in-process captures memlab's output in a StringIO) decoded, undecodable bytes escaped."""
    buf = getattr(stream, "buffer", None)
    if buf is not None:
        buf.write(data)
    else:
        stream.write(data.decode("utf-8", "backslashreplace"))


def cmd_exec(args) -> int:
    from memlab.k8s.poddir import load_state
    from memlab.k8s.runtime import Runtime
    cmd = list(args.cmd)
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    if not cmd:
        raise UsageError("k8s exec: give the command after --")
    state = load_state(os.path.abspath(args.pod))
    if not state.get("runtime"):
        raise MemlabError("k8s exec: this pod is simulated (no container runtime, install "
                          "runc): run the command on the host instead", path=args.pod)
    want = args.container or state["container"]
    ids = {c["name"]: c["id"] for c in state.get("containers") or [] if not c.get("init")}
    if want not in ids:
        raise UsageError(f"pod {state['name']!r} has no running container {want!r}")
    runtime = Runtime(state["runtime"])
    if runtime.state(ids[want]) is None:
        raise MemlabError(f"container {want!r} is not running", path=args.pod)
    r = runtime.exec(ids[want], cmd)
    _write_bytes(sys.stdout, r.stdout)
    sys.stdout.flush()
    if r.stderr:
        _write_bytes(sys.stderr, r.stderr)
    if cmd[0] in ("env", "/bin/env", "printenv"):
        print("# memlab: this is the env the runtime holds for the container (config.json "
              "process.env, as `kubectl exec -- env` shows it); the process's own memory may "
              f"differ: compare `memlab env {state.get('pid')}`", file=sys.stderr)
    return r.returncode


def cmd_ps(args) -> int:
    from memlab.k8s.poddir import default_pod_root, load_state
    from memlab.k8s.runtime import Runtime
    from memlab.procfs.mountinfo import namespaces, read_mountinfo
    root = default_pod_root()
    pods = []
    names = sorted(os.listdir(root)) if os.path.isdir(root) else []
    for name in names:
        try:
            state = load_state(root / name)
        except MemlabError:
            continue
        runtime = Runtime(state["runtime"]) if state.get("runtime") else None
        conts = []
        for c in state.get("containers") or []:
            st = runtime.state(c["id"]) if runtime else None
            entry = {"name": c["name"], "id": c["id"], "init": bool(c.get("init")),
                     "state": st["status"] if st else "gone",
                     "host_pid": st["pid"] if st and st.get("pid") else None,
                     "container_pid": None, "namespaces": {}, "mounts": []}
            pid = entry["host_pid"]
            if pid:
                try:
                    entry["namespaces"] = namespaces(pid)
                    entry["container_pid"] = _nspid(pid)
                    entry["mounts"] = [m.to_dict() for m in read_mountinfo(pid)
                                       if m.fstype != "proc"]
                except MemlabError:
                    pass
            conts.append(entry)
        pods.append({"pod": state["name"], "namespace": state["namespace"],
                     "pod_dir": str(root / name), "runtime": state.get("runtime"),
                     "simulated": state.get("simulated"), "pid": state.get("pid"),
                     "containers": conts})
    if args.json:
        print_json({"schema": "memlab.k8s.ps/1", "pods": pods})
        return EXIT_OK
    if not pods:
        _say(f"no pods under {root}")
    for p in pods:
        _say(f"pod {p['namespace']}/{p['pod']}  {p['pod_dir']}")
        if p["simulated"]:
            _say(f"  {p['simulated']}: host pid {p['pid']}")
        for c in p["containers"]:
            ns = " ".join(f"{k}:{v.split('[')[-1].rstrip(']')}"
                          for k, v in c["namespaces"].items() if k in ("mnt", "pid"))
            _say(f"  {c['name']:<16} {c['state']:<8} host pid {c['host_pid']}  "
                 f"container pid {c['container_pid']}  {ns}  {len(c['mounts'])} mounts")
    return EXIT_OK


def _nspid(pid: int) -> int | None:
    """The pid inside the innermost PID namespace: NSpid's last field (/proc/PID/status)."""
    from memlab.procfs.status import read_status
    try:
        nspid = read_status(pid).get("NSpid", "")
    except (MemlabError, AttributeError):
        return None
    parts = str(nspid).split()
    return int(parts[-1]) if parts and parts[-1].isdigit() else None
