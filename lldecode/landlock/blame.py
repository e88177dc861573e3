"""Blame: from one logged denial back to the policy that made it.

:func:`blame_denial` names the layer and file responsible for a logged
Landlock denial, the missing rule (as a sentence and as a landlockconfig
snippet), and whether the log can have come from the policy at all.  It runs
the forward model (:mod:`lldecode.landlock.simulate`) on the operation the
record describes, so both directions share one model of the kernel.
"""

from __future__ import annotations

import json
import posixpath
import unicodedata
from dataclasses import dataclass, field, replace
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from lldecode import syscalls
from lldecode.landlock.access import known_right, mask_to_names, normalize_blocker, right
from lldecode.landlock.checks import MAKE_RIGHT, Domain
from lldecode.landlock.layers import IOCTL_DEV, OPTIONAL_ACCESS
from lldecode.landlock.policy import MAX_PORT, Policy, normalize_path
from lldecode.landlock.policy_writer import NotRepresentable, toml_document
from lldecode.landlock.simulate import (
    ObjectFields,
    ObjectValue,
    Options,
    PredictedDenial,
    simulate,
)

# Syscall names that tell a rename from a link (otherwise the blockers do).
RENAME_SYSCALLS = ("rename", "renameat", "renameat2")
LINK_SYSCALLS = ("link", "linkat")
# A name no rule can hold, standing for the unknown entry a reparenting
# record's directory held (the kernel logs only the directory).
_UNKNOWN_ENTRY = "\0entry"


@dataclass(frozen=True)
class Finding:
    """What the policy says about one logged record."""

    layer: Optional[int]            # 1-based layer the simulator blames
    policy: Optional[str]
    missing: Tuple[str, ...]        # rights that layer lacks (dotted names)
    object: ObjectFields = field(hash=False)
    also_denied_by: Tuple[int, ...] = ()   # older layers that lack them too
    sentence: str = ""
    toml: str = ""

    def as_dict(self) -> Dict[str, Any]:
        """The finding as plain values (for JSON)."""
        return {"layer": self.layer, "policy": self.policy, "missing": list(self.missing),
                "object": dict(self.object), "also_denied_by": list(self.also_denied_by),
                "sentence": self.sentence, "toml": self.toml}


@dataclass(frozen=True)
class Blame:
    """The answer of :func:`blame_denial`.

    ``findings`` has one entry per record given (two for a reparenting
    pair); ``layer``, ``policy``, ``sentence`` and ``toml`` summarize them.
    ``consistent`` is False, with a ``reason``, when the logged record(s)
    cannot have come from the policy (or cannot be checked).
    """

    consistent: bool
    reason: Optional[str]
    findings: Tuple[Finding, ...]

    @property
    def layer(self) -> Optional[int]:
        """The 1-based layer blamed (the first finding's)."""
        return self.findings[0].layer if self.findings else None

    @property
    def policy(self) -> Optional[str]:
        """The policy file of the layer blamed."""
        return self.findings[0].policy if self.findings else None

    @property
    def sentence(self) -> str:
        """What the findings say, in words."""
        return " ".join(f.sentence for f in self.findings if f.sentence)

    @property
    def toml(self) -> str:
        """The landlockconfig snippets to add, one per finding."""
        return "\n".join(f.toml for f in self.findings if f.toml)

    def as_dict(self) -> Dict[str, Any]:
        """The answer as plain values (for JSON)."""
        return {"consistent": self.consistent, "reason": self.reason,
                "layer": self.layer, "policy": self.policy, "sentence": self.sentence,
                "toml": self.toml, "findings": [f.as_dict() for f in self.findings]}


# A logged record's object fields, by name (see blame_denial's ``obj``).
LoggedObject = Mapping[str, ObjectValue]
# A logged record: (blockers, object fields).
LoggedRecord = Tuple[Sequence[str], LoggedObject]


def blame_denial(policy: Policy, blockers: Sequence[str], obj: LoggedObject,
                 syscall: Optional[str] = None,
                 destination: Optional[LoggedRecord] = None,
                 logged_layer: Optional[int] = None) -> Blame:
    """Explain one logged Landlock denial with ``policy``.

    Arguments:
      policy       -- the parsed policy (:func:`lldecode.landlock.policy.load_policy`).
      blockers     -- the record's ``blockers=`` as a list; legacy spellings
                      (``fs_write_file``) are accepted.
      obj          -- the record's object fields: ``path`` (decoded, for fs
                      rights and abstract sockets), ``ioctlcmd`` (``"0x541b"``
                      or an int), ``src`` (bind port), ``dest`` (connect
                      port), ``opid``...
      syscall      -- the syscall name when known (``renameat2``, ``linkat``...);
                      it tells a rename from a link.
      destination  -- for a rename or link across directories, the event's
                      second record (destination directory) as
                      ``(blockers, obj)``; ``blockers``/``obj`` are then the
                      first record (source directory).
      logged_layer -- the 1-based layer the log's domain id stands for, when
                      the caller could rank it; checked against the policy.

    Returns an :class:`Blame`: the 1-based layer and policy file
    blamed, the missing rights as a sentence and as a landlockconfig TOML
    snippet to add, and whether the log is consistent with the policy (a
    reason when not).  Scope and ptrace targets are taken to be outside the
    domain; a lone reparenting record is checked on its directory only.
    """
    normalized = [normalize_blocker(b) for b in blockers]
    problem = _unmodelled(normalized) or (
        _unmodelled([normalize_blocker(b) for b in destination[0]]) if destination else None)
    if problem:
        return Blame(False, problem, ())
    explainer = _Blamer(policy)
    if destination is not None:
        return explainer.reparenting(normalized, obj, [normalize_blocker(b) for b in
                                                       destination[0]], destination[1],
                                     syscall, logged_layer)
    return explainer.single(normalized, obj, logged_layer)


def _unmodelled(blockers: Sequence[str]) -> Optional[str]:
    """Why the blockers of a record cannot be checked (None: they can)."""
    if not blockers:
        return "the record has no blockers"
    for name in blockers:
        if name in ("ptrace", "fs.change_topology"):
            continue
        found = right(name)
        if found is None:
            return f"cannot check: unknown blocker {name!r}"
        if found.newer_than_modelled:
            return f"cannot check: {name} is newer than Landlock ABI 7 (not modelled)"
    kinds = {name.split(".")[0] for name in blockers}
    if len(kinds) > 1 or (len(blockers) > 1 and kinds & {"ptrace", "scope"}):
        return "cannot check: blockers " + ",".join(blockers) + " cannot come from one request"
    return None


class _Blamer:
    """Blame with one policy: the forward model run on what a record describes."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.domain = Domain(policy.layers)

    def name(self, level: int) -> str:
        """A 0-based layer in words: ``layer 2 (home.toml)``."""
        return f"layer {level + 1} ({self.policy.sources[level]})"

    def single(self, blockers: List[str], obj: LoggedObject,
               logged_layer: Optional[int]) -> Blame:
        """Blame one record, by its kind of blocker."""
        first = blockers[0]
        if first == "ptrace":
            return self.ptrace(obj, logged_layer)
        if first == "fs.change_topology":
            return self.change_topology(obj, logged_layer)
        kind = first.split(".")[0]
        if kind == "scope":
            return self.scope(first, obj, logged_layer)
        if kind == "net":
            return self.net(blockers, obj, logged_layer)
        return self.fs(blockers, obj, logged_layer)

    # -- checks --------------------------------------------------------------

    def compare(self, logged: Sequence[str], found: Optional[PredictedDenial],
                logged_layer: Optional[int], what: str) -> Optional[str]:
        """Why the logged record disagrees with the simulated one (None: it agrees)."""
        if found is None:
            return f"the policy allows {','.join(logged)} {what}: this denial cannot come from it"
        if sorted(found.blockers) != sorted(logged):
            return (f"the policy's youngest denying layer ({found.layer}) would block "
                    f"{','.join(found.blockers)} {what}, not {','.join(logged)}")
        if logged_layer is not None and logged_layer != found.layer:
            return (f"the log names layer {logged_layer} but the policy's youngest denying "
                    f"layer is {found.layer}")
        return None

    def fs(self, blockers: List[str], obj: LoggedObject,
           logged_layer: Optional[int]) -> Blame:
        """Blame a filesystem denial."""
        path = obj.get("path")
        if not isinstance(path, str) or not path.startswith("/"):
            return Blame(False, "cannot check: the record has no absolute path", ())
        access = sum(known_right(b).mask for b in blockers)
        if access & IOCTL_DEV:
            number = _ioctl_number(obj.get("ioctlcmd"))
            if number is not None and syscalls.is_always_allowed_ioctl(number):
                return Blame(False, f"ioctl command {number:#x} "
                                   f"({syscalls.ioctl_name(number)}) is always allowed on "
                                   "devices: this denial cannot come from Landlock", ())
        path = normalize_path(path)
        denied = self.domain.check_path(path, access)
        opened_under: Optional[int] = None  # the layers when the file was opened
        if (denied is not None and logged_layer is not None and not access & ~OPTIONAL_ACCESS
                and 0 < logged_layer < denied.layer + 1):
            # truncate and ioctl_dev are charged with the layers enforced when
            # the file was opened: maybe only the first logged_layer ones.
            earlier = Domain(self.policy.layers[:logged_layer]).check_path(path, access)
            if earlier is not None and earlier.layer + 1 == logged_layer:
                denied, opened_under = earlier, logged_layer
        found = None if denied is None else PredictedDenial(
            denied.layer + 1, self.policy.sources[denied.layer],
            tuple(mask_to_names("fs", denied.missing)), {"path": path})
        reason = self.compare(blockers, found, logged_layer, f"on {path}")
        if found is None:
            return Blame(False, reason, ())
        finding = self.fs_finding(found, path, access)
        if opened_under is not None:
            finding = replace(finding, sentence=finding.sentence + (
                f" The file was opened before layer {opened_under + 1} was enforced: "
                "truncate and ioctl are checked with the layers of that time."))
        return Blame(reason is None, reason, (finding,))

    def fs_finding(self, found: PredictedDenial, path: str, access: int) -> Finding:
        """What to say and add about a filesystem denial the model predicts."""
        level = found.layer - 1
        missing = found.blockers
        _, masks = self.domain.init_fs_masks(access)
        self.domain.walk(path, access, masks)
        older = sorted({lvl + 1 for bit, layers in masks.items() for lvl in range(level)
                        if layers >> lvl & 1})
        bare = [known_right(name).name for name in missing]
        sentence = (f"{self.name(level).capitalize()} denied {','.join(missing)} on {path}: "
                    f"it handles {'them' if len(missing) > 1 else 'it'} and none of its "
                    f"[[path_beneath]] rules on {path} or a parent directory allows "
                    f"{'them' if len(missing) > 1 else 'it'}.")
        refer = known_right("fs.refer").mask
        if "fs.refer" in missing and not self.policy.layers[level].handled_fs & refer:
            sentence += (" That layer does not list refer, but the kernel denies moving files "
                         "between directories in every layer of a domain that handles "
                         "filesystem rights, unless a rule allows refer.")
        sentence += self.older_sentence(older)
        toml = _toml_snippet(self.policy.sources[level], found.layer, "path_beneath",
                             bare, "parent", json_string(path))
        for lvl in older:  # a snippet for each older layer that denies too
            lacking = [known_right(name).name for name in missing
                       if masks.get(known_right(name).bit, 0) >> (lvl - 1) & 1]
            toml += "\n" + _toml_snippet(self.policy.sources[lvl - 1], lvl, "path_beneath",
                                         lacking or bare, "parent", json_string(path))
        return Finding(found.layer, found.policy, missing, {"path": path}, tuple(older),
                       sentence, toml)

    def older_sentence(self, older: Sequence[int]) -> str:
        """The sentence naming the older (1-based) layers that deny it too."""
        if not older:
            return ""
        names = ", ".join(self.name(lvl - 1) for lvl in older)
        verb = "deny" if len(older) > 1 else "denies"
        return f" Older {names} {verb} it too: add the rule there as well."

    def reparenting(self, blockers1: List[str], obj1: LoggedObject, blockers2: List[str],
                    obj2: LoggedObject, syscall: Optional[str],
                    logged_layer: Optional[int]) -> Blame:
        """Blame the two records of a rename or link across directories."""
        source, destination = obj1.get("path"), obj2.get("path")
        if not (isinstance(source, str) and source.startswith("/")
                and isinstance(destination, str) and destination.startswith("/")):
            return Blame(False, "cannot check: a record has no absolute path", ())
        source_dir, destination_dir = normalize_path(source), normalize_path(destination)
        everything = set(blockers1) | set(blockers2)
        if syscall in RENAME_SYSCALLS or syscall in LINK_SYSCALLS:
            rename = syscall in RENAME_SYSCALLS
        else:
            rename = bool(everything & {"fs.remove_file", "fs.remove_dir"})
        kind = "dir" if everything & {"fs.remove_dir", "fs.make_dir"} else next(
            (k for k, mask in MAKE_RIGHT.items() if mask_to_names("fs", mask)[0] in blockers2),
            "file")
        options = Options(kind=kind, replace=rename and bool(
            set(blockers2) & {"fs.remove_file", "fs.remove_dir"}))
        outcome = simulate(self.policy, "rename" if rename else "link",
                           [posixpath.join(source_dir, _UNKNOWN_ENTRY),
                            posixpath.join(destination_dir, _UNKNOWN_ENTRY)], options)
        simulated = {d.object["path"]: d for d in outcome.denials}
        findings = []
        reasons = []
        for logged, directory in ((blockers1, source_dir), (blockers2, destination_dir)):
            found = simulated.get(directory)
            reason = self.compare(logged, found, logged_layer, f"on {directory}")
            if reason:
                reasons.append(reason)
            if found is not None:
                findings.append(self.fs_finding(found, directory, sum(
                    known_right(b).mask for b in found.blockers)))
        reason = "; ".join(reasons) or None
        return Blame(reason is None, reason, tuple(findings))

    def net(self, blockers: List[str], obj: LoggedObject,
            logged_layer: Optional[int]) -> Blame:
        """Blame a TCP bind or connect denial."""
        bind = blockers == ["net.bind_tcp"]
        port = _port(obj.get("src" if bind else "dest"))
        if port is None:
            return Blame(False, "cannot check: the record has no port", ())
        outcome = simulate(self.policy, "bind" if bind else "connect", [str(port)])
        found = outcome.denials[0] if outcome.denials else None
        reason = self.compare(blockers, found, logged_layer, f"on port {port}")
        if found is None:
            return Blame(False, reason, ())
        level = found.layer - 1
        bare = [known_right(b).name for b in found.blockers]
        mask = known_right(found.blockers[0]).mask
        older = [lvl + 1 for lvl, layer in enumerate(self.policy.layers[:level])
                 if layer.handled_net & mask and not layer.port_rules.get(port, 0) & mask]
        sentence = (f"{self.name(level).capitalize()} denied {','.join(found.blockers)} on "
                    f"port {port}: it handles it and none of its [[net_port]] rules allows "
                    f"port {port}." + self.older_sentence(older))
        toml = "\n".join(_toml_snippet(source, number, "net_port", bare, "port", str(port))
                         for source, number in [(found.policy, found.layer)] + [
                             (self.policy.sources[lvl - 1], lvl) for lvl in older])
        finding = Finding(found.layer, found.policy, found.blockers, dict(found.object),
                          tuple(older), sentence, toml)
        return Blame(reason is None, reason, (finding,))

    def scope(self, blocker: str, obj: LoggedObject,
              logged_layer: Optional[int]) -> Blame:
        """Blame a signal or abstract UNIX socket denial."""
        operation = "signal" if blocker == "scope.signal" else "abstract-connect"
        outcome = simulate(self.policy, operation, [])
        found = outcome.denials[0] if outcome.denials else None
        if found is None:
            return Blame(False, f"no layer of the policy scopes {blocker.split('.')[1]}: "
                               "this denial cannot come from it", ())
        reason = self.compare([blocker], found, logged_layer, "")
        level = found.layer - 1
        short = blocker.split(".")[1]
        older = [lvl + 1 for lvl in range(level)
                 if self.policy.layers[lvl].scoped & known_right(blocker).mask]
        what = ("send a signal to" if short == "signal"
                else "connect to an abstract UNIX socket of")
        sentence = (f"{self.name(level).capitalize()} is the youngest layer scoping {short}: "
                    f"a process in this domain may not {what} a process outside it. No rule "
                    f"can allow this: remove \"{short}\" from the scoped rights of "
                    + ("these layers" if older else "that layer")
                    + ", or start the other process inside the domain.")
        if older:
            names = ", ".join(self.name(lvl - 1) for lvl in older)
            sentence += f" Older {names} scope it too."
        toml = "\n".join(f"# {toml_comment(source)} (layer {number}): no rule can allow "
                         f"this; remove \"{short}\" from [[ruleset]] scoped"
                         for source, number in [(found.policy, found.layer)] + [
                             (self.policy.sources[lvl - 1], lvl) for lvl in older])
        finding = Finding(found.layer, found.policy, (blocker,), dict(obj), tuple(older),
                          sentence, toml)
        return Blame(reason is None, reason, (finding,))

    def ptrace(self, obj: LoggedObject, logged_layer: Optional[int]) -> Blame:
        """Blame a ptrace denial (the tracer's youngest layer)."""
        level = self.domain.num_layers - 1
        found = PredictedDenial(level + 1, self.policy.sources[level], ("ptrace",), dict(obj))
        reason = self.compare(["ptrace"], found, logged_layer, "")
        sentence = (f"{self.name(level).capitalize()} is the youngest layer of the tracer's "
                    "domain: a sandboxed process may only trace (or read the memory of) "
                    "processes inside its own domain. No rule can allow this.")
        toml = (f"# {toml_comment(found.policy)} (layer {found.layer}): no rule can allow "
                "ptrace "
                "outside the domain")
        return Blame(reason is None, reason,
                     (Finding(found.layer, found.policy, ("ptrace",), dict(obj), (),
                              sentence, toml),))

    def change_topology(self, obj: LoggedObject,
                        logged_layer: Optional[int]) -> Blame:
        """Blame a mount-like denial (the youngest layer handling fs rights)."""
        level = next((lvl for lvl in reversed(range(self.domain.num_layers))
                      if self.policy.layers[lvl].handled_fs), None)
        if level is None:
            return Blame(False, "no layer of the policy handles filesystem rights: "
                                "fs.change_topology cannot come from it", ())
        found = PredictedDenial(level + 1, self.policy.sources[level], ("fs.change_topology",),
                                dict(obj))
        reason = self.compare(["fs.change_topology"], found, logged_layer, "")
        sentence = (f"{self.name(level).capitalize()} is the youngest layer handling "
                    "filesystem rights: mounting, unmounting and pivot_root are always "
                    "denied in such a domain. No rule can allow this.")
        toml = (f"# {toml_comment(found.policy)} (layer {found.layer}): no rule can allow "
                "mount operations")
        return Blame(reason is None, reason,
                     (Finding(found.layer, found.policy, ("fs.change_topology",),
                              dict(obj), (), sentence, toml),))


def _port(value: ObjectValue) -> Optional[int]:
    """A logged port (src=, dest=) as a number; None when the record has none
    (or none a TCP port can be)."""
    if value is None:
        return None
    if isinstance(value, str) and len(value) > 8:
        return None
    try:
        port = int(value)
    except (TypeError, ValueError):
        return None
    return port if 0 <= port <= MAX_PORT else None


def _ioctl_number(value: ObjectValue) -> Optional[int]:
    """A logged ioctl command (``0x541b``) as a number; None when it is none."""
    if isinstance(value, int):
        return value
    if not isinstance(value, str) or len(value) > 18:
        return None
    try:
        return int(value, 16)
    except ValueError:
        return None


def json_string(text: str) -> str:
    """A value as JSON text (a path: every byte that is not UTF-8 kept as
    ``\\udcXX``); :func:`_toml_snippet` reads it back."""
    return json.dumps(text)


# Characters a snippet writes as escapes (TOML ``\\uXXXX`` in a string, the
# same text in a comment): controls, invisible and bidirectional format
# characters, separators, surrogates (bytes that were not UTF-8), private
# use and unassigned code points.  A snippet is then safe to print on a
# terminal as it is, and still valid TOML to copy.
_ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})


def _escape_char(char: str) -> str:
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (in a comment)
        return f"\\x{code - 0xDC00:02X}"
    return f"\\u{code:04X}" if code <= 0xFFFF else f"\\U{code:08X}"


def _visible(text: str) -> str:
    """TOML text (or a comment) with every character of
    _ESCAPED_CATEGORIES but the newline written as an escape (valid in a
    basic string; in a comment, text TOML allows)."""
    return "".join(_escape_char(c) if c != "\n" and unicodedata.category(c)
                   in _ESCAPED_CATEGORIES else c for c in text)


def toml_comment(text: str) -> str:
    """``text`` (a policy file name...) as a TOML comment's text: one line,
    no control character, every byte shown."""
    return "".join(_escape_char(c) if unicodedata.category(c) in _ESCAPED_CATEGORIES
                   else c for c in text)


def _toml_snippet(source: str, layer: int, table: str, names: Sequence[str],
                  key: str, value: str) -> str:
    """The landlockconfig rule to add to a layer's file, as TOML written by
    :mod:`lldecode.landlock.policy_writer` (``value``: the path or port as
    JSON text, see :func:`json_string`).  A path that is not UTF-8 cannot be
    written in TOML: the snippet says so and gives the policy's JSON form."""
    rule = {"allowed_access": list(names), key: [json.loads(value)]}
    head = f"# add to {toml_comment(source)} (layer {layer})"
    try:
        return head + "\n" + _visible(toml_document({table: [rule]}))
    except NotRepresentable:
        return (head + ": the path is not valid UTF-8, which TOML cannot hold; "
                "the rule in the policy's JSON form:\n"
                + json.dumps({table: [rule]}) + "\n")
