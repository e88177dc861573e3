"""explain: each denial (or operation) in plain words.

For every denial the explanation says who asked (comm, exe, pid, command
line), what was refused (the syscall and each missing right: what it
guards, which syscalls need it, the ABI that introduced it, whether it is
granted on files or directories), where (the path, port or target process),
which sandbox refused (the domain and its creator) and how to fix it (the
rule the sandbox would need, or the logging flag that would hide it).

Consecutive identical denials fold into one paragraph with a count; the two
records of a rename or link across directories make one paragraph.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, Iterable, Iterator, List, Optional, Tuple, TypedDict

from lldecode.analysis.denials import (
    ABSTRACT_SOCKET_BLOCKER,
    Denial,
    DeniedObject,
    LogNumber,
    ProcessInfo,
    log_text,
)
from lldecode.landlock.access import NON_RIGHT_BLOCKERS, right

if TYPE_CHECKING:  # annotations only (domains imports denials; policies load on use)
    from lldecode.analysis.domains import Creator
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


class Explained(TypedDict):
    """One paragraph explained (what ``explain --format json`` shows; bytes
    from the log kept)."""

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


def _signature(denials: List[Denial]) -> Tuple[Any, ...]:
    """What makes two operations alike: domains, blockers, objects and the
    process (syscall, exe, comm, pid)."""
    process: ProcessInfo = denials[0].process or {}
    return tuple((d.domain, tuple(d.blockers), tuple(sorted(d.object.items())))
                 for d in denials) + ((process.get("syscall"), process.get("exe"),
                                       process.get("comm"), process.get("pid")),)


def paragraphs(operations: Iterable[List[Denial]]) -> Iterator[Paragraph]:
    """Fold consecutive identical operations (a streaming step)."""
    current: Optional[Paragraph] = None
    signature: Optional[Tuple[Any, ...]] = None
    for denials in operations:
        sig = _signature(denials)
        if current is not None and sig == signature:
            current.count += 1
            current.last_time = denials[0].time
            continue
        if current is not None:
            yield current
        current, signature = Paragraph(denials), sig
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
        r = right(name)
        if r is not None:
            described.append({"name": name, "guards": r.description,
                              "syscalls": list(r.syscalls), "abi": r.abi,
                              "applies_to": r.applies_to})
        else:
            described.append({"name": name, "guards": NON_RIGHT_BLOCKERS.get(name),
                              "syscalls": [], "abi": None, "applies_to": None})
    return described


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
    return "".join(_plain(p) for p in pieces).encode("utf-8", "surrogateescape")


def where(denial: Denial) -> bytes:
    """The denied object in words (bytes from the log kept as they are)."""
    obj = denial.object
    if "path" in obj or "name" in obj:
        path = denial.path
        if ABSTRACT_SOCKET_BLOCKER in denial.blockers:
            return phrase("the abstract UNIX socket ", path)
        details = []
        if obj.get("dev"):
            details.append(phrase("on ", obj["dev"]))
        if obj.get("ino") is not None:
            details.append(phrase("inode ", obj["ino"]))
        ioctlcmd = obj.get("ioctlcmd")
        if ioctlcmd:
            details.append(phrase("ioctl command ", _ioctl(ioctlcmd)))
        suffix = b" (" + b", ".join(details) + b")" if details else b""
        return phrase(path) + suffix
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


def fixes(denials: List[Denial]) -> List[bytes]:
    """How the sandbox could allow it: one sentence per missing rule (bytes
    from the log kept, see :func:`phrase`)."""
    out: List[bytes] = []
    for denial in denials:
        obj = denial.object
        path = denial.path
        fs_rights = [b for b in denial.blockers if b.startswith("fs.")]
        if fs_rights and path is not None:
            names = ", ".join(fs_rights)
            kinds = {r.applies_to for r in map(right, fs_rights) if r is not None}
            if kinds == {"dir"}:
                target = phrase("the directory ", path)
            else:
                target = phrase(path, " (or a directory above it)")
            out.append(phrase(f"allow {names} beneath ", target,
                              " in the ruleset of domain ", denial.domain))
            if "fs.truncate" in fs_rights or "fs.ioctl_dev" in fs_rights:
                out.append(b"truncate and ioctl_dev on an open file are checked against the "
                           b"rules in force when the file was opened: the rule must be in "
                           b"the ruleset before the open")
            if "fs.refer" in fs_rights:
                out.append(b"fs.refer is needed on both the source and destination "
                           b"directories of a rename or link across directories")
        for blocker in denial.blockers:
            if blocker == "net.bind_tcp":
                out.append(phrase("allow net.bind_tcp on port ", _number(obj.get("src"))))
            elif blocker == "net.connect_tcp":
                out.append(phrase("allow net.connect_tcp on port ", _number(obj.get("dest"))))
            elif blocker in BLOCKER_FIXES:
                out.append(BLOCKER_FIXES[blocker])
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
    return {
        "time": first.time,
        "last_time": paragraph.last_time,
        "count": paragraph.count,
        "serial": first.serial,
        "who": who(first),
        "what": {"syscall": process.get("syscall"), "errno": process.get("errno"),
                 "rights": rights(blockers)},
        "where": [where(d) for d in paragraph.denials],
        "sandbox": sandbox(first),
        "fix": fixes(paragraph.denials),
        "hide": RESTRICT_FLAGS_HINT,
        "policy": against_policy(paragraph, policy) if policy is not None else None,
    }


def operations(denials: Iterable[Denial]) -> Iterator[List[Denial]]:
    """Group the denials of one operation (a rename's two records) together."""
    pending: List[Denial] = []
    for denial in denials:
        if pending and (denial.event is not pending[0].event or denial.operation_index == 0):
            yield pending
            pending = []
        pending.append(denial)
    if pending:
        yield pending
