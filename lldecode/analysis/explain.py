"""explain: each denial (or operation) in plain words.

For every denial the explanation says who asked (comm, exe, pid, command
line), what was refused (the syscall and each missing right: what it
guards, which syscalls need it, the ABI that introduced it, whether it is
granted on files or directories), where (the path, port or target process),
which sandbox refused (the domain and its creator) and how to fix it (the
rule the sandbox would need, or the logging flag that would hide it).

Consecutive identical denials fold into one paragraph with a count; the two
records of a rename or link across directories make one paragraph.

A rename or link to another directory refused by Landlock's refer rule is
explained as what it is (:func:`refer_rule`): the file would gain access
rights by moving, EXDEV against EACCES, and the narrowest fix.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Dict, Iterable, Iterator, List, Optional, Tuple, TypedDict

from lldecode.analysis.denials import (
    ABSTRACT_SOCKET_BLOCKER,
    Denial,
    DeniedObject,
    ProcessInfo,
    log_text,
)
from lldecode.analysis.domains import Creator
from lldecode.audit.values import LogNumber
from lldecode.landlock.access import NON_RIGHT_BLOCKERS, RIGHTS, right

if TYPE_CHECKING:  # annotations only (policies load on use)
    from lldecode.landlock.policy import Policy

RESTRICT_FLAGS_HINT = (
    "To keep the sandbox as it is and stop logging this, the sandboxing program can "
    "pass LANDLOCK_RESTRICT_SELF_LOG_SAME_EXEC_OFF to landlock_restrict_self() "
    "(or LOG_SUBDOMAINS_OFF in a parent domain)")


class Who(TypedDict):
    """Who was denied: the process, else the domain's creator when the event
    has no SYSCALL record (``from_creator``; it has no command line)."""

    comm: Optional[bytes]
    exe: Optional[bytes]
    pid: LogNumber
    uid: LogNumber
    proctitle: Optional[bytes]
    from_creator: bool


class RightInfo(TypedDict):
    """A missing right (or another blocker): what it guards, the syscalls
    that need it, the ABI that introduced it and what it is granted on
    (None for a blocker that is not a right)."""

    name: str
    guards: Optional[str]
    syscalls: List[str]
    abi: Optional[int]
    applies_to: Optional[str]


class What(TypedDict):
    """What was refused: the syscall, its error and the missing rights."""

    syscall: Optional[str]
    errno: Optional[str]
    rights: List[RightInfo]


class _SandboxKnown(TypedDict):
    domain: str
    creator: Optional[Creator]
    status: Optional[str]


class Sandbox(_SandboxKnown, total=False):
    """The domain that refused, its creator and status (and its boot, when
    the registry knows the domain)."""

    boot: int


class ReferDirectory(TypedDict):
    """One directory of a rename or link refused by the refer rule: its role
    (``source``, ``destination``, or None when the event logs one record
    only), its path, the domain of its record and the rights the record
    lists as missing there."""

    role: Optional[str]
    path: Optional[bytes]
    domain: str
    missing: List[str]


class ReferNeed(TypedDict):
    """Rights a rename or link needs itself at one directory and lacks there."""

    path: bytes
    rights: List[str]


class Refer(TypedDict):
    """A rename or link to another directory refused by Landlock's refer rule.

    ``operation``: rename, link, or "rename or link" (no SYSCALL record);
    ``errno``: as logged; ``directories``: the records, in the kernel's order
    (source then destination); ``refer_missing``: the directories whose
    record lists fs.refer (not granted there); ``compared_all``: the records
    list every right their layer does not grant at the directory, not only
    the operation's (the kernel compared the two directories' rights: the
    file would gain rights); ``gained``: the rights the file would gain
    (granted at the destination, not at the source), when the records show
    them; ``needed``: the rights the operation itself needs and lacks, per
    directory (fs.remove_* at the source, fs.make_* at the destination),
    when the records list only the operation's rights.
    """

    operation: str
    errno: Optional[str]
    directories: List[ReferDirectory]
    refer_missing: List[bytes]
    compared_all: bool
    gained: List[str]
    needed: List[ReferNeed]


class _ExplainedKnown(TypedDict):
    time: Optional[float]
    last_time: Optional[float]
    count: int
    serial: Optional[int]
    who: Who
    what: What
    where: List[bytes]
    sandbox: Sandbox
    fix: List[bytes]
    hide: str
    policy: Optional[Dict[str, Any]]   # lldecode.landlock.blame's verdict


class Explained(_ExplainedKnown, total=False):
    """One paragraph explained (what ``explain --format json`` shows; bytes
    from the log kept).  ``refer``: only for a rename or link refused by the
    refer rule (its sentences are the first of ``fix``)."""

    refer: Refer


class Paragraph:
    """One explained operation: its denials (all alike) and a repeat count."""

    __slots__ = ("denials", "count", "last_time")

    def __init__(self, denials: List[Denial]):
        self.denials = denials
        self.count = 1
        self.last_time = denials[0].time

    @property
    def first(self) -> Denial:
        """The first denial (of the first operation)."""
        return self.denials[0]


def alike(one: List[Denial], other: List[Denial]) -> bool:
    """Are two operations alike (they fold into one paragraph): the same
    domains, blockers and objects, and the same process (syscall, exe,
    comm, pid)?  Compared part by part: the domains first, which tell most
    operations apart before their objects and processes are decoded."""
    if len(one) != len(other):
        return False
    for a, b in zip(one, other):
        if a.domain != b.domain or a.blockers != b.blockers:
            return False
    for a, b in zip(one, other):
        if a.object != b.object:
            return False
    p: ProcessInfo = one[0].process or {}
    q: ProcessInfo = other[0].process or {}
    return (p.get("syscall") == q.get("syscall") and p.get("exe") == q.get("exe")
            and p.get("comm") == q.get("comm") and p.get("pid") == q.get("pid"))


def paragraphs(operations: Iterable[Optional[List[Denial]]]) -> Iterator[Paragraph]:
    """Fold consecutive identical operations (a streaming step; see
    :func:`alike`).  A None among them (a live input went quiet) gives
    out the paragraph held: an identical denial that comes later starts a
    new one."""
    current: Optional[Paragraph] = None
    for denials in operations:
        if denials is None:
            if current is not None:
                yield current
            current = None
            continue
        if current is not None and alike(current.denials, denials):
            current.count += 1
            current.last_time = denials[0].time
            continue
        if current is not None:
            yield current
        current = Paragraph(denials)
    if current is not None:
        yield current


# -- the parts of an explanation --------------------------------------------------

def who(denial: Denial) -> Who:
    """The process denied; the domain's creator when the event has no SYSCALL."""
    process = denial.process
    if not process:
        creator: Creator = denial.creator or {}
        return {"comm": creator.get("comm"), "exe": creator.get("exe"),
                "pid": creator.get("pid"), "uid": creator.get("uid"), "proctitle": None,
                "from_creator": bool(creator)}
    return {"comm": process.get("comm"), "exe": process.get("exe"), "pid": process.get("pid"),
            "uid": process.get("uid"), "proctitle": process.get("proctitle"),
            "from_creator": False}


def rights(blockers: List[str]) -> List[RightInfo]:
    """Each blocker described (see :class:`RightInfo`)."""
    described: List[RightInfo] = []
    for name in blockers:
        guards, syscalls, abi, applies_to = _right_facts(name)
        described.append({"name": name, "guards": guards, "syscalls": list(syscalls),
                          "abi": abi, "applies_to": applies_to})
    return described


@functools.lru_cache(maxsize=1024)
def _right_facts(name: str) -> Tuple[Optional[str], Tuple[str, ...], Optional[int],
                                     Optional[str]]:
    """What :func:`rights` says of one blocker (a log names a handful: bounded)."""
    r = right(name)
    if r is not None:
        return r.description, tuple(r.syscalls), r.abi, r.applies_to
    return NON_RIGHT_BLOCKERS.get(name), (), None, None


def _plain(value: Any) -> str:
    """A value from the log as text, every byte kept (undecodable ones as
    surrogates); ``None`` as ``-``, a list joined with commas."""
    if value is None:
        return "-"
    if isinstance(value, bytes):
        return log_text(value)
    if isinstance(value, (list, tuple)):
        return ", ".join(_plain(v) for v in value)
    return str(value)


def phrase(*pieces: Any) -> bytes:
    """A sentence of literal text and values from the log, as bytes: every
    byte of the log's values is kept; each renderer escapes the whole for
    its own syntax (the literal text holds nothing to escape)."""
    # The bytes of "".join(_plain(p) ...).encode("utf-8", "surrogateescape"),
    # piece by piece: bytes are kept as they are (surrogateescape gives each
    # byte back), text is encoded alone (UTF-8 encodes each character alone).
    return b"".join([_piece(piece) for piece in pieces])


def _piece(value: Any) -> bytes:
    """A piece of :func:`phrase`: ``_plain(value)`` as bytes."""
    kind = value.__class__
    if kind is bytes:
        return value  # type: ignore[no-any-return]
    if kind is str:
        return value.encode("utf-8", "surrogateescape")  # type: ignore[no-any-return]
    return _plain(value).encode("utf-8", "surrogateescape")


# (the object's items, whether it is an abstract socket) -> where() of it:
# a log denies a few objects again and again.  Emptied when full; objects
# with long values are not kept.  (An object's values are those
# decode_object makes: bytes, text, int or None, which no two equal keys mix.)
_WHERE: Dict[Tuple[Any, ...], bytes] = {}
_WHERE_KEPT = 1024
_WHERE_LENGTH = 1024


def where(denial: Denial) -> bytes:
    """The denied object in words (bytes from the log kept as they are)."""
    obj = denial.object
    key = (tuple(obj.items()), ABSTRACT_SOCKET_BLOCKER in denial.blockers)
    try:
        return _WHERE[key]
    except KeyError:
        pass
    except TypeError:  # (a value that cannot be a key: not one of a log)
        return _where(denial, obj)
    text = _where(denial, obj)
    if sum(len(v) for v in obj.values() if isinstance(v, (bytes, str))) <= _WHERE_LENGTH:
        if len(_WHERE) >= _WHERE_KEPT:
            _WHERE.clear()
        _WHERE[key] = text
    return text


def _where(denial: Denial, obj: DeniedObject) -> bytes:
    """:func:`where`, worked out."""
    if "path" in obj or "name" in obj:
        path = denial.path
        if ABSTRACT_SOCKET_BLOCKER in denial.blockers:
            return b"the abstract UNIX socket " + _piece(path)
        dev, ino, ioctlcmd = obj.get("dev"), obj.get("ino"), obj.get("ioctlcmd")
        if not dev and ino is None and not ioctlcmd:
            return _piece(path)
        details = []
        if dev:
            details.append(b"on " + _piece(dev))
        if ino is not None:
            details.append(b"inode " + _piece(ino))
        if ioctlcmd:
            details.append(b"ioctl command " + _piece(_ioctl(ioctlcmd)))
        return _piece(path) + b" (" + b", ".join(details) + b")"
    if obj.get("src") is not None or obj.get("saddr"):
        address = obj.get("saddr") or "any address"
        return phrase("local TCP port ", _number(obj.get("src")), " on ", address)
    if obj.get("dest") is not None or obj.get("daddr"):
        address = obj.get("daddr") or "an address ausearch -i lost"
        return phrase("remote TCP port ", _number(obj.get("dest")), " on ", address)
    if obj.get("opid") is not None:
        return phrase("process ", obj["opid"], " (", obj.get("ocomm"), ")")
    if obj:
        return b", ".join(phrase(k, "=", v) for k, v in obj.items())
    return b"an object the record does not name"


def _ioctl(cmd: str) -> str:
    if len(cmd) <= 64:  # the usual case, memoized (a forged log may hold any text)
        return _ioctl_text(cmd)
    return _ioctl_text.__wrapped__(cmd)


@functools.lru_cache(maxsize=256)
def _ioctl_text(cmd: str) -> str:
    try:
        from lldecode.syscalls import ioctl_name

        name = ioctl_name(int(cmd, 16))
    except (ImportError, ValueError):
        name = None
    return f"{name} ({cmd})" if name else cmd


def sandbox(denial: Denial) -> Sandbox:
    """The domain that refused (see :class:`Sandbox`)."""
    info = denial.domain_info
    out: Sandbox = {"domain": denial.domain, "creator": None, "status": None}
    if info is not None:
        out["creator"] = info.creator
        out["status"] = info.status
        out["boot"] = info.boot
    return out


def fixes(denials: List[Denial], refer: Optional["Refer"] = None) -> List[bytes]:
    """How the sandbox could allow it: one sentence per missing rule (bytes
    from the log kept, see :func:`phrase`); for a rename or link refused by
    the refer rule (``refer``, from :func:`refer_rule`), :func:`refer_fixes`."""
    if refer is None:
        refer = refer_rule(denials)
    return _fixes(denials, refer)


def _fixes(denials: List[Denial], refer: Optional["Refer"]) -> List[bytes]:
    """:func:`fixes` once :func:`refer_rule` has been asked (``refer``: its answer)."""
    if refer is not None:
        return refer_fixes(refer)
    out: List[bytes] = []
    add = out.append
    older = False
    for denial in denials:
        blockers = denial.blockers
        key = tuple(blockers)
        if sum(map(len, key)) <= 1024:
            plan = _blocker_plan(key)
        else:  # a forged log's long names: not memoized
            plan = _blocker_plan.__wrapped__(key)
        fs_rights, names, dir_only, open_file, special, older_too = plan
        older = older or older_too
        if fs_rights:
            path = denial.path
            if path is not None:
                # phrase(f"allow {names} beneath ", target, " in the ruleset of
                # domain ", denial.domain), piece by piece
                if dir_only:
                    target = b"the directory " + _piece(path)
                else:
                    target = _piece(path) + b" (or a directory above it)"
                add(b"allow " + _piece(names) + b" beneath " + target
                    + b" in the ruleset of domain " + _piece(denial.domain))
                hint = _opened_file_hint(denial, list(fs_rights)) if open_file else None
                if hint:
                    add(hint)
        if special:
            obj = denial.object
            for blocker in blockers:
                if blocker == "net.bind_tcp":
                    add(phrase("allow net.bind_tcp on port ", _number(obj.get("src"))))
                elif blocker == "net.connect_tcp":
                    add(phrase("allow net.connect_tcp on port ", _number(obj.get("dest"))))
                elif blocker in BLOCKER_FIXES:
                    add(BLOCKER_FIXES[blocker])
    if older:
        add(OLDER_LAYERS)
    return _unique(out)


@functools.lru_cache(maxsize=1024)
def _blocker_plan(blockers: Tuple[str, ...]) -> Tuple[Tuple[str, ...], str, bool, bool, bool,
                                                      bool]:
    """What :func:`fixes` needs of a denial's blockers (a log repeats a
    handful of lists): its filesystem rights, their names joined, whether
    they are all granted on directories only, whether one is checked on an
    open file, whether a blocker has a fix of its own (a port, a scope...),
    whether the older layers' note applies."""
    fs_rights = tuple(b for b in blockers if b.startswith("fs."))
    kinds = {r.applies_to for r in map(right, fs_rights) if r is not None}
    open_file = any(b in _ON_OPEN_FILE for b in fs_rights)
    special = any(b in ("net.bind_tcp", "net.connect_tcp") or b in BLOCKER_FIXES
                  for b in blockers)
    older = any(b.startswith(("fs.", "net.", "scope.")) and b != "fs.change_topology"
                for b in blockers)
    return fs_rights, ", ".join(fs_rights), kinds == {"dir"}, open_file, special, older


# Without the policy: the log names only the youngest layer that denied.
OLDER_LAYERS = (b"the kernel logs only the youngest layer that denied it: an older layer of "
                b"the sandbox may deny it as well and need the same change (with --policy, "
                b"one file per layer, explain names every layer that denies it)")


# The syscalls that truncate or drive a file through a descriptor opened
# before: the kernel checks them with the rights kept when it was opened.
_ON_OPEN_FILE = {"fs.truncate": frozenset({"ftruncate"}),
                 "fs.ioctl_dev": frozenset({"ioctl"})}
OPENED_FILE_HINT = (b"truncate and ioctl_dev on an open file are checked against the "
                    b"rules in force when the file was opened: the rule must be in "
                    b"the ruleset before the open")


def _opened_file_hint(denial: Denial, fs_rights: List[str]) -> Optional[bytes]:
    """The hint on rights kept at open time, only for a denial on an open
    file descriptor: ftruncate (fs.truncate), ioctl (fs.ioctl_dev); not for
    truncate(2) by path nor open(O_TRUNC), which are checked against the
    rules in force at the call.  Without a SYSCALL record, ioctl_dev (only
    ever checked on an open file) keeps the hint, truncate gets it as a
    condition."""
    process: ProcessInfo = denial.process or {}
    syscall = process.get("syscall")
    wanted = [b for b in fs_rights if b in _ON_OPEN_FILE]
    if not wanted:
        return None
    if syscall is None:
        if "fs.ioctl_dev" in wanted:
            return OPENED_FILE_HINT
        return (b"if the file was truncated through an open descriptor (ftruncate), not by "
                b"path (truncate, open with O_TRUNC): " + OPENED_FILE_HINT)
    if any(syscall in _ON_OPEN_FILE[b] for b in wanted):
        return OPENED_FILE_HINT
    return None


# -- the refer rule -----------------------------------------------------------------

REFER = "fs.refer"
_RENAMES = frozenset({"rename", "renameat", "renameat2"})
_LINKS = frozenset({"link", "linkat"})
# The rights a rename or link asks for: fs.refer, removing the entry from
# the source directory and making it in the destination (by the file's kind).
_MOVE_RIGHTS = frozenset(r.dotted for r in RIGHTS if r.kind == "fs" and (
    r.name == "refer" or r.name.startswith(("remove_", "make_"))))
# The rights compared for a file that moves (those granted on files); a
# moving directory compares every right.
_FILE_RIGHTS = frozenset(r.dotted for r in RIGHTS if r.kind == "fs" and r.applies_to == "file")


def refer_rule(denials: List[Denial]) -> Optional[Refer]:
    """The refer rule's part in an operation, or None if it had none.

    Landlock lets a file be renamed or linked into another directory only
    if fs.refer is granted on both directories and the file gains no access
    right by moving: in each layer that handles filesystem rights (they all
    handle fs.refer, listed or not), the rights granted at the destination
    must be a subset of those at the source (for a file, the rights granted
    on files; for a directory, all).  It refuses with EXDEV when only this
    rule is broken (``mv`` then copies and deletes), EACCES when a right the
    operation needs is missing too.  The operation is a refer refusal when a
    record lists fs.refer, or a rename or link failed with EXDEV, or its
    records list rights a rename or link never asks for (the kernel then
    reports every right its layer does not grant at each directory).
    """
    if not denials:
        return None
    process: ProcessInfo = denials[0].process or {}
    syscall = process.get("syscall")
    moves = syscall in _RENAMES or syscall in _LINKS
    lists_refer = any(REFER in d.blockers for d in denials)
    if not (moves or lists_refer):  # the usual case: no rename or link, no fs.refer
        return None
    if not all(d.object.get("path") is not None or d.object.get("name") for d in denials):
        return None
    errno = process.get("errno")
    compared_all = any(b.startswith("fs.") and b not in _MOVE_RIGHTS
                       for d in denials for b in d.blockers)
    if not (lists_refer or (moves and (errno == "EXDEV" or compared_all))):
        return None
    operation = ("rename" if syscall in _RENAMES else "link" if syscall in _LINKS
                 else "rename or link")
    roles: List[Optional[str]] = (["source", "destination"] if len(denials) == 2
                                  else [None] * len(denials))
    directories: List[ReferDirectory] = [
        {"role": role, "path": d.path, "domain": d.domain, "missing": list(d.blockers)}
        for role, d in zip(roles, denials)]
    gained: List[str] = []
    if len(denials) == 2 and compared_all and denials[0].domain == denials[1].domain:
        at_destination = set(denials[1].blockers)
        gained = [b for b in denials[0].blockers
                  if b in _FILE_RIGHTS and b not in at_destination]
    needed: List[ReferNeed] = []
    if not compared_all:
        for directory in directories:
            wanted = [b for b in directory["missing"] if b in _MOVE_RIGHTS and b != REFER]
            if wanted and directory["path"] is not None:
                needed.append({"path": directory["path"], "rights": wanted})
    return {
        "operation": operation,
        "errno": errno,
        "directories": directories,
        "refer_missing": [d["path"] for d in directories
                          if REFER in d["missing"] and d["path"] is not None],
        "compared_all": compared_all,
        "gained": gained,
        "needed": needed,
    }


def refer_fixes(refer: Refer) -> List[bytes]:
    """The sentences of a refer refusal: the rule, the error, what the file
    would gain, and the narrowest fix (only the rights the records list)."""
    op = refer["operation"]
    directories = refer["directories"]
    domains = list(dict.fromkeys(d["domain"] for d in directories))
    source = directories[0] if len(directories) == 2 else None
    destination = directories[1] if len(directories) == 2 else None
    out = [phrase(
        f"the {op} was refused by Landlock's refer rule: a rename or link to another "
        "directory must not give the file access rights at its new place that it did not "
        "have at the old one: fs.refer is needed on both the source and destination "
        "directories, and the destination's rights must be a subset of the source's (in "
        "every layer that handles filesystem rights, which all handle fs.refer; for a "
        "file, the rights granted on files are compared, for a directory all of them)")]
    errno = refer["errno"]
    others = sorted({b for d in directories for b in d["missing"]
                     if b in _MOVE_RIGHTS and b != REFER})
    if errno == "EXDEV":
        why = ("fs.refer is not granted where its record lists it" if refer["refer_missing"]
               else "the file would gain rights by moving")
        out.append(phrase(
            f"EXDEV: only the refer rule refused it ({why}), and the kernel says so with EXDEV, "
            "\"not the same filesystem\", so that mv falls back to copying the file and "
            "deleting the original (which Landlock checks as a new file at the destination "
            "and a removal at the source)"))
    elif errno == "EACCES":
        lacking = f" ({', '.join(others)})" if others and not refer["compared_all"] else ""
        out.append(phrase(
            f"EACCES, not EXDEV: besides the refer rule, the {op} lacks a right it needs "
            f"itself{lacking}; the kernel returns EXDEV (with which mv falls back to copy "
            "and delete) only when the refer rule alone refuses"))
    else:
        out.append(phrase(
            "the kernel returns EXDEV when the refer rule alone refuses a rename or link "
            "(mv then falls back to copy and delete), EACCES when a right the operation "
            "needs itself is missing too"))
    if refer["gained"] and source is not None and destination is not None:
        out.append(phrase(
            "moving it from ", source["path"], " to ", destination["path"],
            f" would give the file {', '.join(refer['gained'])}: granted at the "
            "destination, not at the source"))
    if refer["compared_all"]:
        out.append(b"the records list every right their layer does not grant at each "
                   b"directory (the kernel compared the two directories' rights), not "
                   b"only the ones the operation asks for")
    steps: List[bytes] = []
    if refer["refer_missing"]:
        where_refer = refer["refer_missing"]
        if len(where_refer) == 2:
            steps.append(phrase("allow fs.refer beneath both ", where_refer[0], " and ",
                                where_refer[1]))
        else:
            steps.append(phrase("allow fs.refer beneath the directory ", where_refer[0]))
    for need in refer["needed"]:
        steps.append(phrase(f"allow {', '.join(need['rights'])} beneath the directory ",
                            need["path"]))
    if source is not None and destination is not None:
        if refer["gained"]:
            steps.append(phrase(
                "stop granting ", ", ".join(refer["gained"]), " at ", destination["path"],
                ", or grant them at ", source["path"], " too"))
        else:
            subset = phrase("keep the rights granted at ", destination["path"],
                            " a subset of those at ", source["path"])
            listed = [b for b in source["missing"] if b != REFER]
            if refer["compared_all"] and listed:
                subset += phrase(" (or grant at the source the rights its record lists: ",
                                 ", ".join(listed), ")")
            steps.append(subset)
    elif refer["compared_all"]:
        steps.append(b"make the destination's rights a subset of the source's, or grant at "
                     b"the source the rights its record lists")
    if steps:
        head = phrase("narrowest fix, in the ruleset of domain ", " and ".join(domains), ": ")
        out.append(head + b"; ".join(steps[:-1]) + (b"; and " if len(steps) > 1 else b"")
                   + steps[-1])
    return _unique(out)


def _number(value: Any) -> str:
    """A port or pid: ``None`` when the record lost it."""
    return "None" if value is None else _plain(value)


# What to do about the blockers no path rule can allow.
BLOCKER_FIXES = {
    "scope.signal": (b"the domain is scoped for signals: it may only signal processes "
                     b"in the same domain or a nested one; drop \"signal\" from the "
                     b"ruleset's scoped set, or start the target inside the sandbox"),
    ABSTRACT_SOCKET_BLOCKER: (b"the domain is scoped for abstract UNIX sockets: drop "
                              b"\"abstract_unix_socket\" from the ruleset's scoped set, "
                              b"or create the socket inside the sandbox"),
    "ptrace": (b"a sandboxed process cannot trace or inspect a process outside "
               b"its domain; run the tracer outside the sandbox (or the target "
               b"inside it)"),
    "fs.change_topology": (b"Landlock denies mount changes inside a sandbox; set up mounts "
                           b"before enforcing the ruleset"),
}


def _unique(items: List[bytes]) -> List[bytes]:
    """``items`` without repeats, in order."""
    return list(dict.fromkeys(items))


def _text_object(obj: DeniedObject) -> Dict[str, Any]:
    """The object with its bytes as text, every byte kept (for the policy)."""
    return {k: (log_text(v) if isinstance(v, bytes) else v) for k, v in obj.items()}


def against_policy(paragraph: Paragraph, policy: Policy) -> Dict[str, Any]:
    """What the policy says: the layer and file blamed, the missing rule, and
    whether the log can have come from the policy (lldecode.landlock.simulate)."""
    from lldecode.landlock.blame import blame_denial

    first = paragraph.first
    process: ProcessInfo = first.process or {}
    destination = None
    if len(paragraph.denials) == 2:
        second = paragraph.denials[1]
        destination = (second.blockers, _text_object(second.object))
    result = blame_denial(policy, first.blockers, _text_object(first.object),
                          syscall=process.get("syscall"), destination=destination)
    return result.as_dict()


def explanation(paragraph: Paragraph, policy: Optional[Policy] = None) -> Explained:
    """The structured explanation of one paragraph (what JSON output shows)."""
    first = paragraph.first
    process: ProcessInfo = first.process or {}
    blockers: List[str] = []
    for d in paragraph.denials:
        blockers.extend(b for b in d.blockers if b not in blockers)
    refer = refer_rule(paragraph.denials)
    explained: Explained = {
        "time": first.time,
        "last_time": paragraph.last_time,
        "count": paragraph.count,
        "serial": first.serial,
        "who": who(first),
        "what": {"syscall": process.get("syscall"), "errno": process.get("errno"),
                 "rights": rights(blockers)},
        "where": [where(d) for d in paragraph.denials],
        "sandbox": sandbox(first),
        "fix": _fixes(paragraph.denials, refer),
        "hide": RESTRICT_FLAGS_HINT,
        "policy": against_policy(paragraph, policy) if policy is not None else None,
    }
    if refer is not None:
        explained["refer"] = refer
    return explained


def operations(denials: Iterable[Optional[Denial]]) -> Iterator[Optional[List[Denial]]]:
    """Group the denials of one operation (a rename's two records) together,
    in the kernel's order (see :func:`lldecode.analysis.denials.denials_of`).
    A None among the denials (a live input went quiet: every event read is
    out) gives out the operation held and is passed on."""
    pending: List[Denial] = []
    for denial in denials:
        if denial is None:
            if pending:
                yield pending
                pending = []
            yield None
            continue
        if pending and (denial.event is not pending[0].event or denial.operation_index == 0):
            yield pending
            pending = []
        pending.append(denial)
    if pending:
        yield pending
