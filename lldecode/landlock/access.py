"""The Landlock access rights: one table of every right and its spellings.

Each :class:`Right` carries its kind (``fs``, ``net`` or ``scope``), its
short name (``read_file``), the bit the kernel uses in masks, the Landlock
ABI that introduced it, what it applies to, a one-line description of what
it guards and the system calls that need it.  Every other module takes names
and bits from here.

Spellings of one right:

- dotted, as merged kernels log blockers: ``fs.read_file``;
- legacy underscore, as patch v2/v3 logged them: ``fs_read_file``;
- bare, as landlockconfig writes ``allowed_access`` items: ``read_file``
  (bare names need the kind to be known).

Blockers that are not access rights (``ptrace``, ``fs.change_topology``)
are listed in :data:`NON_RIGHT_BLOCKERS`.

Rights newer than ABI 7 (``fs.resolve_unix``, ``net.bind_udp``,
``net.connect_send_udp``) are in the table with ``abi > 7``: they decode,
but :data:`MAX_MODELLED_ABI` marks where the simulator's model stops.

This module is imported by the log reader: it must stay import-cheap.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Tuple

# The kinds of access rights: filesystem, network, IPC scopes.
KINDS = ("fs", "net", "scope")

# The newest ABI whose semantics the rest of lldecode models (kernel 6.15+).
MAX_MODELLED_ABI = 7

# What ``applies_to`` means:
#   "file": checked on the file itself; a rule on the file or on any
#           directory above it can grant it;
#   "dir":  checked on the parent directory of the entry being created,
#           removed or moved; only a rule on a directory can grant it;
#   "-":    not a filesystem right (ports, scopes).
APPLIES_TO = ("file", "dir", "-")


@dataclass(frozen=True)
class Right:
    """One access right: its kind and bare name, its bit in masks, the ABI
    that introduced it, what it applies to (:data:`APPLIES_TO`), what it
    guards and the system calls that need it."""

    kind: str
    name: str
    bit: int
    abi: int
    applies_to: str
    description: str
    syscalls: Tuple[str, ...]

    @property
    def dotted(self) -> str:
        """The blocker name of merged kernels: ``fs.read_file``."""
        return f"{self.kind}.{self.name}"

    @property
    def legacy(self) -> str:
        """The blocker name of the v2/v3 audit patches: ``fs_read_file``."""
        return f"{self.kind}_{self.name}"

    @property
    def mask(self) -> int:
        """The right's bit, as a mask."""
        return 1 << self.bit

    @property
    def newer_than_modelled(self) -> bool:
        """Is the right newer than the ABI the simulator models?"""
        return self.abi > MAX_MODELLED_ABI


def _r(kind: str, name: str, bit: int, abi: int, applies_to: str,
       description: str, *syscalls: str) -> Right:
    """A Right, its system calls given last."""
    return Right(kind, name, bit, abi, applies_to, description, syscalls)


# Every right, fs then net then scope, each in bit order.
RIGHTS: Tuple[Right, ...] = (
    _r("fs", "execute", 0, 1, "file", "execute a file",
       "execve", "execveat"),
    _r("fs", "write_file", 1, 1, "file", "open a file with write access",
       "open(O_WRONLY|O_RDWR)", "openat", "creat"),
    _r("fs", "read_file", 2, 1, "file", "open a file with read access",
       "open(O_RDONLY|O_RDWR)", "openat", "execve"),
    _r("fs", "read_dir", 3, 1, "dir", "open a directory or list its content",
       "open(O_DIRECTORY)", "openat", "getdents64"),
    _r("fs", "remove_dir", 4, 1, "dir", "remove an empty directory or rename one",
       "rmdir", "unlinkat(AT_REMOVEDIR)", "rename", "renameat2"),
    _r("fs", "remove_file", 5, 1, "dir", "unlink or rename a file",
       "unlink", "unlinkat", "rename", "renameat2"),
    _r("fs", "make_char", 6, 1, "dir", "create (or rename or link) a character device",
       "mknod(S_IFCHR)", "mknodat", "rename", "link"),
    _r("fs", "make_dir", 7, 1, "dir", "create (or rename) a directory",
       "mkdir", "mkdirat", "rename"),
    _r("fs", "make_reg", 8, 1, "dir", "create (or rename or link) a regular file",
       "open(O_CREAT)", "creat", "mknod(S_IFREG)", "rename", "link"),
    _r("fs", "make_sock", 9, 1, "dir", "create (or rename or link) a UNIX domain socket",
       "mknod(S_IFSOCK)", "bind(AF_UNIX path)", "rename", "link"),
    _r("fs", "make_fifo", 10, 1, "dir", "create (or rename or link) a named pipe",
       "mknod(S_IFIFO)", "mkfifo", "rename", "link"),
    _r("fs", "make_block", 11, 1, "dir", "create (or rename or link) a block device",
       "mknod(S_IFBLK)", "mknodat", "rename", "link"),
    _r("fs", "make_sym", 12, 1, "dir", "create (or rename or link) a symbolic link",
       "symlink", "symlinkat", "rename", "link"),
    _r("fs", "refer", 13, 2, "dir",
       "link or rename a file from or to a different directory",
       "link", "linkat", "rename", "renameat2"),
    _r("fs", "truncate", 14, 3, "file", "truncate a file",
       "truncate", "ftruncate", "open(O_TRUNC)", "creat"),
    _r("fs", "ioctl_dev", 15, 5, "file", "send ioctl commands to a character or block device",
       "ioctl"),
    _r("fs", "resolve_unix", 16, 9, "file",
       "connect to a pathname UNIX socket created outside the domain",
       "connect(AF_UNIX)", "sendmsg(AF_UNIX)"),
    _r("net", "bind_tcp", 0, 4, "-", "bind a TCP socket to a local port", "bind"),
    _r("net", "connect_tcp", 1, 4, "-", "connect a TCP socket to a remote port", "connect"),
    _r("net", "bind_udp", 2, 10, "-", "bind a UDP socket to a local port", "bind"),
    _r("net", "connect_send_udp", 3, 10, "-",
       "connect a UDP socket to, or send datagrams to, a remote port",
       "connect", "sendto", "sendmsg"),
    _r("scope", "abstract_unix_socket", 0, 6, "-",
       "connect to an abstract UNIX socket created outside the domain",
       "connect(AF_UNIX abstract)", "sendmsg(AF_UNIX abstract)"),
    _r("scope", "signal", 1, 6, "-",
       "send a signal to a process outside the domain",
       "kill", "tkill", "tgkill", "rt_sigqueueinfo", "fcntl(F_SETOWN)"),
)

# Blockers the kernel logs that are not access rights of a ruleset.
NON_RIGHT_BLOCKERS: Dict[str, str] = {
    "ptrace": "trace or inspect a process outside the domain (ptrace, /proc/PID/mem, ...)",
    "fs.change_topology": "mount, unmount, pivot_root or move a mount inside the domain",
}

_BY_DOTTED: Dict[str, Right] = {r.dotted: r for r in RIGHTS}
_BY_LEGACY: Dict[str, str] = {r.legacy: r.dotted for r in RIGHTS}
_BY_LEGACY.update({name.replace(".", "_"): name for name in NON_RIGHT_BLOCKERS})


def right(dotted_name: str) -> Optional[Right]:
    """The right named ``fs.read_file`` (or its legacy spelling), or None."""
    return _BY_DOTTED.get(_BY_LEGACY.get(dotted_name, dotted_name))


def known_right(dotted_name: str) -> Right:
    """The right named ``fs.read_file`` (or its legacy spelling); ValueError
    if no right is (``ptrace`` and ``fs.change_topology`` are blockers, not rights)."""
    found = right(dotted_name)
    if found is None:
        raise ValueError(f"unknown access right {dotted_name!r}")
    return found


def normalize_blocker(name: str) -> str:
    """Spell a logged blocker the merged-kernel way.

    ``fs_ioctl_dev`` -> ``fs.ioctl_dev``, ``scope_signal`` ->
    ``scope.signal``; ``ptrace`` and dotted names stay; unknown names are
    returned unchanged.
    """
    return _BY_LEGACY.get(name, name)


def rights_of(kind: str, abi: Optional[int] = None) -> List[Right]:
    """The rights of one kind in bit order, only those of ``abi`` if given."""
    _check_kind(kind)
    found = [r for r in RIGHTS if r.kind == kind and (abi is None or r.abi <= abi)]
    return sorted(found, key=lambda r: r.bit)


def all_mask(kind: str, abi: int) -> int:
    """Every bit of ``kind`` that ABI ``abi`` knows."""
    mask = 0
    for r in rights_of(kind, abi):
        mask |= r.mask
    return mask


def lookup(kind: str, name: str) -> Optional[Right]:
    """The right of ``kind`` spelled ``name``: dotted, legacy or bare."""
    _check_kind(kind)
    if "." not in name and not name.startswith(kind + "_"):
        name = f"{kind}.{name}"
    found = right(name)
    return found if found is not None and found.kind == kind else None


def mask_to_names(kind: str, value: int, abi: Optional[int] = None) -> List[str]:
    """Dotted names of the bits set in ``value``, in bit order.

    ValueError names the bits no right (of ``abi``, if given) holds.
    """
    if value < 0:
        raise ValueError(f"negative {kind} access mask: {value}")
    known = rights_of(kind, abi)
    names = [r.dotted for r in known if value & r.mask]
    unknown = value & ~sum(r.mask for r in known)
    if unknown:
        bits = ", ".join(str(b) for b in range(unknown.bit_length()) if unknown >> b & 1)
        scope = f" of ABI {abi}" if abi is not None else ""
        raise ValueError(f"unknown {kind} access bit(s) {bits} in {value:#x} "
                         f"(no {kind} right{scope} uses them)")
    return names


def fs_mask(*names: str) -> int:
    """The bits of the filesystem rights ``names`` (bare, dotted or legacy);
    ValueError on an unknown name."""
    return names_to_mask("fs", names)


def names_to_mask(kind: str, names: Iterable[str]) -> int:
    """OR of the bits of ``names`` (dotted, legacy or bare); ValueError on an unknown name."""
    mask = 0
    for name in names:
        found = lookup(kind, name)
        if found is None:
            valid = ", ".join(r.name for r in rights_of(kind))
            raise ValueError(f"unknown {kind} access right {name!r} (known: {valid})")
        mask |= found.mask
    return mask


def _check_kind(kind: str) -> None:
    """ValueError unless ``kind`` is one of :data:`KINDS`."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind of access {kind!r} (known: {', '.join(KINDS)})")
