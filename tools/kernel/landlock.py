"""Landlock through its system calls (x86_64 numbers), with ctypes.

Used by the capture tool and the kernel tests: a scenario runs in a forked
child (a Landlock domain can never be left), which builds rulesets, enforces
them, performs an operation and reports the result through a pipe.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import platform
import select
import signal
import time
import traceback
from typing import Callable, Optional

SYS_CREATE_RULESET = {"x86_64": 444, "aarch64": 444, "armv7l": 444, "i686": 444}
SYS_ADD_RULE = {"x86_64": 445, "aarch64": 445, "armv7l": 445, "i686": 445}
SYS_RESTRICT_SELF = {"x86_64": 446, "aarch64": 446, "armv7l": 446, "i686": 446}

LANDLOCK_CREATE_RULESET_VERSION = 1
LANDLOCK_RULE_PATH_BENEATH = 1
LANDLOCK_RULE_NET_PORT = 2

# landlock_restrict_self() flags (ABI 7)
LOG_SAME_EXEC_OFF = 1 << 0
LOG_NEW_EXEC_ON = 1 << 1
LOG_SUBDOMAINS_OFF = 1 << 2

PR_SET_NO_NEW_PRIVS = 38

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


class _NetPortAttr(ctypes.Structure):
    _fields_ = [("allowed_access", ctypes.c_uint64), ("port", ctypes.c_uint64)]


def _nr(table: dict) -> int:
    machine = platform.machine()
    if machine not in table:
        raise OSError(errno.ENOSYS, f"no Landlock syscall numbers for {machine}")
    return table[machine]


def _check(ret: int) -> int:
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return ret


def abi_version() -> int:
    """The kernel's Landlock ABI version (OSError when Landlock is missing)."""
    return _check(_libc.syscall(_nr(SYS_CREATE_RULESET), None, ctypes.c_size_t(0),
                                ctypes.c_uint32(LANDLOCK_CREATE_RULESET_VERSION)))


class Ruleset:
    def __init__(self, handled_fs: int = 0, handled_net: int = 0, scoped: int = 0):
        attr = _RulesetAttr(handled_fs, handled_net, scoped)
        self.fd = _check(_libc.syscall(_nr(SYS_CREATE_RULESET), ctypes.byref(attr),
                                       ctypes.c_size_t(ctypes.sizeof(attr)),
                                       ctypes.c_uint32(0)))

    def allow_path(self, path: str, allowed: int) -> "Ruleset":
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        try:
            attr = _PathBeneathAttr(allowed, fd)
            _check(_libc.syscall(_nr(SYS_ADD_RULE), self.fd,
                                 ctypes.c_int(LANDLOCK_RULE_PATH_BENEATH),
                                 ctypes.byref(attr), ctypes.c_uint32(0)))
        finally:
            os.close(fd)
        return self

    def allow_port(self, port: int, allowed: int) -> "Ruleset":
        attr = _NetPortAttr(allowed, port)
        _check(_libc.syscall(_nr(SYS_ADD_RULE), self.fd,
                             ctypes.c_int(LANDLOCK_RULE_NET_PORT),
                             ctypes.byref(attr), ctypes.c_uint32(0)))
        return self

    def enforce(self, flags: int = 0) -> None:
        """Restrict the calling thread (call it in a child process only)."""
        _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
        try:
            _check(_libc.syscall(_nr(SYS_RESTRICT_SELF), self.fd, ctypes.c_uint32(flags)))
        finally:
            os.close(self.fd)
            self.fd = -1


def run_in_child(fn: Callable[[], object], timeout: float = 20.0) -> dict:
    """Run ``fn`` in a forked child; return {"ok": bool, "value"|"errno"|"error"}.

    ``fn``'s return value must be JSON-serializable; an OSError it raises is
    reported by errno, any other exception as text.
    """
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read_end)
        try:
            try:
                result = {"ok": True, "value": fn()}
            except OSError as exc:
                result = {"ok": False, "errno": exc.errno,
                          "errname": errno.errorcode.get(exc.errno or 0, "?"),
                          "error": str(exc)}
            except BaseException:  # noqa: BLE001 - reported to the parent
                result = {"ok": False, "error": traceback.format_exc()}
            os.write(write_end, json.dumps(result).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    try:
        data = _collect(read_end, pid, timeout)
    finally:
        os.close(read_end)
    if data is None:
        return {"ok": False, "error": f"no result within {timeout} s: child killed"}
    if not data:
        return {"ok": False, "error": "child died without a result"}
    return json.loads(data)


def _collect(read_end: int, pid: int, timeout: float) -> Optional[bytes]:
    """What the child wrote, once it has exited and the pipe is drained.

    Not "until EOF": a process the child forked may still hold the pipe's
    write end.  After ``timeout`` seconds the child is killed (None).
    """
    chunks = []
    deadline = time.monotonic() + timeout
    reaped = timed_out = False
    while True:
        ready, _, _ = select.select([read_end], [], [], 0.1)
        if ready:
            chunk = os.read(read_end, 65536)
            if not chunk:
                break
            chunks.append(chunk)
        elif reaped:
            break
        elif os.waitpid(pid, os.WNOHANG)[0] == pid:
            reaped = True
        elif time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            timed_out = True
            break
    if not reaped:
        os.waitpid(pid, 0)
    return None if timed_out else b"".join(chunks)


def unavailable_reason() -> Optional[str]:
    """Why real-kernel tests cannot run here, or None when they can."""
    if os.name != "posix" or platform.system() != "Linux":
        return "not Linux"
    if os.geteuid() != 0:
        return "not root"
    try:
        abi = abi_version()
    except OSError as exc:
        return f"Landlock unavailable: {exc}"
    if abi < 7:
        return f"Landlock ABI {abi} < 7 (no audit logging)"
    try:
        from lldecode.audit.netlink import AuditControl

        with AuditControl() as ctl:
            ctl.status()
    except (OSError, TimeoutError) as exc:
        return f"audit netlink unavailable: {exc}"
    return None
