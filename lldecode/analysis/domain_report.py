"""The domains report: one row per domain, and why denials may be missing.

:func:`domain_rows` gives what ``lldecode domains`` shows: each domain's
creator, status, denials logged in the input against denials the kernel
counted, its blockers, and :func:`gap_causes`: the causes of a shortfall
that the input shows (rate limiting, backlog loss, serial gaps, a missing
allocated record, the logging flags).
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Dict, Iterator, List, Optional

from lldecode.analysis.domains import DEALLOCATED, DomainInfo, DomainKey, DomainRegistry
from lldecode.audit.events import GroupingStats


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

    Returns sentences for the likely causes the input shows; empty when the
    logged and reported counts agree, or nothing explains the difference.
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
    if stats.lost:
        causes.append(f"the kernel lost {stats.lost} audit records (backlog overflow)")
    else:
        causes.append("the kernel drops records when its audit backlog is full (it says "
                      "\"audit: backlog limit exceeded\" on the console; `auditctl -s` shows "
                      "the lost count)")
    if info.creator is None:
        causes.append("the allocated record is not in this input: denials logged before "
                      "the input starts are missing")
    if stats.serial_gaps:
        causes.append(f"{stats.serial_gaps} audit serials are missing from this input "
                      "(events filtered out or lost)")
    causes.append("denials are not logged after execve unless the sandbox asked for "
                  "LANDLOCK_RESTRICT_SELF_LOG_NEW_EXEC_ON; LOG_SAME_EXEC_OFF and "
                  "LOG_SUBDOMAINS_OFF silence more, but the kernel still counts them")
    return causes


def _printk_note(stats: GroupingStats) -> str:
    if stats.suppressed:
        return (f"read from the kernel console, which is rate limited: "
                f"{stats.suppressed} records were suppressed (kauditd_printk_skb)")
    return ("read from the kernel console (printk), which the kernel rate limits "
            "(kauditd_printk_skb): records may be missing")
