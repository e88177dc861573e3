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
  headers and libaudit (filling gaps only, never overriding a local source);
* ``<asm-generic/ioctls.h>`` and ``<linux/fs.h>``: ioctl request names, their
  values computed by gcc (``tools/ioctl_values.c``; without a working gcc the
  committed values are kept), ``MAINLINE_IOCTLS`` filling gaps;
* ``ausearch -i``, probed with every request number of those headers and of
  the headers auparse takes its ioctl names from: the names it prints, so
  that they can be read back;
* ``LANDLOCK_ALWAYS_ALLOWED_IOCTLS`` below: the requests Landlock never
  restricts on devices, named as in the kernel.

Usage: tools/gen_tables.py [--include-dir /usr/include] [--output PATH]
"""
from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import errno
import importlib.util
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
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

# ioctl requests from mainline include/uapi that the local headers lack: newer
# than linux 6.1 (Landlock always allows them), or from drm/drm.h, which
# Debian's linux-libc-dev does not ship (ausearch names these three).
MAINLINE_IOCTLS = {
    "FS_IOC_GETFSUUID": 0x80111500,  # _IOR(0x15, 0, struct fsuuid2), Linux 6.5
    "FS_IOC_GETFSSYSFSPATH": 0x80811501,  # _IOR(0x15, 1, struct fs_sysfs_path), Linux 6.9
    "DRM_IOCTL_MODE_CURSOR": 0xC01C64A3,  # DRM_IOWR(0xA3, struct drm_mode_cursor)
    "DRM_IOCTL_MODE_PAGE_FLIP": 0xC01864B0,  # DRM_IOWR(0xB0, struct drm_mode_crtc_page_flip)
    "DRM_IOCTL_MODE_DIRTYFB": 0xC01864B1,  # DRM_IOWR(0xB1, struct drm_mode_fb_dirty_cmd)
}

# Headers whose ioctl requests make up the table -> whether their plain hex
# defines are requests (<linux/fs.h>'s are flags: only its _IO*() ones count).
IOCTL_HEADERS = {"asm-generic/ioctls.h": True, "linux/fs.h": False}
# Headers auparse's ioctl names come from (its ioctlreqtab.h): their requests
# are tried on ausearch, and name only numbers the table has or ausearch names.
AUSEARCH_IOCTL_HEADERS = ("linux/kd.h", "linux/cdrom.h", "linux/sockios.h", "asm-generic/sockios.h")

# security/landlock/fs.c is_masked_device_ioctl() (mainline, Linux 6.10+):
# requests allowed on devices whatever the ruleset.  FIONREAD, FS_IOC_GETFLAGS,
# FS_IOC_SETFLAGS, FS_IOC_FSGETXATTR and FS_IOC_FSSETXATTR are not among them:
# they reach the device driver.
LANDLOCK_ALWAYS_ALLOWED_IOCTLS = (
    "FIOCLEX", "FIONCLEX", "FIONBIO", "FIOASYNC", "FIOQSIZE", "FIFREEZE", "FITHAW",
    "FS_IOC_FIEMAP", "FIGETBSZ", "FICLONE", "FICLONERANGE", "FIDEDUPERANGE",
    "FS_IOC_GETFSUUID", "FS_IOC_GETFSSYSFSPATH",
)

# Record type numbers span AUDIT_GET (1000) .. AUDIT_LAST_USER_MSG2 (2999).
AUDIT_TYPE_RANGE = range(1000, 3000)

_DEFINE = re.compile(r"^#[ \t]*define[ \t]+(\w+)[ \t]+(.+?)[ \t]*(?:/\*.*)?$", re.MULTILINE)
_IOC_VALUE = re.compile(r"_IO(?:C|R|W|WR)?\(")
_HEX_VALUE = re.compile(r"0[xX][0-9a-fA-F]+")
_AUSEARCH_IOCTL = re.compile(r"^type=.*?:(\d+)\) : .* ioctlcmd=(\S+)", re.MULTILINE)


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
    search = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    path = shutil.which(name, path=search)
    if path is None:
        raise SourceMissing(f"{name} not found")
    return path


def source_versions(include: Path) -> str:
    """One line naming the versions of every source, recorded in the output."""
    out = subprocess.run([_tool("ausearch"), "-v"], capture_output=True, text=True,
                         check=True).stdout
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
    out = subprocess.run([_tool("ausyscall"), machine, "--dump"], capture_output=True,
                         text=True, check=True).stdout
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


def _ioctl_defines(include: Path, headers: dict[str, bool]) -> list[str]:
    """Names of the ioctl requests of ``headers``, direct definitions before aliases."""
    names: list[str] = []
    for header, plain_hex in headers.items():
        defines = _defines(include / header)
        names += [
            name
            for name, value in defines.items()
            if _IOC_VALUE.match(value)
            or (plain_hex and _HEX_VALUE.fullmatch(value) and int(value, 16) > 0xFF)
        ]
        # aliases: #define TIOCINQ FIONREAD
        names += [name for name, value in defines.items() if value in names]
    return names


def header_ioctls(include: Path) -> tuple[dict[str, int], dict[str, int]]:
    """Request name -> number as gcc encodes them (the requests of IOCTL_HEADERS and
    AUSEARCH_IOCTL_HEADERS)."""
    gcc = _tool("gcc")
    table_names = set(_ioctl_defines(include, IOCTL_HEADERS))
    headers = {**IOCTL_HEADERS, **dict.fromkeys(AUSEARCH_IOCTL_HEADERS, True)}
    names = _ioctl_defines(include, headers)
    flags = [f"-I{include}"]
    for header in (*IOCTL_HEADERS, *AUSEARCH_IOCTL_HEADERS):
        flags += ["-include", header]
    # Only what the preprocessor defines: <linux/fs.h> keeps some in #if 0.
    macros = subprocess.run([gcc, *flags, "-E", "-dM", "-x", "c", os.devnull],
                            capture_output=True, text=True, check=True).stdout
    defined = set(re.findall(r"^#define (\w+)", macros, re.MULTILINE))
    requests = " ".join(f"X({name})" for name in dict.fromkeys(names) if name in defined)
    with tempfile.TemporaryDirectory() as tmp:
        program = Path(tmp) / "ioctl_values"
        source = REPO / "tools" / "ioctl_values.c"
        build = subprocess.run([gcc, *flags, f"-DIOCTLS={requests}", "-o", str(program),
                                str(source)],
                               capture_output=True, text=True)
        if build.returncode:
            raise SourceMissing(f"gcc cannot build tools/ioctl_values.c: {build.stderr.strip()}")
        out = subprocess.run([str(program)], capture_output=True, text=True, check=True).stdout
    values = {name: int(value, 16) for name, value in (line.split() for line in out.splitlines())}
    table = {name: value for name, value in values.items() if name in table_names}
    return table, {name: value for name, value in values.items() if name not in table_names}


def committed_ioctls() -> dict[str, int]:
    """Request name -> number of the committed table, kept on hosts without gcc."""
    spec = importlib.util.spec_from_file_location("committed_tables", OUTPUT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {name: number for number, names in module.IOCTL_NAMES.items() for name in names}


def ausearch_ioctl_names(numbers: set[int]) -> dict[int, str]:
    """Request number -> name as ``ausearch -i`` prints it, for the ones it names.

    auparse's table also names 0x80045431 TIOCSPTLCK, the _IOR() encoding of
    that _IOW() request: no header defines the number, so it is not tried.
    """
    ordered = sorted(numbers)
    with tempfile.NamedTemporaryFile("w", suffix=".log") as log:
        for serial, number in enumerate(ordered, 1):
            log.write(
                f"type=UNKNOWN[1423] msg=audit(1.000:{serial}): domain=1 blockers=fs.ioctl_dev"
                f' path="/dev/null" dev="devtmpfs" ino=3 ioctlcmd={number:#x}\n'
            )
        log.flush()
        out = subprocess.run([_tool("ausearch"), "-if", log.name, "-i"],
                             capture_output=True, text=True, check=True).stdout
    printed = {ordered[int(serial) - 1]: value for serial, value in _AUSEARCH_IOCTL.findall(out)}
    if len(printed) != len(ordered):
        raise RuntimeError(f"ausearch printed {len(printed)} of {len(ordered)} probe records")
    return {number: name for number, name in printed.items() if not name.startswith("0x")}


def ioctl_table(include: Path) -> tuple[dict[int, list[str]], dict[int, str]]:
    """(request number -> names, conventional first; number -> the name ausearch prints)."""
    try:
        table, probed = header_ioctls(include)
    except SourceMissing as exc:
        print(f"keeping the committed ioctl numbers: {exc}", file=sys.stderr)
        table, probed = committed_ioctls(), {}
    for name, number in MAINLINE_IOCTLS.items():
        table.setdefault(name, number)
    printed = ausearch_ioctl_names({*table.values(), *probed.values()})
    names: dict[int, list[str]] = {}
    for name, number in table.items():
        names.setdefault(number, []).append(name)
    for number in printed:
        names.setdefault(number, [])
    for name, number in probed.items():  # aliases from auparse's headers: SIOCINQ, CDROM_GET_MCN...
        if number in names:
            names[number].append(name)
    for number, name in printed.items():
        if name not in names[number]:
            names[number].append(name)
    return dict(sorted(names.items())), printed


def _ioctl_numbers(ioctls: dict[int, list[str]]) -> dict[str, int]:
    """Request name -> number: a name must read back as one number."""
    numbers: dict[str, int] = {}
    for number, names in ioctls.items():
        for name in names:
            if numbers.setdefault(name, number) != number:
                raise RuntimeError(f"ioctl {name} is both {numbers[name]:#x} and {number:#x}")
    return numbers


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
    ioctls, printed = ioctl_table(include)
    ioctl_numbers = _ioctl_numbers(ioctls)

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
        "# ioctl request number (asm-generic encoding, 64-bit) -> names, conventional",
        "# first (<asm-generic/ioctls.h>, <linux/fs.h>, mainline, names ausearch prints)",
        "IOCTL_NAMES = {",
        *(
            f"    0x{number:08x}: {tuple(aliases)!r},"
            + (f"  # ausearch -i: {printed[number]}" if number in printed else "")
            for number, aliases in ioctls.items()
        ),
        "}",
        "",
        "# requests Landlock allows on devices whatever the ruleset (is_masked_device_ioctl)",
        "LANDLOCK_ALWAYS_ALLOWED_IOCTLS = {",
        *(f"    {name!r}: 0x{ioctl_numbers[name]:08x}," for name in LANDLOCK_ALWAYS_ALLOWED_IOCTLS),
        "}",
        "",
    ]
    return "\n".join(lines[:-1]) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--include-dir", type=Path, default=Path("/usr/include"))
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    args.output.write_text(render(args.include_dir))
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
