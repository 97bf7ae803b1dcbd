"""The pod cleanup shim: outlives memlab only to remove what `memlab k8s run` set up.

memlab.k8s.runtime.Shim starts this script (`python -I -S`, standard library only, in a
session of its own so the terminal's ^C and hangup do not reach it) with the runtime's
command line as arguments (RUNTIME --root DIR) and a pipe as stdin, on which memlab
writes one line per thing to clean:

    c ID      a container: `RUNTIME --root DIR delete --force ID` (kills it, removes its
              state and cgroup)
    m PATH    a host mount point (a Secret volume's tmpfs): umount2(MNT_DETACH|NOFOLLOW)

End of file on stdin means memlab is done or gone (exited, killed by any signal, SIGKILL
too: the kernel closes its files).  The shim then deletes every container, then
unmounts every mount point (in reverse order), and exits.  It ignores SIGINT, SIGTERM,
SIGHUP and SIGPIPE: its only job is the cleanup.  Each step is idempotent, so memlab's
own orderly stop and the shim's cleanup may both run.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys

MNT_DETACH = 0x2  # include/linux/fs.h
UMOUNT_NOFOLLOW = 0x8


def main(argv: list[str]) -> int:
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE):
        signal.signal(s, signal.SIG_IGN)
    containers: list[str] = []
    mounts: list[str] = []
    buf = b""
    while True:
        try:
            chunk = os.read(0, 4096)
        except InterruptedError:
            continue
        if not chunk:
            break
        buf += chunk
    for line in buf.decode("utf-8", "surrogateescape").splitlines():
        kind, _, value = line.partition(" ")
        if kind == "c" and value and value not in containers:
            containers.append(value)
        elif kind == "m" and value and value not in mounts:
            mounts.append(value)
    for cid in containers:
        try:
            subprocess.run([*argv, "delete", "--force", cid], stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            pass
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    for path in reversed(mounts):
        libc.umount2(os.fsencode(path), MNT_DETACH | UMOUNT_NOFOLLOW)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
