"""The OCI runtime spec (config.json) of one container, as containerd writes it for
kubelet (pkg/cri/server/container_create_linux.go, oci/spec_opts.go), from the pod spec.

process.env    exactly kubelet's environment (memlab.k8s.envvars), in that order
process.args   command + args after kubelet's $(VAR) expansion
process.cwd    workingDir (default "/")
process.user   runAsUser/runAsGroup (container's securityContext over the pod's);
               additionalGids = fsGroup + supplementalGroups (kubelet adds both)
process.capabilities  containerd's default set, with securityContext.capabilities
               add/drop applied; inheritable and ambient empty.  For a non-root uid
               execve then clears permitted and effective (security/commoncap.c
               cap_bprm_creds_from_file): the process has no capability at all
process.noNewPrivileges  allowPrivilegeEscalation: false
root.readonly  readOnlyRootFilesystem (memlab's rootfs is a copy per container)
hostname       spec.hostname, else the pod name
mounts         /proc /dev /dev/pts /dev/shm /dev/mqueue /sys, then kubelet's: /etc/hosts,
               /etc/hostname, /dev/termination-log, and each volumeMount: a read-only
               bind of the volume directory (API data volumes are always read-only:
               kubelet's ReadOnlyAPIDataVolumes), or for a subPath a bind of the one file
               it resolves to at start
linux.namespaces  pid, ipc, uts, mount (new, or the pod's: a `path`); no network
               namespace (the host's network: memlab has no CNI)
"""

from __future__ import annotations

from dataclasses import dataclass, field

# containerd's oci.defaultUnixCaps (== moby's default set)
DEFAULT_CAPS = ("CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
                "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
                "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE")
# every capability of include/uapi/linux/capability.h, for "ALL"
ALL_CAPS = ("CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
            "CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP",
            "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
            "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
            "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT",
            "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE",
            "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE",
            "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN",
            "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
            "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE")
MASKED = ["/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
          "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
          "/sys/firmware"]
READONLY = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]


@dataclass
class Security:
    """The effective security context of one container (container's over the pod's)."""

    uid: int = 0
    gid: int = 0
    groups: list[int] = field(default_factory=list)
    read_only_root: bool = False
    no_new_privs: bool = False
    caps: tuple[str, ...] = DEFAULT_CAPS

    def to_dict(self) -> dict:
        return {"uid": self.uid, "gid": self.gid, "groups": self.groups,
                "read_only_root_filesystem": self.read_only_root,
                "no_new_privileges": self.no_new_privs, "capabilities": list(self.caps)}


def _cap(name: str) -> str:
    name = str(name).upper()
    return name if name.startswith("CAP_") else f"CAP_{name}"


def security(pod_spec: dict, container: dict) -> Security:
    psc = pod_spec.get("securityContext") or {}
    csc = container.get("securityContext") or {}
    uid = csc.get("runAsUser", psc.get("runAsUser"))
    gid = csc.get("runAsGroup", psc.get("runAsGroup"))
    groups: list[int] = []
    if psc.get("fsGroup") is not None:
        groups.append(int(psc["fsGroup"]))
    for g in psc.get("supplementalGroups") or []:
        if int(g) not in groups:
            groups.append(int(g))
    caps = list(DEFAULT_CAPS)
    cc = csc.get("capabilities") or {}
    drop = {_cap(c) for c in cc.get("drop") or []}
    add = [_cap(c) for c in cc.get("add") or []]
    if "CAP_ALL" in drop:
        caps = []
    caps = [c for c in caps if c not in drop]
    if "CAP_ALL" in add:
        caps = list(ALL_CAPS)
    caps += [c for c in add if c not in caps and c != "CAP_ALL"]
    return Security(uid=int(uid or 0), gid=int(gid or 0), groups=groups,
                    read_only_root=bool(csc.get("readOnlyRootFilesystem")),
                    no_new_privs=csc.get("allowPrivilegeEscalation") is False,
                    caps=tuple(caps))


def bind(dest: str, source: str, read_only: bool) -> dict:
    opts = ["rbind", "rprivate"] + (["ro"] if read_only else [])
    return {"destination": dest, "type": "bind", "source": source, "options": opts}


def config(*, args: list[str], env: list[str], cwd: str, hostname: str, sec: Security,
           mounts: list[dict], namespaces: dict[str, str | None]) -> dict:
    """config.json.  namespaces: {"pid": None (new) or "/proc/N/ns/pid" (join), ...}."""
    caps = list(sec.caps)
    base_mounts = [
        {"destination": "/proc", "type": "proc", "source": "proc",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/sys", "type": "bind", "source": "/sys",
         "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]},
    ]
    return {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": False,
            "user": {"uid": sec.uid, "gid": sec.gid, "additionalGids": sec.groups},
            "args": args, "env": env, "cwd": cwd or "/",
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps,
                             "inheritable": [], "ambient": []},
            "noNewPrivileges": sec.no_new_privs,
        },
        "root": {"path": "rootfs", "readonly": sec.read_only_root},
        "hostname": hostname,
        "mounts": base_mounts + mounts,
        "linux": {
            "namespaces": [{"type": {"mnt": "mount"}.get(t, t), **({"path": p} if p else {})}
                           for t, p in namespaces.items()],
            "maskedPaths": MASKED, "readonlyPaths": READONLY,
            "resources": {"devices": [{"allow": False, "access": "rwm"}]},
        },
    }
