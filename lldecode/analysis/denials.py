"""Denials: each LANDLOCK_ACCESS record with the context of its event.

This is the enrichment layer: the record says which domain denied what on
which object; the other records of its event say who asked (SYSCALL:
syscall, exit, pid, uid, comm, exe; PROCTITLE: the command line; CWD and
PATH: where).  A rename or link across directories logs two access records
in one event: they become two denials of one operation.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from lldecode.landlock.access import normalize_blocker
from lldecode.audit.events import Event
from lldecode.audit.syntax import ACCESS
from lldecode.audit.records import Record
from lldecode.audit.values import (abstract_socket_name, decode_int, decode_text,
                             decode_untrusted, strip_deleted)

ABSTRACT_SOCKET_BLOCKER = "scope.abstract_unix_socket"
_UNSET = object()

# Object fields of LANDLOCK_ACCESS records and how to decode them.
_BYTES, _TEXT, _INT = "bytes", "text", "int"
OBJECT_FIELDS = {
    "path": _BYTES, "name": _BYTES, "dev": _TEXT, "ino": _INT, "ioctlcmd": _TEXT,
    "saddr": _TEXT, "src": _INT, "daddr": _TEXT, "dest": _INT,
    "opid": _INT, "ocomm": _BYTES,
}


class Denial:
    """One access the kernel denied, and everything the log says about it."""

    __slots__ = ("record", "event", "operation_index", "operation_size",
                 "domain", "blockers", "_object", "_process", "domain_info")

    def __init__(self, record: Record, event: Event, index: int, size: int):
        self.record = record
        self.event = event
        self.operation_index = index
        self.operation_size = size
        self.domain: str = record.domain
        self.blockers: List[str] = _blockers(record.blockers)
        self._object: Optional[Dict[str, Any]] = None
        self._process: Any = _UNSET
        self.domain_info = None  # set by the domain registry

    @property
    def time(self) -> Optional[float]:
        return self.record.time

    @property
    def serial(self) -> Optional[int]:
        return self.record.serial

    @property
    def node(self) -> Optional[str]:
        return self.record.node

    @property
    def object(self) -> Dict[str, Any]:
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
    def key(self) -> Tuple[Optional[str], int, str]:
        """The key of the denying domain: (node, boot, id) — domain ids are
        unique per boot of one host (see lldecode.analysis.domains)."""
        info = self.domain_info
        return info.key if info is not None else (self.node, 0, self.domain)

    def actor(self, field: str) -> Any:
        """A field of the process denied (its SYSCALL record); when the event
        has none, of the domain's creator (its allocated record)."""
        process = self.process
        if process and process.get(field) is not None:
            return process.get(field)
        info = self.domain_info
        if info is not None and info.creator:
            return info.creator.get(field)
        return None

    @property
    def process(self) -> Optional[Dict[str, Any]]:
        """Who asked, from the event's SYSCALL, PROCTITLE, CWD and PATH records
        (decoded on first use: summaries that do not need it never pay)."""
        if self._process is _UNSET:
            self._process = process_context(self.event)
        return self._process

    def __repr__(self) -> str:
        return f"Denial({self.domain} {','.join(self.blockers)} {self.object})"


_BLOCKER_LISTS: Dict[str, List[str]] = {}


def _blockers(text: str) -> List[str]:
    """The dotted blocker names of a ``blockers=`` value (a copy, memoized:
    logs repeat a handful of values)."""
    names = _BLOCKER_LISTS.get(text)
    if names is None:
        names = [normalize_blocker(b) for b in text.split(",")]
        if len(_BLOCKER_LISTS) < 4096:
            _BLOCKER_LISTS[text] = names
    return list(names)


def decode_object(record: Record, blockers: List[str]) -> Dict[str, Any]:
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
    return decoded


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
    """The denials of one event (two for a rename or link across directories)."""
    records = [r for r in event.records if r.kind == ACCESS]
    if not records:
        return []
    return [Denial(record, event, index, len(records)) for index, record in enumerate(records)]


# -- process context ------------------------------------------------------------

def _syscall_fields(record: Record) -> Dict[str, Any]:
    from lldecode import syscalls

    f = record.fields
    interpreted = record.interpreted
    arch_value = f.get("arch")
    arch = syscalls.arch_name(arch_value) if arch_value else None
    context: Dict[str, Any] = {"arch": arch or arch_value}
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
    for key in ("pid", "ppid", "uid", "auid", "gid", "euid", "ses"):
        if key in f:
            number = decode_int(f[key])
            context[key] = number if number is not None else decode_text(f[key])
    for key in ("comm", "exe"):
        if key in f:
            raw = decode_untrusted(f[key], interpreted)
            if key == "exe" and raw is not None:
                raw, deleted = strip_deleted(raw)
                if deleted:
                    context["exe_deleted"] = True
            context[key] = raw
    if "key" in f:
        context["key"] = decode_text(f["key"])
    return context


def process_context(event: Event) -> Optional[Dict[str, Any]]:
    """Who made the denied request, from the event's other records."""
    context: Dict[str, Any] = {}
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
        item: Dict[str, Any] = {"name": record.untrusted("name")}
        for key in ("item", "inode"):
            if key in record.fields:
                item[key] = decode_int(record.fields[key])
        for key in ("nametype", "dev", "mode"):
            if key in record.fields:
                item[key] = decode_text(record.fields[key])
        paths.append(item)
    if paths:
        context["paths"] = paths
    return context or None
