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


# The SYSCALL fields that hold ids.
_SYSCALL_IDS: Tuple[Literal["pid", "ppid", "uid", "auid", "gid", "euid", "ses"], ...] = (
    "pid", "ppid", "uid", "auid", "gid", "euid", "ses")


# Values decoded once and kept (a log repeats a few arch/syscall/exit
# combinations, executables, command names and command lines): each memo is a
# dict emptied when it reaches _MEMO_KEPT entries, and values longer than
# _MEMO_LENGTH (a forged log can hold any) are decoded every time.
_MEMO_KEPT = 1024
_MEMO_LENGTH = 1024

# (arch, syscall, success, exit, interpreted) as written -> the fields they
# give, in the order _syscall_fields sets them.
_SYSCALL_HEADS: Dict[Tuple[Optional[str], Optional[str], Optional[str], Optional[str], bool],
                     Tuple[Tuple[str, Any], ...]] = {}
# (comm or exe value as written, interpreted) -> its bytes (None: a placeholder).
_NAMES: Dict[Tuple[str, bool], Optional[bytes]] = {}
# The SYSCALL fields _syscall_fields reads; (interpreted, their values as
# written) -> what it makes of them.
_SYSCALL_READ = ("arch", "syscall", "success", "exit") + _SYSCALL_IDS + ("comm", "exe", "key")
_SYSCALLS: Dict[Tuple[bool, Tuple[Optional[str], ...]], ProcessInfo] = {}
# proctitle value as written (raw spelling) -> (argv, the command line).
_PROCTITLES: Dict[str, Tuple[Tuple[bytes, ...], bytes]] = {}
# (an access record's fields after domain= and blockers=, interpreted,
# abstract socket) -> the object they decode to (DeniedObject).
_OBJECTS: Dict[Tuple[Tuple[Tuple[str, str], ...], bool, bool], DeniedObject] = {}


def _remember(memo: Dict[Any, Any], key: Any, value: Any) -> None:
    """Keep ``value`` in ``memo`` (emptied first when full: bounded)."""
    if len(memo) >= _MEMO_KEPT:
        memo.clear()
    memo[key] = value


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
    """The object fields of an access record, decoded (unknown ones as text).

    Memoized by the object's fields as written (a log denies the same few
    objects again and again), when they follow domain= and blockers=, as the
    kernel writes them; each call gets a dict of its own."""
    interpreted = record.interpreted
    fields = record.fields
    items = tuple(fields.items())
    if len(items) < 2 or items[0][0] != "domain" or items[1][0] != "blockers":
        return _decode_object(fields, interpreted, blockers)
    key = (items[2:], interpreted, ABSTRACT_SOCKET_BLOCKER in blockers)
    known = _OBJECTS.get(key)
    if known is None:
        known = _decode_object(fields, interpreted, blockers)
        if sum(len(k) + len(v) for k, v in key[0]) <= _MEMO_LENGTH:
            _remember(_OBJECTS, key, known)
    return cast(DeniedObject, dict(known))


def _decode_object(fields: Dict[str, str], interpreted: bool,
                   blockers: List[str]) -> DeniedObject:
    decoded: Dict[str, Any] = {}
    for key, value in fields.items():
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



def _syscall_head(arch_value: Optional[str], syscall: Optional[str], success: Optional[str],
                  exit_value: Optional[str], interpreted: bool) -> Tuple[Tuple[str, Any], ...]:
    """The fields a SYSCALL record's arch=, syscall=, success= and exit= give
    (absent ones: None), in order: arch, syscall_nr and syscall, success,
    exit and errno."""
    from lldecode import syscalls

    arch = syscalls.arch_name(arch_value) if arch_value else None
    head: List[Tuple[str, Any]] = [("arch", arch or arch_value)]
    number = decode_int(syscall if syscall is not None else "")
    if number is not None:
        head.append(("syscall_nr", number))
        head.append(("syscall", syscalls.syscall_name(arch, number) if arch else None))
    elif syscall is not None:
        head.append(("syscall", syscall))
        head.append(("syscall_nr", syscalls.syscall_number(arch, syscall) if arch else None))
    if success is not None:
        head.append(("success", success == "yes"))
    if exit_value is not None:
        code = decode_int(exit_value)
        if code is None and interpreted:  # EACCES(Permission denied)
            name = exit_value.split("(", 1)[0]
            errno = syscalls.errno_number(name)
            code = -errno if errno is not None else None
        head.append(("exit", code))
        head.append(("errno", syscalls.errno_name(code) if code is not None and code < 0
                     else None))
    return tuple(head)


def _name(value: str, interpreted: bool) -> Optional[bytes]:
    """:func:`decode_untrusted` of a comm= or exe= value, memoized."""
    key = (value, interpreted)
    try:
        return _NAMES[key]
    except KeyError:
        pass
    raw = decode_untrusted(value, interpreted)
    if len(value) <= _MEMO_LENGTH:
        _remember(_NAMES, key, raw)
    return raw


def _syscall_fields(record: Record) -> ProcessInfo:
    """What a SYSCALL record says of the process (memoized by the values
    read: a process logs many denials; each call gets a dict of its own)."""
    f = record.fields
    interpreted = record.interpreted
    values: Tuple[Optional[str], ...] = tuple(map(f.get, _SYSCALL_READ))
    key = (interpreted, values)
    known = _SYSCALLS.get(key)
    if known is None:
        known = _read_syscall(f, interpreted)
        if sum(len(v) for v in values if v is not None) <= _MEMO_LENGTH:
            _remember(_SYSCALLS, key, known)
    return cast(ProcessInfo, dict(known))


def _read_syscall(f: Dict[str, str], interpreted: bool) -> ProcessInfo:
    get = f.get
    key = (get("arch"), get("syscall"), get("success"), get("exit"), interpreted)
    head = _SYSCALL_HEADS.get(key)
    if head is None:
        head = _syscall_head(*key)
        if sum(len(v) for v in key[:4] if v is not None) <= _MEMO_LENGTH:
            _remember(_SYSCALL_HEADS, key, head)
    context = cast(ProcessInfo, dict(head))
    for id_key in _SYSCALL_IDS:
        value = get(id_key)
        if value is not None:
            # log_number, with the usual case (a few ASCII digits) first
            context[id_key] = (int(value) if value.isdigit() and value.isascii()
                               and len(value) <= 18 else log_number(value))
    value = get("comm")
    if value is not None:
        context["comm"] = _name(value, interpreted)
    value = get("exe")
    if value is not None:
        raw = _name(value, interpreted)
        if raw is not None:
            raw, deleted = strip_deleted(raw)
            if deleted:
                context["exe_deleted"] = True
        context["exe"] = raw
    value = get("key")
    if value is not None:
        context["key"] = decode_text(value)
    return context


# What cannot start a bare (unquoted) value.
_NOT_BARE = frozenset(" \t\"'")


def _proctitle(record: Record, context: ProcessInfo) -> None:
    """Set the command line (and argv, unless ``ausearch -i`` joined it) of
    a PROCTITLE record in ``context``."""
    interpreted = record.interpreted
    body = record.body
    if (not interpreted and body.startswith("proctitle=") and len(body) > 10
            and body[10] not in _NOT_BARE and " " not in body and "\t" not in body):
        # what record.fields would read of the usual body, one bare value
        value: Optional[str] = body[10:]
    else:
        value = record.fields.get("proctitle")
    if value is None:
        return
    if not interpreted:
        known = _PROCTITLES.get(value)
        if known is not None:
            context["argv"] = list(known[0])
            context["proctitle"] = known[1]
            return
    raw = decode_untrusted(value, interpreted)
    if raw is None:
        return
    if interpreted:  # ausearch -i joined argv with spaces
        context["proctitle"] = raw
        return
    argv = raw.split(b"\0")
    context["argv"] = argv
    context["proctitle"] = joined = b" ".join(argv)
    if len(value) <= _MEMO_LENGTH:
        _remember(_PROCTITLES, value, (tuple(argv), joined))


def process_context(event: Event) -> Optional[ProcessInfo]:
    """Who made the denied request, from the event's other records (the
    first SYSCALL, PROCTITLE and CWD, every PATH)."""
    syscall = proctitle = cwd = None
    path_records: List[Record] = []
    for record in event.records:
        joined = record.joined_type
        if joined == "SYSCALL":
            if syscall is None:
                syscall = record
        elif joined == "PROCTITLE":
            if proctitle is None:
                proctitle = record
        elif joined == "CWD":
            if cwd is None:
                cwd = record
        elif joined == "PATH":
            path_records.append(record)
    context: ProcessInfo = _syscall_fields(syscall) if syscall is not None else {}
    if proctitle is not None:
        _proctitle(proctitle, context)
    if cwd is not None:
        context["cwd"] = cwd.untrusted("cwd")
    if path_records:
        paths = []
        for record in path_records:
            item: PathItem = {"name": record.untrusted("name")}
            fields = record.fields
            for number_key in _PATH_NUMBERS:
                if number_key in fields:
                    item[number_key] = decode_int(fields[number_key])
            for key in _PATH_TEXTS:
                if key in fields:
                    item[key] = decode_text(fields[key])
            paths.append(item)
        context["paths"] = paths
    return context or None
