"""AtomicWriter, byte for byte: names, modes, link targets, the update order (spec §1, §5,
cases 3, 5, 6, 7 of §6)."""

from __future__ import annotations

import os
import re
import stat

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memlab.k8s.atomic_writer import (AtomicWriteError, AtomicWriter, FileProjection,
                                      validate_path)
from memlab.k8s.volumes import VolumeSource, make_payload, setup_volume
from tests.k8s import inotify
from tests.k8s.conftest import load, one

TS_RE = re.compile(r"^\.\.\d{4}_\d{2}_\d{2}_\d{2}_\d{2}_\d{2}\.\d+$")


def listing(root: str) -> dict[str, tuple]:
    """Every entry under ROOT: rel path -> ("dir", mode) | ("file", mode, bytes) |
    ("link", target)."""
    out = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root)
            st_ = os.lstat(full)
            if stat.S_ISLNK(st_.st_mode):
                out[rel] = ("link", os.readlink(full))
            elif stat.S_ISDIR(st_.st_mode):
                out[rel] = ("dir", stat.S_IMODE(st_.st_mode))
            else:
                with open(full, "rb") as f:
                    out[rel] = ("file", stat.S_IMODE(st_.st_mode), f.read())
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(dirpath, d))]
    return out


def payload(**files: bytes) -> dict[str, FileProjection]:
    return {k: FileProjection(v, 0o644) for k, v in files.items()}


def ts_of(root) -> str:
    ts = os.readlink(os.path.join(root, "..data"))
    assert TS_RE.match(ts), ts
    return ts


def test_first_write_layout(tmp_path, umask022):
    res = AtomicWriter(tmp_path).write(payload(a=b"1", b=b"two"))
    ts = ts_of(tmp_path)
    assert res.written and res.ts_dir == ts and res.old_ts_dir is None
    assert listing(tmp_path) == {
        ts: ("dir", 0o755),
        f"{ts}/a": ("file", 0o644, b"1"),
        f"{ts}/b": ("file", 0o644, b"two"),
        "..data": ("link", ts),
        "a": ("link", "..data/a"),
        "b": ("link", "..data/b"),
    }


def test_case3_binary_data_volume(tmp_path, umask022):
    cm = one("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\n"
             "data: {a: '1'}\nbinaryData: {b: AAE=}\n")
    vs = VolumeSource("v", "configMap", "cm", (), 0o644, False)
    AtomicWriter(tmp_path).write(make_payload(vs, cm))
    ts = ts_of(tmp_path)
    got = listing(tmp_path)
    assert got[f"{ts}/a"] == ("file", 0o644, b"1")  # 1 byte
    assert got[f"{ts}/b"] == ("file", 0o644, b"\x00\x01")  # bytes 00 01
    assert got["a"] == ("link", "..data/a") and got["b"] == ("link", "..data/b")


@pytest.mark.parametrize("mask", [0o022, 0o077, 0o000])
def test_case5_items_nested_path_and_mode(tmp_path, mask):
    pod, cm = load("""
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers: [{name: c, image: busybox}]
  volumes:
  - name: v
    configMap:
      name: cm
      items: [{key: game, path: conf/game, mode: 0400}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cm}
data: {game: "lives=3", other: "x"}
""")
    from memlab.k8s.manifests import ObjectStore
    from memlab.k8s.volumes import volume_sources
    vs = volume_sources(pod)[0]
    old = os.umask(mask)
    try:
        setup_volume(vs, pod, ObjectStore([cm]), tmp_path)
    finally:
        os.umask(old)
    root = vs.host_dir(tmp_path)
    ts = ts_of(root)
    got = listing(root)
    conf_mode = 0o777 & ~mask  # MkdirAll(os.ModePerm) honours the umask, as in kubelet
    assert got == {
        ts: ("dir", 0o755),  # chmod'ed whatever the umask
        f"{ts}/conf": ("dir", conf_mode),
        f"{ts}/conf/game": ("file", 0o400, b"lives=3"),
        "..data": ("link", ts),
        "conf": ("link", "..data/conf"),
    }


def test_case6_update_swaps_and_event_order(tmp_path, umask022):
    w = AtomicWriter(tmp_path)
    w.write(payload(a=b"1", b=b"2"))
    old_ts = ts_of(tmp_path)
    mask = (inotify.IN_CREATE | inotify.IN_DELETE | inotify.IN_MOVED_FROM |
            inotify.IN_MOVED_TO | inotify.IN_ATTRIB | inotify.IN_MODIFY |
            inotify.IN_DELETE_SELF)
    with inotify.Watcher() as watch:
        watch.add(str(tmp_path), mask)
        res = w.write(payload(a=b"1", c=b"3"))
        events = watch.read()
    new_ts = ts_of(tmp_path)
    assert new_ts != old_ts and res.written
    assert res.removed == ["b"] and res.links_created == ["c"]
    assert res.old_ts_dir == old_ts and res.ts_dir == new_ts
    assert events == [
        (("CREATE", "ISDIR"), new_ts),
        (("ATTRIB", "ISDIR"), new_ts),  # chmod 0755
        (("CREATE",), "..data_tmp"),
        (("MOVED_FROM",), "..data_tmp"),
        (("MOVED_TO",), "..data"),  # the atomic switch
        (("CREATE",), "c"),
        (("DELETE",), "b"),
        (("DELETE", "ISDIR"), old_ts),
    ]
    assert listing(tmp_path) == {
        new_ts: ("dir", 0o755),
        f"{new_ts}/a": ("file", 0o644, b"1"),
        f"{new_ts}/c": ("file", 0o644, b"3"),
        "..data": ("link", new_ts),
        "a": ("link", "..data/a"),
        "c": ("link", "..data/c"),
    }


def test_key_file_watch_sees_attrib_delete_self_ignored_never_modify(tmp_path):
    w = AtomicWriter(tmp_path)
    w.write(payload(a=b"old"))
    with inotify.Watcher() as watch:
        watch.add(str(tmp_path / "a"))  # follows the link: the old inode
        w.write(payload(a=b"new"))
        first = [m for m, _ in watch.read()
                 if not set(m) & {"OPEN", "ACCESS", "CLOSE_NOWRITE"}]
        w.write(payload(a=b"newer"))
        later = watch.read(0.3)
    assert first == [("ATTRIB",), ("DELETE_SELF",), ("IGNORED",)]
    assert later == []  # the watch is gone: later updates are missed
    assert (tmp_path / "a").read_bytes() == b"newer"


def test_held_fd_keeps_old_content(tmp_path):
    w = AtomicWriter(tmp_path)
    w.write(payload(a=b"old"))
    fd = os.open(tmp_path / "a", os.O_RDONLY)
    try:
        w.write(payload(a=b"new"))
        assert os.pread(fd, 100, 0) == b"old"
        assert (tmp_path / "a").read_bytes() == b"new"
    finally:
        os.close(fd)


def test_case7_noop_update_and_link_recreation(tmp_path, umask022):
    w = AtomicWriter(tmp_path)
    w.write(payload(a=b"1", b=b"2"))
    ts = ts_of(tmp_path)
    before = listing(tmp_path)
    res = w.write(payload(a=b"1", b=b"2"))
    assert not res.written and res.ts_dir == ts and res.links_created == []
    assert listing(tmp_path) == before
    os.unlink(tmp_path / "b")  # a user-visible link deleted by hand
    res = w.write(payload(a=b"1", b=b"2"))
    assert not res.written and res.links_created == ["b"]
    assert ts_of(tmp_path) == ts
    assert listing(tmp_path) == before


def test_mode_change_alone_writes_nothing(tmp_path, umask022):
    w = AtomicWriter(tmp_path)
    w.write(payload(a=b"1"))
    ts = ts_of(tmp_path)
    res = w.write({"a": FileProjection(b"1", 0o400)})
    assert not res.written and ts_of(tmp_path) == ts
    assert stat.S_IMODE(os.stat(tmp_path / ts / "a").st_mode) == 0o644


def test_removing_a_key_alone_writes(tmp_path):
    w = AtomicWriter(tmp_path)
    w.write(payload(a=b"1", b=b"2"))
    res = w.write(payload(a=b"1"))
    assert res.written and res.removed == ["b"]
    assert sorted(os.listdir(tmp_path)) == sorted(["..data", res.ts_dir, "a"])


def test_nested_removal_keeps_top_link_when_still_used(tmp_path):
    w = AtomicWriter(tmp_path)
    w.write(payload(**{"conf/x": b"1", "conf/y": b"2"}))
    res = w.write(payload(**{"conf/x": b"1"}))
    assert res.written and res.removed == []  # conf/y is nested: only the ts dir had it
    assert os.readlink(tmp_path / "conf") == "..data/conf"
    assert os.listdir(tmp_path / "conf") == ["x"]


def test_empty_payload_is_a_ts_dir_and_data_only(tmp_path):
    AtomicWriter(tmp_path).write({})
    ts = ts_of(tmp_path)
    assert sorted(os.listdir(tmp_path)) == sorted([ts, "..data"])
    assert os.listdir(tmp_path / ts) == []


def test_paths_are_cleaned(tmp_path):
    AtomicWriter(tmp_path).write(payload(**{"./a//b": b"x"}))
    assert os.readlink(tmp_path / "a") == "..data/a"
    assert (tmp_path / "a" / "b").read_bytes() == b"x"


@pytest.mark.parametrize("path,msg", [
    ("", 'invalid path: must not be empty: ""'),
    ("/x", "invalid path: must be relative path: /x"),
    ("../x", "invalid path: must not contain '..': ../x"),
    ("a/../x", "invalid path: must not contain '..': a/../x"),
    ("..foo", "invalid path: must not start with '..': ..foo"),
    ("x" * 256, "invalid path: filenames must be less than or equal to 255 characters"),
    ("a/" * 2049, "invalid path: must be less than or equal to 4096 characters"),
])
def test_validate_path_messages(path, msg):
    with pytest.raises(AtomicWriteError) as exc:
        validate_path(path)
    assert str(exc.value) == msg


@pytest.mark.parametrize("path", [".dot", "foo/..bar", "a/b/c", "a/.b", "x.."])
def test_validate_path_accepts(path):
    validate_path(path)  # ".dot" and "foo/..bar" are fine; "..foo" is not


def test_dotdot_alone_is_rejected():
    with pytest.raises(AtomicWriteError):
        validate_path("..")


def _reference_ok(p: str) -> bool:
    elems = p.split("/")
    return (p != "" and not p.startswith("/") and len(p) <= 4096
            and all(e != ".." and len(e) <= 255 for e in elems)
            and not (elems[0].startswith("..") and len(elems[0]) > 2))


_path_chars = st.sampled_from(["a", "b", ".", "/", "..", "x" * 100])


@settings(max_examples=400, deadline=None)
@given(st.lists(_path_chars, max_size=12).map("".join))
def test_fuzz_validate_path_matches_reference(p):
    try:
        validate_path(p)
        ok = True
    except AtomicWriteError:
        ok = False
    assert ok == _reference_ok(p)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["a", "b", ".", "/", "..", ".x"]), min_size=1,
                max_size=8).map("".join))
def test_fuzz_accepted_paths_stay_inside_the_volume(tmp_path_factory, p):
    try:
        validate_path(p)
    except AtomicWriteError:
        return
    root = tmp_path_factory.mktemp("vol")
    try:
        AtomicWriter(root).write(payload(**{p: b"x"}))
    except AtomicWriteError:
        return  # e.g. "a/." cleans to "a" then collides: an OS error, still contained
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            real = os.path.realpath(os.path.join(dirpath, f))
            assert real.startswith(str(root) + os.sep)
