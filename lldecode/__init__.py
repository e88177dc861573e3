"""lldecode: decode and analyze Linux Landlock audit logs.

A library first; the ``lldecode`` command is a thin layer over it.  The
package has two halves that never import each other, and the layers built
on them:

- ``lldecode.audit``: reading the log (files, compressed or rotated sets,
  stdin, the audit netlink socket), the record syntax (compiled patterns,
  and the pyparsing grammar that is its specification), field values and
  events.  Usable alone.
- ``lldecode.landlock``: the kernel's model: access rights, layer masks and
  deny masks, the kernel's checks, policy files, forward simulation and
  blame.  No log reading.
- ``lldecode.analysis``: what a log means: denials with their process,
  domains, selections, explanations, summaries, parallel tallies.
- ``lldecode.output``: every renderer; ``lldecode.cli``: the click wiring.

The names below are imported on first use (``lldecode --version`` stays
fast).  Read the denials of a log, with the reading commands' selection
options as keywords:

>>> import lldecode
>>> denials = list(lldecode.read_denials(["fixtures/auditd-raw.log"], blockers=["fs.truncate"]))
>>> [(d.domain, d.blockers, d.path) for d in denials][:1]
[('1b6b161a9', ['fs.truncate'], b'/tmp/llcapture-u_k9p5k5/fs_truncate/file')]
>>> denials[0].actor("comm"), denials[0].process["syscall"]
(b'python3', 'truncate')

Or from lines already in memory (any carrier: auditd, dmesg, journald...):

>>> line = ('type=UNKNOWN[1423] msg=audit(1795737091.549:5329): domain=1b6b1616d '
...         'blockers=fs.read_file path="/etc/passwd" dev="vda" ino=1234')
>>> [d.blockers for d in lldecode.read_denials(lines=[line])]
[['fs.read_file']]

Count and summarize (large inputs are read by several processes):

>>> result = lldecode.tally(["fixtures/auditd-raw.log"], by=["blocker"], jobs=1)
>>> result.count, next(result.summary.rows())["blocker"]
(56, 'fs.read_file')

Follow domains (who created them, denials logged against denials the
kernel counted):

>>> registry = lldecode.DomainRegistry()
>>> for _ in lldecode.Reading(["fixtures/auditd-raw.log"], lldecode.Diagnostics(),
...                           registry=registry).denials():
...     pass
>>> info = next(registry.ordered())
>>> info.id, info.creator["comm"], info.denials_logged, info.denials_reported
('1b6b1611c', b'python3', 1, 1)

Rights and masks, the seed's deny masks included (layers 0-based, as in
the kernel):

>>> lldecode.mask_to_names("fs", 0x4006)
['fs.write_file', 'fs.read_file', 'fs.truncate']
>>> lldecode.right("fs.ioctl_dev").abi
5
>>> truncate, ioctl = lldecode.right("fs.truncate").bit, lldecode.right("fs.ioctl_dev").bit
>>> deny = lldecode.get_deny_masks((1 << truncate) | (1 << ioctl), {truncate: 0b10, ioctl: 0b101})
>>> hex(deny), lldecode.decode_deny_masks(deny)
('0x21', {14: 1, 15: 2})

Policies (landlockconfig TOML or JSON, one file per layer), simulation and
blame:

>>> policy = lldecode.load_policy(["fixtures/policies/no-dev-ioctl.toml"])
>>> outcome = lldecode.simulate(policy, "ioctl", ["/dev/tty"])
>>> outcome.allowed, outcome.errno, outcome.denials[0].blockers
(False, 'EACCES', ('fs.ioctl_dev',))
>>> blame = lldecode.blame_denial(policy, ["fs.ioctl_dev"],
...                               {"path": "/dev/tty", "ioctlcmd": "0x5401"})
>>> blame.consistent, blame.layer
(True, 1)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Dict, Iterable, Iterator, List, Optional, Sequence

__version__ = "0.1.0"

# public name -> the module that defines it (imported on first use)
_LAZY: Dict[str, str] = {
    # reading the log
    "Diagnostics": "lldecode.audit.records",
    "Record": "lldecode.audit.records",
    "Event": "lldecode.audit.events",
    "EventGrouper": "lldecode.audit.events",
    # the kernel's model
    "Right": "lldecode.landlock.access",
    "right": "lldecode.landlock.access",
    "rights_of": "lldecode.landlock.access",
    "mask_to_names": "lldecode.landlock.access",
    "names_to_mask": "lldecode.landlock.access",
    "normalize_blocker": "lldecode.landlock.access",
    "get_denied_layer": "lldecode.landlock.layers",
    "get_deny_masks": "lldecode.landlock.layers",
    "decode_deny_masks": "lldecode.landlock.layers",
    "layer_from_deny_masks": "lldecode.landlock.layers",
    "Policy": "lldecode.landlock.policy",
    "Layer": "lldecode.landlock.policy",
    "PolicyError": "lldecode.landlock.policy",
    "load_policy": "lldecode.landlock.policy",
    "parse_layer": "lldecode.landlock.policy",
    "simulate": "lldecode.landlock.simulate",
    "Options": "lldecode.landlock.simulate",
    "Outcome": "lldecode.landlock.simulate",
    "PredictedDenial": "lldecode.landlock.simulate",
    "SimulationError": "lldecode.landlock.simulate",
    "blame_denial": "lldecode.landlock.blame",
    "Blame": "lldecode.landlock.blame",
    "Suggestion": "lldecode.landlock.suggest",
    "EnforceError": "lldecode.landlock.enforce",
    "kernel_abi": "lldecode.landlock.enforce",
    "restrict_flags": "lldecode.landlock.enforce",
    # what the log means
    "Denial": "lldecode.analysis.denials",
    "DomainRegistry": "lldecode.analysis.domains",
    "DomainInfo": "lldecode.analysis.domains",
    "Reading": "lldecode.analysis.pipeline",
    "LogReader": "lldecode.analysis.reader",
    "Selection": "lldecode.analysis.selection",
    "SelectionError": "lldecode.analysis.selection",
    "Tally": "lldecode.analysis.tally",
    "Summary": "lldecode.analysis.summarize",
    "suggest": "lldecode.analysis.suggest",
    "LiveRun": "lldecode.analysis.live_run",
}

__all__ = sorted(["__version__", "read_denials", "tally", "explain", *_LAZY])


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'lldecode' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> List[str]:
    return sorted(set(globals()) | set(_LAZY))


if TYPE_CHECKING:  # pragma: no cover - for type checkers and editors
    from lldecode.analysis.denials import Denial
    from lldecode.analysis.explain import Explained
    from lldecode.analysis.reader import LogReader
    from lldecode.analysis.tally import Tally


def _query(inputs: Sequence[str], lines: Optional[Iterable[str]],
           selection: Dict[str, Any], **options: Any) -> "LogReader":
    from lldecode.analysis.reader import LogReader
    from lldecode.analysis.selection import Selection

    given = None
    if lines is not None:
        from lldecode.audit.sources import LinesSource

        given = [LinesSource(lines)]
    return LogReader(list(inputs), Selection.from_options(**selection),
                 selection_options=selection, given_sources=given, **options)


def read_denials(inputs: Sequence[str] = (), *, lines: Optional[Iterable[str]] = None,
                 context: bool = True, **selection: Any) -> Iterator["Denial"]:
    """The denials of ``inputs`` (paths, directories of rotated logs, ``-``,
    ``netlink:``) or of ``lines`` (an iterable of text lines), in log order.

    ``selection``: the reading commands' selection options as keywords
    (``domains``, ``blockers``, ``exes``, ``comms``, ``pids``, ``uids``,
    ``paths``, ``syscalls``, ``since``, ``until``, ``where``), each a list
    of values as on the command line; raises :class:`SelectionError`.
    ``context=False`` reads only the Landlock records (faster; no process).
    Problems met while reading are counted and kept in a
    :class:`Diagnostics`; read them with :class:`lldecode.LogReader` instead when
    they matter.
    """
    return _query(inputs, lines, selection, context=context).denials()


def tally(inputs: Sequence[str] = (), *, lines: Optional[Iterable[str]] = None,
          by: Optional[Sequence[str]] = None, per_domain: bool = False,
          jobs: Optional[int] = None, keep_domains: bool = False,
          **selection: Any) -> "Tally":
    """Count the selected denials: ``.count``; ``by`` (domain, blocker, exe,
    path, syscall) adds a :class:`Summary` as ``.summary``; ``per_domain``
    counts per domain key in ``.selected``; ``.registry`` holds the domains
    (every one with ``keep_domains``).  Large files are read in parts by
    ``jobs`` processes (default: one per CPU) and merged in input order."""
    needs_context = bool(by and {"exe", "syscall"} & set(by))
    return _query(inputs, lines, selection, context=needs_context, jobs=jobs,
                  keep_domains=keep_domains).tally(by, per_domain)


def explain(denials: Iterable["Denial"], policy: Any = None) -> Iterator["Explained"]:
    """Each operation of ``denials`` explained as plain values (who, what,
    where, which sandbox, how to fix; with a :class:`Policy`, the layer and
    rule to blame), identical consecutive operations folded with a count.

    >>> import lldecode
    >>> first = next(lldecode.explain(lldecode.read_denials(["fixtures/auditd-raw.log"])))
    >>> first["what"]["syscall"], [r["name"] for r in first["what"]["rights"]], first["count"]
    ('openat', ['fs.read_file'], 1)
    """
    from lldecode.analysis import explain as analysis

    for paragraph in analysis.paragraphs(analysis.operations(denials)):
        yield analysis.explanation(paragraph, policy)
