"""A test denial: a child process sandboxes itself and is refused making a
directory, so that ``lldecode doctor`` can see whether the kernel logs it.

The child handles only ``fs.make_dir`` and grants nothing, so its only
effect is that one refusal.  ``after_exec``: it first executes a new
program (this Python), which makes the refusal one that Landlock does not
log by default (unless the sandbox set ``LOG_NEW_EXEC_ON``).
Linux only (OSError elsewhere).
"""

from __future__ import annotations

import ctypes
import os
import platform
import sys
from typing import Optional

# landlock_create_ruleset, landlock_add_rule, landlock_restrict_self: the
# same numbers on every architecture since Linux 5.13 (the unified table).
_CREATE, _RESTRICT = 444, 446
_CREATE_RULESET_VERSION = 1
_MAKE_DIR = 1 << 7
PR_SET_NO_NEW_PRIVS = 38
LOG_NEW_EXEC_ON = 1 << 1


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64)]


def _libc() -> ctypes.CDLL:
    if platform.system() != "Linux":
        raise OSError("Landlock needs Linux")
    return ctypes.CDLL(None, use_errno=True)


def abi() -> int:
    """The kernel's Landlock ABI version (OSError when it has none)."""
    libc = _libc()
    result = int(libc.syscall(_CREATE, None, ctypes.c_size_t(0),
                              ctypes.c_uint32(_CREATE_RULESET_VERSION)))
    if result < 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return result


def _sandbox(flags: int) -> None:
    """Sandbox this process: making directories refused everywhere."""
    libc = _libc()
    attr = _RulesetAttr(_MAKE_DIR)
    fd = int(libc.syscall(_CREATE, ctypes.byref(attr), ctypes.c_size_t(ctypes.sizeof(attr)),
                          ctypes.c_uint32(0)))
    if fd < 0:
        raise OSError(ctypes.get_errno(), "landlock_create_ruleset")
    if int(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
    if int(libc.syscall(_RESTRICT, ctypes.c_int(fd), ctypes.c_uint32(flags))) != 0:
        raise OSError(ctypes.get_errno(), "landlock_restrict_self")
    os.close(fd)


def deny_mkdir(path: str, after_exec: bool = False, flags: int = 0) -> Optional[int]:
    """Make the kernel refuse making the directory ``path`` to a sandboxed
    child (after an execve with ``after_exec``); the child's pid, once it has
    ended, or None if it could not sandbox itself."""
    argv = [sys.executable, "-B", "-S", "-c", "import os, sys\ntry:\n os.mkdir(sys.argv[1])\n"
            "except PermissionError:\n sys.exit(0)\nsys.exit(3)", path]
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 2
        try:
            _sandbox(flags)
            if after_exec:
                os.execv(argv[0], argv)
            try:
                os.mkdir(path)
                code = 3
            except PermissionError:
                code = 0
        except BaseException:  # noqa: BLE001 - the child reports by its status
            code = 2
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    return pid if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0 else None
