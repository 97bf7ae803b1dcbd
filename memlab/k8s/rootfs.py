"""The minimal root filesystem memlab's containers run in.

A real node unpacks the image's layers; memlab has no images, so every container gets
the same small tree, whatever its `image` says:
    bin/busybox           from Debian's busybox-static, with links for its common applets
                          (the article's `busybox` pods run `sh -c "sleep 3600"` as written)
    usr/local/bin/sleeper, hotreload   memlab's static samples (c_samples/bin/*-static):
                          what an image without a command in the manifest (redis) runs
    etc/passwd, etc/group root and nobody, so `id` names them
    proc dev sys etc tmp  mount points (the runtime mounts over them)
One image more, for deploy/'s DaemonSet (`image: memlab:latest`, built from
deploy/Dockerfile on a real cluster): the same tree plus bin/memlab, with this machine's
/usr (its python3) and memlab's source directory bind-mounted read-only at /usr and
/opt/memlab (host_binds), lib and lib64 pointing into that /usr as on merged-/usr Debian.
The tree is an image, written once below memlab's state dir (<state dir>/image-<stamp>,
the stamp naming the busybox and sample files it was made from) through held directory
fds (memlab.safefs).  Each container's rootfs is an overlay mount of it, as containerd's
overlayfs snapshotter makes one: bundles/<container>/rootfs = lowerdir the image,
upperdir/workdir in the bundle (what the container writes stays in its own layer).
"""

from __future__ import annotations

import hashlib
import os

import memlab
from memlab.errors import MemlabError
from memlab.k8s.runtime import mount_overlay
from memlab.safefs import Dir
from memlab.samples import bin_dir
from memlab.statedir import open_state_dir

BUSYBOX_CANDIDATES = ("/usr/bin/busybox", "/bin/busybox", "/usr/sbin/busybox")
APPLETS = ("sh", "ash", "cat", "echo", "env", "ls", "id", "sleep", "grep", "head", "tail",
           "true", "false", "ps", "stat", "readlink", "wc", "sed", "awk", "printf", "test",
           "kill", "hostname", "cut", "sort", "touch", "mkdir", "rm", "cp", "mv", "date",
           "uname", "whoami", "tr", "find", "xargs", "mount", "od", "xxd", "watch", "nc",
           "wget", "vi", "less", "more", "df", "du", "chmod", "ln", "pwd", "basename",
           "dirname", "seq", "yes", "tee", "dd", "md5sum", "sha256sum", "base64", "nproc")
# (the file in c_samples/bin, its name in the rootfs)
SAMPLES = (("sleeper-static", "sleeper"), ("sleeper-static", "sleeper-static"),
           ("hotreload-static", "hotreload"))
SAMPLE_DIR = "/usr/local/bin"
DEFAULT_PROGRAM = "/usr/local/bin/sleeper"
PASSWD = b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n"
GROUP = b"root:x:0:\nnobody:x:65534:\n"
BUSYBOX_IMAGE, MEMLAB_IMAGE = "busybox", "memlab"  # the two trees image() makes
HOST_PYTHON = "/usr/bin/python3"
MEMLAB_MOUNT = "/opt/memlab"
# bin/memlab in the memlab image: the host's python3 runs memlab from its read-only source
MEMLAB_LAUNCHER = (b"#!/bin/sh\n"
                   b"# memlab in memlab's own image: /usr and /opt/memlab are this machine's,\n"
                   b"# bind-mounted read-only (memlab.k8s.rootfs)\n"
                   b"exec /usr/bin/python3 -c 'import sys; sys.path.insert(0, \"/opt/memlab\"); "
                   b"from memlab.cli import main; sys.exit(main(sys.argv[1:]))' \"$@\"\n")


def image_kind(image: str) -> str:
    """MEMLAB_IMAGE for `memlab`, `memlab:TAG`, `REGISTRY/memlab@sha256:...`; else
    BUSYBOX_IMAGE (every other image runs in the busybox tree, as the note says)."""
    name = image.rsplit("/", 1)[-1].split("@", 1)[0].split(":", 1)[0]
    return MEMLAB_IMAGE if name == MEMLAB_IMAGE else BUSYBOX_IMAGE


def memlab_source() -> str:
    """The directory holding the memlab package (bind-mounted at MEMLAB_MOUNT)."""
    return os.path.dirname(os.path.dirname(os.path.abspath(memlab.__file__)))


def provides_image(image: str) -> bool:
    """Whether a container of IMAGE can run here: the memlab image needs this machine's
    python3; the busybox tree stands in for every other image."""
    if image_kind(image) == MEMLAB_IMAGE:
        return os.access(HOST_PYTHON, os.X_OK)
    return True


def host_binds(image: str) -> list[tuple[str, str]]:
    """(destination, host source) read-only binds an IMAGE's container gets."""
    if image_kind(image) == MEMLAB_IMAGE:
        return [("/usr", "/usr"), (MEMLAB_MOUNT, memlab_source())]
    return []


def find_busybox() -> str | None:
    for p in BUSYBOX_CANDIDATES:
        if os.access(p, os.X_OK):
            return p
    return None


def programs() -> set[str]:
    """The absolute paths of the programs a command may name here."""
    out = {"/bin/busybox"} | {f"/bin/{a}" for a in APPLETS}
    out |= {f"{SAMPLE_DIR}/{name}" for _, name in SAMPLES}
    return out


def lookup(word: str) -> str | None:
    """Where `word` (args[0]) is found in this rootfs, as the runtime's PATH search
    would find it (runc: exec.LookPath inside the container), or None."""
    have = programs()
    if "/" in word:
        return word if word in have else None
    for d in ("/usr/local/bin", "/bin"):
        if f"{d}/{word}" in have:
            return f"{d}/{word}"
    return None


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def _sources() -> tuple[str, list[tuple[str, str]]]:
    busybox = find_busybox()
    if busybox is None:
        raise MemlabError("busybox is not installed (the busybox-static package): the "
                          "pods' rootfs needs it")
    return busybox, [(str(bin_dir() / src), name) for src, name in SAMPLES]


def _stamp(busybox: str, samples: list[tuple[str, str]]) -> str:
    h = hashlib.sha256()
    for path in [busybox, *(p for p, _ in samples)]:
        try:
            st = os.stat(path)
        except OSError as err:
            raise MemlabError(f"{os.path.basename(path)} is missing (make samples; the "
                              f"busybox-static package): {err.strerror}", path=path) from err
        h.update(f"{path}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ino}\0".encode())
    h.update(repr(APPLETS).encode())
    return h.hexdigest()[:16]


def image(kind: str = BUSYBOX_IMAGE) -> str:
    """The image directory of KIND (made once per stamp): its path."""
    busybox, samples = _sources()
    name = f"image-{kind}-{_stamp(busybox, samples)}"
    with open_state_dir() as state:
        if state.lstat(name) is None or state.lstat(name + ".ok") is None:
            tmp = name + ".new"
            if state.lstat(tmp) is not None:
                state.rmtree(tmp)
            with state.mkdir(tmp, 0o755) as img:
                _write_tree(img, busybox, samples, kind)
            if state.lstat(name) is not None:
                state.rmtree(name)
            state.rename(tmp, name)
            state.write_file(name + ".ok", b"", 0o644)
        return state.join(name)


def build(bundle: Dir, on_mount, image_name: str = "") -> str:
    """rootfs/ in the bundle directory BUNDLE (held): an overlay of the image IMAGE_NAME
    stands for, with the bundle's own upper layer.  on_mount(path) is called before the
    mount (so the cleanup shim knows it first).  Returns the rootfs path."""
    if not provides_image(image_name):
        raise MemlabError(f"image {image_name!r}: memlab builds it from this machine's "
                          f"{HOST_PYTHON}, which is missing")
    lower = image(image_kind(image_name))
    for d in ("upper", "work", "rootfs"):
        bundle.mkdir(d, 0o755).close()
    target = bundle.join("rootfs")
    on_mount(target)
    with bundle.open_dir("rootfs") as root:
        mount_overlay(root.fd, lower, bundle.join("upper"), bundle.join("work"))
    return target


def _write_tree(root: Dir, busybox: str, samples: list[tuple[str, str]],
                kind: str = BUSYBOX_IMAGE) -> None:
    for d in ("proc", "dev", "sys", "tmp", "root"):
        root.mkdir(d, 0o755).close()
    with root.mkdir("bin", 0o755) as b:
        b.write_file("busybox", _read(busybox), 0o755)
        for a in APPLETS:
            b.symlink("busybox", a)
    with root.mkdir("etc", 0o755) as etc:
        etc.write_file("passwd", PASSWD, 0o644)
        etc.write_file("group", GROUP, 0o644)
    with root.makedirs(["usr", "local", "bin"], 0o755) as ub:
        for path, name in samples:
            try:
                data = _read(path)
            except OSError as err:
                raise MemlabError(f"sample {os.path.basename(path)} is not built (make "
                                  f"samples): {err.strerror}", path=path) from err
            ub.write_file(name, data, 0o755)
    if kind == MEMLAB_IMAGE:  # the host's /usr is mounted over usr/ (host_binds)
        with root.open_dir("bin") as b:
            b.write_file("memlab", MEMLAB_LAUNCHER, 0o755)
        root.symlink("usr/lib", "lib")
        root.symlink("usr/lib64", "lib64")
        root.makedirs(MEMLAB_MOUNT.strip("/").split("/"), 0o755).close()
