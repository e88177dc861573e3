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
from typing import Iterator, List, Optional, Tuple, TypedDict

from lldecode.audit import live

# <linux/netlink.h>, <linux/audit.h>: the protocol, its multicast group,
# the messages and flags used here.
NETLINK_AUDIT = 9
AUDIT_NLGRP_READLOG = 1
AUDIT_GET = 1000
AUDIT_SET = 1001
AUDIT_STATUS_ENABLED = 0x0001
NLMSG_ERROR = 2
NLM_F_REQUEST = 0x1
NLM_F_ACK = 0x4

# struct nlmsghdr: length, type, flags, sequence number, port id.
_NLMSGHDR = struct.Struct("=IHHII")
# Netlink messages are padded to a multiple of this many bytes (NLMSG_ALIGNTO).
_NLMSG_ALIGNTO = 4
# struct audit_status: mask, enabled, failure, pid, rate_limit, backlog_limit,
# lost, backlog, feature_bitmap/version, backlog_wait_time: the u32 fields
# read here (newer kernels add backlog_wait_time_actual, older have fewer).
_STATUS_FIELDS = 10
_STATUS = struct.Struct(f"={_STATUS_FIELDS}I")

# How long the kernel has to answer a request (seconds); it answers at once.
_ANSWER_TIMEOUT = 2.0
# The wait between two looks for the answer (seconds).
_POLL_INTERVAL = 0.2
# Receive buffers (bytes): an answer is small; the multicast socket may get
# a burst of records, kept in a large kernel buffer and read many at a time.
_ANSWER_BUFFER = 1 << 16
_MULTICAST_RCVBUF = 8 << 20
_MULTICAST_READ = 1 << 17


class AuditStatus(TypedDict):
    """The kernel's audit status (struct audit_status), field by field."""

    mask: int
    enabled: int
    failure: int
    pid: int                # the registered audit daemon (0: none)
    rate_limit: int
    backlog_limit: int
    lost: int
    backlog: int
    feature_bitmap: int     # (the version, on old kernels)
    backlog_wait_time: int


def _aligned(length: int) -> int:
    """NLMSG_ALIGN: the length of a netlink message with its padding."""
    return (length + _NLMSG_ALIGNTO - 1) & ~(_NLMSG_ALIGNTO - 1)


class AuditControl:
    """A unicast NETLINK_AUDIT socket to read and change the audit status."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_AUDIT)
        self.sock.bind((0, 0))
        self.seq = 0

    def close(self) -> None:
        """Close the socket."""
        self.sock.close()

    def __enter__(self) -> "AuditControl":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _request(self, msg_type: int, payload: bytes = b"") -> List[Tuple[int, bytes]]:
        """Send a request; the (type, body) of the answers (OSError on an error)."""
        self.seq += 1
        header = _NLMSGHDR.pack(_NLMSGHDR.size + len(payload), msg_type,
                                NLM_F_REQUEST | NLM_F_ACK, self.seq, 0)
        self.sock.send(header + payload)
        replies: List[Tuple[int, bytes]] = []
        deadline = time.monotonic() + _ANSWER_TIMEOUT
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.sock], [], [], _POLL_INTERVAL)
            if not ready:
                continue
            data = self.sock.recv(_ANSWER_BUFFER)
            offset = 0
            while offset + _NLMSGHDR.size <= len(data):
                length, rtype, _flags, seq, _pid = _NLMSGHDR.unpack_from(data, offset)
                body = data[offset + _NLMSGHDR.size: offset + length]
                offset += _aligned(length)
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

    def status(self) -> AuditStatus:
        """The kernel's audit status (OSError when it cannot be had)."""
        for rtype, body in self._request(AUDIT_GET):
            if rtype == AUDIT_GET:
                body = body.ljust(_STATUS.size, b"\0")[: _STATUS.size]
                (mask, enabled, failure, pid, rate_limit, backlog_limit, lost, backlog,
                 feature_bitmap, backlog_wait_time) = _STATUS.unpack(body)
                return AuditStatus(
                    mask=mask, enabled=enabled, failure=failure, pid=pid,
                    rate_limit=rate_limit, backlog_limit=backlog_limit, lost=lost,
                    backlog=backlog, feature_bitmap=feature_bitmap,
                    backlog_wait_time=backlog_wait_time)
        raise OSError("the kernel sent no audit status")

    def set_enabled(self, enabled: bool) -> None:
        """Turn the kernel's audit on or off (needs CAP_AUDIT_CONTROL)."""
        # mask and enabled; the fields the mask does not select are zero.
        payload = _STATUS.pack(AUDIT_STATUS_ENABLED, 1 if enabled else 0,
                               *([0] * (_STATUS_FIELDS - 2)))
        self._request(AUDIT_SET, payload)


class AuditMulticast:
    """A socket subscribed to the audit multicast group (needs CAP_AUDIT_READ)."""

    def __init__(self, rcvbuf: int = _MULTICAST_RCVBUF) -> None:
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_AUDIT)
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        except OSError:
            pass
        self.sock.bind((0, 1 << (AUDIT_NLGRP_READLOG - 1)))

    def close(self) -> None:
        """Close the socket."""
        self.sock.close()

    def __enter__(self) -> "AuditMulticast":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def messages(self, timeout: Optional[float] = None, idle: Optional[float] = None,
                 tick: Optional[float] = None) -> Iterator[Tuple[int, str]]:
        """Yield (record type, payload text) until ``timeout`` seconds have
        passed, or ``idle`` seconds passed without a message (None: forever),
        or a stop was asked (lldecode.audit.live.stop).  With ``tick``, yield
        (0, "") once the group has been quiet for ``tick`` seconds after a
        message (and every lldecode.audit.live.settings.heartbeat seconds
        while it stays quiet)."""
        start = last = last_tick = time.monotonic()
        ticked = True
        heartbeat = live.settings.heartbeat
        while not live.stop:
            now = time.monotonic()
            waits = [live.POLL]
            if timeout is not None:
                waits.append(start + timeout - now)
            if idle is not None:
                waits.append(last + idle - now)
            if tick is not None and not ticked:
                if now - last >= tick:
                    ticked, last_tick = True, now
                    yield 0, ""
                    continue
                waits.append(last + tick - now)
            elif heartbeat is not None:
                if now - last_tick >= heartbeat:
                    last_tick = now
                    yield 0, ""
                    continue
                waits.append(last_tick + heartbeat - now)
            wait = min(waits)
            if (timeout is not None and now >= start + timeout) or (
                    idle is not None and now >= last + idle):
                return
            ready, _, _ = select.select([self.sock], [], [], max(0.0, wait))
            if not ready:
                continue
            data = self.sock.recv(_MULTICAST_READ)
            last = time.monotonic()
            ticked = False
            offset = 0
            while offset + _NLMSGHDR.size <= len(data):
                length, rtype, _flags, _seq, _pid = _NLMSGHDR.unpack_from(data, offset)
                if length < _NLMSGHDR.size:
                    break
                payload = data[offset + _NLMSGHDR.size: offset + length]
                offset += _aligned(length)
                yield rtype, payload.rstrip(b"\0").rstrip(b"\n").decode("latin-1")


def record_as_line(rtype: int, payload: str) -> str:
    """Spell one netlink record the way the kernel prints it to the console."""
    return f"type={rtype} {payload}"


def records_as_lines(timeout: Optional[float] = None, idle: Optional[float] = None,
                     tick: Optional[float] = None) -> Iterator[str]:
    """The records of the multicast group, spelled as lines (see
    :func:`record_as_line` and :meth:`AuditMulticast.messages`), and
    :data:`lldecode.audit.live.IDLE` where the group went quiet (``tick``)."""
    with AuditMulticast() as mc:
        for rtype, payload in mc.messages(timeout=timeout, idle=idle, tick=tick):
            yield record_as_line(rtype, payload) if rtype else live.IDLE
