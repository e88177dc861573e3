"""Predict what the kernel does with an operation under a policy.

:func:`simulate` answers, for one operation (``read PATH``, ``rename SRC
DST``, ``bind PORT``, ``signal``...), whether the kernel allows it and which
denial records it logs: the 1-based layer (the order of the policy files),
its file, the blockers and the object, one record per denial (two for a
rename or link across directories, as the kernel logs them).

:mod:`lldecode.landlock.blame` goes the other way, from a logged denial
back to the layer and rule responsible.

The model is lexical (see :mod:`lldecode.landlock.checks`): paths are not
looked up unless ``resolve`` is asked for, in which case symbolic links are
resolved (operation paths and rule paths), and file kinds, devices and mount
points are read from the filesystem.  Limits: rules follow inodes in the
kernel (bind mounts and hard links are invisible here); ``exec`` checks only
the executable, not its ELF interpreter or libraries; ioctl command numbers
are the generic (x86, arm) encoding; the domain of a signal, ptrace or
abstract-socket target is given by how many layers it shares, not observed.
"""

from __future__ import annotations

import os
import posixpath
import stat
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

from lldecode import syscalls
from lldecode.landlock.access import fs_mask, mask_to_names, names_to_mask
from lldecode.landlock.checks import FILE_KINDS, MAKE_RIGHT, Domain, LayerDenial, ancestors
from lldecode.landlock.layers import IOCTL_DEV, TRUNCATE, layer_from_deny_masks
from lldecode.landlock.policy import MAX_PORT, Layer, Policy, normalize_path

# The ioctl command simulated by default: the one the kernel's selftests
# send (FIONREAD, handed to the device driver, so subject to fs.ioctl_dev).
FIONREAD = 0x541B

# A value of a denied object's field: text (a path, an ioctl command in
# hex) or a number (a port, a pid); None when a logged record lost it.
ObjectValue = Union[str, int, None]
# The denied object's fields, by name (``path``, ``ioctlcmd``, ``src``...).
ObjectFields = Dict[str, ObjectValue]


class SimulationError(ValueError):
    """An operation or argument the simulator cannot take."""


@dataclass(frozen=True)
class Options:
    """What the operation's arguments alone do not say.

    ``None`` means: the lexical default, or what ``resolve`` finds on disk.
    """

    kind: Optional[str] = None          # rename/link source: file (default), dir, symlink...
    replace: Optional[bool] = None      # rename: the destination exists (same kind)
    exchange: bool = False              # rename with RENAME_EXCHANGE
    ioctl_cmd: int = FIONREAD
    device: Optional[bool] = None       # the opened file is a device (default: only for ioctl)
    opened_under: Optional[int] = None  # ftruncate/ioctl: layers enforced when opened
    target_shares: int = 0              # signal/abstract-connect/ptrace: layers in common
    target_own_layers: int = 0          # ... and layers the target added itself
    mount_root: Optional[str] = None    # rename/link: root of the mount (default /)
    resolve: bool = False               # look paths up on the filesystem
    exists: Optional[bool] = None       # open with O_CREAT: the file is there already


@dataclass(frozen=True)
class PredictedDenial:
    """One denial record the kernel would log (predicted; the logged kind is
    :class:`lldecode.analysis.denials.Denial`)."""

    layer: int                  # 1-based, the order of the policy files
    policy: str
    blockers: Tuple[str, ...]
    object: ObjectFields = field(hash=False)

    def as_dict(self) -> Dict[str, Any]:
        """The denial as plain values (for JSON)."""
        return {"layer": self.layer, "policy": self.policy,
                "blockers": list(self.blockers), "object": dict(self.object)}


@dataclass(frozen=True)
class Outcome:
    """What the kernel does with an operation: allows it, or fails it with
    ``errno`` and logs ``denials``."""

    allowed: bool
    errno: Optional[str]
    denials: Tuple[PredictedDenial, ...]

    def as_dict(self) -> Dict[str, Any]:
        """The outcome as plain values (for JSON)."""
        return {"allowed": self.allowed, "errno": self.errno,
                "denials": [d.as_dict() for d in self.denials]}


# The outcome of an allowed operation.
ALLOWED = Outcome(True, None, ())


@dataclass(frozen=True)
class Operation:
    """An operation the simulator knows: its name, its arguments, what it does."""

    name: str
    arguments: Tuple[str, ...]      # names; a trailing "?" marks an optional one
    summary: str

    @property
    def usage(self) -> str:
        """The operation and its arguments, optional ones in brackets."""
        return " ".join([self.name] + [a if not a.endswith("?") else f"[{a[:-1]}]"
                                       for a in self.arguments])


# Every operation, by name.
OPERATIONS: Dict[str, Operation] = {op.name: op for op in (
    Operation("read", ("PATH",), "open a file read-only"),
    Operation("write", ("PATH",), "open a file write-only"),
    Operation("readdir", ("PATH",), "open a directory to list it"),
    Operation("exec", ("PATH",), "execute a file (the executable only)"),
    Operation("create", ("PATH",), "create a regular file and open it for writing"),
    Operation("mkdir", ("PATH",), "create a directory"),
    Operation("mknod-char", ("PATH",), "create a character device"),
    Operation("mknod-block", ("PATH",), "create a block device"),
    Operation("mkfifo", ("PATH",), "create a named pipe"),
    Operation("mksock", ("PATH",), "create a UNIX socket file"),
    Operation("symlink", ("PATH",), "create a symbolic link at PATH"),
    Operation("unlink", ("PATH",), "remove a file"),
    Operation("rmdir", ("PATH",), "remove a directory"),
    Operation("rename", ("SRC", "DST"), "rename SRC to DST"),
    Operation("link", ("SRC", "DST"), "hard-link SRC as DST"),
    Operation("truncate", ("PATH",), "truncate(2) a file by path"),
    Operation("open-trunc", ("PATH",), "open a file with O_WRONLY|O_TRUNC"),
    Operation("open", ("PATH", "FLAGS?"), "open(2) with FLAGS: O_RDONLY (default), O_WRONLY "
              "or O_RDWR, and O_TRUNC, O_CREAT, O_EXCL, joined by | (O_RDWR|O_CREAT)"),
    Operation("ftruncate", ("PATH",), "open a file for writing, then ftruncate(2) it"),
    Operation("ioctl", ("PATH",), "open a device read-only, then ioctl(2) it"),
    Operation("bind", ("PORT",), "bind a TCP socket to a local port"),
    Operation("connect", ("PORT",), "connect a TCP socket to a remote port"),
    Operation("signal", ("PID?",), "send a signal to another process"),
    Operation("abstract-connect", ("NAME?",), "connect to an abstract UNIX socket"),
    Operation("ptrace", ("PID?",), "attach to another process with ptrace"),
)}

# The rights an operation that opens a file asks for.
_OPEN_ACCESS = {
    "read": fs_mask("read_file"), "write": fs_mask("write_file"), "readdir": fs_mask("read_dir"),
    "exec": fs_mask("execute", "read_file"), "open-trunc": fs_mask("write_file"),
    "ftruncate": fs_mask("write_file"), "ioctl": fs_mask("read_file"),
}
# The rights an operation on an entry asks for on its parent directory.
_PARENT_ACCESS = {
    "mkdir": fs_mask("make_dir"), "mknod-char": fs_mask("make_char"),
    "mknod-block": fs_mask("make_block"), "mkfifo": fs_mask("make_fifo"),
    "mksock": fs_mask("make_sock"), "symlink": fs_mask("make_sym"),
    "unlink": fs_mask("remove_file"), "rmdir": fs_mask("remove_dir"),
}
# The scopes, as bits.
SIGNAL = names_to_mask("scope", ["signal"])
ABSTRACT_UNIX_SOCKET = names_to_mask("scope", ["abstract_unix_socket"])


def simulate(policy: Policy, operation: str, arguments: Sequence[str],
             options: Options = Options(), cwd: Optional[str] = None) -> Outcome:
    """What the kernel does with ``operation ARGUMENTS...`` under ``policy``."""
    spec = OPERATIONS.get(operation)
    if spec is None:
        raise SimulationError(f"unknown operation {operation!r} (known: "
                              + ", ".join(OPERATIONS) + ")")
    required = [a for a in spec.arguments if not a.endswith("?")]
    if not len(required) <= len(arguments) <= len(spec.arguments):
        raise SimulationError(f"usage: {spec.usage}")
    return _Simulation(policy, options, cwd).run(operation, list(arguments))


class _Simulation:
    """One simulation: the policy as a Domain, the options, the directory."""

    def __init__(self, policy: Policy, options: Options, cwd: Optional[str]) -> None:
        if options.resolve:
            policy = Policy(tuple(_resolved_layer(layer) for layer in policy.layers))
        self.policy = policy
        self.options = options
        self.cwd = cwd
        self.domain = Domain(policy.layers)
        for count, name in ((options.target_shares, "target_shares"),
                            (options.opened_under, "opened_under")):
            if count is not None and not 0 <= count <= self.domain.num_layers:
                raise SimulationError(f"{name} must be between 0 and the number of "
                                      f"layers ({self.domain.num_layers}), got {count}")
        if options.target_own_layers < 0:
            raise SimulationError("target_own_layers must not be negative")
        if options.kind is not None and options.kind not in FILE_KINDS:
            raise SimulationError(f"unknown file kind {options.kind!r} (known: "
                                  + ", ".join(FILE_KINDS) + ")")

    # -- arguments ---------------------------------------------------------

    def path(self, text: str, follow: bool = True) -> str:
        """An operation's path, absolute (resolved when asked, the last
        component only if ``follow``)."""
        try:
            path = normalize_path(text, self.cwd)
        except ValueError as exc:
            raise SimulationError(str(exc)) from None
        if not self.options.resolve:
            return path
        if "\0" in path:  # no system call takes it, nor os.path.realpath
            raise SimulationError(f"path {text!r} holds a NUL character")
        if follow:
            return os.path.realpath(path)
        parent = os.path.realpath(posixpath.dirname(path))
        return posixpath.join(parent, posixpath.basename(path)) if path != "/" else "/"

    @staticmethod
    def port(text: str) -> int:
        """A port argument (SimulationError unless a number 0..MAX_PORT)."""
        port = _integer_literal(text)
        if port is None:
            raise SimulationError(f"not a port number: {text!r}")
        if not 0 <= port <= MAX_PORT:
            raise SimulationError(f"port {port} is out of range 0..{MAX_PORT}")
        return port

    def kind_of(self, path: str, explicit: Optional[str]) -> Optional[str]:
        """The kind of what ``path`` names (None: nothing), on disk when resolving."""
        if explicit is not None or not self.options.resolve:
            return explicit
        try:
            mode = os.lstat(path).st_mode
        except OSError:
            return None
        for kind, test in (("dir", stat.S_ISDIR), ("symlink", stat.S_ISLNK),
                           ("fifo", stat.S_ISFIFO), ("socket", stat.S_ISSOCK),
                           ("char", stat.S_ISCHR), ("block", stat.S_ISBLK)):
            if test(mode):
                return kind
        return "file"

    def is_device(self, path: str, default: bool) -> bool:
        """Is the file a device: as the options say, on disk when resolving, else ``default``."""
        if self.options.device is not None:
            return self.options.device
        if self.options.resolve:
            return self.kind_of(path, None) in ("char", "block")
        return default

    def mount_root(self, directory: str) -> str:
        """The root of the mount holding ``directory`` (/ unless told or resolving)."""
        if self.options.mount_root is not None:
            try:
                return normalize_path(self.options.mount_root, self.cwd)
            except ValueError as exc:
                raise SimulationError(f"mount root: {exc}") from None
        if self.options.resolve:
            for candidate in ancestors(directory):
                if os.path.ismount(candidate):
                    return candidate
        return "/"

    # -- results -----------------------------------------------------------

    def denial(self, denied: LayerDenial, kind: str, obj: ObjectFields) -> PredictedDenial:
        """The record of a layer's denial of rights of ``kind``."""
        blockers = tuple(mask_to_names(kind, denied.missing))
        return PredictedDenial(denied.layer + 1, self.policy.sources[denied.layer], blockers, obj)

    def scope_denial(self, layer: int, blocker: str, obj: ObjectFields) -> PredictedDenial:
        """The record of a layer's denial of a scope (or of ptrace)."""
        return PredictedDenial(layer + 1, self.policy.sources[layer], (blocker,), obj)

    # -- operations --------------------------------------------------------

    def run(self, operation: str, args: List[str]) -> Outcome:
        """Simulate ``operation`` on its arguments."""
        handler: Callable[[str, List[str]], Outcome] = {
            "create": self.create, "rename": self.refer, "link": self.refer,
            "truncate": self.truncate_path, "open-trunc": self.open_then,
            "ftruncate": self.open_then, "ioctl": self.open_then, "open": self.open_flags,
            "bind": self.net, "connect": self.net, "signal": self.ipc,
            "abstract-connect": self.ipc, "ptrace": self.ptrace,
        }.get(operation, self.open if operation in _OPEN_ACCESS else self.parent_check)
        return handler(operation, args)

    def open(self, operation: str, args: List[str]) -> Outcome:
        """Open a file (read, write, readdir, exec)."""
        path = self.path(args[0])
        _, _, denied = self.domain.open_file(path, _OPEN_ACCESS[operation],
                                             self.is_device(path, False))
        return self.fs_outcome(denied, path)

    def fs_outcome(self, denied: Optional[LayerDenial], path: str,
                   extra: Optional[ObjectFields] = None) -> Outcome:
        """The outcome of a filesystem check on ``path`` (``extra``: more object fields)."""
        if denied is None:
            return ALLOWED
        obj: ObjectFields = {"path": path}
        obj.update(extra or {})
        return Outcome(False, "EACCES", (self.denial(denied, "fs", obj),))

    def parent_check(self, operation: str, args: List[str]) -> Outcome:
        """Create or remove an entry: a check on its parent directory."""
        path = self.path(args[0], follow=False)
        parent = posixpath.dirname(path)
        return self.fs_outcome(self.domain.check_path(parent, _PARENT_ACCESS[operation]), parent)

    def create(self, operation: str, args: List[str]) -> Outcome:
        """Create a regular file, then open it for writing."""
        path = self.path(args[0], follow=False)
        parent = posixpath.dirname(path)
        denied = self.domain.check_path(parent, MAKE_RIGHT["file"])
        if denied is not None:
            return self.fs_outcome(denied, parent)
        _, _, denied = self.domain.open_file(path, fs_mask("write_file"), False)
        return self.fs_outcome(denied, path)

    def truncate_path(self, operation: str, args: List[str]) -> Outcome:
        """truncate(2) by path."""
        path = self.path(args[0])
        return self.fs_outcome(self.domain.check_path(path, TRUNCATE), path)

    def open_then(self, operation: str, args: List[str]) -> Outcome:
        """Open a file, then truncate or ioctl it with the rights kept at open time."""
        path = self.path(args[0])
        opened_under = self.options.opened_under
        if operation == "open-trunc" or opened_under is None:
            opened_under = self.domain.num_layers
        opener = Domain(self.policy.layers[:opened_under])
        device = self.is_device(path, operation == "ioctl")
        kept, deny_masks, denied = opener.open_file(path, _OPEN_ACCESS[operation], device)
        if denied is not None:
            return self.fs_outcome(denied, path)
        if operation == "ioctl":
            cmd = self.options.ioctl_cmd
            if kept & IOCTL_DEV or not device or syscalls.is_always_allowed_ioctl(cmd):
                return ALLOWED
            layer, missing = layer_from_deny_masks(IOCTL_DEV, deny_masks)
            return self.fs_outcome(LayerDenial(layer, missing), path, {"ioctlcmd": f"{cmd:#x}"})
        if kept & TRUNCATE:
            return ALLOWED
        layer, missing = layer_from_deny_masks(TRUNCATE, deny_masks)
        return self.fs_outcome(LayerDenial(layer, missing), path)

    def open_flags(self, operation: str, args: List[str]) -> Outcome:
        """open(2) with flags: O_CREAT makes a new file (fs.make_reg on the
        directory; an existing one is only opened, and O_TRUNC does not
        apply to a file the call created), then the file is opened for
        reading, writing or both (one record lists every right missing in
        the youngest denying layer), then O_TRUNC truncates it with the
        rights the open kept (fs.truncate)."""
        flags = parse_open_flags(args[1] if len(args) > 1 else "O_RDONLY")
        path = self.path(args[0], follow="O_CREAT" not in flags)
        access = _OPEN_MODES[next(m for m in _OPEN_MODES if m in flags)]
        created = False
        if "O_CREAT" in flags:
            exists = self.options.exists
            if "O_EXCL" in flags:
                exists = False
            elif exists is None:
                exists = self.options.resolve and os.path.lexists(path)
            if not exists:
                parent = posixpath.dirname(path)
                denied = self.domain.check_path(parent, MAKE_RIGHT["file"])
                if denied is not None:
                    return self.fs_outcome(denied, parent)
                created = True
        kept, deny_masks, denied = self.domain.open_file(
            path, access, not created and self.is_device(path, False))
        if denied is not None:
            return self.fs_outcome(denied, path)
        if "O_TRUNC" not in flags or created or kept & TRUNCATE:
            return ALLOWED
        layer, missing = layer_from_deny_masks(TRUNCATE, deny_masks)
        return self.fs_outcome(LayerDenial(layer, missing), path)

    def refer(self, operation: str, args: List[str]) -> Outcome:
        """Rename or link."""
        old = self.path(args[0], follow=False)
        new = self.path(args[1], follow=False)
        options = self.options
        old_kind = self.kind_of(old, options.kind) or "file"
        if options.replace is not None or not options.resolve:
            new_kind = old_kind if (options.replace or options.exchange) else None
        else:
            new_kind = self.kind_of(new, None)
        rename = operation == "rename"
        errno, denials = self.domain.check_refer(
            old, old_kind, new, new_kind, removable=rename,
            exchange=rename and options.exchange,
            mount_root=self.mount_root(posixpath.dirname(new)))
        if errno is None:
            return ALLOWED
        return Outcome(False, errno, tuple(self.denial(d, "fs", {"path": directory})
                                           for directory, d in denials))

    def net(self, operation: str, args: List[str]) -> Outcome:
        """Bind or connect a TCP socket."""
        port = self.port(args[0])
        access, field_name = (("bind_tcp", "src") if operation == "bind"
                              else ("connect_tcp", "dest"))
        denied = self.domain.check_port(port, names_to_mask("net", [access]))
        if denied is None:
            return ALLOWED
        return Outcome(False, "EACCES", (self.denial(denied, "net", {field_name: port}),))

    def ipc(self, operation: str, args: List[str]) -> Outcome:
        """Signal a process, or connect to an abstract UNIX socket."""
        scope, blocker = ((SIGNAL, "scope.signal") if operation == "signal"
                          else (ABSTRACT_UNIX_SOCKET, "scope.abstract_unix_socket"))
        layer = self.domain.scope_denial(scope, self.options.target_shares,
                                         self.options.target_own_layers)
        if layer is None:
            return ALLOWED
        obj: ObjectFields
        if operation == "signal":
            obj = _target(args)
        else:
            obj = {"path": "@" + args[0]} if args else {}
        return Outcome(False, "EPERM", (self.scope_denial(layer, blocker, obj),))

    def ptrace(self, operation: str, args: List[str]) -> Outcome:
        """Attach to a process with ptrace."""
        layer = self.domain.ptrace_denial(self.options.target_shares)
        if layer is None:
            return ALLOWED
        obj = _target(args)
        return Outcome(False, "EPERM", (self.scope_denial(layer, "ptrace", obj),))


def _target(args: List[str]) -> ObjectFields:
    """The object of a signal or ptrace: the target's pid, when given."""
    if args and args[0].isascii() and args[0].isdigit() and len(args[0]) <= 10:
        return {"opid": int(args[0])}
    return {}


def _integer_literal(text: str) -> Optional[int]:
    """The value of an integer as C writes it (21531, 0x541b, 0o17), or None."""
    try:
        return int(text, 0)
    except ValueError:
        return None


def _resolved_layer(layer: Layer) -> Layer:
    """The layer with its rule paths resolved (symbolic links followed)."""
    rules: Dict[str, int] = {}
    for path, allowed in layer.path_rules.items():
        try:
            real = os.path.realpath(path)
        except (OSError, ValueError) as exc:  # a NUL in a path built without load_policy
            raise SimulationError(f"{layer.source}: rule path {path!r} cannot be resolved: "
                                  f"{exc}") from None
        rules[real] = rules.get(real, 0) | allowed
    return replace(layer, path_rules=rules)


# open(2)'s access modes (one of them) and the rights each asks for.
_OPEN_MODES = {"O_RDONLY": fs_mask("read_file"), "O_WRONLY": fs_mask("write_file"),
               "O_RDWR": fs_mask("read_file", "write_file")}
# The other flags of open(2) the simulator takes.
_OPEN_FLAGS = ("O_TRUNC", "O_CREAT", "O_EXCL")


def parse_open_flags(text: str) -> Tuple[str, ...]:
    """open(2) flags as written (``O_RDWR|O_CREAT``, ``rdwr,trunc``: any
    case, ``O_`` optional, joined by ``|``, ``,`` or ``+``): their names,
    the access mode first (O_RDONLY when none is given)."""
    names: List[str] = []
    for word in text.replace(",", "|").replace("+", "|").split("|"):
        word = word.strip().upper()
        if not word:
            continue
        name = word if word.startswith("O_") else "O_" + word
        if name not in _OPEN_MODES and name not in _OPEN_FLAGS:
            raise SimulationError(f"unknown open flag {word!r} (known: "
                                  + ", ".join(list(_OPEN_MODES) + list(_OPEN_FLAGS)) + ")")
        if name not in names:
            names.append(name)
    modes = [n for n in names if n in _OPEN_MODES]
    if len(modes) > 1:
        raise SimulationError("open flags give more than one access mode: " + ", ".join(modes))
    if "O_EXCL" in names and "O_CREAT" not in names:
        raise SimulationError("O_EXCL means something only with O_CREAT")
    return tuple(modes or ["O_RDONLY"]) + tuple(n for n in names if n not in _OPEN_MODES)


def parse_ioctl_cmd(text: str) -> int:
    """An ioctl command: a number (0x541b, 21531) or a name (FIONREAD, FIOCLEX...)."""
    named = syscalls.ioctl_number(text)
    if named is not None:
        return named
    value = _integer_literal(text)
    if value is None:
        raise SimulationError(f"unknown ioctl command {text!r} (a number, or a name such as "
                              "FIONREAD, FIOCLEX, FICLONE)")
    if not 0 <= value <= syscalls.IOCTL_CMD_MASK:
        raise SimulationError(f"ioctl command {text} does not fit in 32 bits")
    return value
