"""Pilot tests of the panels built on other libraries, against real samples:
the exposure panel (memlab.exposure) and the Pod panel (memlab.k8s)."""

from __future__ import annotations

import os

import pytest
from textual.widgets import DataTable

from memlab.tui.app import MemlabApp
from memlab.tui.widgets.virtual import VirtualTable
from tests.tui import fakes
from tests.tui.conftest import cells, settle, started


async def wait_until(app, pilot, predicate, rounds: int = 100) -> None:
    for _ in range(rounds):
        await pilot.pause(0.1)
        if predicate():
            break
    await settle(app, pilot)


@pytest.mark.skipif(os.geteuid() != 0, reason="the other-uid observer needs root")
async def test_exposure_panel_same_uid_reads_other_uid_refused(live_source):
    app = MemlabApp(live_source)
    async with started(app, (120, 40)) as pilot:
        await pilot.press("o")  # show the panel
        assert app.query_one("#views").active == "exposure"
        await pilot.press("o")  # run the observers
        view = app.query_one("ExposureView")
        await wait_until(app, pilot, lambda: view.three_way is not None or view.errors)
        assert not view.errors, view.errors
        claim = view.query_one("#expo-claim").render().plain
        same, other = claim.splitlines()[:2]
        assert same.startswith("same uid") and "DB_PASSWORD=***" in same and "SECRET" in same
        assert other.startswith("other uid (65534)") and "EACCES" in other
        assert "hunter2" not in claim
        table = view.query_one("#expo-matrix", DataTable)
        labels = cells(table, 0)
        environ = dict(zip(labels, cells(table, 1)))
        assert environ["same uid (0)"] == "SECRET" and environ["other uid (65534)"] == "EACCES"
        matrix = view.matrix
        assert matrix.cell("other_uid", "process_vm_readv").errno_name == "EPERM"
        assert matrix.cell("other_uid", "stat").verdict == "masked"
        three = view.query_one("#expo-3way", DataTable)
        states = dict(zip(cells(three, 0), cells(three, 1)))
        assert states["/proc/PID/environ (env block)"] == "secret"
        assert states["libc environ (getenv)"] == "secret"
        await pilot.press("v")
        await pilot.pause()
        assert "DB_PASSWORD=hunter2" in view.query_one("#expo-claim").render().plain


async def test_exposure_panel_without_data_says_so():
    app = MemlabApp(fakes.fake_source())
    async with started(app, (120, 40)) as pilot:
        await pilot.press("o", "o")
        await settle(app, pilot)
        view = app.query_one("ExposureView")
        assert view.errors and "no exposure data" in view.errors[0]
        assert "no exposure data" in view.query_one("#expo-notes").render().plain


async def test_pod_panel_apply_changes_file_not_env(tmp_path):
    from memlab.tui.source import LiveSource

    source = LiveSource(pod_root=str(tmp_path))
    try:
        app = MemlabApp(source)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("k")
            assert app.query_one("#views").active == "pod"
            view = app.query_one("PodView")
            assert "enter (on Run pod) runs" in view.query_one("#pod-status").render().plain
            assert app.focused is view.query_one("#pod-run")
            await pilot.press("enter")  # as the status line says; on the event-loop thread
            await wait_until(app, pilot, lambda: view.state is not None)
            assert app.focused is view.query_one("#pod-env")
            st = view.state
            pid = st["pid"]
            assert source.pid == pid and source.launched
            assert st["files"]["/etc/config/LOG_LEVEL"] == b"INFO"
            assert st["proc_environ"]["LOG_LEVEL"] == "INFO"
            target_before = st["data_targets"]["config"]
            editor = view.query_one("#pod-yaml")
            assert "LOG_LEVEL: DEBUG" in editor.text  # the edit the panel proposes
            await wait_until(app, pilot, lambda: app.snapshot is not None
                             and app.snapshot.pid == pid)
            await pilot.click("#pod-apply")
            await wait_until(app, pilot, lambda: view.applied)
            st = view.state
            assert [r.action for r in view.applied] == ["updated"]
            assert st["files"]["/etc/config/LOG_LEVEL"] == b"DEBUG"  # the volume changed
            assert st["data_targets"]["config"] != target_before  # ..data swapped
            assert st["proc_environ"]["LOG_LEVEL"] == "INFO"  # the env did not
            env_table = view.query_one("#pod-env", VirtualTable)
            rows = {r[0]: r for r in zip(cells(env_table, 0), cells(env_table, 1),
                                         cells(env_table, 2))}
            assert rows["LOG_LEVEL"][1] == "INFO" and rows["LOG_LEVEL"][2] == "INFO ✓ same"
            assert rows["DB_PASSWORD"][1] == "***"  # from a Secret: masked
            files = dict(zip(cells(view.query_one("#pod-files", VirtualTable), 0),
                             cells(view.query_one("#pod-files", VirtualTable), 1)))
            assert files["/etc/config/LOG_LEVEL"] == "DEBUG"
            head = view.query_one("#pod-vol-head").render().plain
            assert f"(was {target_before})" in head
            # `/` filters the focused table: env first, then the volume files
            env_table.focus()
            await pilot.press("slash", *"log_l", "enter")
            assert cells(env_table, 0) == ["LOG_LEVEL"]
            files_table = view.query_one("#pod-files", VirtualTable)
            files_table.focus()
            every_file = cells(files_table, 0)
            await pilot.press("slash", *"config/log", "enter")
            assert cells(files_table, 0) and all(
                p.startswith("/etc/config/LOG") for p in cells(files_table, 0)), cells(files_table, 0)
            assert len(cells(files_table, 0)) < len(every_file)
            assert cells(env_table, 0) == ["LOG_LEVEL"]  # its own filter stays
            # the pod's process is the one on screen: the other views show it
            assert any(e.name == "LOG_LEVEL" for e in app.snapshot.env.entries)
    finally:
        source.stop()
    import psutil
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie"


async def test_pod_panel_reports_a_source_without_pods():
    app = MemlabApp(fakes.fake_source())
    async with started(app, (120, 40)) as pilot:
        await pilot.press("k")
        await pilot.click("#pod-run")
        await settle(app, pilot)
        view = app.query_one("PodView")
        assert view.state is None and "cannot run pods" in view.errors[0]
        assert "cannot run pods" in view.query_one("#pod-status").render().plain
        await pilot.press("ctrl+t")  # apply before running: said, not crashed
        assert "run a pod first" in view.query_one("#pod-status").render().plain


SECRET_POD = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data: {LOG_LEVEL: INFO, api_token: cm-tok-123}
---
apiVersion: v1
kind: Secret
metadata: {name: creds}
type: Opaque
stringData: {username: admin-user, motd: plain-words}
---
apiVersion: v1
kind: Pod
metadata: {name: secret-pod}
spec:
  containers:
  - name: app
    image: busybox
    env:
    - name: DB_USER
      valueFrom: {secretKeyRef: {name: creds, key: username}}
    volumeMounts:
    - {name: creds, mountPath: /etc/creds}
    - {name: cfg, mountPath: /etc/cfg}
  volumes:
  - {name: creds, secret: {secretName: creds}}
  - {name: cfg, configMap: {name: cfg}}
"""


async def test_pod_panel_masks_secret_env_and_secret_volume_files(tmp_path):
    """Values from a Secret (a secretKeyRef env variable, every file of a Secret volume,
    however harmless its name and content) and secret-looking ConfigMap files show as
    *** until the user reveals them with `v`, as in the other views and the CLI."""
    from memlab.tui.source import LiveSource

    manifest = tmp_path / "pod.yaml"
    manifest.write_text(SECRET_POD)
    source = LiveSource(pod_root=str(tmp_path / "pods"))
    try:
        app = MemlabApp(source)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("k")
            view = app.query_one("PodView")
            view.query_one("#pod-manifest").value = str(manifest)
            view.query_one("#pod-manifest").focus()
            await pilot.press("enter")  # runs the pod, and moves focus off the Input
            await wait_until(app, pilot, lambda: view.state is not None)
            assert view.state["secret_files"] == {"/etc/creds/username", "/etc/creds/motd"}
            assert view.state["files"]["/etc/creds/motd"] == b"plain-words"

            def shown() -> tuple[dict, dict]:
                env = view.query_one("#pod-env", VirtualTable)
                files = view.query_one("#pod-files", VirtualTable)
                return (dict(zip(cells(env, 0), zip(cells(env, 1), cells(env, 2)))),
                        dict(zip(cells(files, 0), cells(files, 1))))

            env, files = shown()
            assert env["DB_USER"] == ("***", "*** ✓ same")
            assert files["/etc/creds/username"] == "***"
            assert files["/etc/creds/motd"] == "***"  # a Secret's file, whatever it says
            assert files["/etc/cfg/api_token"] == "***"  # a ConfigMap key named like one
            assert files["/etc/cfg/LOG_LEVEL"] == "INFO"
            screen = app.export_screenshot()
            assert "admin-user" not in screen and "plain-words" not in screen
            await pilot.press("v")  # the app's reveal toggle, as in every view
            await wait_until(app, pilot, lambda: shown()[1]["/etc/creds/motd"] != "***")
            env, files = shown()
            assert env["DB_USER"] == ("admin-user", "admin-user ✓ same")
            assert files["/etc/creds/username"] == "admin-user"
            assert files["/etc/creds/motd"] == "plain-words"
            assert files["/etc/cfg/api_token"] == "cm-tok-123"
            await pilot.press("v")
            await wait_until(app, pilot, lambda: shown()[1]["/etc/creds/motd"] == "***")
            assert shown()[1]["/etc/creds/username"] == "***"
    finally:
        source.stop()
