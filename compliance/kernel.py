"""The kernel's view of a container's main process: `/proc/<pid>/status` read as data.

What the engine was asked for (inspect) and what the kernel enforces can
differ: an engine-wide `--no-new-privileges` never shows in `SecurityOpt`, a
privileged container runs without seccomp, a capability set is what the
kernel holds, not what compose listed. This module only parses; reading the
file is a source's job (sources/inside.py), judging it the checks'.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from types import MappingProxyType

from compliance.processes import Process

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
UID_KINDS = ("real", "effective", "saved", "filesystem")


@dataclass(frozen=True)
class Ids:
    """A process's real uid:gid, and where they were read every id the kernel holds for it:
    real, effective, saved and filesystem (the Uid and Gid lines of its status, or those
    columns of `docker top`). A setuid-root program started by 1001 runs as real uid 1001
    and effective uid 0: root in all but name."""

    uid: int
    gid: int
    uids: tuple[int, ...] = ()  # (real, effective, saved, filesystem); () where not read
    gids: tuple[int, ...] = ()
    host: "Ids | None" = None  # the same ids as the engine's host numbers them (user namespace)

    def __str__(self) -> str:
        return f"{self.uid}:{self.gid}"

    def root_uids(self) -> tuple[str, ...]:
        """Which of the process's uids are 0: ("real", ...), () for a process without root."""
        uids = self.uids or (self.uid,)
        return tuple(name for name, uid in zip(UID_KINDS, uids, strict=False) if uid == 0)

    def shown(self) -> str:
        """uid:gid, the other ids where any differs from the real ones, and the host's
        numbers where a user namespace maps them."""
        text = str(self)
        if not (set(self.uids) <= {self.uid} and set(self.gids) <= {self.gid}):
            text += (f" (uids {'/'.join(map(str, self.uids))}, gids {'/'.join(map(str, self.gids))}"
                      f": {'/'.join(UID_KINDS)})")
        if self.host is not None:
            text += f", {self.host.shown()} on the host (user namespace)"
        return text

    @property
    def fs_uid(self) -> int:
        """The uid file access is checked against."""
        return self.uids[3] if len(self.uids) == 4 else self.uid

    @property
    def fs_gid(self) -> int:
        return self.gids[3] if len(self.gids) == 4 else self.gid


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
    # the process's user namespace: (first id inside, first id on the host, count) ranges
    # (/proc/<pid>/uid_map and gid_map); None where not read or the host's own namespace
    uid_map: tuple[tuple[int, int, int], ...] | None = None
    gid_map: tuple[tuple[int, int, int], ...] | None = None

    @property
    def container_ids(self) -> Ids:
        """The ids as the container's own user namespace numbers them, what its USER and a
        policy's uid:gid mean (an engine with --userns-remap runs uid 1001 as 101001 on
        the host); the host's where the process is in the host's namespace. An id the
        namespace does not map shows as the kernel's overflow id, 65534."""
        if self.uid_map is None or self.gid_map is None:
            return self.ids
        ids = self.ids
        uid, gid = partial(_namespace_id, self.uid_map), partial(_namespace_id, self.gid_map)
        return Ids(uid(ids.uid), gid(ids.gid), tuple(map(uid, ids.uids)), tuple(map(gid, ids.gids)),
                   host=ids)

    def _namespace_maps(self, entry: "FileEntry") -> bool:
        """Whether the process's user namespace maps the file's owner and group."""
        if self.uid_map is None:
            return True
        return (_map_id(self.uid_map, entry.uid) is not None
                and _map_id(self.gid_map or (), entry.gid) is not None)

    @property
    def seccomp_mode(self) -> str:
        return SECCOMP_MODES.get(self.seccomp, str(self.seccomp))

    def can_read(self, entry: "FileEntry") -> bool:
        """Whether this process may read the file, by the kernel's permission rules for its
        filesystem uid and gid: the owner's bits for the owner, the group's for its groups,
        the others' for the rest; CAP_DAC_OVERRIDE or CAP_DAC_READ_SEARCH read anything, in a
        user namespace only a file whose owner and group it maps (a remapped root cannot read
        the host root's 0600 file)."""
        overrides = bool(self.cap_eff and self.cap_eff & {"DAC_OVERRIDE", "DAC_READ_SEARCH"})
        if overrides and self._namespace_maps(entry):
            return True
        if self.ids.fs_uid == entry.uid:
            return bool(entry.mode & 0o400)
        if entry.gid == self.ids.fs_gid or entry.gid in self.groups:
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


OVERFLOW_ID = 65534  # what the kernel shows for an id a user namespace does not map
IDENTITY_MAP = ((0, 0, 4294967295),)  # the host's own user namespace


def _map_id(ranges, host_id: int) -> int | None:
    """The id a user namespace's map gives `host_id`; None where the map has no range for it."""
    for inside, outside, count in ranges:
        if outside <= host_id < outside + count:
            return inside + host_id - outside
    return None


def _namespace_id(ranges, host_id: int) -> int:
    found = _map_id(ranges, host_id)
    return OVERFLOW_ID if found is None else found


def parse_id_map(lines) -> tuple[tuple[int, int, int], ...] | None:
    """`/proc/<pid>/uid_map` (or gid_map) -> its ranges; None for the host's own namespace
    (the identity map) or a text that is no map."""
    try:
        ranges = tuple(tuple(int(n) for n in line.split()) for line in lines if line.strip())
    except ValueError:
        return None
    if not ranges or any(len(r) != 3 for r in ranges) or ranges == IDENTITY_MAP:
        return None
    return ranges


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
        uids, gids = tuple(map(int, fields["Uid"].split())), tuple(map(int, fields["Gid"].split()))
        ids = Ids(uids[0], gids[0], uids, gids)
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


@dataclass(frozen=True)
class Mount:
    """One line of `/proc/<pid>/mountinfo`: a mount as the container's process sees it."""

    point: str
    fstype: str
    options: frozenset[str]  # per-mount options (ro/rw, nosuid, ...)
    propagation: str  # shared | slave | private

    @property
    def read_only(self) -> bool:
        return "ro" in self.options

    def __str__(self) -> str:
        return f"{self.point} {self.fstype} {'ro' if self.read_only else 'rw'}"


@dataclass(frozen=True)
class Inside:
    """What the engine host sees of one container's main process, read in one pass:
    the kernel's status, its mounts, its /run/secrets/ files, its processes and which of
    the asked-for program paths exist in its root filesystem. A part the host could not
    read is None: never taken for "absent"."""

    view: str  # which view decided, for the evidence: "engine host (local://)"
    kernel: Kernel | None
    mounts: tuple[Mount, ...] | None
    secrets: Mapping[str, FileEntry] | None
    processes: tuple[Process, ...] | None  # every process of the container (pid, name)
    programs: Mapping[str, bool] | None  # asked-for path inside -> whether it exists
    # asked-for path -> the same path with the container's symlinks resolved
    resolved: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    # the namespaces ("ipc", "uts") the main process shares with the engine host's view, by
    # /proc/<pid>/ns/ (Podman 4.3's inspect says IpcMode=shareable for ipc: host); None unread
    host_namespaces: frozenset[str] | None = None

    def source(self, file: str) -> str:
        """Where a kernel fact came from, as evidence names it."""
        return f"/proc/<pid>/{file} of the main process, {self.view}"

    def root_mount(self) -> Mount | None:
        """The mount at / (the last one listed: mounts stack)."""
        roots = [m for m in self.mounts or () if m.point == "/"]
        return roots[-1] if roots else None

    def mount_at(self, path: str) -> Mount | None:
        """The mount at `path`, or where `path` leads through the container's symlinks."""
        point = self.resolved.get(path, path)
        found = [m for m in self.mounts or () if m.point == point]
        return found[-1] if found else None


def _unescape(field: str) -> str:
    """mountinfo writes space, tab, newline and backslash as octal escapes (`\\040`)."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def parse_mountinfo(text: str) -> tuple[Mount, ...]:
    """Every mount of a `/proc/<pid>/mountinfo` (proc(5)); malformed lines are skipped."""
    found = []
    for line in text.splitlines():
        fields = line.split()
        if "-" not in fields or len(fields) < 7:
            continue
        dash = fields.index("-")
        if len(fields) < dash + 2:
            continue
        optional = fields[6:dash]
        propagation = ("shared" if any(f.startswith("shared:") for f in optional) else
                       "slave" if any(f.startswith("master:") for f in optional) else "private")
        found.append(Mount(_unescape(fields[4]), fields[dash + 1],
                           frozenset(fields[5].split(",")), propagation))
    return tuple(found)


def _file_entry(line: str) -> tuple[str, FileEntry] | None:
    """`%F|%u|%g|%a|%n` of GNU stat -L -> (name, FileEntry)."""
    parts = line.split("|", 4)
    if len(parts) != 5:
        return None
    kind_text, uid, gid, mode, path = parts
    kind = ("file" if kind_text.startswith("regular") else "directory" if kind_text == "directory"
            else "symlink" if kind_text == "broken" else "other")
    try:
        return path.rsplit("/", 1)[-1], FileEntry(kind, int(uid), int(gid), int(mode, 8))
    except ValueError:
        return None


def parse_view(output: str, view: str, by_pid_namespace: bool = False) -> dict[str, Inside]:
    """The engine host's answer (sources/inside.py's script) -> container id -> Inside.
    A container whose pid no longer belongs to it (no cgroup of that pid names it) is left
    out. `by_pid_namespace`: the engine gives containers no cgroups (rootless Docker on
    cgroup v1), so a container's processes are those sharing its main process's pid
    namespace, and one whose main pid is in the viewer's own pid namespace is left out (its
    pid now belongs to a host process, or it shares the host's: no process list is its)."""
    sections: dict[str, dict[str, list[str]]] = {}
    shared: dict[str, list[str]] = {}
    pids: dict[str, str] = {}
    current, part = None, None
    for line in output.splitlines():
        if line.startswith("@@container "):
            _, container_id, pid = [*line.split(), ""][:3]
            current, part = sections.setdefault(container_id, {}), None
            pids[container_id] = pid
        elif line.startswith("@@") and line[2:] in ("files", "processes", "cgroups", "pidns",
                                                    "namespaces", "done"):
            current, part = shared, line[2:]
            shared.setdefault(part, [])
        elif line.startswith("@@") and current is not None and current is not shared:
            part = line[2:]
            current.setdefault(part, [])
        elif part is not None and current is not None:
            current.setdefault(part, []).append(line)
    if "done" not in shared:
        return {}
    files = _per_process(shared.get("files", ()))
    comm = {pid: lines[0] for (pid, name), lines in _per_process(shared.get("processes", ())).items()
            if name == "comm" and lines}
    members = _members(_per_process(shared.get("cgroups", ())), set(sections))
    if by_pid_namespace:
        members = _pid_namespace_members(shared.get("pidns", ()), pids)
    namespaces = _namespaces(shared.get("namespaces", ()))
    found = {}
    for container_id, parts in sections.items():
        pid = pids[container_id]
        if pid not in members.get(container_id, ()):
            continue  # its pid is gone, or another's now
        status_lines, mount_lines = files.get((pid, "status")), files.get((pid, "mountinfo"))
        status = parse_status("\n".join(status_lines)) if status_lines is not None else None
        if status is not None:
            status = replace(status, uid_map=parse_id_map(files.get((pid, "uid_map"), ())),
                             gid_map=parse_id_map(files.get((pid, "gid_map"), ())))
        mounts = parse_mountinfo("\n".join(mount_lines)) if mount_lines else None
        rooted = "noroot" not in parts
        secrets = dict(filter(None, map(_file_entry, parts.get("secrets", ())))) if rooted else None
        processes = tuple(sorted((Process(int(p), comm[p]) for p in members.get(container_id, ())
                                  if p in comm), key=lambda p: p.pid)) if comm else None
        programs = {line[1:]: line[0] == "+" for line in parts.get("programs", ())
                    if line[:1] in ("+", "-")}
        resolved = dict(line.split("\t", 1) for line in parts.get("resolved", ()) if "\t" in line)
        found[container_id] = Inside(view, status, mounts, secrets, processes,
                                     programs if rooted else None, MappingProxyType(resolved),
                                     _shared(namespaces, pid))
    return found


_CGROUP_PARTS = re.compile(r"[/:.\-]")  # a cgroup path's parts, one of them a container id


def _members(files: dict[tuple[str, str], list[str]], container_ids: set[str]) -> dict[str, set[str]]:
    """Container id -> the pids whose cgroups name it (`0::/docker/<id>`,
    `.../docker-<id>.scope`, one line per hierarchy in cgroup v1), every cgroup line read
    once."""
    members: dict[str, set[str]] = {}
    for (pid, name), lines in files.items():
        if name == "cgroup":
            named = {part for line in lines for part in _CGROUP_PARTS.split(line)}
            for container_id in named & container_ids:
                members.setdefault(container_id, set()).add(pid)
    return members


def _namespaces(lines) -> dict[str, dict[str, str]]:
    """`<pid|self> <kind> <inode|->` lines -> pid -> kind -> inode (read ones only)."""
    found: dict[str, dict[str, str]] = {}
    for line in lines:
        parts = line.split()
        if len(parts) == 3 and parts[2].isdigit():
            found.setdefault(parts[0], {})[parts[1]] = parts[2]
    return found


def _shared(namespaces: Mapping[str, Mapping[str, str]], pid: str) -> frozenset[str] | None:
    """The namespaces `pid` shares with the viewer; None where either side went unread."""
    own, viewer = namespaces.get(pid), namespaces.get("self")
    if not own or not viewer or set(own) != set(viewer):
        return None
    return frozenset(kind for kind, inode in own.items() if viewer[kind] == inode)


def _pid_namespace_members(lines, main_pids: Mapping[str, str]) -> dict[str, set[str]]:
    """Container id -> the pids in its main process's pid namespace (`stat -L -c '%n %i'
    /proc/<pid>/ns/pid` lines, the viewer's own first as `self <inode>`)."""
    spaces: dict[str, str] = {}
    for line in lines:
        path, _, inode = line.rpartition(" ")
        pid = "self" if path == "self" else path.split("/")[-3] if path.count("/") >= 3 else ""
        if pid:
            spaces[pid] = inode
    members: dict[str, set[str]] = {}
    for container_id, main in main_pids.items():
        space = spaces.get(main)
        if space is not None and space != spaces.get("self"):
            members[container_id] = {p for p, s in spaces.items() if s == space and p != "self"}
    return members


def _per_process(lines) -> dict[tuple[str, str], list[str]]:
    """`grep -H "" /proc/<pid>/<file> ...` -> (pid, file) -> its lines."""
    found: dict[tuple[str, str], list[str]] = {}
    for line in lines:
        path, _, text = line.partition(":")
        head, file = path.rsplit("/", 1) if "/" in path else ("", path)
        pid = head.rsplit("/", 1)[-1]
        if pid.isdigit():
            found.setdefault((pid, file), []).append(text)
    return found
