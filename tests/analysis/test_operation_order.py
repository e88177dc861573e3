"""The two records of a rename or link are numbered in the kernel's order
(source, then destination) whatever the carrier: ausearch -i prints an
event's records reversed."""

from __future__ import annotations

import lldecode
from tests.conftest import FIXTURES


def _pairs(name: str):
    return [(d.serial, d.operation_index, d.blockers, d.path)
            for d in lldecode.read_denials([str(FIXTURES / name)], context=False)
            if d.operation_size == 2]


def test_ausearch_i_pairs_are_in_kernel_order():
    raw, interpreted = _pairs("auditd-raw.log"), _pairs("ausearch-i.txt")
    assert raw, "the capture holds renames across directories"
    assert interpreted == raw
