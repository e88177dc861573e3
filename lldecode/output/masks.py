"""``lldecode mask`` as text: the rights of an access mask, the layers of deny masks."""

from __future__ import annotations

from typing import Any, Dict, Sequence

from lldecode.landlock.access import MAX_MODELLED_ABI
from lldecode.output.tables import tabulate


def render_access(kind: str, number: int, rights: Sequence[Any]) -> str:
    """An access mask's rights as a table (bit, name, ABI, what it guards)."""
    head = f"{kind} access mask {number:#x} ({number})"
    if not rights:
        return head + ": no right"
    rows = [(r.bit, r.dotted,
             r.abi if not r.newer_than_modelled else f"{r.abi} (after {MAX_MODELLED_ABI})",
             r.description) for r in rights]
    return head + ":\n" + tabulate(rows, headers=("bit", "right", "ABI", "guards"))


def render_deny(number: int, layers: Dict[str, int]) -> str:
    """Deny masks as a table: the layer that denied each optional right."""
    rows = [(name, layer, layer + 1) for name, layer in layers.items()]
    table = tabulate(rows, headers=("optional right", "kernel layer (0-based)",
                                    "layer (1-based, --policy order)"))
    return (f"deny masks {number:#04x}: the youngest layer that denied each optional right "
            f"when the file was opened\n{table}\n"
            "(a right no layer denied also reads as kernel layer 0)")
