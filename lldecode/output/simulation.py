"""``lldecode simulate`` as text: allowed, or the records the kernel would log."""

from __future__ import annotations

from typing import TYPE_CHECKING, Tuple

from lldecode.output.tables import tabulate

if TYPE_CHECKING:
    from lldecode.landlock.simulate import Outcome


def render_text(operation: str, args: Tuple[str, ...], outcome: Outcome) -> str:
    """The verdict, and for a denial a table of the predicted records."""
    request = " ".join((operation,) + tuple(args))
    if outcome.allowed:
        return f"{request}: allowed"
    rows = [(d.layer, d.policy, ",".join(d.blockers),
             " ".join(f"{k}={v}" for k, v in d.object.items()))
            for d in outcome.denials]
    table = tabulate(rows, headers=("layer", "policy", "blockers", "object"))
    return f"{request}: denied ({outcome.errno})\n{table}"
