"""The table of Landlock access rights and its spellings."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lldecode.landlock import access
from lldecode.landlock.access import (
    RIGHTS,
    all_mask,
    lookup,
    mask_to_names,
    names_to_mask,
    normalize_blocker,
    right,
    rights_of,
)

# The blocker list of the field guide, in bit order.
FS_DOTTED = [
    "fs.execute", "fs.write_file", "fs.read_file", "fs.read_dir", "fs.remove_dir",
    "fs.remove_file", "fs.make_char", "fs.make_dir", "fs.make_reg", "fs.make_sock",
    "fs.make_fifo", "fs.make_block", "fs.make_sym", "fs.refer", "fs.truncate",
    "fs.ioctl_dev",
]


def test_fs_bits_follow_the_uapi_order():
    assert [r.dotted for r in rights_of("fs", 7)] == FS_DOTTED
    assert [r.bit for r in rights_of("fs", 7)] == list(range(16))


def test_net_and_scope_bits():
    assert right("net.bind_tcp").mask == 1
    assert right("net.connect_tcp").mask == 2
    assert right("scope.abstract_unix_socket").mask == 1
    assert right("scope.signal").mask == 2


@pytest.mark.parametrize("abi,fs_mask,net_mask,scope_mask", [
    (1, 0x1FFF, 0, 0),
    (2, 0x3FFF, 0, 0),
    (3, 0x7FFF, 0, 0),
    (4, 0x7FFF, 0x3, 0),
    (5, 0xFFFF, 0x3, 0),
    (6, 0xFFFF, 0x3, 0x3),
    (7, 0xFFFF, 0x3, 0x3),
])
def test_abi_masks(abi, fs_mask, net_mask, scope_mask):
    assert all_mask("fs", abi) == fs_mask
    assert all_mask("net", abi) == net_mask
    assert all_mask("scope", abi) == scope_mask


def test_newer_rights_are_known_and_marked():
    for name in ("fs.resolve_unix", "net.bind_udp", "net.connect_send_udp"):
        found = right(name)
        assert found is not None and found.abi > 7 and found.newer_than_modelled
    assert not right("fs.ioctl_dev").newer_than_modelled


@pytest.mark.parametrize("logged,normal", [
    ("fs_ioctl_dev", "fs.ioctl_dev"),
    ("fs_write_file", "fs.write_file"),
    ("scope_signal", "scope.signal"),
    ("scope_abstract_unix_socket", "scope.abstract_unix_socket"),
    ("net_bind_tcp", "net.bind_tcp"),
    ("ptrace", "ptrace"),
    ("fs.read_file", "fs.read_file"),
    ("fs_change_topology", "fs.change_topology"),
    ("net.bind_udp", "net.bind_udp"),
    ("unknown", "unknown"),
    ("fs.teleport", "fs.teleport"),
    ("fs_teleport", "fs_teleport"),
])
def test_normalize_blocker(logged, normal):
    assert normalize_blocker(logged) == normal


def test_every_right_is_fully_described():
    seen = set()
    for r in RIGHTS:
        assert r.kind in access.KINDS
        assert r.applies_to in access.APPLIES_TO
        assert r.description and r.syscalls
        assert (r.kind, r.bit) not in seen
        seen.add((r.kind, r.bit))
        assert right(r.dotted) is r and right(r.legacy) is r
        assert lookup(r.kind, r.name) is r


def test_lookup_rejects_other_kinds():
    assert lookup("net", "read_file") is None
    assert lookup("fs", "net.bind_tcp") is None


def test_mask_to_names_and_back():
    assert mask_to_names("fs", 0x4002) == ["fs.write_file", "fs.truncate"]
    assert mask_to_names("scope", 3) == ["scope.abstract_unix_socket", "scope.signal"]
    assert names_to_mask("fs", ["read_file", "fs.write_file", "fs_truncate"]) == 0x4006
    assert mask_to_names("net", 0) == []


def test_unknown_bits_and_names_raise():
    with pytest.raises(ValueError, match=r"unknown fs access bit\(s\) 20"):
        mask_to_names("fs", 1 << 20)
    with pytest.raises(ValueError, match="bit.*16.*ABI 7"):
        mask_to_names("fs", 1 << 16, abi=7)
    with pytest.raises(ValueError, match="unknown net access right 'bogus'"):
        names_to_mask("net", ["bogus"])
    with pytest.raises(ValueError, match="unknown kind"):
        mask_to_names("disk", 1)
    with pytest.raises(ValueError, match="negative"):
        mask_to_names("fs", -1)


@given(st.sampled_from(access.KINDS).flatmap(
    lambda kind: st.tuples(st.just(kind), st.integers(0, all_mask(kind, 99)))))
def test_round_trip(kind_value):
    kind, value = kind_value
    assert names_to_mask(kind, mask_to_names(kind, value)) == value
