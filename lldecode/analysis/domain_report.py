"""The domains report: one row per domain, and why denials may be missing.

:func:`domain_rows` gives what ``lldecode domains`` shows: each domain's
creator, status, denials logged in the input against denials the kernel
counted, its blockers, and :func:`gap_causes`: the causes of a shortfall
that the input shows (rate limiting, backlog loss, serial gaps, a missing
allocated record, the logging flags).

:func:`input_notes` says what no domain row can: records the kernel console
suppressed (``kauditd_printk_skb: N callbacks suppressed``) when no listed
domain carries the note, for instance when the notice comes before every
record, or when the input holds no domain at all (the suppressed records
were whole domains).
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Dict, Iterable, Iterator, List, Optional, Tuple

from lldecode.analysis.domains import DEALLOCATED, DomainInfo, DomainKey, DomainRegistry
from lldecode.audit.events import GroupingStats
from lldecode.audit.records import Notice


def domain_rows(registry: DomainRegistry, stats: GroupingStats,
                selected: Optional[Counter[DomainKey]] = None) -> Iterator[Dict[str, Any]]:
    """The ``domains`` report: one dict per domain, oldest first.

    ``selected`` (domain key -> selected denials) limits the report to the
    domains with a selected denial, when a selection is in force.
    """
    for info in registry.ordered():
        key = info.key
        if selected is not None and not selected.get(key):
            continue
        yield domain_row(info, stats, selected.get(key) if selected is not None else None)


def domain_row(info: DomainInfo, stats: GroupingStats,
               selected: Optional[int] = None) -> Dict[str, Any]:
    """One domain's row of the ``domains`` report (``selected``: its
    selected denials, when a selection is in force)."""
    row = info.as_dict()
    row.update({
        "missing": info.missing,
        "duplicate_allocations": info.duplicate_allocations,
        "blockers": dict(info.blockers.most_common()),
        "gap_causes": gap_causes(info, stats),
    })
    if selected is not None:
        row["denials_selected"] = selected
    return row


def gap_causes(info: DomainInfo, stats: GroupingStats) -> List[str]:
    """Why the input may hold fewer denials than the kernel counted.

    Returns sentences for the causes, each saying how likely the input
    makes it and why (``likely:``, ``possible:``, ``unlikely:``), the likely
    ones first; empty when the logged and reported counts agree.

    - the backlog: likely when the input says the kernel dropped records
      ("audit: backlog limit exceeded", ``audit_lost=``, on the kernel
      console); unlikely when the domain's records come from the console
      and it says no such thing; possible otherwise.  Missing serials do not
      tell: the kernel drops a record before giving it a serial (audit_log_start),
      so a backlog overflow leaves no serial gap (fixtures/rotated: 12 records
      dropped, no gap).
    - the logging flags: possible, and likely when the backlog is ruled
      out; when denials of another executable than the creator's were
      logged (its processes ran execve, and their denials are logged after
      it), not the execve rule but LOG_SAME_EXEC_OFF or LOG_SUBDOMAINS_OFF.
    """
    causes: List[str] = []
    printk = "printk" in info.carriers
    if info.missing is None:
        if info.status != DEALLOCATED:
            causes.append("no deallocation record in this input: the kernel's count is unknown")
        if printk:
            causes.append(_printk_note(stats))
        return causes
    if info.missing <= 0:
        return causes
    if printk:
        causes.append(_printk_note(stats))
    if info.creator is None:
        causes.append("the allocated record is not in this input: denials logged before "
                      "the input starts are missing")
    if stats.serial_gaps:
        causes.append(f"{stats.serial_gaps} audit serials are missing from this input "
                      "(events filtered out, or not written)")
    backlog, flags = _backlog_cause(stats, printk), _flags_cause(info)
    if backlog[0] == "unlikely":
        flags = ("likely", flags[1] + " (the backlog is ruled out)")
    ranked = [backlog, flags]
    order = {"likely": 0, "possible": 1, "unlikely": 2}
    ranked.sort(key=lambda cause: order[cause[0]])
    return causes + [f"{rank}: {sentence}" for rank, sentence in ranked]


def _backlog_cause(stats: GroupingStats, console: bool) -> Tuple[str, str]:
    """How likely a backlog overflow is, and why."""
    lost_notice = any(n.kind == Notice.LOST for n in stats.notices)
    if stats.lost or lost_notice:
        count = f"{stats.lost} audit records" if stats.lost else "audit records"
        return ("likely", f"the kernel dropped {count}: its audit backlog was full (the input "
                "says \"audit: backlog limit exceeded\" or audit_lost=)")
    if console:
        return ("unlikely", "the kernel's audit backlog: the kernel says \"audit: backlog "
                "limit exceeded\" on its console when it drops records, and this console "
                "log does not")
    return ("possible", "the kernel drops records when its audit backlog is full; it says "
            "so only on its console (\"audit: backlog limit exceeded\": dmesg, journalctl "
            "-k) and in `auditctl -s` (lost), not in the audit log, and the records it drops "
            "leave no gap in the serials")


def _flags_cause(info: DomainInfo) -> Tuple[str, str]:
    """The logging flags as a cause, and what the input says of the execve
    rule (the default: nothing logged after execve)."""
    if info.exe_other:
        return ("possible", "the logging flags LOG_SAME_EXEC_OFF or LOG_SUBDOMAINS_OFF, which "
                "silence denials the kernel still counts; not the execve rule: "
                f"{info.exe_other} logged denials come from another executable than the "
                "creator's, so the domain's processes ran execve and their denials are logged "
                "after it (LANDLOCK_RESTRICT_SELF_LOG_NEW_EXEC_ON)")
    sentence = ("the execve rule: denials are not logged after execve unless the sandbox "
                "asked for LANDLOCK_RESTRICT_SELF_LOG_NEW_EXEC_ON (LOG_SAME_EXEC_OFF and "
                "LOG_SUBDOMAINS_OFF silence more), but the kernel still counts them")
    if info.exe_creator:
        sentence += ("; every logged denial comes from the creator's executable: the unlogged "
                     "ones may be those of a program it executed")
    return ("possible", sentence)


def _printk_note(stats: GroupingStats) -> str:
    if stats.suppressed:
        return (f"read from the kernel console, which is rate limited: "
                f"{stats.suppressed} records were suppressed (kauditd_printk_skb)")
    return ("read from the kernel console (printk), which the kernel rate limits "
            "(kauditd_printk_skb): records may be missing")


def suppressed(stats: GroupingStats) -> bool:
    """Did the input say the kernel console suppressed records?"""
    return bool(stats.suppressed) or any(n.kind == Notice.SUPPRESSED for n in stats.notices)


def suppression_note(stats: GroupingStats) -> Optional[str]:
    """The input-level note on records the kernel console suppressed (None
    when the input has no ``kauditd_printk_skb`` notice)."""
    if not suppressed(stats):
        return None
    count = f"{stats.suppressed} records" if stats.suppressed else "records"
    return (f"the kernel console suppressed {count} in this input (kauditd_printk_skb: "
            "callbacks suppressed): denials are missing from it, maybe whole domains, and "
            "no record says which; the audit daemon's log (auditd) is not rate limited so")


def input_notes(stats: GroupingStats, domains: Optional[Iterable[DomainInfo]] = None
                ) -> List[str]:
    """What the input as a whole says that no domain row carries.

    ``domains``: the domains a report lists (their gap causes are shown);
    None when the report shows no gap causes.  The suppression note is given
    unless one of them carries it in its gap causes.
    """
    note = suppression_note(stats)
    if note is None:
        return []
    if domains is not None:
        carried = _printk_note(stats)
        if any(carried in gap_causes(info, stats) for info in domains):
            return []
    return [note]
