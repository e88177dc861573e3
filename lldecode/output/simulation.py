"""``lldecode simulate`` as text: allowed, or the records the kernel would log."""

from __future__ import annotations

from typing import Any, Tuple


def render_text(operation: str, args: Tuple[str, ...], outcome: Any) -> str:
    """The verdict, and for a denial a table of the predicted records."""
    from tabulate import tabulate

    request = " ".join((operation,) + tuple(args))
    if outcome.allowed:
        return f"{request}: allowed"
    rows = [(d.layer, d.policy, ",".join(d.blockers),
             " ".join(f"{k}={v}" for k, v in d.object.items()))
            for d in outcome.denials]
    table = tabulate(rows, headers=("layer", "policy", "blockers", "object"))
    return f"{request}: denied ({outcome.errno})\n{table}"
