"""Layer masks and deny masks, checked with the kernel's KUnit vectors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lldecode.landlock.access import lookup
from lldecode.landlock.layers import (
    DENY_MASKS_MAX,
    IOCTL_DEV,
    MAX_LAYERS,
    OPTIONAL_ACCESS,
    TRUNCATE,
    decode_deny_masks,
    get_denied_layer,
    get_deny_masks,
    layer_deny_mask,
    layer_from_deny_masks,
    youngest_layer,
)


def bit(name: str) -> int:
    return lookup("fs", name).bit


def mask(name: str) -> int:
    return lookup("fs", name).mask


# --- the seed patch's KUnit tests (domain.c, audit.c) ---------------------

def test_kunit_get_layer_deny_mask():
    assert layer_deny_mask(bit("truncate"), 0) == 0
    assert layer_deny_mask(bit("truncate"), 3) == 0x3
    assert layer_deny_mask(bit("ioctl_dev"), 0) == 0
    assert layer_deny_mask(bit("ioctl_dev"), 15) == 0xF0


LAYERS1 = {
    bit("execute"): 1 << 0 | 1 << 9,
    bit("truncate"): 1 << 1,
    bit("ioctl_dev"): 1 << 2 | 1 << 0,
}


def test_kunit_landlock_get_deny_masks():
    assert get_deny_masks(TRUNCATE, LAYERS1) == 0x1
    assert get_deny_masks(IOCTL_DEV, LAYERS1) == 0x20
    assert get_deny_masks(TRUNCATE | IOCTL_DEV, LAYERS1) == 0x21


@pytest.mark.parametrize("deny_masks,request_,layer,missing", [
    # truncate:0 ioctl_dev:2
    (0x20, TRUNCATE, 0, TRUNCATE),
    (0x20, TRUNCATE | IOCTL_DEV, 2, IOCTL_DEV),
    # truncate:15 ioctl_dev:15
    (0xFF, TRUNCATE, 15, TRUNCATE),
    (0xFF, TRUNCATE | IOCTL_DEV, 15, TRUNCATE | IOCTL_DEV),
])
def test_kunit_get_level_from_deny_masks(deny_masks, request_, layer, missing):
    assert layer_from_deny_masks(request_, deny_masks) == (layer, missing)


# --- the merged kernel's test_get_denied_layer (audit.c) ------------------

DENIED_LAYER_MASKS = {
    bit("execute"): 1 << 0,
    bit("read_file"): 1 << 1,
    bit("read_dir"): 1 << 1 | 1 << 0,
    bit("remove_dir"): 1 << 2,
}


@pytest.mark.parametrize("request_,layer,missing", [
    (mask("execute"), 0, mask("execute")),
    (mask("read_file"), 1, mask("read_file")),
    (mask("read_dir"), 1, mask("read_dir")),
    (mask("read_file") | mask("read_dir"), 1, mask("read_file") | mask("read_dir")),
    (mask("execute") | mask("read_dir"), 1, mask("read_dir")),
    (mask("write_file"), 4, 0),
])
def test_kunit_get_denied_layer(request_, layer, missing):
    assert get_denied_layer(request_, DENIED_LAYER_MASKS, num_layers=5) == (layer, missing)


# --- properties -----------------------------------------------------------

layer_sets = st.integers(min_value=1, max_value=(1 << MAX_LAYERS) - 1)


@given(truncate_layers=st.integers(0, (1 << MAX_LAYERS) - 1),
       ioctl_layers=st.integers(0, (1 << MAX_LAYERS) - 1),
       request_=st.sampled_from([TRUNCATE, IOCTL_DEV, TRUNCATE | IOCTL_DEV]))
def test_encode_then_decode_gives_the_youngest_layer(truncate_layers, ioctl_layers, request_):
    layer_masks = {bit("truncate"): truncate_layers, bit("ioctl_dev"): ioctl_layers}
    deny_masks = get_deny_masks(OPTIONAL_ACCESS, layer_masks)
    assert 0 <= deny_masks <= DENY_MASKS_MAX
    decoded = decode_deny_masks(deny_masks)
    for access_bit, layers in layer_masks.items():
        if layers:
            assert decoded[access_bit] == youngest_layer(layers)
    layer, missing = layer_from_deny_masks(request_, deny_masks)
    denied = [b for b, layers in layer_masks.items() if layers and request_ >> b & 1]
    if denied:
        assert layer == max(youngest_layer(layer_masks[b]) for b in denied)
    assert missing and missing & ~request_ == 0


@given(st.integers(0, MAX_LAYERS - 1), st.sampled_from(["truncate", "ioctl_dev"]))
def test_every_layer_index_round_trips(layer, name):
    encoded = layer_deny_mask(bit(name), layer)
    assert layer_from_deny_masks(mask(name), encoded) == (layer, mask(name))


@given(layer_sets, st.integers(1, (1 << 16) - 1))
def test_denied_layer_is_the_youngest(layers, request_):
    layer_masks = {b: layers for b in range(16)}
    layer, missing = get_denied_layer(request_, layer_masks, num_layers=MAX_LAYERS)
    assert layer == youngest_layer(layers)
    assert missing == request_


@pytest.mark.parametrize("layer", [-1, 16, 99])
def test_layer_out_of_range_is_rejected(layer):
    with pytest.raises(ValueError, match="out of range 0..15"):
        layer_deny_mask(bit("truncate"), layer)


def test_unknown_bits_are_rejected():
    with pytest.raises(ValueError, match="not an optional right"):
        layer_deny_mask(bit("execute"), 1)
    with pytest.raises(ValueError, match="not optional fs access bits: 0x1"):
        get_deny_masks(mask("execute"), {})
    with pytest.raises(ValueError, match="not optional fs access bits"):
        layer_from_deny_masks(mask("read_file"), 0)
    with pytest.raises(ValueError, match="do not fit in 8 bits"):
        decode_deny_masks(0x100)
    with pytest.raises(ValueError, match="empty layer mask"):
        youngest_layer(0)
