"""Predict what the kernel does with an operation under a policy.

:func:`simulate` answers, for one operation (``read PATH``, ``rename SRC
DST``, ``bind PORT``, ``signal``...), whether the kernel allows it and which
denial records it logs: the 1-based layer (the order of the policy files),
its file, the blockers and the object, one record per denial (two for a
rename or link across directories, as the kernel logs them).

:func:`explain_denial` goes the other way: given one logged denial, it names
the layer and file responsible, the missing rule (as a sentence and as a
landlockconfig snippet), and whether the log can have come from the policy.

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

import json
import os
import posixpath
import stat
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from lldecode import syscalls
from lldecode.landlock.access import lookup, mask_to_names, normalize_blocker, right
from lldecode.landlock.checks import FILE_KINDS, MAKE_RIGHT, Denied, Domain, ancestors
from lldecode.landlock.layers import IOCTL_DEV, OPTIONAL_ACCESS, TRUNCATE, layer_from_deny_masks
from lldecode.landlock.policy import MAX_PORT, Layer, Policy, normalize_path


def _fs(name: str) -> int:
    return lookup("fs", name).mask


FIONREAD = 0x541B


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


@dataclass(frozen=True)
class Denial:
    """One denial record the kernel logs."""

    layer: int                  # 1-based, the order of the policy files
    policy: str
    blockers: Tuple[str, ...]
    object: Dict[str, Any] = field(hash=False)

    def as_dict(self) -> Dict[str, Any]:
        return {"layer": self.layer, "policy": self.policy,
                "blockers": list(self.blockers), "object": dict(self.object)}


@dataclass(frozen=True)
class Outcome:
    allowed: bool
    errno: Optional[str]
    denials: Tuple[Denial, ...]

    def as_dict(self) -> Dict[str, Any]:
        return {"allowed": self.allowed, "errno": self.errno,
                "denials": [d.as_dict() for d in self.denials]}


ALLOWED = Outcome(True, None, ())


@dataclass(frozen=True)
class Operation:
    name: str
    arguments: Tuple[str, ...]      # names; a trailing "?" marks an optional one
    summary: str

    @property
    def usage(self) -> str:
        return " ".join([self.name] + [a if not a.endswith("?") else f"[{a[:-1]}]"
                                       for a in self.arguments])


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
    Operation("ftruncate", ("PATH",), "open a file for writing, then ftruncate(2) it"),
    Operation("ioctl", ("PATH",), "open a device read-only, then ioctl(2) it"),
    Operation("bind", ("PORT",), "bind a TCP socket to a local port"),
    Operation("connect", ("PORT",), "connect a TCP socket to a remote port"),
    Operation("signal", ("PID?",), "send a signal to another process"),
    Operation("abstract-connect", ("NAME?",), "connect to an abstract UNIX socket"),
    Operation("ptrace", ("PID?",), "attach to another process with ptrace"),
)}

_OPEN_ACCESS = {
    "read": _fs("read_file"), "write": _fs("write_file"), "readdir": _fs("read_dir"),
    "exec": _fs("execute") | _fs("read_file"), "open-trunc": _fs("write_file"),
    "ftruncate": _fs("write_file"), "ioctl": _fs("read_file"),
}
_PARENT_ACCESS = {
    "mkdir": _fs("make_dir"), "mknod-char": _fs("make_char"),
    "mknod-block": _fs("make_block"), "mkfifo": _fs("make_fifo"),
    "mksock": _fs("make_sock"), "symlink": _fs("make_sym"),
    "unlink": _fs("remove_file"), "rmdir": _fs("remove_dir"),
}
SIGNAL = lookup("scope", "signal").mask
ABSTRACT_UNIX_SOCKET = lookup("scope", "abstract_unix_socket").mask


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
        try:
            path = normalize_path(text, self.cwd)
        except ValueError as exc:
            raise SimulationError(str(exc)) from None
        if not self.options.resolve:
            return path
        if follow:
            return os.path.realpath(path)
        parent = os.path.realpath(posixpath.dirname(path))
        return posixpath.join(parent, posixpath.basename(path)) if path != "/" else "/"

    @staticmethod
    def port(text: str) -> int:
        try:
            port = int(text, 0)
        except ValueError:
            raise SimulationError(f"not a port number: {text!r}") from None
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
        if self.options.device is not None:
            return self.options.device
        if self.options.resolve:
            return self.kind_of(path, None) in ("char", "block")
        return default

    def mount_root(self, directory: str) -> str:
        if self.options.mount_root is not None:
            return normalize_path(self.options.mount_root, self.cwd)
        if self.options.resolve:
            for candidate in ancestors(directory):
                if os.path.ismount(candidate):
                    return candidate
        return "/"

    # -- results -----------------------------------------------------------

    def denial(self, denied: Denied, kind: str, obj: Dict[str, Any]) -> Denial:
        blockers = tuple(mask_to_names(kind, denied.missing))
        return Denial(denied.layer + 1, self.policy.sources[denied.layer], blockers, obj)

    def scope_denial(self, layer: int, blocker: str, obj: Dict[str, Any]) -> Denial:
        return Denial(layer + 1, self.policy.sources[layer], (blocker,), obj)

    # -- operations --------------------------------------------------------

    def run(self, operation: str, args: List[str]) -> Outcome:
        handler: Callable[[str, List[str]], Outcome] = {
            "create": self.create, "rename": self.refer, "link": self.refer,
            "truncate": self.truncate_path, "open-trunc": self.open_then,
            "ftruncate": self.open_then, "ioctl": self.open_then,
            "bind": self.net, "connect": self.net, "signal": self.ipc,
            "abstract-connect": self.ipc, "ptrace": self.ptrace,
        }.get(operation, self.open if operation in _OPEN_ACCESS else self.parent_check)
        return handler(operation, args)

    def open(self, operation: str, args: List[str]) -> Outcome:
        path = self.path(args[0])
        _, _, denied = self.domain.open_file(path, _OPEN_ACCESS[operation],
                                             self.is_device(path, False))
        return self.fs_outcome(denied, path)

    def fs_outcome(self, denied: Optional[Denied], path: str,
                   extra: Optional[Dict[str, Any]] = None) -> Outcome:
        if denied is None:
            return ALLOWED
        return Outcome(False, "EACCES", (self.denial(denied, "fs", dict({"path": path}, **(extra or {}))),))

    def parent_check(self, operation: str, args: List[str]) -> Outcome:
        path = self.path(args[0], follow=False)
        parent = posixpath.dirname(path)
        return self.fs_outcome(self.domain.check_path(parent, _PARENT_ACCESS[operation]), parent)

    def create(self, operation: str, args: List[str]) -> Outcome:
        path = self.path(args[0], follow=False)
        parent = posixpath.dirname(path)
        denied = self.domain.check_path(parent, MAKE_RIGHT["file"])
        if denied is not None:
            return self.fs_outcome(denied, parent)
        _, _, denied = self.domain.open_file(path, _fs("write_file"), False)
        return self.fs_outcome(denied, path)

    def truncate_path(self, operation: str, args: List[str]) -> Outcome:
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
            return self.fs_outcome(Denied(layer, missing), path, {"ioctlcmd": f"{cmd:#x}"})
        if kept & TRUNCATE:
            return ALLOWED
        layer, missing = layer_from_deny_masks(TRUNCATE, deny_masks)
        return self.fs_outcome(Denied(layer, missing), path)

    def refer(self, operation: str, args: List[str]) -> Outcome:
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
        port = self.port(args[0])
        access, field_name = (("bind_tcp", "src") if operation == "bind"
                              else ("connect_tcp", "dest"))
        denied = self.domain.check_port(port, lookup("net", access).mask)
        if denied is None:
            return ALLOWED
        return Outcome(False, "EACCES", (self.denial(denied, "net", {field_name: port}),))

    def ipc(self, operation: str, args: List[str]) -> Outcome:
        scope, blocker = ((SIGNAL, "scope.signal") if operation == "signal"
                          else (ABSTRACT_UNIX_SOCKET, "scope.abstract_unix_socket"))
        layer = self.domain.scope_denial(scope, self.options.target_shares,
                                         self.options.target_own_layers)
        if layer is None:
            return ALLOWED
        if operation == "signal":
            obj = {"opid": int(args[0])} if args and args[0].isdigit() else {}
        else:
            obj = {"path": "@" + args[0]} if args else {}
        return Outcome(False, "EPERM", (self.scope_denial(layer, blocker, obj),))

    def ptrace(self, operation: str, args: List[str]) -> Outcome:
        layer = self.domain.ptrace_denial(self.options.target_shares)
        if layer is None:
            return ALLOWED
        obj = {"opid": int(args[0])} if args and args[0].isdigit() else {}
        return Outcome(False, "EPERM", (self.scope_denial(layer, "ptrace", obj),))


def _resolved_layer(layer: Layer) -> Layer:
    rules: Dict[str, int] = {}
    for path, allowed in layer.path_rules.items():
        real = os.path.realpath(path)
        rules[real] = rules.get(real, 0) | allowed
    return replace(layer, path_rules=rules)


def parse_ioctl_cmd(text: str) -> int:
    """An ioctl command: a number (0x541b, 21531) or a name (FIONREAD, FIOCLEX...)."""
    named = syscalls.ioctl_number(text)
    if named is not None:
        return named
    try:
        value = int(text, 0)
    except ValueError:
        raise SimulationError(f"unknown ioctl command {text!r} (a number, or a name such as "
                              "FIONREAD, FIOCLEX, FICLONE)") from None
    if not 0 <= value < 1 << 32:
        raise SimulationError(f"ioctl command {text} does not fit in 32 bits")
    return value


# -- explaining logged denials ---------------------------------------------

# Syscall names that tell a rename from a link (otherwise the blockers do).
RENAME_SYSCALLS = ("rename", "renameat", "renameat2")
LINK_SYSCALLS = ("link", "linkat")
# A name no rule can hold, standing for the unknown entry a reparenting
# record's directory held (the kernel logs only the directory).
_UNKNOWN_ENTRY = "\0entry"


@dataclass(frozen=True)
class Finding:
    """What the policy says about one logged record."""

    layer: Optional[int]            # 1-based layer the simulator blames
    policy: Optional[str]
    missing: Tuple[str, ...]        # rights that layer lacks (dotted names)
    object: Dict[str, Any] = field(hash=False)
    also_denied_by: Tuple[int, ...] = ()   # older layers that lack them too
    sentence: str = ""
    toml: str = ""

    def as_dict(self) -> Dict[str, Any]:
        return {"layer": self.layer, "policy": self.policy, "missing": list(self.missing),
                "object": dict(self.object), "also_denied_by": list(self.also_denied_by),
                "sentence": self.sentence, "toml": self.toml}


@dataclass(frozen=True)
class Explanation:
    """The answer of :func:`explain_denial`.

    ``findings`` has one entry per record given (two for a reparenting
    pair); ``layer``, ``policy``, ``sentence`` and ``toml`` summarize them.
    ``consistent`` is False, with a ``reason``, when the logged record(s)
    cannot have come from the policy (or cannot be checked).
    """

    consistent: bool
    reason: Optional[str]
    findings: Tuple[Finding, ...]

    @property
    def layer(self) -> Optional[int]:
        return self.findings[0].layer if self.findings else None

    @property
    def policy(self) -> Optional[str]:
        return self.findings[0].policy if self.findings else None

    @property
    def sentence(self) -> str:
        return " ".join(f.sentence for f in self.findings if f.sentence)

    @property
    def toml(self) -> str:
        return "\n".join(f.toml for f in self.findings if f.toml)

    def as_dict(self) -> Dict[str, Any]:
        return {"consistent": self.consistent, "reason": self.reason,
                "layer": self.layer, "policy": self.policy, "sentence": self.sentence,
                "toml": self.toml, "findings": [f.as_dict() for f in self.findings]}


LoggedRecord = Tuple[Sequence[str], Mapping[str, Any]]


def explain_denial(policy: Policy, blockers: Sequence[str], obj: Mapping[str, Any],
                   syscall: Optional[str] = None,
                   destination: Optional[LoggedRecord] = None,
                   logged_layer: Optional[int] = None) -> Explanation:
    """Explain one logged Landlock denial with ``policy``.

    Arguments:
      policy       -- the parsed policy (:func:`lldecode.landlock.policy.load_policy`).
      blockers     -- the record's ``blockers=`` as a list; legacy spellings
                      (``fs_write_file``) are accepted.
      obj          -- the record's object fields: ``path`` (decoded, for fs
                      rights and abstract sockets), ``ioctlcmd`` (``"0x541b"``
                      or an int), ``src`` (bind port), ``dest`` (connect
                      port), ``opid``...
      syscall      -- the syscall name when known (``renameat2``, ``linkat``...);
                      it tells a rename from a link.
      destination  -- for a rename or link across directories, the event's
                      second record (destination directory) as
                      ``(blockers, obj)``; ``blockers``/``obj`` are then the
                      first record (source directory).
      logged_layer -- the 1-based layer the log's domain id stands for, when
                      the caller could rank it; checked against the policy.

    Returns an :class:`Explanation`: the 1-based layer and policy file
    blamed, the missing rights as a sentence and as a landlockconfig TOML
    snippet to add, and whether the log is consistent with the policy (a
    reason when not).  Scope and ptrace targets are taken to be outside the
    domain; a lone reparenting record is checked on its directory only.
    """
    normalized = [normalize_blocker(b) for b in blockers]
    problem = _unmodelled(normalized) or (
        _unmodelled([normalize_blocker(b) for b in destination[0]]) if destination else None)
    if problem:
        return Explanation(False, problem, ())
    explainer = _Explainer(policy)
    if destination is not None:
        return explainer.reparenting(normalized, obj, [normalize_blocker(b) for b in
                                                       destination[0]], destination[1],
                                     syscall, logged_layer)
    return explainer.single(normalized, obj, logged_layer)


def _unmodelled(blockers: Sequence[str]) -> Optional[str]:
    if not blockers:
        return "the record has no blockers"
    for name in blockers:
        if name in ("ptrace", "fs.change_topology"):
            continue
        found = right(name)
        if found is None:
            return f"cannot check: unknown blocker {name!r}"
        if found.newer_than_modelled:
            return f"cannot check: {name} is newer than Landlock ABI 7 (not modelled)"
    kinds = {name.split(".")[0] for name in blockers}
    if len(kinds) > 1 or (len(blockers) > 1 and kinds & {"ptrace", "scope"}):
        return "cannot check: blockers " + ",".join(blockers) + " cannot come from one request"
    return None


class _Explainer:
    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.domain = Domain(policy.layers)

    def name(self, level: int) -> str:
        return f"layer {level + 1} ({self.policy.sources[level]})"

    def single(self, blockers: List[str], obj: Mapping[str, Any],
               logged_layer: Optional[int]) -> Explanation:
        first = blockers[0]
        if first == "ptrace":
            return self.ptrace(obj, logged_layer)
        if first == "fs.change_topology":
            return self.change_topology(obj, logged_layer)
        kind = first.split(".")[0]
        if kind == "scope":
            return self.scope(first, obj, logged_layer)
        if kind == "net":
            return self.net(blockers, obj, logged_layer)
        return self.fs(blockers, obj, logged_layer)

    # -- checks --------------------------------------------------------------

    def compare(self, logged: Sequence[str], found: Optional[Denial],
                logged_layer: Optional[int], what: str) -> Optional[str]:
        """Why the logged record disagrees with the simulated one (None: it agrees)."""
        if found is None:
            return f"the policy allows {','.join(logged)} {what}: this denial cannot come from it"
        if sorted(found.blockers) != sorted(logged):
            return (f"the policy's youngest denying layer ({found.layer}) would block "
                    f"{','.join(found.blockers)} {what}, not {','.join(logged)}")
        if logged_layer is not None and logged_layer != found.layer:
            return (f"the log names layer {logged_layer} but the policy's youngest denying "
                    f"layer is {found.layer}")
        return None

    def fs(self, blockers: List[str], obj: Mapping[str, Any],
           logged_layer: Optional[int]) -> Explanation:
        path = obj.get("path")
        if not isinstance(path, str) or not path.startswith("/"):
            return Explanation(False, "cannot check: the record has no absolute path", ())
        access = sum(right(b).mask for b in blockers)
        if access & IOCTL_DEV:
            cmd = obj.get("ioctlcmd")
            number = int(cmd, 16) if isinstance(cmd, str) else cmd
            if number is not None and syscalls.is_always_allowed_ioctl(number):
                return Explanation(False, f"ioctl command {number:#x} "
                                   f"({syscalls.ioctl_name(number)}) is always allowed on "
                                   "devices: this denial cannot come from Landlock", ())
        path = normalize_path(path)
        denied = self.domain.check_path(path, access)
        opened_earlier = False
        if (denied is not None and logged_layer is not None and not access & ~OPTIONAL_ACCESS
                and 0 < logged_layer < denied.layer + 1):
            # truncate and ioctl_dev are charged with the layers enforced when
            # the file was opened: maybe only the first logged_layer ones.
            earlier = Domain(self.policy.layers[:logged_layer]).check_path(path, access)
            if earlier is not None and earlier.layer + 1 == logged_layer:
                denied, opened_earlier = earlier, True
        found = None if denied is None else Denial(
            denied.layer + 1, self.policy.sources[denied.layer],
            tuple(mask_to_names("fs", denied.missing)), {"path": path})
        reason = self.compare(blockers, found, logged_layer, f"on {path}")
        if found is None:
            return Explanation(False, reason, ())
        finding = self.fs_finding(found, path, access)
        if opened_earlier:
            finding = replace(finding, sentence=finding.sentence + (
                f" The file was opened before layer {logged_layer + 1} was enforced: "
                "truncate and ioctl are checked with the layers of that time."))
        return Explanation(reason is None, reason, (finding,))

    def fs_finding(self, found: Denial, path: str, access: int) -> Finding:
        level = found.layer - 1
        missing = found.blockers
        _, masks = self.domain.init_fs_masks(access)
        self.domain.walk(path, access, masks)
        older = sorted({lvl + 1 for bit, layers in masks.items() for lvl in range(level)
                        if layers >> lvl & 1})
        bare = [right(name).name for name in missing]
        sentence = (f"{self.name(level).capitalize()} denied {','.join(missing)} on {path}: "
                    f"it handles {'them' if len(missing) > 1 else 'it'} and none of its "
                    f"[[path_beneath]] rules on {path} or a parent directory allows "
                    f"{'them' if len(missing) > 1 else 'it'}.")
        if "fs.refer" in missing and not self.policy.layers[level].handled_fs & right("fs.refer").mask:
            sentence += (" That layer does not list refer, but the kernel denies moving files "
                         "between directories in every layer of a domain that handles "
                         "filesystem rights, unless a rule allows refer.")
        sentence += self.older_sentence(older)
        toml = _toml_snippet(self.policy.sources[level], found.layer, "path_beneath",
                             bare, "parent", json_string(path))
        return Finding(found.layer, found.policy, missing, {"path": path}, tuple(older),
                       sentence, toml)

    def older_sentence(self, older: Sequence[int]) -> str:
        if not older:
            return ""
        names = ", ".join(self.name(lvl - 1) for lvl in older)
        return f" Older {names} {'deny' if len(older) > 1 else 'denies'} it too: add the rule there as well."

    def reparenting(self, blockers1: List[str], obj1: Mapping[str, Any], blockers2: List[str],
                    obj2: Mapping[str, Any], syscall: Optional[str],
                    logged_layer: Optional[int]) -> Explanation:
        paths = [o.get("path") for o in (obj1, obj2)]
        if not all(isinstance(p, str) and p.startswith("/") for p in paths):
            return Explanation(False, "cannot check: a record has no absolute path", ())
        source_dir, destination_dir = (normalize_path(p) for p in paths)
        everything = set(blockers1) | set(blockers2)
        if syscall in RENAME_SYSCALLS or syscall in LINK_SYSCALLS:
            rename = syscall in RENAME_SYSCALLS
        else:
            rename = bool(everything & {"fs.remove_file", "fs.remove_dir"})
        kind = "dir" if everything & {"fs.remove_dir", "fs.make_dir"} else next(
            (k for k, mask in MAKE_RIGHT.items() if mask_to_names("fs", mask)[0] in blockers2),
            "file")
        options = Options(kind=kind, replace=rename and bool(
            set(blockers2) & {"fs.remove_file", "fs.remove_dir"}))
        outcome = simulate(self.policy, "rename" if rename else "link",
                           [posixpath.join(source_dir, _UNKNOWN_ENTRY),
                            posixpath.join(destination_dir, _UNKNOWN_ENTRY)], options)
        simulated = {d.object["path"]: d for d in outcome.denials}
        findings = []
        reasons = []
        for logged, directory in ((blockers1, source_dir), (blockers2, destination_dir)):
            found = simulated.get(directory)
            reason = self.compare(logged, found, logged_layer, f"on {directory}")
            if reason:
                reasons.append(reason)
            if found is not None:
                findings.append(self.fs_finding(found, directory, sum(
                    right(b).mask for b in found.blockers)))
        reason = "; ".join(reasons) or None
        return Explanation(reason is None, reason, tuple(findings))

    def net(self, blockers: List[str], obj: Mapping[str, Any],
            logged_layer: Optional[int]) -> Explanation:
        bind = blockers == ["net.bind_tcp"]
        port = obj.get("src" if bind else "dest")
        try:
            port = int(port)
        except (TypeError, ValueError):
            return Explanation(False, "cannot check: the record has no port", ())
        outcome = simulate(self.policy, "bind" if bind else "connect", [str(port)])
        found = outcome.denials[0] if outcome.denials else None
        reason = self.compare(blockers, found, logged_layer, f"on port {port}")
        if found is None:
            return Explanation(False, reason, ())
        level = found.layer - 1
        bare = [right(b).name for b in found.blockers]
        mask = right(found.blockers[0]).mask
        older = [lvl + 1 for lvl, layer in enumerate(self.policy.layers[:level])
                 if layer.handled_net & mask and not layer.port_rules.get(port, 0) & mask]
        sentence = (f"{self.name(level).capitalize()} denied {','.join(found.blockers)} on "
                    f"port {port}: it handles it and none of its [[net_port]] rules allows "
                    f"port {port}." + self.older_sentence(older))
        toml = _toml_snippet(found.policy, found.layer, "net_port", bare, "port", str(port))
        finding = Finding(found.layer, found.policy, found.blockers, dict(found.object),
                          tuple(older), sentence, toml)
        return Explanation(reason is None, reason, (finding,))

    def scope(self, blocker: str, obj: Mapping[str, Any],
              logged_layer: Optional[int]) -> Explanation:
        operation = "signal" if blocker == "scope.signal" else "abstract-connect"
        outcome = simulate(self.policy, operation, [])
        found = outcome.denials[0] if outcome.denials else None
        if found is None:
            return Explanation(False, f"no layer of the policy scopes {blocker.split('.')[1]}: "
                               "this denial cannot come from it", ())
        reason = self.compare([blocker], found, logged_layer, "")
        level = found.layer - 1
        short = blocker.split(".")[1]
        older = [lvl + 1 for lvl in range(level)
                 if self.policy.layers[lvl].scoped & right(blocker).mask]
        what = ("send a signal to" if short == "signal"
                else "connect to an abstract UNIX socket of")
        sentence = (f"{self.name(level).capitalize()} is the youngest layer scoping {short}: "
                    f"a process in this domain may not {what} a process outside it. No rule "
                    f"can allow this: remove \"{short}\" from the scoped rights of "
                    + ("these layers" if older else "that layer")
                    + ", or start the other process inside the domain.")
        if older:
            sentence += " Older " + ", ".join(self.name(lvl - 1) for lvl in older) + " scope it too."
        toml = (f"# {found.policy} (layer {found.layer}): no rule can allow this; "
                f"remove \"{short}\" from [[ruleset]] scoped")
        finding = Finding(found.layer, found.policy, (blocker,), dict(obj), tuple(older),
                          sentence, toml)
        return Explanation(reason is None, reason, (finding,))

    def ptrace(self, obj: Mapping[str, Any], logged_layer: Optional[int]) -> Explanation:
        level = self.domain.num_layers - 1
        found = Denial(level + 1, self.policy.sources[level], ("ptrace",), dict(obj))
        reason = self.compare(["ptrace"], found, logged_layer, "")
        sentence = (f"{self.name(level).capitalize()} is the youngest layer of the tracer's "
                    "domain: a sandboxed process may only trace (or read the memory of) "
                    "processes inside its own domain. No rule can allow this.")
        toml = (f"# {found.policy} (layer {found.layer}): no rule can allow ptrace "
                "outside the domain")
        return Explanation(reason is None, reason,
                           (Finding(found.layer, found.policy, ("ptrace",), dict(obj), (),
                                    sentence, toml),))

    def change_topology(self, obj: Mapping[str, Any],
                        logged_layer: Optional[int]) -> Explanation:
        level = next((lvl for lvl in reversed(range(self.domain.num_layers))
                      if self.policy.layers[lvl].handled_fs), None)
        if level is None:
            return Explanation(False, "no layer of the policy handles filesystem rights: "
                               "fs.change_topology cannot come from it", ())
        found = Denial(level + 1, self.policy.sources[level], ("fs.change_topology",), dict(obj))
        reason = self.compare(["fs.change_topology"], found, logged_layer, "")
        sentence = (f"{self.name(level).capitalize()} is the youngest layer handling "
                    "filesystem rights: mounting, unmounting and pivot_root are always "
                    "denied in such a domain. No rule can allow this.")
        toml = f"# {found.policy} (layer {found.layer}): no rule can allow mount operations"
        return Explanation(reason is None, reason,
                           (Finding(found.layer, found.policy, ("fs.change_topology",),
                                    dict(obj), (), sentence, toml),))


def json_string(text: str) -> str:
    """A TOML basic string (JSON string escapes are valid TOML)."""
    return json.dumps(text)


def _toml_snippet(source: str, layer: int, table: str, names: Sequence[str],
                  key: str, value: str) -> str:
    allowed = ", ".join(json_string(n) for n in names)
    return (f"# add to {source} (layer {layer})\n[[{table}]]\n"
            f"allowed_access = [{allowed}]\n{key} = [{value}]\n")
