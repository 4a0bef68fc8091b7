"""The kernel's view of a container's main process: `/proc/<pid>/status` read as data.

What the engine was asked for (inspect) and what the kernel enforces can
differ: an engine-wide `--no-new-privileges` never shows in `SecurityOpt`, a
privileged container runs without seccomp, a capability set is what the
kernel holds, not what compose listed. This module only parses; reading the
file is the inventory's job, judging it the checks'.
"""

from collections.abc import Mapping
from dataclasses import dataclass

# Linux capability numbers (include/uapi/linux/capability.h), without the CAP_ prefix.
CAPABILITIES = (
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
    "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW",
    "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
    "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD",
    "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG",
    "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
)
SECCOMP_MODES = {0: "disabled", 1: "strict", 2: "filter"}


@dataclass(frozen=True)
class Ids:
    """A uid:gid pair."""

    uid: int
    gid: int

    def __str__(self) -> str:
        return f"{self.uid}:{self.gid}"


@dataclass(frozen=True)
class Kernel:
    """The fields of `/proc/<pid>/status` the controls read; None where the kernel's file
    has no such line (an old kernel), so a check can tell "not shown" from "off"."""

    ids: Ids
    no_new_privs: bool | None
    seccomp: int | None  # 0 disabled, 1 strict, 2 filter
    cap_bnd: frozenset[str] | None  # the bounding set
    cap_eff: frozenset[str] | None  # the effective set
    groups: frozenset[int] = frozenset()  # supplementary groups

    @property
    def seccomp_mode(self) -> str:
        return SECCOMP_MODES.get(self.seccomp, str(self.seccomp))

    def can_read(self, entry: "FileEntry") -> bool:
        """Whether this process may read the file, by the kernel's permission rules: the
        owner's bits for the owner, the group's for its groups, the others' for the rest;
        CAP_DAC_OVERRIDE or CAP_DAC_READ_SEARCH read anything."""
        if self.cap_eff and self.cap_eff & {"DAC_OVERRIDE", "DAC_READ_SEARCH"}:
            return True
        if self.ids.uid == entry.uid:
            return bool(entry.mode & 0o400)
        if entry.gid == self.ids.gid or entry.gid in self.groups:
            return bool(entry.mode & 0o040)
        return bool(entry.mode & 0o004)


@dataclass(frozen=True)
class FileEntry:
    """A file as the container sees it (stat through the engine host's /proc/<pid>/root)."""

    kind: str  # "file", "directory", "symlink" (dangling), "other"
    uid: int
    gid: int
    mode: int  # permission bits

    def __str__(self) -> str:
        return f"{self.kind}, owner {self.uid}:{self.gid}, mode {self.mode:04o}"


def capabilities(mask: int) -> frozenset[str]:
    """The names of the bits set in a capability mask (`CapBnd: 00000000a80425fb`)."""
    return frozenset(CAPABILITIES[bit] if bit < len(CAPABILITIES) else f"CAP_{bit}"
                     for bit in range(64) if mask >> bit & 1)


def _fields(status: str) -> Mapping[str, str]:
    return dict((key.strip(), value.strip()) for key, _, value in
                (line.partition(":") for line in status.splitlines()) if value)


def _int(fields: Mapping[str, str], key: str, base: int = 10) -> int | None:
    try:
        return int(fields[key], base)
    except (KeyError, ValueError):
        return None


def parse_status(status: str) -> Kernel | None:
    """A Kernel from the text of `/proc/<pid>/status`; None without readable Uid/Gid lines
    (the text is no process status at all)."""
    fields = _fields(status)
    try:
        ids = Ids(int(fields["Uid"].split()[0]), int(fields["Gid"].split()[0]))
    except (KeyError, IndexError, ValueError):
        return None
    no_new_privs = _int(fields, "NoNewPrivs")
    cap_bnd, cap_eff = _int(fields, "CapBnd", 16), _int(fields, "CapEff", 16)
    groups = frozenset(int(g) for g in fields.get("Groups", "").split() if g.isdigit())
    return Kernel(
        ids=ids,
        no_new_privs=None if no_new_privs is None else bool(no_new_privs),
        seccomp=_int(fields, "Seccomp"),
        cap_bnd=None if cap_bnd is None else capabilities(cap_bnd),
        cap_eff=None if cap_eff is None else capabilities(cap_eff),
        groups=groups,
    )
