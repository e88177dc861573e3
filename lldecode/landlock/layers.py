"""Layer masks and the deny-mask encoding of the kernel's audit support.

Numbering here is the kernel's: layers are 0-based, layer 0 is the oldest
(first enforced) ruleset of a domain, ``num_layers - 1`` the youngest.

- A *layer mask* is, for one access right, the set of layers that still deny
  it (bit ``i`` set: layer ``i`` denies).  :data:`LayerMasks` maps an access
  bit to such a set.
- The *youngest denying layer* of a request is the highest layer index found
  in the layer masks of the requested bits; the *blockers* are the requested
  bits denied by exactly that layer (:func:`get_denied_layer`).
- The *deny masks* (a u8) remember, for the optional rights truncate and
  ioctl_dev, the youngest layer that denied them when the file was opened:
  one 4-bit nibble per optional right, in bit order (truncate in the low
  nibble, ioctl_dev in the high one).  A later ftruncate or ioctl denial is
  charged to that layer (:func:`layer_from_deny_masks`).
"""

from __future__ import annotations

from typing import Dict, Iterator, Tuple

from lldecode.landlock.access import fs_mask

# Landlock stacks at most this many rulesets (LANDLOCK_MAX_NUM_LAYERS).
MAX_LAYERS = 16
LAYER_INDEX_BITS = 4  # bits needed for a layer index 0..15
_LAYER_INDEX_MASK = (1 << LAYER_INDEX_BITS) - 1

# access bit -> set of denying layers (bit i = layer i)
LayerMasks = Dict[int, int]

# The bits of the optional fs rights.
TRUNCATE = fs_mask("truncate")
IOCTL_DEV = fs_mask("ioctl_dev")
# The optional fs rights, in the order of their nibbles.
OPTIONAL_ACCESS = TRUNCATE | IOCTL_DEV
# How many bits the deny masks take: one layer index per optional right.
_DENY_MASKS_BITS = LAYER_INDEX_BITS * bin(OPTIONAL_ACCESS).count("1")
# The largest valid deny masks (every nibble at the youngest layer).
DENY_MASKS_MAX = (1 << _DENY_MASKS_BITS) - 1


def bits_of(mask: int) -> Iterator[int]:
    """The set bit indexes of ``mask``, lowest first."""
    bit = 0
    while mask >> bit:
        if mask >> bit & 1:
            yield bit
        bit += 1


def youngest_layer(layer_mask: int) -> int:
    """The highest layer index in a non-empty set of layers."""
    if layer_mask <= 0:
        raise ValueError("an empty layer mask has no youngest layer")
    return layer_mask.bit_length() - 1


def check_layer(layer: int) -> None:
    """ValueError unless ``layer`` is a layer index (0 .. MAX_LAYERS - 1)."""
    if not 0 <= layer < MAX_LAYERS:
        raise ValueError(f"layer index {layer} is out of range 0..{MAX_LAYERS - 1}")


def get_denied_layer(access_request: int, layer_masks: LayerMasks,
                     num_layers: int) -> Tuple[int, int]:
    """(youngest denying layer, the requested bits it denies).

    When no requested bit is denied, the kernel charges the youngest layer
    of the domain and logs no blocker bit: (num_layers - 1, 0).
    """
    youngest = -1
    missing = 0
    for bit in bits_of(access_request):
        mask = layer_masks.get(bit, 0)
        if not mask:
            continue
        layer = youngest_layer(mask)
        if layer > youngest:
            youngest, missing = layer, 1 << bit
        elif layer == youngest:
            missing |= 1 << bit
    if youngest == -1:
        return num_layers - 1, 0
    return youngest, missing


def _optional_index(access_bit: int) -> int:
    """Position of an optional right among the optional rights (its nibble)."""
    if not OPTIONAL_ACCESS >> access_bit & 1:
        raise ValueError(f"fs access bit {access_bit} is not an optional right "
                         "(only truncate and ioctl_dev have a deny mask)")
    return bin(OPTIONAL_ACCESS & ((1 << access_bit) - 1)).count("1")


def layer_deny_mask(access_bit: int, layer: int) -> int:
    """The deny-mask nibble recording that ``layer`` denies ``access_bit``."""
    check_layer(layer)
    return layer << (_optional_index(access_bit) * LAYER_INDEX_BITS)


def get_deny_masks(optional_access: int, layer_masks: LayerMasks) -> int:
    """Encode, for each requested optional right that a layer denies, its youngest denying layer."""
    unknown = optional_access & ~OPTIONAL_ACCESS
    if unknown:
        raise ValueError(f"not optional fs access bits: {unknown:#x}")
    deny_masks = 0
    for bit in bits_of(optional_access):
        mask = layer_masks.get(bit, 0)
        if mask:
            deny_masks |= layer_deny_mask(bit, youngest_layer(mask))
    return deny_masks


def check_deny_masks(deny_masks: int) -> None:
    """ValueError unless ``deny_masks`` fits the deny-mask encoding."""
    if not 0 <= deny_masks <= DENY_MASKS_MAX:
        raise ValueError(f"deny masks {deny_masks:#x} do not fit in {_DENY_MASKS_BITS} bits")


def layer_from_deny_masks(access_request: int, deny_masks: int) -> Tuple[int, int]:
    """(youngest layer stored for the requested optional rights, the bits it denies)."""
    check_deny_masks(deny_masks)
    unknown = access_request & ~OPTIONAL_ACCESS
    if unknown:
        raise ValueError(f"not optional fs access bits: {unknown:#x}")
    youngest = 0
    missing = 0
    for index, bit in enumerate(bits_of(OPTIONAL_ACCESS)):
        if not access_request >> bit & 1:
            continue
        layer = deny_masks >> (index * LAYER_INDEX_BITS) & _LAYER_INDEX_MASK
        if layer > youngest:
            youngest, missing = layer, 1 << bit
        elif layer == youngest:
            missing |= 1 << bit
    return youngest, missing


def decode_deny_masks(deny_masks: int) -> Dict[int, int]:
    """Optional access bit -> the layer its nibble stores."""
    check_deny_masks(deny_masks)
    return {bit: deny_masks >> (index * LAYER_INDEX_BITS) & _LAYER_INDEX_MASK
            for index, bit in enumerate(bits_of(OPTIONAL_ACCESS))}
