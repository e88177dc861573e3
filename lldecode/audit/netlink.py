"""The audit netlink socket: the kernel's audit status and its multicast log.

This is the live source of records: the audit subsystem copies every record
it emits to the NETLINK_AUDIT multicast group 1 (readable with
CAP_AUDIT_READ), whether or not auditd runs.  Each message's payload is
``audit(SECONDS.MILLIS:SERIAL): body`` and its netlink type is the record
type, so :func:`records_as_lines` spells them as ``type=N audit(...): body``,
the kernel's own printk spelling, which the reader understands.

Linux only; everything here raises OSError elsewhere.
"""

from __future__ import annotations

import os
import select
import socket
import struct
import time
from typing import Iterator, Optional, Tuple

NETLINK_AUDIT = 9
AUDIT_NLGRP_READLOG = 1

AUDIT_GET = 1000
AUDIT_SET = 1001
AUDIT_STATUS_ENABLED = 0x0001

NLMSG_ERROR = 2
NLMSG_DONE = 3
NLM_F_REQUEST = 0x1
NLM_F_ACK = 0x4

_NLMSGHDR = struct.Struct("=IHHII")
# struct audit_status: mask, enabled, failure, pid, rate_limit, backlog_limit,
# lost, backlog, feature_bitmap/version, backlog_wait_time
_STATUS_FIELDS = (
    "mask", "enabled", "failure", "pid", "rate_limit", "backlog_limit",
    "lost", "backlog", "feature_bitmap", "backlog_wait_time",
)
_STATUS = struct.Struct("=10I")


class AuditControl:
    """A unicast NETLINK_AUDIT socket to read and change the audit status."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_AUDIT)
        self.sock.bind((0, 0))
        self.seq = 0

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> "AuditControl":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _request(self, msg_type: int, payload: bytes = b"") -> list:
        self.seq += 1
        header = _NLMSGHDR.pack(_NLMSGHDR.size + len(payload), msg_type,
                                NLM_F_REQUEST | NLM_F_ACK, self.seq, 0)
        self.sock.send(header + payload)
        replies = []
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.sock], [], [], 0.2)
            if not ready:
                continue
            data = self.sock.recv(65536)
            offset = 0
            while offset + _NLMSGHDR.size <= len(data):
                length, rtype, _flags, seq, _pid = _NLMSGHDR.unpack_from(data, offset)
                body = data[offset + _NLMSGHDR.size: offset + length]
                offset += (length + 3) & ~3
                if seq != self.seq:
                    continue
                if rtype == NLMSG_ERROR:
                    (err,) = struct.unpack_from("=i", body)
                    if err:
                        raise OSError(-err, os.strerror(-err))
                    if msg_type != AUDIT_GET or replies:
                        return replies
                    continue
                replies.append((rtype, body))
                if msg_type == AUDIT_GET:
                    return replies
        raise TimeoutError("no answer from the kernel's audit netlink socket")

    def status(self) -> dict:
        for rtype, body in self._request(AUDIT_GET):
            if rtype == AUDIT_GET:
                body = body.ljust(_STATUS.size, b"\0")[: _STATUS.size]
                return dict(zip(_STATUS_FIELDS, _STATUS.unpack(body)))
        raise OSError("the kernel sent no audit status")

    def set_enabled(self, enabled: bool) -> None:
        payload = _STATUS.pack(AUDIT_STATUS_ENABLED, 1 if enabled else 0, *([0] * 8))
        self._request(AUDIT_SET, payload)


class AuditMulticast:
    """A socket subscribed to the audit multicast group (needs CAP_AUDIT_READ)."""

    def __init__(self, rcvbuf: int = 8 << 20) -> None:
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_AUDIT)
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        except OSError:
            pass
        self.sock.bind((0, 1 << (AUDIT_NLGRP_READLOG - 1)))

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> "AuditMulticast":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def messages(self, timeout: Optional[float] = None,
                 idle: Optional[float] = None) -> Iterator[Tuple[int, str]]:
        """Yield (record type, payload text) until ``timeout`` seconds have
        passed, or ``idle`` seconds passed without a message (None: forever)."""
        start = last = time.monotonic()
        while True:
            now = time.monotonic()
            waits = []
            if timeout is not None:
                waits.append(start + timeout - now)
            if idle is not None:
                waits.append(last + idle - now)
            wait = min(waits) if waits else None
            if wait is not None and wait <= 0:
                return
            ready, _, _ = select.select([self.sock], [], [], wait)
            if not ready:
                continue
            data = self.sock.recv(1 << 17)
            last = time.monotonic()
            offset = 0
            while offset + _NLMSGHDR.size <= len(data):
                length, rtype, _flags, _seq, _pid = _NLMSGHDR.unpack_from(data, offset)
                if length < _NLMSGHDR.size:
                    break
                payload = data[offset + _NLMSGHDR.size: offset + length]
                offset += (length + 3) & ~3
                yield rtype, payload.rstrip(b"\0").rstrip(b"\n").decode("latin-1")


def record_as_line(rtype: int, payload: str) -> str:
    """Spell one netlink record the way the kernel prints it to the console."""
    return f"type={rtype} {payload}"


def records_as_lines(timeout: Optional[float] = None,
                     idle: Optional[float] = None) -> Iterator[str]:
    with AuditMulticast() as mc:
        for rtype, payload in mc.messages(timeout=timeout, idle=idle):
            yield record_as_line(rtype, payload)
