"""explain as text: one paragraph per explained operation.

The values come from :mod:`lldecode.analysis.explain` as they are in the log
(bytes kept); any of them may hold what an attacker wrote in the log (the
syscall and pid of a SYSCALL record, a blocker name, a creator's pid as much
as a path).  Everything is escaped here, for the terminal, where it is
formatted: each ``{...}`` is ``{safe(value)}``, styled words are escaped by
:class:`~lldecode.output.text.Style` (see :mod:`lldecode.output.text`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Optional

from lldecode.analysis.explain import Paragraph, RightInfo, Who, explanation
from lldecode.output.escape import escape_text
from lldecode.output.reports import created_by
from lldecode.output.text import Safe, Style, format_time, safe

if TYPE_CHECKING:  # annotations only: policies are loaded when given
    from lldecode.landlock.policy import Policy


def _actor(w: Who) -> str:
    name = safe(w["comm"]) if w["comm"] is not None else Safe("a process")
    parts: List[str] = []
    if w["pid"] is not None:
        parts.append(Safe(f"pid {safe(w['pid'])}"))
    if w["exe"] is not None:
        parts.append(safe(w["exe"]))
    text = f"{safe(name)} ({safe(parts)})" if parts else name
    if w["from_creator"]:
        text += " [from the domain's creator: the event has no SYSCALL record]"
    return Safe(text)


def _right_tail(r: RightInfo) -> str:
    """What follows a missing right's name on its line: what it guards, the
    syscalls that need it, its ABI, what it is granted on."""
    if r["abi"] is None:
        guard = r["guards"] or "not a right this version of lldecode knows"
        return Safe(f": {safe(guard)}")
    applies = {"file": "granted on files (or a directory above them)",
               "dir": "granted on directories", "-": ""}.get(r["applies_to"] or "-", "")
    syscalls = Safe(f"; needed by {safe(r['syscalls'])}" if r["syscalls"] else "")
    tail = Safe(f"; {safe(applies)}" if applies else "")
    return Safe(f": {safe(r['guards'])}{safe(syscalls)} (Landlock ABI {safe(r['abi'])})"
                f"{safe(tail)}")


def render_text(paragraph: Paragraph, style: Style, utc: bool = False,
                policy: Optional[Policy] = None) -> str:
    """One explained paragraph as text, every value from the log escaped."""
    e = explanation(paragraph, policy)
    first = paragraph.first
    w = e["who"]
    lines = []
    count = Safe(f" ({safe(paragraph.count)} times, until "
                 f"{format_time(paragraph.last_time, utc)})" if paragraph.count > 1 else "")
    what = e["what"]
    syscall = what["syscall"]
    refused = Safe(f"{safe(syscall)}() was refused" if syscall else "an access was refused")
    if what["errno"]:
        refused = Safe(f"{safe(refused)} with {safe(what['errno'])}")
    header = Safe(f"{format_time(first.time, utc)}{safe(count)}")
    lines.append(style(header, "bold") + f"  {safe(_actor(w))}: {safe(refused)}.")
    if w["proctitle"] is not None:
        lines.append(f"  command: {safe(w['proctitle'])}")
    if len(e["where"]) == 2 and first.operation_size == 2:
        lines.append(f"  on: {safe(e['where'][0])} (source) and {safe(e['where'][1])} "
                     "(destination)")
    else:
        places = Safe("; ".join(safe(w) for w in e["where"]))
        lines.append(f"  on: {safe(places)}")
    lines.append("  missing rights:")
    for r in what["rights"]:
        lines.append("    " + style(r["name"], "red") + _right_tail(r))
    box = e["sandbox"]
    creator = box["creator"]
    if creator:
        made = created_by(creator)
    else:
        made = Safe("creator unknown (its allocated record is not in this input)")
    lines.append(f"  sandbox: Landlock domain {style(box['domain'], 'cyan')}, {safe(made)}")
    verdict = e["policy"]
    if verdict is not None:
        lines.extend(_policy_lines(verdict, style))
    else:
        for fix in e["fix"]:
            lines.append(f"  fix: {safe(fix)}")
    return Safe("\n".join(lines))


def _policy_lines(verdict: Dict[str, Any], style: Style) -> List[str]:
    if not verdict["consistent"]:
        return ["  " + style("policy: the log and the policy disagree", "yellow")
                + f": {safe(verdict['reason'])}"]
    lines = [f"  policy: layer {safe(verdict['layer'])} ({safe(verdict['policy'])}) denied it"]
    if verdict["sentence"]:
        lines.append(f"  fix: {safe(verdict['sentence'])}")
    if verdict["toml"]:
        lines.append("  add to the policy:")
        # split on newlines only (str.splitlines also splits on U+2028,
        # U+0085... which a path may hold: those are escaped instead)
        toml = verdict["toml"].split("\n")
        if toml[-1] == "":
            toml.pop()
        lines.extend("    " + _snippet_line(line) for line in toml)
    return lines


def _snippet_line(line: str) -> str:
    """A line of a policy snippet, to copy into the policy: as it is when a
    terminal would show it as it is (the snippets write what it would act on
    as TOML or JSON escapes, lldecode.landlock.blame), else escaped."""
    bare = line.replace("\\", "")
    return Safe(line) if escape_text(bare) == bare else safe(line)
