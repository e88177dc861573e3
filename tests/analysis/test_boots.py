"""The reboot rules (lldecode.analysis.domains.starts_boot) and the typed
results' keys."""

from __future__ import annotations

import pytest

from lldecode.analysis.denials import OBJECT_FIELDS, DeniedObject
from lldecode.analysis.domains import BOOT_ID_JUMP, BOOT_SERIAL_FALL, starts_boot

LAST_SERIAL, LAST_TIME, MAX_ID, MAX_ID_TIME = 5_000_000, 1000.0, 0x1B6B161A9, 900.0


def boot(serial, stamp, domain_id, unknown_time_later=False):
    return starts_boot(serial, stamp, domain_id, LAST_SERIAL, LAST_TIME, MAX_ID, MAX_ID_TIME,
                       unknown_time_later=unknown_time_later)


@pytest.mark.parametrize("serial, stamp, domain_id, expected", [
    (LAST_SERIAL + 1, LAST_TIME + 1, MAX_ID + 1, False),           # the same boot goes on
    (LAST_SERIAL - BOOT_SERIAL_FALL - 1, LAST_TIME, None, True),   # serials restarted
    (LAST_SERIAL - BOOT_SERIAL_FALL, LAST_TIME, None, False),      # not far enough
    (LAST_SERIAL - BOOT_SERIAL_FALL - 1, LAST_TIME - 1, None, False),  # earlier: a late record
    (None, MAX_ID_TIME, MAX_ID - BOOT_ID_JUMP - 1, True),          # ids restarted lower
    (None, MAX_ID_TIME, MAX_ID - BOOT_ID_JUMP, False),
    (None, MAX_ID_TIME - 1, MAX_ID - BOOT_ID_JUMP - 1, False),
    (None, None, None, False),
])
def test_reboot_rules(serial, stamp, domain_id, expected):
    assert boot(serial, stamp, domain_id) is expected


def test_an_unknown_time_is_no_sign_in_the_registry_but_not_before_at_a_part_boundary():
    fallen = LAST_SERIAL - BOOT_SERIAL_FALL - 1
    jumped = MAX_ID - BOOT_ID_JUMP - 1
    assert not boot(fallen, None, None) and not boot(None, None, jumped)
    assert boot(fallen, None, None, unknown_time_later=True)
    assert boot(None, None, jumped, unknown_time_later=True)
    assert not boot(fallen, LAST_TIME - 1, None, unknown_time_later=True)


def test_the_object_fields_decoded_are_the_typed_ones():
    assert set(OBJECT_FIELDS) == set(DeniedObject.__annotations__)
