"""``lldecode doctor``'s report as text: one line per check (status, title,
what was found), the fix under it, and the verdict.  What was found can name
files and rules of this host: every value goes through :func:`safe`."""

from __future__ import annotations

from typing import Any, List, Sequence

from lldecode.output.text import Safe, Style, safe

_COLOURS = {"ok": "green", "warning": "yellow", "problem": "red", "unknown": "dim"}


def render_text(checks: Sequence[Any], healthy: bool, style: Style) -> str:
    """The report (checks: lldecode.analysis.doctor.Check)."""
    lines: List[str] = []
    for check in checks:
        colour = _COLOURS.get(check.status, "dim")
        lines.append(Safe(f"{style(f'{safe(check.status):<8}', 'bold', colour)} "
                          f"{safe(check.title)}: {safe(check.detail)}"))
        if check.fix and check.status != "ok":
            lines.append(Safe(f"         fix: {safe(check.fix)}"))
    problems = sum(1 for c in checks if c.status == "problem")
    unknown = sum(1 for c in checks if c.status == "unknown")
    if healthy:
        verdict = "denials would be logged and readable"
    else:
        verdict = f"denials would not be logged or not be readable: {safe(problems)} problem"
        verdict += "s" if problems > 1 else ""
    if unknown:
        verdict += f" ({safe(unknown)} checks need root)"
    lines.append(Safe(f"{style(safe(verdict), 'bold')}"))
    return Safe("\n".join(lines) + "\n")
