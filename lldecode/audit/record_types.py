"""Audit record type numbers <-> names, as ``ausearch`` prints them.

The table lives in the generated module :mod:`lldecode._tables` (see
``tools/gen_tables.py``), imported on first use. Besides libaudit's names it
knows the kernel's newer ones, e.g. LANDLOCK_ACCESS (1423) and
LANDLOCK_DOMAIN (1424), which audit 3.x logs as ``UNKNOWN[1423]``.
"""
from __future__ import annotations

from functools import lru_cache


def _types() -> dict[int, str]:
    from lldecode import _tables

    return _tables.AUDIT_TYPES


@lru_cache(maxsize=None)
def _numbers() -> dict[str, int]:
    return {name: number for number, name in _types().items()}


def type_name(n: int) -> str | None:
    """Name of record type ``n`` (1300 -> "SYSCALL"), or None if unknown."""
    return _types().get(n)


def type_number(name: str) -> int | None:
    """Number of a record type spelled as a name (``SYSCALL``), ``UNKNOWN[1423]``
    (auditd for types libaudit lacks), ``AUDIT1423`` (journald) or plain digits."""
    text = name.strip().upper()
    if text.startswith("UNKNOWN[") and text.endswith("]"):
        digits = text[len("UNKNOWN["):-1]
    elif text.startswith("AUDIT"):
        digits = text[len("AUDIT"):]
    else:
        digits = text
    if digits.isascii() and digits.isdigit():
        return int(digits)
    return _numbers().get(text)
