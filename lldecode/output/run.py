"""``lldecode run`` as text: the summary at the end of a run, and the rounds
of ``--learn``.

Values from the log (paths, comm, exe) and the command's own arguments are
escaped for the terminal here, where they are formatted.
"""

from __future__ import annotations

import shlex
from typing import List, Sequence

from lldecode.analysis.denials import log_text
from lldecode.analysis.explain import where
from lldecode.analysis.live_run import Summary
from lldecode.output.text import Safe, Style, safe

# The groups listed in a summary; more are counted.
SHOWN_GROUPS = 50


def command_line(argv: Sequence[str]) -> str:
    """The command as a shell would read it (escaped for the terminal)."""
    return safe(" ".join(shlex.quote(arg) for arg in argv))


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def render_summary(summary: Summary, style: Style) -> str:
    """The end of a run: the command's status, its denials by kind, each
    domain's count against the kernel's."""
    lines: List[str] = []
    took = summary.ended - summary.started if summary.started else 0.0
    if summary.failure:
        head = (f"`{command_line(summary.argv)}` could not run: {safe(summary.failure)} "
                f"(exit status {summary.status})")
    else:
        head = (f"`{command_line(summary.argv)}` (pid {summary.pid}) exited with status "
                f"{summary.status} after {took:.2f} s")
    lines.append(style(Safe(f"lldecode run: {head}"), "bold"))
    if not summary.read:
        lines.append("  its denials were not read (see above)")
    elif not summary.operations:
        lines.append("  " + style("no denial", "green") + " was logged for it"
                     + (" (but see the problems above)" if summary.problems else ""))
    else:
        domains = len(summary.domains)
        lines.append(f"  {_plural(summary.operations, 'denied operation')} "
                     f"({len(summary.groups) + summary.groups_dropped} distinct) in "
                     f"{_plural(domains, 'domain')}:")
        for group in summary.groups[:SHOWN_GROUPS]:
            first = group.denials[0]
            process = first.process or {}
            blockers = ",".join(b for d in group.denials for b in d.blockers)
            places = "; ".join(safe(where(d)) for d in group.denials)
            who = []
            if process.get("syscall"):
                who.append(safe(process.get("syscall")))
            comm = process.get("comm")
            if comm is not None:
                who.append(safe(log_text(comm) if isinstance(comm, bytes) else comm))
            by = f" ({', '.join(who)})" if who else ""
            lines.append(f"    {group.count:>5}x  {style(safe(blockers), 'red')}  {places}{by}")
        hidden = len(summary.groups) - SHOWN_GROUPS + summary.groups_dropped
        if hidden > 0:
            lines.append(f"    ... and {hidden} more")
    for info in summary.domains:
        counted = ("the kernel counted " + str(info.denials_reported)
                   if info.denials_reported is not None
                   else "the kernel's count was not logged yet (the domain was alive)")
        lines.append(f"  domain {style(info.id, 'cyan')}: {info.denials_logged} denials "
                     f"logged, {counted}")
        if info.denials_reported is not None and info.denials_reported > info.denials_logged:
            lines.append(f"    {info.denials_reported - info.denials_logged} denials were "
                         "not logged (see `lldecode domains` for the causes)")
    return Safe("\n".join(lines))
