"""Pod view: a Kubernetes pod run here (memlab.k8s), its env and its volume side by side.

Teaches: a ConfigMap reaches a container two ways.  As environment it is copied onto
the process's stack at execve and never changes (kubernetes#22368); as a volume it is a
directory kubelet's AtomicWriter keeps up to date by swapping the `..data` symlink.
Edit the ConfigMap below, apply it (ctrl+t, or the Apply button), and watch the
`..data` target switch and the file value change — while the env column, read live from
/proc/PID/environ, stays as it was.
"""

from __future__ import annotations

from importlib.resources import files

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Input, Static, TextArea

from memlab.errors import MemlabError
from memlab.k8s.manifests import ConfigMap, text_or_path
from memlab.model import text
from memlab.render.safe import fit, printable
from memlab.secrets import display_value
from memlab.tui.views import ViewSpec
from memlab.tui.widgets.base import SnapshotView
from memlab.tui.widgets.virtual import VirtualTable
from memlab.tui.workers import background

CHANGED = "bold black on yellow"
SAME = "green"


def demo_manifest() -> str:
    return str(files("memlab.tui").joinpath("pod_demo.yaml"))


def config_map_yaml(manifest_path: str, log_level: str = "DEBUG") -> str:
    """The demo's first ConfigMap as YAML, with LOG_LEVEL changed: the editor's start."""
    import yaml  # PyYAML, as memlab.k8s uses: lazy, a heavy optional import

    for obj in text_or_path(manifest_path):
        if isinstance(obj, ConfigMap):
            raw = dict(obj.raw)
            data = dict(raw.get("data") or {})
            if "LOG_LEVEL" in data:
                data["LOG_LEVEL"] = log_level
            raw["data"] = data
            return yaml.safe_dump(raw, sort_keys=False)
    return ""


class PodView(SnapshotView):
    BINDINGS = [Binding("ctrl+t", "apply", "Apply ConfigMap")]

    class State(Message):
        def __init__(self, state: dict | None, error: str | None = None,
                     applied: list | None = None) -> None:
            super().__init__()
            self.state, self.error, self.applied = state, error, applied

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.state: dict | None = None
        self.before: dict | None = None  # the state before the last apply (highlights)
        self.applied: list = []
        self.errors: list[str] = []

    def compose(self) -> ComposeResult:
        with Horizontal(id="pod-top"):
            yield Input(value=demo_manifest(), id="pod-manifest",
                        placeholder="pod manifest (YAML with the Pod and its objects)")
            yield Button("Run pod", id="pod-run")
        yield Static(id="pod-status")
        with Horizontal(id="pod-sides"):
            with Vertical(id="pod-env-side"):
                yield Static(Text("env — frozen at execve (live /proc/PID/environ)",
                                  style="bold"))
                yield VirtualTable("name", "at execve", "/proc/PID/environ now",
                                   id="pod-env")
            with Vertical(id="pod-vol-side"):
                yield Static(id="pod-vol-head")
                yield VirtualTable("file", "value now", id="pod-files")
        with Horizontal(id="pod-edit"):
            yield TextArea("", id="pod-yaml", language=None)
            yield Button("Apply", id="pod-apply")

    def focus_main(self) -> None:
        # Never the manifest Input: it would take q, v and the view keys.  Before a pod
        # runs, the Run button (enter presses it, as the status line says); then the env.
        if self.state is None:
            self.query_one("#pod-run", Button).focus()
        else:
            self.query_one("#pod-env", VirtualTable).focus()

    def render_snapshot(self) -> None:
        if self.state is not None:
            self.refresh_state()

    def on_mount(self) -> None:
        self.set_interval(1.0, self._tick)
        self._draw()

    def _tick(self) -> None:
        # volume files change behind our back (`memlab k8s apply` elsewhere): follow
        # them while live refresh is on
        if self.state is not None and getattr(self.app, "live", False):
            self.refresh_state()

    # -- actions (event-loop thread for run, workers for the rest) -------------------
    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "pod-run":
            self.run_pod()
        elif event.button.id == "pod-apply":
            self.action_apply()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "pod-manifest":
            event.stop()
            self.run_pod()

    def run_pod(self) -> None:
        """Runs on the event-loop thread: the pod's process is launched here."""
        path = self.query_one("#pod-manifest", Input).value.strip()
        self.errors = []
        try:
            self.app.run_pod(path)
        except MemlabError as err:
            self.errors.append(f"run: {err}")
            self._draw()
            return
        self.before, self.applied = None, []
        self.query_one("#pod-yaml", TextArea).text = config_map_yaml(path)
        # Off the manifest Input (Enter there runs the pod): it would take the letter
        # keys, the app's `v` reveal and the view keys among them.
        self.query_one("#pod-env", VirtualTable).focus()
        self.refresh_state()

    def action_apply(self) -> None:
        if self.state is None:
            self.errors = ["apply: run a pod first"]
            self._draw()
            return
        self.before = self.state
        self.apply_worker(self.query_one("#pod-yaml", TextArea).text)

    @background(exclusive=True, group="pod")
    def apply_worker(self, yaml_text: str) -> None:
        source = self.app.source
        try:
            applied = source.apply_pod(yaml_text)
            self.post_message(self.State(source.pod_state(), applied=applied))
        except MemlabError as err:
            self.post_message(self.State(None, error=f"apply: {err}"))

    @background(exclusive=True, group="pod")
    def refresh_state(self) -> None:
        try:
            self.post_message(self.State(self.app.source.pod_state()))
        except MemlabError as err:
            self.post_message(self.State(None, error=str(err)))

    def on_pod_view_state(self, message: State) -> None:
        message.stop()
        if message.error is not None:
            self.errors.append(message.error)
        else:
            self.state = message.state
            if message.applied is not None:
                self.applied = message.applied
        self._draw()

    # -- drawing --------------------------------------------------------------------
    def _draw(self) -> None:
        status = Text()
        st = self.state
        if st is None:
            status.append("no pod yet: enter (on Run pod) runs the manifest above (a bundled "
                          "demo: one ConfigMap as env AND as a volume)", style="dim")
        else:
            # names come from the manifest, errors quote files and values: escaped
            status.append(f"pod {printable(st['name'])} pid {st['pid']}  ", style="bold")
            status.append(printable(st["note"]) + "\n", style="dim")
            for r in self.applied:
                status.append(printable(f"applied {r.object}: {r.action}"
                                        + (f" (volume {r.volume})" if r.volume else ""))
                              + "\n", style="bold")
        for e in self.errors:
            status.append(f"✗ {printable(e)}\n", style="bold red")
        self.query_one("#pod-status", Static).update(status)
        self._draw_env()
        self._draw_files()

    def _draw_env(self) -> None:
        table = self.query_one("#pod-env", VirtualTable)
        st = self.state
        if st is None:
            table.clear()
            return
        # the variables from objects first: those are the ones an apply could change
        ordered = sorted(st["env"], key=lambda e: (not e.source.startswith(
            ("envFrom", "configMapKeyRef", "secretKeyRef")), e.name))
        rows = []
        for e in ordered:
            now = st["proc_environ"].get(e.name)
            same = now == e.value
            shown_now = "(absent)" if now is None else display_value(
                e.name, now, self.reveal, e.from_secret)
            rows.append((Text(fit(e.name, 18), style="bold cyan"),
                         Text(fit(e.display(self.reveal), 12)),
                         Text(fit(shown_now, 12) + (" ✓ same" if same else " ✗ differs"),
                              style=SAME if same else "bold red")))
        table.set_rows(len(rows), rows.__getitem__)

    def _draw_files(self) -> None:
        table = self.query_one("#pod-files", VirtualTable)
        head = self.query_one("#pod-vol-head", Static)
        st = self.state
        if st is None:
            table.clear()
            head.update(Text("volume files — live", style="bold"))
            return
        before = self.before or {}
        t = Text("volume files — live; ", style="bold")
        for vol, target in st["data_targets"].items():
            old = (before.get("data_targets") or {}).get(vol)
            t.append(printable(f"{vol}/..data → {target}"),
                     style=CHANGED if old and old != target else "")
            if old and old != target:
                t.append(f" (was {printable(old)})", style="dim")
            t.append("  ")
        head.update(t)
        old_files = before.get("files") or {}
        secret_files = st.get("secret_files") or ()
        rows = []
        for path, data in sorted(st["files"].items()):
            # masked like the env: a Secret volume's file always, another file when its
            # name (the key) or content looks secret; `v` reveals
            value = display_value(path.rsplit("/", 1)[-1], text(data), self.reveal,
                                  path in secret_files)
            changed = path in old_files and old_files[path] != data
            rows.append((Text(printable(path)),  # a file's content: one escaped line
                         Text(printable(value), style=CHANGED if changed else "")))
        table.set_rows(len(rows), rows.__getitem__)


VIEW = ViewSpec(
    id="pod", title="Pod", key="k", factory=PodView,
    teaches="a pod run here: ConfigMap as env (frozen at execve) beside the same ConfigMap "
            "as a volume (..data swapped on apply)")
