"""The minimal root filesystem memlab's containers run in.

A real node unpacks the image's layers; memlab has no images, so every container gets
the same small tree, whatever its `image` says:
    bin/busybox           from Debian's busybox-static, with links for its common applets
                          (the article's `busybox` pods run `sh -c "sleep 3600"` as written)
    usr/local/bin/sleeper, hotreload   memlab's static samples (c_samples/bin/*-static):
                          what an image without a command in the manifest (redis) runs
    etc/passwd, etc/group root and nobody, so `id` names them
    proc dev sys etc tmp  mount points (the runtime mounts over them)
It is written below the pod directory (bundles/<container>/rootfs), through held
directory fds (memlab.safefs), one copy per container.
"""

from __future__ import annotations

import os

from memlab.errors import MemlabError
from memlab.safefs import Dir
from memlab.samples import bin_dir

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


def build(bundle: Dir) -> None:
    """Write rootfs/ into the bundle directory BUNDLE (held)."""
    busybox = find_busybox()
    if busybox is None:
        raise MemlabError("busybox is not installed (the busybox-static package): the "
                          "pods' rootfs needs it")
    with bundle.mkdir("rootfs", 0o755) as root:
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
            for src, name in SAMPLES:
                path = bin_dir() / src
                try:
                    data = _read(str(path))
                except OSError as err:
                    raise MemlabError(f"sample {src} is not built (make samples): "
                                      f"{err.strerror}", path=str(path)) from err
                ub.write_file(name, data, 0o755)
