"""From logged denials to the rules that would allow them.

:func:`requests_of` turns denials (:class:`lldecode.analysis.denials.Denial`)
into the kernel model's :class:`lldecode.landlock.suggest.Request` values:
one per distinct operation (the two records of a rename or link across
directories make one; identical operations are counted, not repeated), with
what the log says of it (the object, the syscall, the moved file's kind from
the event's PATH records).  :func:`suggest` runs the whole suggestion:
rules, placement, merging, the policy files updated, and the verification.
"""

from __future__ import annotations

import posixpath
import stat
from dataclasses import replace
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

from lldecode.analysis.denials import Denial, ProcessInfo, log_text
from lldecode.analysis.explain import operations
from lldecode.landlock.checks import MAKE_RIGHT
from lldecode.landlock.policy import Policy, normalize_path
from lldecode.landlock.suggest import Request, Scope, Suggestion, suggest_rules

RENAMES = frozenset({"rename", "renameat", "renameat2"})
LINKS = frozenset({"link", "linkat"})
_KINDS = ((stat.S_IFDIR, "dir"), (stat.S_IFLNK, "symlink"), (stat.S_IFIFO, "fifo"),
          (stat.S_IFSOCK, "socket"), (stat.S_IFCHR, "char"), (stat.S_IFBLK, "block"),
          (stat.S_IFREG, "file"))


def suggest(denials: Iterable[Denial], policy: Union[None, Policy, Sequence[str]] = None, *,
            scope: Union[str, Scope] = "file", merge_depth: int = 0,
            allow_scopes: Sequence[str] = (), mount_root: str = "/") -> Suggestion:
    """The verified rules that allow ``denials``.

    ``policy``: the files the sandbox enforced, one per layer, oldest first
    (or a :class:`Policy` loaded from them, whose files are read again);
    the rules then go into every layer that denies, and the result holds
    the updated documents.  Without it, the rules are given per domain.
    ``scope``: file, dir, parent:N or under:PREFIX (where rules go);
    ``merge_depth``: how many levels up rules with the same rights may merge
    into one; ``allow_scopes``: the scopes (signal, abstract_unix_socket)
    that may be removed from ``scoped``.

    >>> import lldecode
    >>> denials = lldecode.read_denials(["fixtures/auditd-raw.log"], blockers=["fs.read_dir"])
    >>> result = lldecode.suggest(denials)
    >>> [(r.rights, r.targets) for r in result.rules]
    [(('fs.read_dir',), ('/tmp/llcapture-u_k9p5k5/fs_read_dir',))]
    >>> result.verification.summary
    '1 of 1 denials allowed by the suggested policy'
    """
    files: Optional[List[str]] = None
    if isinstance(policy, Policy):
        files = policy.sources
    elif policy is not None:
        files = list(policy)
    return suggest_rules(requests_of(denials), files, scope=scope, merge_depth=merge_depth,
                         allow_scopes=allow_scopes, mount_root=mount_root)


def requests_of(denials: Iterable[Denial]) -> List[Request]:
    """One request per distinct operation, in the order first seen, with
    the number of denial records it stands for."""
    seen: Dict[Tuple[object, ...], int] = {}
    out: List[Request] = []
    for group in operations(denials):
        if group is None:  # a live input went quiet: nothing held
            continue
        request = request_of(group)
        key = (request.domain, request.blockers, request.path, request.destination,
               request.operation, request.file_kind, request.replace, request.port)
        index = seen.get(key)
        if index is None:
            seen[key] = len(out)
            out.append(request)
        else:
            previous = out[index]
            out[index] = replace(previous, records=previous.records + request.records)
    return out


def _path(denial: Denial) -> Optional[str]:
    """The logged path as text (every byte kept), normalized when absolute."""
    raw = denial.object.get("path")
    if raw is None:
        raw = denial.object.get("name")
    if raw is None:
        return None
    text = log_text(raw)
    if text.startswith("/") and "\0" not in text:
        return normalize_path(text, "/")
    return text


def request_of(group: List[Denial]) -> Request:
    """The request of one operation's denials (two for a rename or link
    across directories)."""
    first = group[0]
    process: ProcessInfo = first.process or {}
    syscall = process.get("syscall")
    blockers: List[str] = []
    for denial in group:
        blockers.extend(b for b in denial.blockers if b not in blockers)
    verb = syscall or "?"
    if len(group) == 2 and all(b.startswith("fs.") for b in blockers):
        source, destination = _path(group[0]), _path(group[1])
        if syscall in RENAMES or syscall in LINKS:
            operation = "rename" if syscall in RENAMES else "link"
        else:
            operation = "rename" if {"fs.remove_file", "fs.remove_dir"} & set(blockers) \
                else "link"
        kind = _moved_kind(process, group[1].blockers, blockers)
        replace = bool({"fs.remove_file", "fs.remove_dir"} & set(group[1].blockers)) \
            and operation == "rename"
        return Request(first.domain, tuple(blockers),
                       f"{verb} {source} -> {destination} ({','.join(blockers)})",
                       path=source, destination=destination, operation=operation,
                       file_kind=kind, replace=replace, records=2)
    obj = first.object
    if blockers and blockers[0].startswith("net."):
        port = obj.get("src") if blockers[0] == "net.bind_tcp" else obj.get("dest")
        number = port if isinstance(port, int) and 0 <= port <= 65535 else None
        return Request(first.domain, tuple(blockers),
                       f"{verb} port {number} ({','.join(blockers)})", port=number,
                       records=len(group))
    path = _path(first)
    target = f" {path}" if path is not None else ""
    if blockers and blockers[0] in ("ptrace", "scope.signal"):
        target = f" process {obj.get('opid')}" if obj.get("opid") is not None else ""
    return Request(first.domain, tuple(blockers), f"{verb}{target} ({','.join(blockers)})",
                   path=path, records=len(group))


def _moved_kind(process: ProcessInfo, destination_blockers: List[str],
                blockers: List[str]) -> str:
    """What a rename or link moved: from the event's PATH records (the mode
    of the entry that is not a parent directory), else from the blockers."""
    for item in process.get("paths", []):
        if item.get("nametype") in ("PARENT", None):
            continue
        mode = item.get("mode")
        if not mode:
            continue
        try:
            value = int(str(mode).split(",")[0], 8)
        except ValueError:
            continue
        for bits, kind in _KINDS:
            if stat.S_IFMT(value) == bits:
                return kind
    if {"fs.remove_dir", "fs.make_dir"} & set(blockers):
        return "dir"
    for kind, mask in MAKE_RIGHT.items():
        name = f"fs.{_MAKE_NAMES[kind]}"
        if name in destination_blockers and mask:
            return kind
    return "file"


_MAKE_NAMES = {"file": "make_reg", "dir": "make_dir", "symlink": "make_sym",
               "fifo": "make_fifo", "socket": "make_sock", "char": "make_char",
               "block": "make_block"}


def group_key(request: Request) -> Tuple[object, ...]:
    """What makes requests similar, for ``--interactive``: the same rights
    on objects in the same directory (or the same rights on ports)."""
    if request.kind == "net":
        return (request.kind, request.blockers)
    if request.path is not None and request.path.startswith("/"):
        kind = request.kind
        directory = request.path if kind == "reparent" else posixpath.dirname(request.path)
        return (kind, request.blockers, directory)
    return (request.kind, request.blockers, request.path)
