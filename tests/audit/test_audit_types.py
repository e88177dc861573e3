from __future__ import annotations

import pytest

from lldecode.audit.record_types import type_name, type_number


@pytest.mark.parametrize(
    ("number", "name"),
    [
        (1300, "SYSCALL"),
        (1302, "PATH"),
        (1306, "SOCKADDR"),
        (1307, "CWD"),
        (1309, "EXECVE"),
        (1318, "OBJ_PID"),
        (1320, "EOE"),
        (1327, "PROCTITLE"),
        (1400, "AVC"),
        (1107, "USER_AVC"),
        (1338, "DM_CTRL"),  # in the kernel header, not in libaudit 3.0.9
        (1423, "LANDLOCK_ACCESS"),
        (1424, "LANDLOCK_DOMAIN"),
        (1425, "MAC_TASK_CONTEXTS"),  # not Landlock
        (2000, "KERNEL"),
        (2507, "VIRT_MIGRATE_OUT"),
    ],
)
def test_type_name_and_number(number, name):
    assert type_name(number) == name
    assert type_number(name) == number


@pytest.mark.parametrize(
    ("spelling", "number"),
    [
        ("UNKNOWN[1423]", 1423),
        ("AUDIT1423", 1423),
        ("1424", 1424),
        ("landlock_domain", 1424),
        (" SYSCALL ", 1300),
        ("UNKNOWN[9999]", 9999),
    ],
)
def test_type_number_spellings(spelling, number):
    assert type_number(spelling) == number


@pytest.mark.parametrize("spelling", ["", "NO_SUCH_TYPE", "UNKNOWN[]", "UNKNOWN[x]", "AUDIT",
                                      "AUDITX", "FIRST_USER_MSG"])
def test_type_number_unknown(spelling):
    assert type_number(spelling) is None


@pytest.mark.parametrize("number", [0, 1301, 1099, 3000])
def test_type_name_unknown(number):
    assert type_name(number) is None
