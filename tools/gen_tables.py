#!/usr/bin/env python3
"""Regenerate lldecode/_tables.py from the local audit and kernel sources.

Sources, all read on a Linux host:

* ``libaudit.so.1`` (through ctypes): the record type names and the machine
  names exactly as ``ausearch`` prints them;
* ``ausyscall <machine> --dump``: one syscall table per machine libaudit knows;
* ``<linux/audit.h>`` and ``<linux/elf-em.h>``: AUDIT_ARCH_* values and the
  kernel's record type numbers;
* ``<asm-generic/errno-base.h>`` and ``<asm-generic/errno.h>``: the generic
  Linux errno numbering; the descriptions come from strerror() of the host libc;
* ``MAINLINE_AUDIT_TYPES`` below: record types newer than both the local
  headers and libaudit (filling gaps only, never overriding a local source).

Usage: tools/gen_tables.py [--include-dir /usr/include] [--output PATH]
"""
from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import errno
import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUTPUT = REPO / "lldecode" / "_tables.py"

# Record types from mainline include/uapi/linux/audit.h that are newer than
# the linux-libc-dev (6.1) headers and libaudit 3.0.9 this was written against.
MAINLINE_AUDIT_TYPES = {
    1420: "IPE_ACCESS",
    1421: "IPE_CONFIG_CHANGE",
    1422: "IPE_POLICY_LOAD",
    1423: "LANDLOCK_ACCESS",  # Linux 6.15
    1424: "LANDLOCK_DOMAIN",  # Linux 6.15
    1425: "MAC_TASK_CONTEXTS",  # multiple LSM subject contexts, not Landlock
    1426: "MAC_OBJ_CONTEXTS",
    1808: "INTEGRITY_USERSPACE",
}

# Record type numbers span AUDIT_GET (1000) .. AUDIT_LAST_USER_MSG2 (2999).
AUDIT_TYPE_RANGE = range(1000, 3000)

_DEFINE = re.compile(r"^#define[ \t]+(\w+)[ \t]+(.+?)[ \t]*(?:/\*.*)?$", re.MULTILINE)


class SourceMissing(RuntimeError):
    """A source the generator reads is not available on this host."""


def _read(path: Path) -> str:
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise SourceMissing(f"{path} not found") from None
    return text.replace("\\\n", " ")


def _defines(path: Path) -> dict[str, str]:
    return {name: value for name, value in _DEFINE.findall(_read(path))}


def _libaudit() -> ctypes.CDLL:
    name = ctypes.util.find_library("audit")
    if name is None:
        raise SourceMissing("libaudit not found")
    lib = ctypes.CDLL(name)
    lib.audit_msg_type_to_name.restype = ctypes.c_char_p
    lib.audit_msg_type_to_name.argtypes = [ctypes.c_int]
    lib.audit_machine_to_name.restype = ctypes.c_char_p
    lib.audit_machine_to_name.argtypes = [ctypes.c_int]
    lib.audit_machine_to_elf.restype = ctypes.c_uint
    lib.audit_machine_to_elf.argtypes = [ctypes.c_int]
    return lib


def _tool(name: str) -> str:
    path = shutil.which(name, path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"]))
    if path is None:
        raise SourceMissing(f"{name} not found")
    return path


def source_versions(include: Path) -> str:
    """One line naming the versions of every source, recorded in the output."""
    out = subprocess.run([_tool("ausearch"), "-v"], capture_output=True, text=True, check=True).stdout
    audit = out.split()[-1]
    ver = _defines(include / "linux" / "version.h")
    headers = ".".join(ver[f"LINUX_VERSION_{k}"] for k in ("MAJOR", "PATCHLEVEL", "SUBLEVEL"))
    libc, libc_version = platform.libc_ver()
    return f"audit {audit}; linux headers {headers}; {libc} {libc_version}"


def audit_arches(include: Path) -> dict[int, str]:
    """AUDIT_ARCH_* value -> lower-case name (x86_64, i386, aarch64, arm...)."""
    names = {**_defines(include / "linux" / "elf-em.h"), **_defines(include / "linux" / "audit.h")}
    arches = {}
    for name, expr in names.items():
        if not name.startswith("AUDIT_ARCH_"):
            continue
        value = 0
        for token in expr.strip("()").split("|"):
            value |= int(names[token.strip()], 0)
        arches[value] = name[len("AUDIT_ARCH_"):].lower()
    return dict(sorted(arches.items()))


def machines(lib: ctypes.CDLL, arches: dict[int, str]) -> dict[str, str]:
    """libaudit machine name (as ausearch -i prints arch=) -> AUDIT_ARCH name."""
    found = {}
    for machine in range(64):  # libaudit's machine enum, with gaps for dropped ones
        name = lib.audit_machine_to_name(machine)
        if name is not None:
            found[name.decode()] = arches[lib.audit_machine_to_elf(machine)]
    return found


def syscall_table(machine: str) -> dict[int, str]:
    out = subprocess.run([_tool("ausyscall"), machine, "--dump"], capture_output=True, text=True, check=True).stdout
    header, *lines = out.splitlines()
    # ausyscall silently falls back to the x86_64 table for machines it lacks.
    if header != f"Using {machine} syscall table:":
        raise RuntimeError(f"ausyscall {machine}: unexpected header {header!r}")
    table = {}
    for line in lines:
        number, name = line.split()
        table[int(number)] = name
    return table


def errnos(include: Path) -> tuple[dict[int, str], dict[int, str]]:
    """Generic Linux errno number -> (name, strerror() description)."""
    if not sys.platform.startswith("linux"):
        raise SourceMissing("strerror() gives Linux descriptions only on Linux")
    names: dict[int, str] = {}
    for header in ("errno-base.h", "errno.h"):
        for name, value in _defines(include / "asm-generic" / header).items():
            if name.startswith("E") and value.isdigit():
                names.setdefault(int(value), name)
    for number, name in names.items():
        # The descriptions are the host's: make sure it numbers errors the same.
        if getattr(errno, name, number) != number:
            raise RuntimeError(f"host {name} is {getattr(errno, name)}, not {number}")
    return names, {number: os.strerror(number) for number in names}


def audit_types(include: Path, lib: ctypes.CDLL) -> dict[int, str]:
    """Record type number -> name: libaudit's, then the header's, then mainline's."""
    types = {}
    for number in AUDIT_TYPE_RANGE:
        name = lib.audit_msg_type_to_name(number)
        if name is not None:
            types[number] = name.decode()
    for name, value in _defines(include / "linux" / "audit.h").items():
        if (
            name.startswith("AUDIT_")
            and value.isdigit()
            and int(value) in AUDIT_TYPE_RANGE
            and not name.startswith(("AUDIT_FIRST_", "AUDIT_LAST_"))
        ):
            types.setdefault(int(value), name[len("AUDIT_"):])
    for number, name in MAINLINE_AUDIT_TYPES.items():
        types.setdefault(number, name)
    return dict(sorted(types.items()))


def _dict(name: str, items: dict, key=repr) -> list[str]:
    return [f"{name} = {{", *(f"    {key(k)}: {v!r}," for k, v in items.items()), "}", ""]


def render(include: Path = Path("/usr/include")) -> str:
    lib = _libaudit()
    arches = audit_arches(include)
    by_machine = machines(lib, arches)
    arch_by_name = {name: name for name in arches.values()}
    arch_by_name.update(by_machine)

    tables: list[tuple[str, dict[int, str]]] = []  # (variable, table), deduplicated
    syscalls: dict[str, str] = {}  # arch name -> variable
    for machine, arch in sorted(by_machine.items(), key=lambda item: item[1]):
        table = syscall_table(machine)
        variable = next((v for v, t in tables if t == table), None)
        if variable is None:
            variable = f"_SYSCALLS_{arch.upper()}"
            tables.append((variable, table))
        syscalls[arch] = variable
    errno_names, errno_descriptions = errnos(include)

    lines = [
        "# GENERATED by tools/gen_tables.py -- do not edit; re-run the script instead.",
        '"""Lookup tables for lldecode, generated from local audit and kernel sources."""',
        "",
        f"SOURCES = {source_versions(include)!r}",
        "",
        "# AUDIT_ARCH_* value (<linux/audit.h>) -> name",
        *_dict("ARCHES", arches, key=lambda k: f"0x{k:08x}"),
        "# arch name, kernel or as libaudit/ausearch -i prints it -> kernel name",
        *_dict("ARCH_BY_NAME", dict(sorted(arch_by_name.items()))),
    ]
    for variable, table in tables:
        lines += _dict(variable, table)
    lines += [
        "# arch name -> syscall number -> name (ausyscall <machine> --dump)",
        "SYSCALLS = {",
        *(f"    {arch!r}: {variable}," for arch, variable in syscalls.items()),
        "}",
        "",
        "# generic Linux errno (<asm-generic/errno*.h>) -> name / strerror()",
        *_dict("ERRNO_NAMES", errno_names),
        *_dict("ERRNO_DESCRIPTIONS", errno_descriptions),
        "# audit record type -> name (libaudit, <linux/audit.h>, mainline)",
        *_dict("AUDIT_TYPES", audit_types(include, lib)),
    ]
    return "\n".join(lines[:-1]) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--include-dir", type=Path, default=Path("/usr/include"))
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    args.output.write_text(render(args.include_dir))
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
