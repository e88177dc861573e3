"""Denials: each LANDLOCK_ACCESS record with the context of its event.

This is the enrichment layer: the record says which domain denied what on
which object; the other records of its event say who asked (SYSCALL:
syscall, exit, pid, uid, comm, exe; PROCTITLE: the command line; CWD and
PATH: where).  A rename or link across directories logs two access records
in one event: they become two denials of one operation.
"""

from __future__ import annotations

from typing import Any, Dict, List, Literal, Optional, Tuple, TypedDict, Union, cast

from lldecode.analysis.domains import Creator, DomainInfo, DomainKey
from lldecode.audit.events import Event
from lldecode.audit.records import Record
from lldecode.audit.syntax import ACCESS
from lldecode.audit.values import (
    LogNumber,
    abstract_socket_name,
    decode_int,
    decode_text,
    decode_untrusted,
    log_number,
    strip_deleted,
)
from lldecode.landlock.access import normalize_blocker

ABSTRACT_SOCKET_BLOCKER = "scope.abstract_unix_socket"


# Object fields of LANDLOCK_ACCESS records and how to decode them (the keys
# of DeniedObject: a test checks that the two agree).
_BYTES, _TEXT, _INT = "bytes", "text", "int"
OBJECT_FIELDS = {
    "path": _BYTES, "name": _BYTES, "dev": _TEXT, "ino": _INT, "ioctlcmd": _TEXT,
    "saddr": _TEXT, "src": _INT, "daddr": _TEXT, "dest": _INT,
    "opid": _INT, "ocomm": _BYTES,
}


class DeniedObject(TypedDict, total=False):
    """The denied object's fields, decoded, in the record's order: only those
    the record has; a field this version does not know is kept as text."""

    path: Optional[bytes]     # a file, or an abstract socket's name (see Denial.path)
    name: Optional[bytes]     # a file with no path (an anonymous inode...)
    dev: Optional[str]
    ino: Optional[int]
    ioctlcmd: Optional[str]   # hexadecimal, 0x...
    saddr: Optional[str]      # net.bind_tcp: the local address and port
    src: Optional[int]
    daddr: Optional[str]      # net.connect_tcp: the remote address and port
    dest: Optional[int]
    opid: Optional[int]       # scope.signal, ptrace: the target process
    ocomm: Optional[bytes]


class PathItem(TypedDict, total=False):
    """One PATH record of the denied event."""

    name: Optional[bytes]
    item: Optional[int]
    inode: Optional[int]
    nametype: Optional[str]
    dev: Optional[str]
    mode: Optional[str]


class ProcessInfo(TypedDict, total=False):
    """The process denied, from its event's SYSCALL, PROCTITLE, CWD and PATH
    records: only the fields those records have."""

    arch: Optional[str]
    syscall_nr: Optional[int]
    syscall: Optional[str]
    success: bool
    exit: Optional[int]
    errno: Optional[str]
    pid: LogNumber
    ppid: LogNumber
    uid: LogNumber
    auid: LogNumber
    gid: LogNumber
    euid: LogNumber
    ses: LogNumber
    comm: Optional[bytes]
    exe: Optional[bytes]
    exe_deleted: bool
    key: Optional[str]
    proctitle: Optional[bytes]
    argv: List[bytes]
    cwd: Optional[bytes]
    paths: List[PathItem]


# The fields the denied process and a domain's creator both have
# (Denial.actor reads one from either).
ActorField = Literal["pid", "uid", "exe", "comm"]

# Blocker lists memoized by Denial (logs repeat a handful of blockers=
# values); past this many distinct values, new ones are not kept.
_BLOCKER_LISTS_KEPT = 4096


class Denial:
    """One access the kernel denied, and everything the log says about it."""

    __slots__ = ("record", "event", "operation_index", "operation_size",
                 "domain", "blockers", "_object", "_process", "domain_info")

    def __init__(self, record: Record, event: Event, index: int, size: int):
        self.record = record
        self.event = event
        self.operation_index = index
        self.operation_size = size
        domain, blockers = record.domain, record.blockers
        # read_records gives every Landlock record its domain= and every
        # access record its blockers= (check_landlock rejects the others).
        assert domain is not None and blockers is not None
        self.domain = domain
        self.blockers = _blockers(blockers)
        self._object: Optional[DeniedObject] = None
        self._process: Optional[ProcessInfo] = None  # decoded on first use ({}: none)
        self.domain_info: Optional[DomainInfo] = None  # set by the domain registry

    @property
    def time(self) -> Optional[float]:
        """When the kernel logged the denial (epoch seconds)."""
        return self.record.time

    @property
    def serial(self) -> Optional[int]:
        """The audit serial of the denial's event."""
        return self.record.serial

    @property
    def node(self) -> Optional[str]:
        """The host that logged it (``node=``), None when the log does not say."""
        return self.record.node

    @property
    def object(self) -> DeniedObject:
        """The denied object's fields, decoded (path, dev, ino, port, pid...)."""
        if self._object is None:
            self._object = decode_object(self.record, self.blockers)
        return self._object

    @property
    def path(self) -> Optional[bytes]:
        """The denied path (``path=``), else the name of an abstract socket
        or a file that has none (``name=``); None when the object has neither."""
        obj = self.object
        path = obj.get("path")
        return path if path is not None else obj.get("name")

    @property
    def key(self) -> DomainKey:
        """The key of the denying domain: (node, boot, id) — domain ids are
        unique per boot of one host (see lldecode.analysis.domains)."""
        info = self.domain_info
        return info.key if info is not None else (self.node, 0, self.domain)

    @property
    def creator(self) -> Optional[Creator]:
        """The denying domain's creator (None when its allocated record is not
        in the input)."""
        info = self.domain_info
        return info.creator if info is not None else None

    def actor(self, field: ActorField) -> Union[int, str, bytes, None]:
        """A field of the process denied (its SYSCALL record); when the event
        has none, of the domain's creator (its allocated record)."""
        process = self.process
        if process and process.get(field) is not None:
            return process.get(field)
        creator = self.creator
        if creator:
            return creator.get(field)
        return None

    @property
    def process(self) -> Optional[ProcessInfo]:
        """Who asked, from the event's SYSCALL, PROCTITLE, CWD and PATH records
        (decoded on first use: summaries that do not need it never pay)."""
        process = self._process
        if process is None:
            process = self._process = process_context(self.event) or {}
        return process or None

    def __repr__(self) -> str:
        return f"Denial({self.domain} {','.join(self.blockers)} {self.object})"


_BLOCKER_LISTS: Dict[str, List[str]] = {}


def _blockers(text: str) -> List[str]:
    """The dotted blocker names of a ``blockers=`` value (a copy, memoized:
    logs repeat a handful of values)."""
    names = _BLOCKER_LISTS.get(text)
    if names is None:
        names = [normalize_blocker(b) for b in text.split(",")]
        if len(_BLOCKER_LISTS) < _BLOCKER_LISTS_KEPT:
            _BLOCKER_LISTS[text] = names
    return list(names)


def decode_object(record: Record, blockers: List[str]) -> DeniedObject:
    """The object fields of an access record, decoded (unknown ones as text)."""
    interpreted = record.interpreted
    decoded: Dict[str, Any] = {}
    for key, value in record.fields.items():
        if key in ("domain", "blockers"):
            continue
        kind = OBJECT_FIELDS.get(key, _TEXT)
        if kind == _BYTES:
            raw = decode_untrusted(value, interpreted)
            if raw is not None and key == "path" and ABSTRACT_SOCKET_BLOCKER in blockers:
                raw = abstract_socket_name(raw)
            decoded[key] = raw
        elif kind == _INT:
            decoded[key] = decode_int(value)
        elif interpreted:
            decoded[key] = _interpreted_text(key, value)
        else:
            decoded[key] = decode_text(value)
    # Keys are the record's own: DeniedObject names the ones this version knows.
    return cast(DeniedObject, decoded)


def log_text(raw: bytes) -> str:
    """Bytes from the log as text, every byte kept: bytes that are not UTF-8
    become lone surrogates (``surrogateescape``), which encode back to them."""
    return raw.decode("utf-8", "surrogateescape")


def _interpreted_text(key: str, value: str) -> Optional[str]:
    """Undo what ``ausearch -i`` did to a Landlock object field."""
    if key == "ioctlcmd" and not value.startswith("0x"):
        from lldecode.syscalls import ioctl_number

        number = ioctl_number(value)  # TIOCINQ -> 0x541b
        return f"0x{number:x}" if number is not None else value
    if key in ("saddr", "daddr") and value.startswith("unknown-family("):
        # ausearch 3.x reads Landlock's saddr=IP as a hex sockaddr: the
        # address cannot be recovered from its output.
        return None
    return decode_text(value)


def denials_of(event: Event) -> List[Denial]:
    """The denials of one event (two for a rename or link across directories),
    in the kernel's order: source, then destination (``ausearch -i`` prints
    an event's records reversed)."""
    records = [r for r in event.records if r.kind == ACCESS]
    if not records:
        return []
    if len(records) > 1 and records[0].interpreted:
        records.reverse()
    return [Denial(record, event, index, len(records)) for index, record in enumerate(records)]


# -- process context ------------------------------------------------------------

# The PATH fields that hold numbers, and the ones kept as text.
_PATH_NUMBERS: Tuple[Literal["item", "inode"], ...] = ("item", "inode")
_PATH_TEXTS: Tuple[Literal["nametype", "dev", "mode"], ...] = ("nametype", "dev", "mode")

# The SYSCALL fields that hold ids, and the ones that hold untrusted names.
_SYSCALL_IDS: Tuple[Literal["pid", "ppid", "uid", "auid", "gid", "euid", "ses"], ...] = (
    "pid", "ppid", "uid", "auid", "gid", "euid", "ses")
_SYSCALL_NAMES: Tuple[Literal["comm", "exe"], ...] = ("comm", "exe")


def _syscall_fields(record: Record) -> ProcessInfo:
    from lldecode import syscalls

    f = record.fields
    interpreted = record.interpreted
    arch_value = f.get("arch")
    arch = syscalls.arch_name(arch_value) if arch_value else None
    context: ProcessInfo = {"arch": arch or arch_value}
    number = decode_int(f.get("syscall", ""))
    if number is not None:
        context["syscall_nr"] = number
        context["syscall"] = syscalls.syscall_name(arch, number) if arch else None
    elif "syscall" in f:
        context["syscall"] = f["syscall"]
        context["syscall_nr"] = syscalls.syscall_number(arch, f["syscall"]) if arch else None
    if "success" in f:
        context["success"] = f["success"] == "yes"
    exit_value = f.get("exit")
    if exit_value is not None:
        code = decode_int(exit_value)
        if code is None and interpreted:  # EACCES(Permission denied)
            name = exit_value.split("(", 1)[0]
            errno = syscalls.errno_number(name)
            code = -errno if errno is not None else None
        context["exit"] = code
        context["errno"] = syscalls.errno_name(code) if code is not None and code < 0 else None
    for key in _SYSCALL_IDS:
        if key in f:
            context[key] = log_number(f[key])
    for name in _SYSCALL_NAMES:
        if name in f:
            raw = decode_untrusted(f[name], interpreted)
            if name == "exe" and raw is not None:
                raw, deleted = strip_deleted(raw)
                if deleted:
                    context["exe_deleted"] = True
            context[name] = raw
    if "key" in f:
        context["key"] = decode_text(f["key"])
    return context


def process_context(event: Event) -> Optional[ProcessInfo]:
    """Who made the denied request, from the event's other records."""
    context: ProcessInfo = {}
    syscall = event.first("SYSCALL")
    if syscall is not None:
        context.update(_syscall_fields(syscall))
    proctitle = event.first("PROCTITLE")
    if proctitle is not None:
        raw = proctitle.untrusted("proctitle")
        if raw is not None:
            if proctitle.interpreted:  # ausearch -i joined argv with spaces
                context["proctitle"] = raw
            else:
                context["argv"] = raw.split(b"\0")
                context["proctitle"] = b" ".join(context["argv"])
    cwd = event.first("CWD")
    if cwd is not None:
        context["cwd"] = cwd.untrusted("cwd")
    paths = []
    for record in event.all("PATH"):
        item: PathItem = {"name": record.untrusted("name")}
        for number_key in _PATH_NUMBERS:
            if number_key in record.fields:
                item[number_key] = decode_int(record.fields[number_key])
        for key in _PATH_TEXTS:
            if key in record.fields:
                item[key] = decode_text(record.fields[key])
        paths.append(item)
    if paths:
        context["paths"] = paths
    return context or None
