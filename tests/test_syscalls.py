from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from lldecode import _tables, syscalls
from lldecode.syscalls import (
    arch_name,
    errno_description,
    errno_name,
    ioctl_name,
    ioctl_names,
    ioctl_number,
    is_always_allowed_ioctl,
    syscall_name,
    syscall_number,
)

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("value", "name"),
    [
        ("c000003e", "x86_64"),
        ("C000003E", "x86_64"),
        ("0xc000003e", "x86_64"),
        ("40000003", "i386"),
        ("c00000b7", "aarch64"),
        ("40000028", "arm"),
        ("c0000015", "ppc64le"),
        ("80000016", "s390x"),
        ("c00000f3", "riscv64"),
        ("x86_64", "x86_64"),
        ("X86_64", "x86_64"),
        ("aarch64", "aarch64"),
        ("armeb", "arm"),  # what ausearch -i prints for AUDIT_ARCH_ARM
    ],
)
def test_arch_name(value, name):
    assert arch_name(value) == name


@pytest.mark.parametrize("value", ["", "deadbeef", "not-an-arch", "-1"])
def test_arch_name_unknown(value):
    assert arch_name(value) is None


@pytest.mark.parametrize(
    ("arch", "number", "name"),
    [
        (None, 257, "openat"),
        ("x86_64", 87, "unlink"),
        ("x86_64", 76, "truncate"),
        ("x86_64", 16, "ioctl"),
        ("x86_64", 49, "bind"),
        ("x86_64", 42, "connect"),
        ("x86_64", 62, "kill"),
        ("x86_64", 101, "ptrace"),
        ("x86_64", 59, "execve"),
        ("x86_64", 82, "rename"),
        ("x86_64", 86, "link"),
        ("x86_64", 316, "renameat2"),
        ("x86_64", 444, "landlock_create_ruleset"),
        ("c000003e", 446, "landlock_restrict_self"),
        ("aarch64", 56, "openat"),
        ("aarch64", 29, "ioctl"),
        ("c00000b7", 56, "openat"),
        ("i386", 5, "open"),
        ("40000003", 5, "open"),
        ("arm", 322, "openat"),
        ("40000028", 322, "openat"),
    ],
)
def test_syscall_name_and_number(arch, number, name):
    assert syscall_name(arch, number) == name
    assert syscall_number(arch, name) == number


def test_syscall_unknown():
    assert syscall_name(None, 99999) is None
    assert syscall_name("not-an-arch", 257) is None
    assert syscall_name("riscv64", 56) is None  # no table from ausyscall 3.0.9
    assert syscall_number(None, "no_such_syscall") is None
    assert syscall_number("aarch64", "open") is None  # aarch64 only has openat


@pytest.mark.parametrize(
    ("n", "name", "description"),
    [
        (-13, "EACCES", "Permission denied"),
        (13, "EACCES", "Permission denied"),
        (-1, "EPERM", "Operation not permitted"),
        (-18, "EXDEV", "Invalid cross-device link"),
        (-2, "ENOENT", "No such file or directory"),
        (-11, "EAGAIN", "Resource temporarily unavailable"),
        (-95, "EOPNOTSUPP", "Operation not supported"),
    ],
)
def test_errno(n, name, description):
    assert errno_name(n) == name
    assert errno_description(n) == description


@pytest.mark.parametrize("n", [0, 4095, -4095])
def test_errno_unknown(n):
    assert errno_name(n) is None
    assert errno_description(n) is None


@pytest.mark.parametrize(
    ("number", "name"),
    [
        (0x541B, "FIONREAD"),
        (0x5451, "FIOCLEX"),
        (0x5401, "TCGETS"),
        (0x40049409, "FICLONE"),  # _IOW(0x94, 9, int)
        (0xC0045877, "FIFREEZE"),  # _IOWR('X', 119, int)
        (0xC020660B, "FS_IOC_FIEMAP"),  # sized by struct fiemap
        (0x80086601, "FS_IOC_GETFLAGS"),  # _IOR('f', 1, long): 64-bit
        (0x80046601, "FS_IOC32_GETFLAGS"),
        (0x00000002, "FIGETBSZ"),
        (0x80111500, "FS_IOC_GETFSUUID"),  # newer than the 6.1 headers
        (0x5311, "CDROM_GET_MCN"),
        (0xC01C64A3, "DRM_IOCTL_MODE_CURSOR"),
    ],
)
def test_ioctl_name_and_number(number, name):
    assert ioctl_name(number) == name
    assert ioctl_number(name) == number


def test_ioctl_aliases():
    assert ioctl_names(0x541B) == ["FIONREAD", "TIOCINQ", "SIOCINQ"]
    assert ioctl_names(0x5311) == ["CDROM_GET_MCN", "CDROM_GET_UPC"]
    assert ioctl_names(0x5451) == ["FIOCLEX"]
    assert ioctl_names(0x12345678) == []
    assert ioctl_name(0xFFFFFFFFC0045877) == "FIFREEZE"  # read as an unsigned int, like the kernel


@pytest.mark.parametrize(
    ("name", "number"),
    [
        # What ausearch -i (audit 3.0.9) prints where the conventional name differs.
        ("TIOCINQ", 0x541B),
        ("CDROM_GET_UPC", 0x5311),
        ("SIOCGIFINDEX", 0x8933),
        ("TIOCSPTLCK", 0x40045431),  # auparse also gives it to 0x80045431
        ("TIOCGPTN", 0x80045430),
        ("KDSETMODE", 0x4B3A),
        ("TIOCNOTTY", 0x5422),
        ("FIONBIO", 0x5421),
        ("tiocinq", 0x541B),
    ],
)
def test_ioctl_number_of_ausearch_names(name, number):
    assert ioctl_number(name) == number


# BLKPG: #if 0 in <linux/fs.h>
@pytest.mark.parametrize("name", ["", "0x541b", "NO_SUCH_IOCTL", "BLKPG"])
def test_ioctl_number_unknown(name):
    assert ioctl_number(name) is None


def test_landlock_always_allowed_ioctls():
    # security/landlock/fs.c is_masked_device_ioctl()
    assert list(syscalls.LANDLOCK_ALWAYS_ALLOWED_IOCTLS) == [
        "FIOCLEX", "FIONCLEX", "FIONBIO", "FIOASYNC", "FIOQSIZE", "FIFREEZE", "FITHAW",
        "FS_IOC_FIEMAP", "FIGETBSZ", "FICLONE", "FICLONERANGE", "FIDEDUPERANGE",
        "FS_IOC_GETFSUUID", "FS_IOC_GETFSSYSFSPATH",
    ]
    for name, number in syscalls.LANDLOCK_ALWAYS_ALLOWED_IOCTLS.items():
        assert ioctl_number(name) == number
        assert is_always_allowed_ioctl(number)
    assert is_always_allowed_ioctl(0x5451)  # FIOCLEX
    assert is_always_allowed_ioctl(0x40049409)  # FICLONE
    # Handed to the device driver, so subject to fs.ioctl_dev:
    for name in ("FIONREAD", "TCGETS", "FS_IOC_GETFLAGS", "FS_IOC_SETFLAGS", "FS_IOC_FSGETXATTR",
                 "FS_IOC_FSSETXATTR", "FIBMAP"):
        assert not is_always_allowed_ioctl(ioctl_number(name)), name


def _generator():
    spec = importlib.util.spec_from_file_location("gen_tables", REPO / "tools" / "gen_tables.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_tables_up_to_date():
    gen = _generator()
    include = Path("/usr/include")
    try:
        versions = gen.source_versions(include)
        rendered = gen.render(include)
    except gen.SourceMissing as exc:
        pytest.skip(f"generator source missing: {exc}")
    if versions != _tables.SOURCES:
        pytest.skip(f"local sources ({versions}) differ from the tables' ({_tables.SOURCES})")
    assert rendered == Path(_tables.__file__).read_text(), (
        "stale lldecode/_tables.py: run tools/gen_tables.py")
