"""``lldecode simulate`` as text: allowed, or the records the kernel would log.

The request comes from the command line and the policy from its files, not
from a log; they are escaped all the same (a path or policy name may hold
anything), like every value the text renderers write.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Tuple

from lldecode.output.tables import tabulate
from lldecode.output.text import Safe, safe

if TYPE_CHECKING:
    from lldecode.landlock.simulate import Outcome


def render_text(operation: str, args: Tuple[str, ...], outcome: Outcome) -> str:
    """The verdict, and for a denial a table of the predicted records."""
    request = Safe(" ".join(safe(a) for a in (operation,) + tuple(args)))
    if outcome.allowed:
        return Safe(f"{safe(request)}: allowed")
    rows = [(d.layer, _cell(d.policy), safe(",".join(d.blockers)),
             Safe(" ".join(f"{safe(k)}={safe(v)}" for k, v in d.object.items())))
            for d in outcome.denials]
    table = Safe(tabulate(rows, headers=("layer", "policy", "blockers", "object")))
    return Safe(f"{safe(request)}: denied ({safe(outcome.errno)})\n{safe(table)}")


def _cell(value: Any) -> Any:
    """A table cell made safe (None stays empty, as tabulate draws it)."""
    return None if value is None else safe(value)
