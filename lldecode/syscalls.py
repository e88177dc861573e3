"""Audit ``arch=``, ``syscall=``, ``exit=`` and ``ioctlcmd=`` values to names.

The tables live in the generated module :mod:`lldecode._tables` (see
``tools/gen_tables.py``), which is imported on first use only.

Syscall tables cover the machines ausyscall/libaudit know (with audit
3.0.9: x86_64, i386, aarch64, arm, ppc, ppc64, ppc64le, s390 and s390x).
Errno values use the generic Linux numbering (``asm-generic/errno*.h``)
whatever the host.  ioctl requests are those of ``asm-generic/ioctls.h`` and
``linux/fs.h`` plus every name ``ausearch -i`` (audit 3.0.9) prints, with
their x86_64 (64-bit asm-generic) numbers; ``LANDLOCK_ALWAYS_ALLOWED_IOCTLS``
(name -> number) lists those Landlock never restricts on devices.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Dict

# The architecture assumed when a record does not say.
DEFAULT_ARCH = "x86_64"

# ioctl request numbers are unsigned ints: the kernel reads only these bits.
IOCTL_CMD_MASK = 0xFFFFFFFF


def arch_name(value: str) -> str | None:
    """Name of an audit ``arch=`` value, or None if unknown.

    Accepts the raw AUDIT_ARCH hex value as logged (``c000003e``, any case,
    optional ``0x``) or an already interpreted name (``x86_64``); libaudit's
    names are normalized to the kernel's (``ausearch -i`` prints ``armeb`` for
    AUDIT_ARCH_ARM, so that is read as ``arm``).
    """
    from lldecode import _tables

    text = value.strip().lower()
    name = _tables.ARCH_BY_NAME.get(text)
    if name is not None:
        return name
    try:
        return _tables.ARCHES.get(int(text, 16))
    except ValueError:
        return None


def _arch(arch: str | None) -> str | None:
    """The kernel name of an arch given as a name or raw value (None: the default)."""
    return DEFAULT_ARCH if arch is None else arch_name(arch)


@lru_cache(maxsize=None)
def _syscall_numbers(arch: str | None) -> dict[str, int]:
    """Syscall name -> number on ``arch`` (a kernel arch name)."""
    from lldecode import _tables

    if arch is None:
        return {}
    return {name: number for number, name in _tables.SYSCALLS.get(arch, {}).items()}


def syscall_name(arch: str | None, number: int) -> str | None:
    """Name of syscall ``number`` on ``arch`` (a name or raw arch value; None means x86_64)."""
    from lldecode import _tables

    name = _arch(arch)
    if name is None:
        return None
    return _tables.SYSCALLS.get(name, {}).get(number)


def syscall_number(arch: str | None, name: str) -> int | None:
    """Number of syscall ``name`` on ``arch`` (a name or raw arch value; None means x86_64)."""
    return _syscall_numbers(_arch(arch)).get(name)


def errno_name(n: int) -> str | None:
    """Linux name of errno ``n``; negative syscall exit values are accepted (-13 -> EACCES)."""
    from lldecode import _tables

    return _tables.ERRNO_NAMES.get(abs(n))


def errno_description(n: int) -> str | None:
    """strerror() text of Linux errno ``n`` (-13 -> "Permission denied")."""
    from lldecode import _tables

    return _tables.ERRNO_DESCRIPTIONS.get(abs(n))


@lru_cache(maxsize=None)
def _errno_numbers() -> dict[str, int]:
    """Errno name -> number (the first number of a name that has two)."""
    from lldecode import _tables

    numbers: dict[str, int] = {}
    for number, name in _tables.ERRNO_NAMES.items():
        numbers.setdefault(name, number)
    return numbers


def errno_number(name: str) -> int | None:
    """Linux errno number of ``name`` (EACCES -> 13), or None if unknown."""
    return _errno_numbers().get(name.upper())


def ioctl_names(cmd: int) -> list[str]:
    """Every name of ioctl request ``cmd``, the conventional one first (0x541b ->
    FIONREAD, TIOCINQ, SIOCINQ); empty if unknown.

    Numbers are those of x86_64 and the other 64-bit architectures with the
    asm-generic encoding; ``cmd`` is read as the kernel does, as an unsigned int.
    """
    from lldecode import _tables

    return list(_tables.IOCTL_NAMES.get(cmd & IOCTL_CMD_MASK, ()))


def ioctl_name(cmd: int) -> str | None:
    """Conventional name of ioctl request ``cmd`` (0x541b -> "FIONREAD"), or None."""
    from lldecode import _tables

    names = _tables.IOCTL_NAMES.get(cmd & IOCTL_CMD_MASK)
    return names[0] if names else None


@lru_cache(maxsize=None)
def _ioctl_numbers() -> dict[str, int]:
    """ioctl request name (every alias) -> number."""
    from lldecode import _tables

    return {name: number for number, names in _tables.IOCTL_NAMES.items() for name in names}


def ioctl_number(name: str) -> int | None:
    """Number of ioctl request ``name``, any alias and any name ``ausearch -i``
    prints (TIOCINQ -> 0x541b), or None if unknown."""
    return _ioctl_numbers().get(name.upper())


def is_always_allowed_ioctl(cmd: int) -> bool:
    """Whether Landlock allows ioctl request ``cmd`` on devices whatever the
    ruleset (``LANDLOCK_ALWAYS_ALLOWED_IOCTLS``: FIOCLEX, FICLONE...)."""
    from lldecode import _tables

    return (cmd & IOCTL_CMD_MASK) in _tables.LANDLOCK_ALWAYS_ALLOWED_IOCTLS.values()


def __getattr__(name: str) -> Dict[str, int]:
    """LANDLOCK_ALWAYS_ALLOWED_IOCTLS (name -> number), loaded on first use."""
    if name == "LANDLOCK_ALWAYS_ALLOWED_IOCTLS":
        from lldecode import _tables

        return _tables.LANDLOCK_ALWAYS_ALLOWED_IOCTLS
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
