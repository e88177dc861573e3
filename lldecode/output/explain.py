"""explain as text: one paragraph per explained operation.

The values come from :mod:`lldecode.analysis.explain` as they are in the log
(bytes kept); everything from the log is escaped here, for the terminal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Optional

from lldecode.analysis.explain import Paragraph, RightInfo, Who, explanation
from lldecode.output.reports import created_by
from lldecode.output.text import Style, format_time, safe

if TYPE_CHECKING:  # annotations only: policies are loaded when given
    from lldecode.landlock.policy import Policy


def _actor(w: Who) -> str:
    name = safe(w["comm"]) if w["comm"] is not None else "a process"
    parts = []
    if w["pid"] is not None:
        parts.append(f"pid {w['pid']}")
    if w["exe"] is not None:
        parts.append(safe(w["exe"]))
    text = f"{name} ({', '.join(parts)})" if parts else name
    if w["from_creator"]:
        text += " [from the domain's creator: the event has no SYSCALL record]"
    return text


def _right_line(r: RightInfo) -> str:
    if r["abi"] is None:
        guard = r["guards"] or "not a right this version of lldecode knows"
        return f"{r['name']}: {guard}"
    applies = {"file": "granted on files (or a directory above them)",
               "dir": "granted on directories", "-": ""}.get(r["applies_to"] or "-", "")
    syscalls = f"; needed by {', '.join(r['syscalls'])}" if r["syscalls"] else ""
    tail = f"; {applies}" if applies else ""
    return f"{r['name']}: {r['guards']}{syscalls} (Landlock ABI {r['abi']}){tail}"


def render_text(paragraph: Paragraph, style: Style, utc: bool = False,
                policy: Optional[Policy] = None) -> str:
    """One explained paragraph as text, every value from the log escaped."""
    e = explanation(paragraph, policy)
    first = paragraph.first
    w = e["who"]
    lines = []
    count = f" ({paragraph.count} times, until {format_time(paragraph.last_time, utc)})" \
        if paragraph.count > 1 else ""
    what = e["what"]
    syscall = what["syscall"]
    refused = f"{syscall}() was refused" if syscall else "an access was refused"
    if what["errno"]:
        refused += f" with {what['errno']}"
    header = f"{format_time(first.time, utc)}{count}"
    lines.append(style(header, "bold") + f"  {_actor(w)}: {refused}.")
    if w["proctitle"] is not None:
        lines.append(f"  command: {safe(w['proctitle'])}")
    if len(e["where"]) == 2 and first.operation_size == 2:
        lines.append(f"  on: {safe(e['where'][0])} (source) and {safe(e['where'][1])} "
                     "(destination)")
    else:
        lines.append(f"  on: {'; '.join(safe(w) for w in e['where'])}")
    lines.append("  missing rights:")
    for r in what["rights"]:
        lines.append("    " + style(r["name"], "red") + _right_line(r)[len(r["name"]):])
    box = e["sandbox"]
    creator = box["creator"]
    if creator:
        made = created_by(creator)
    else:
        made = "creator unknown (its allocated record is not in this input)"
    lines.append(f"  sandbox: Landlock domain {style(box['domain'], 'cyan')}, {made}")
    verdict = e["policy"]
    if verdict is not None:
        lines.extend(_policy_lines(verdict, style))
    else:
        for fix in e["fix"]:
            lines.append(f"  fix: {safe(fix)}")
    return "\n".join(lines)


def _policy_lines(verdict: Dict[str, Any], style: Style) -> List[str]:
    if not verdict["consistent"]:
        return ["  " + style("policy: the log and the policy disagree", "yellow")
                + f": {safe(verdict['reason'])}"]
    lines = [f"  policy: layer {verdict['layer']} ({safe(verdict['policy'])}) denied it"]
    if verdict["sentence"]:
        lines.append(f"  fix: {safe(verdict['sentence'])}")
    if verdict["toml"]:
        lines.append("  add to the policy:")
        lines.extend("    " + safe(line) for line in verdict["toml"].splitlines())
    return lines
