"""Suggest: the landlockconfig rules that would allow denied requests, checked.

This is the kernel-model half of ``lldecode suggest`` (the log half,
:mod:`lldecode.analysis.suggest`, turns logged denials into
:class:`Request` values).  :func:`suggest_rules` takes the requests and,
optionally, the policy files the sandbox enforced (one per layer, oldest
first), and:

- derives, for each request and each layer that denies it, the rule with
  exactly the missing rights: file rights (``execute``, ``read_file``,
  ``write_file``, ``truncate``, ``ioctl_dev``) on the file, directory rights
  (``make_*``, ``remove_*``, ``read_dir``, ``refer``) on the directory that
  holds the entry, a ``[[net_port]]`` rule for ``bind_tcp``/``connect_tcp``;
  a rename or link across directories gets ``refer`` on both sides, the
  ``remove_*`` right at the source and the ``make_*`` right at the
  destination, and the rights the file would gain by moving are granted at
  the source too (the kernel requires the destination's rights to be a
  subset of the source's);
- places it as asked (:class:`Scope`: the object, its directory, a parent,
  or a prefix) and merges rules (same rights, same parent directory: one
  entry; ``merge_depth`` allows one rule on a common ancestor);
- writes the updated documents (TOML appended to the file's text so its
  comments stay; JSON rewritten; a path that is not UTF-8 cannot be TOML,
  the layer is then given as JSON), spelling rights with the ``abi.*``
  groups where one matches the document's ``abi``;
- verifies: every request is checked again, with the model of
  :mod:`lldecode.landlock.simulate`, under the policy parsed back from the
  updated documents, and must be allowed; ``handled_access_*`` is never
  widened (``refer`` aside, which every layer handling filesystem rights
  already checks) and a scope is removed from ``scoped`` only when asked.

Without a policy, each logged domain is modelled as one layer handling the
rights its denials name, and the rules are given per domain (older layers of
that domain may deny too: the log names only the youngest denying layer).

What no rule can allow is said: ``scope.signal`` and
``scope.abstract_unix_socket`` (only removing the scope helps: pass it in
``allow_scopes``), ``ptrace``, ``fs.change_topology``, a right no layer of
the policy denies (the log cannot come from it), rights newer than the
model, objects with no absolute path.
"""

from __future__ import annotations

import difflib
import json
import os
import posixpath
import re
import shutil
import sys
import unicodedata
from dataclasses import dataclass, field, replace
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - see lldecode.landlock.policy
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

from lldecode.landlock.access import all_mask, fs_mask, known_right, mask_to_names, right
from lldecode.landlock.checks import ACCESS_FILE, MAKE_RIGHT, REFER, Domain, ancestors
from lldecode.landlock.policy import Layer, Policy, PolicyError, normalize_path, parse_layer
from lldecode.landlock.policy_writer import (
    NotRepresentable,
    json_document,
    representable_in_toml,
    toml_document,
    toml_value,
)
from lldecode.landlock.simulate import Options, SimulationError, simulate

# A name no rule can hold: the unknown entry of a directory the kernel logged.
UNKNOWN_ENTRY = "\0entry"
# The scopes, by bare name.
SCOPES = ("signal", "abstract_unix_socket")
# The abi.* groups of filesystem rights, largest first.
_FS_GROUPS = ("abi.all", "abi.read_write", "abi.read_execute")
# Rights a rename or link asks for itself.
_REMOVE = {"dir": fs_mask("remove_dir")}
_JSON_KEYS = {"path_beneath": "pathBeneath", "net_port": "netPort",
              "allowed_access": "allowedAccess"}


class SuggestError(ValueError):
    """An option the suggestion cannot take (a bad scope)."""


# -- the input ----------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """One denied operation, as the model needs it.

    ``blockers``: the dotted names the record(s) list; ``path``: the logged
    object (a file, or the directory of an entry made or removed); for a
    rename or link across directories (``operation`` "rename" or "link"),
    ``path`` is the source directory and ``destination`` the destination
    directory, ``file_kind`` what moved (file, dir, symlink...), ``replace``
    whether the destination existed; ``port`` for bind/connect; ``records``
    the denials it stands for (repeats included); ``what`` says it in words
    (log text: escape it to show it); ``scope`` overrides the placement
    (``--interactive``); ``decision`` "skip" or "deny" leaves it out.
    """

    domain: str
    blockers: Tuple[str, ...]
    what: str = ""
    path: Optional[str] = None
    destination: Optional[str] = None
    operation: Optional[str] = None
    file_kind: str = "file"
    replace: bool = False
    port: Optional[int] = None
    records: int = 1
    scope: Optional[str] = None
    decision: Optional[str] = None

    @property
    def kind(self) -> str:
        """fs, reparent, net, scope, ptrace, topology or unknown."""
        names = self.blockers
        if not names:
            return "unknown"
        if names[0] == "ptrace":
            return "ptrace"
        if names[0] == "fs.change_topology":
            return "topology"
        found = [right(n) for n in names]
        if any(r is None or r.newer_than_modelled for r in found):
            return "unknown"
        kinds = {r.kind for r in found if r is not None}
        if kinds == {"fs"}:
            return "reparent" if self.destination is not None else "fs"
        if kinds == {"net"}:
            return "net"
        if kinds == {"scope"} and len(names) == 1:
            return "scope"
        return "unknown"

    @property
    def access(self) -> int:
        """The fs rights the record(s) list, as a mask (0 for other kinds)."""
        mask = 0
        for name in self.blockers:
            found = right(name)
            if found is not None and found.kind == "fs":
                mask |= found.mask
        return mask


@dataclass(frozen=True)
class Scope:
    """Where a rule goes: ``file`` (the object), ``dir`` (its directory),
    ``parent:N`` (N directories above the object), ``under:PREFIX``."""

    kind: str = "file"
    levels: int = 0
    prefix: str = ""

    @classmethod
    def parse(cls, text: str) -> "Scope":
        """A scope from its option text (SuggestError when it is none)."""
        if text in ("file", "dir"):
            return cls(text)
        name, _, value = text.partition(":")
        if name == "parent" and value.isascii() and value.isdigit() and len(value) <= 4:
            return cls("parent", int(value))
        if name == "under" and value:
            if "\0" in value:
                raise SuggestError("--scope under:PREFIX: the prefix holds a NUL character")
            return cls("under", prefix=normalize_path(value, "/"))
        raise SuggestError(f"unknown scope {text!r} (file, dir, parent:N or under:PREFIX)")

    def place(self, path: str, rights: int) -> str:
        """Where a rule granting ``rights`` for the object ``path`` goes.

        File rights are placed from the file, directory rights from the
        directory the kernel logged (it holds the entry made or removed)."""
        if self.kind == "file":
            return path
        if self.kind == "dir":
            return posixpath.dirname(path) if rights & ACCESS_FILE else path
        if self.kind == "parent":
            placed = path
            for _ in range(self.levels):
                placed = posixpath.dirname(placed)
            return placed
        prefix = self.prefix
        if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
            return prefix
        return path

    def __str__(self) -> str:
        if self.kind == "parent":
            return f"parent:{self.levels}"
        if self.kind == "under":
            return f"under:{self.prefix}"
        return self.kind


# -- the output ---------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """A rule added: its table (``path_beneath`` or ``net_port``), the
    dotted rights, the paths or ports, the 1-based layer (None without a
    policy) and the domain(s) whose denials asked for it."""

    table: str
    rights: Tuple[str, ...]
    targets: Tuple[Union[str, int], ...]
    layer: Optional[int] = None
    source: Optional[str] = None
    domains: Tuple[str, ...] = ()

    def as_dict(self) -> Dict[str, Any]:
        """The rule as plain values (for JSON)."""
        return {"table": self.table, "rights": list(self.rights), "targets": list(self.targets),
                "layer": self.layer, "policy": self.source, "domains": list(self.domains)}


@dataclass
class LayerDocument:
    """One layer's policy file: as read, and as updated."""

    source: str
    layer: int
    format: str
    original: str
    text: str
    document: Dict[str, Any]
    rules: List[Rule] = field(default_factory=list)
    dropped_scopes: List[str] = field(default_factory=list)
    original_format: str = "toml"

    @property
    def changed(self) -> bool:
        """Does the update differ from the file?"""
        return self.text != self.original or self.format != self.original_format

    @property
    def output_name(self) -> str:
        """The file's name, with ``.json`` when it had to become JSON."""
        name = self.source
        if self.format != self.original_format:
            name = posixpath.splitext(name)[0] + "." + self.format
        return name

    def as_format(self, fmt: str) -> Tuple[str, str]:
        """(file name, text) of the updated document in ``fmt`` (toml or
        json); NotRepresentable when a path cannot be TOML."""
        if fmt == self.format:
            return self.output_name, self.text
        base = posixpath.splitext(self.source)[0]
        if fmt == "json":
            return base + ".json", json_document(self.document)
        return base + ".toml", toml_document(self.document)


@dataclass
class Unallowed:
    """A request the suggested policy does not allow, and why."""

    what: str
    records: int
    reason: str


@dataclass
class Verification:
    """Every request checked again under the suggested policy."""

    total: int = 0
    allowed: int = 0
    failures: List[Unallowed] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Is every denial allowed?"""
        return self.total > 0 and self.allowed == self.total

    @property
    def summary(self) -> str:
        """``N of N denials allowed by the suggested policy``."""
        return f"{self.allowed} of {self.total} denials allowed by the suggested policy"

    def as_dict(self) -> Dict[str, Any]:
        """The verification as plain values (for JSON)."""
        return {"total": self.total, "allowed": self.allowed, "ok": self.ok,
                "summary": self.summary,
                "not_allowed": [{"what": f.what, "denials": f.records, "reason": f.reason}
                                for f in self.failures]}


@dataclass
class Suggestion:
    """What :func:`suggest_rules` found: the updated layer documents (with a
    policy), the rules added, the rules per domain, the verification and
    the notes (what no rule can allow, older layers...)."""

    documents: List[LayerDocument]
    rules: List[Rule]
    domains: Dict[str, List[Rule]]
    verification: Verification
    notes: List[str]
    policy: Optional[Policy]
    # without a policy: the rules of each domain as a landlockconfig document
    snippets: Dict[str, Dict[str, Any]] = field(default_factory=dict)

    def diff(self) -> str:
        """A unified diff of the policy files (empty when nothing changed)."""
        parts: List[str] = []
        for doc in self.documents:
            if not doc.changed:
                continue
            old_name = doc.source
            new_name = doc.output_name
            original = doc.original if doc.format == doc.original_format else ""
            if doc.format != doc.original_format:
                old_name = "/dev/null"
            parts.extend(difflib.unified_diff(
                original.splitlines(keepends=True), _ended(doc.text).splitlines(keepends=True),
                "a/" + old_name.lstrip("/") if old_name != "/dev/null" else old_name,
                "b/" + new_name.lstrip("/")))
        return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of "
                       "file\n" for line in parts)

    def write(self, directory: Optional[str] = None, in_place: bool = False,
              fmt: Optional[str] = None) -> List[str]:
        """Write the updated files: into ``directory`` (by their base
        names), or in place (``in_place``: the file is first copied to
        FILE.orig).  ``fmt`` (toml or json) converts them.  Returns the
        paths written."""
        written = []
        for doc in self.documents:
            if not doc.changed and directory is None:
                continue
            name, text = doc.as_format(fmt or doc.format)
            if in_place:
                target = name
                if os.path.exists(doc.source):
                    shutil.copy2(doc.source, doc.source + ".orig")
            else:
                target = os.path.join(directory or ".", posixpath.basename(name))
            with open(target, "w", encoding="utf-8", errors="surrogateescape") as stream:
                stream.write(text)
            written.append(target)
        return written

    def as_dict(self) -> Dict[str, Any]:
        """The suggestion as plain values (for JSON)."""
        return {
            "rules": [r.as_dict() for r in self.rules],
            "domains": {d: [r.as_dict() for r in rules] for d, rules in self.domains.items()},
            "layers": [{"layer": d.layer, "policy": d.source, "format": d.format,
                        "changed": d.changed, "output": d.output_name,
                        "dropped_scopes": list(d.dropped_scopes)} for d in self.documents],
            "verification": self.verification.as_dict(),
            "notes": list(self.notes),
        }


def _ended(text: str) -> str:
    return text if text.endswith("\n") else text + "\n"


# -- reading the policy files -----------------------------------------------------


@dataclass
class _Source:
    """A policy file: its text, its format, its document and its layer."""

    path: str
    text: str
    format: str
    document: Dict[str, Any]
    layer: Layer
    denied: List[Tuple[Any, ...]] = field(default_factory=list)


# A request answered "deny forever" is remembered in the youngest TOML layer
# as a comment: this mark, then a JSON array (ASCII: no log byte can end the
# comment) of the blockers, the object and the destination.
DENY_MARK = "# lldecode suggest: denied on purpose: "


def deny_key(request: Request) -> Tuple[Any, ...]:
    """What a "deny forever" answer remembers of a request."""
    target: Union[str, int, None] = request.port if request.kind == "net" else request.path
    return (list(request.blockers), target, request.destination)


def _denied_in(text: str) -> List[Tuple[Any, ...]]:
    found = []
    for line in text.splitlines():
        if line.startswith(DENY_MARK):
            try:
                value = json.loads(line[len(DENY_MARK):])
            except ValueError:
                continue
            if isinstance(value, list) and len(value) == 3:
                found.append(tuple(value))
    return found


def read_sources(paths: Sequence[str], cwd: Optional[str] = None) -> List[_Source]:
    """Read each policy file (its text is needed to write it back)."""
    if not paths:
        raise PolicyError("a policy needs at least one layer file")
    sources = []
    for path in paths:
        try:
            with open(path, encoding="utf-8") as stream:
                text = stream.read()
        except (OSError, UnicodeDecodeError) as exc:
            raise PolicyError(f"{path}: cannot read: {exc}") from None
        suffix = posixpath.splitext(path)[1].lower()
        fmt = suffix[1:] if suffix in (".json", ".toml") else (
            "json" if text.lstrip().startswith("{") else "toml")
        layer = parse_layer(text, path, fmt, cwd)
        document: Dict[str, Any] = tomllib.loads(text) if fmt == "toml" else json.loads(text)
        sources.append(_Source(path, text, fmt, document, layer, _denied_in(text)))
    return sources


# -- deriving the rules -------------------------------------------------------------


@dataclass
class _Additions:
    """The rules added to one layer (or one domain's model layer)."""

    paths: Dict[str, int] = field(default_factory=dict)
    ports: Dict[int, int] = field(default_factory=dict)
    domains: Dict[Tuple[str, Union[str, int]], List[str]] = field(default_factory=dict)

    def add_path(self, path: str, rights: int, domain: str) -> None:
        if rights:
            self.paths[path] = self.paths.get(path, 0) | rights
            _remember(self.domains.setdefault(("path", path), []), domain)

    def add_port(self, port: int, rights: int, domain: str) -> None:
        if rights:
            self.ports[port] = self.ports.get(port, 0) | rights
            _remember(self.domains.setdefault(("port", port), []), domain)


def _remember(items: List[str], item: str) -> None:
    if item not in items:
        items.append(item)


def _with_rules(layer: Layer, additions: _Additions) -> Layer:
    """The layer with the added rules (their rights added to the handled
    ones, as landlockconfig does)."""
    paths = dict(layer.path_rules)
    for path, rights in additions.paths.items():
        paths[path] = paths.get(path, 0) | rights
    ports = dict(layer.port_rules)
    for port, rights in additions.ports.items():
        ports[port] = ports.get(port, 0) | rights
    handled_fs = layer.handled_fs
    for rights in additions.paths.values():
        handled_fs |= rights
    handled_net = layer.handled_net
    for rights in additions.ports.values():
        handled_net |= rights
    return replace(layer, handled_fs=handled_fs, handled_net=handled_net,
                   path_rules=paths, port_rules=ports)


def granted(layer: Layer, directory: str, mount_root: str = "/") -> int:
    """The fs rights a layer's rules grant at ``directory`` (rules on it and
    on each directory above it, up to the mount root)."""
    rights = 0
    for current in ancestors(directory):
        rights |= layer.path_rules.get(current, 0)
        if current == mount_root:
            break
    return rights


def checked(layer: Layer) -> int:
    """The fs rights a layer checks (refer too when it handles any)."""
    return layer.handled_fs | REFER if layer.handled_fs else 0


class _Deriver:
    """Rules for requests, layer by layer, placed and recorded."""

    def __init__(self, layers: List[Layer], scope: Scope, mount_root: str) -> None:
        self.layers = layers
        self.additions = [_Additions() for _ in layers]
        self.scope = scope
        self.mount_root = mount_root

    def current(self, level: int) -> Layer:
        return _with_rules(self.layers[level], self.additions[level])

    def place(self, request: Request, path: str, rights: int) -> List[Tuple[str, int]]:
        """The rules for ``rights`` on the object ``path``: file and
        directory rights placed apart."""
        scope = Scope.parse(request.scope) if request.scope else self.scope
        out = []
        for part in (rights & ACCESS_FILE, rights & ~ACCESS_FILE):
            if part:
                out.append((scope.place(path, part), part))
        return out

    def fs(self, request: Request) -> None:
        path = request.path
        assert path is not None
        for level in range(len(self.layers)):
            layer = self.current(level)
            denial = Domain([layer]).check_path(path, request.access)
            if denial is None:
                continue
            for placed, rights in self.place(request, path, denial.missing):
                self.additions[level].add_path(placed, rights, request.domain)

    def reparent(self, request: Request) -> None:
        source, destination = request.path, request.destination
        assert source is not None and destination is not None
        kind = request.file_kind if request.file_kind in MAKE_RIGHT else "file"
        remove = fs_mask("remove_dir") if kind == "dir" else fs_mask("remove_file")
        need_source = REFER | (remove if request.operation == "rename" else 0)
        need_destination = REFER | MAKE_RIGHT[kind] | (remove if request.replace else 0)
        compared = ~0 if kind == "dir" else ACCESS_FILE
        for level in range(len(self.layers)):
            for _ in range(3):  # the gained rights may need one more round
                layer = self.current(level)
                if not layer.handled_fs:
                    break
                mask = checked(layer)
                at_source = granted(layer, source, self.mount_root)
                at_destination = granted(layer, destination, self.mount_root)
                add_source = need_source & ~at_source & mask
                add_destination = need_destination & ~at_destination & mask
                gained = (at_destination | add_destination) & ~(at_source | add_source)
                add_source |= gained & compared & mask
                if not add_source and not add_destination:
                    break
                for path, rights in ((source, add_source), (destination, add_destination)):
                    for placed, part in self.place(request, path, rights):
                        self.additions[level].add_path(placed, part, request.domain)

    def net(self, request: Request) -> None:
        port = request.port
        assert port is not None
        mask = 0
        for name in request.blockers:
            mask |= known_right(name).mask
        for level in range(len(self.layers)):
            layer = self.current(level)
            missing = layer.handled_net & mask & ~layer.port_rules.get(port, 0)
            self.additions[level].add_port(port, missing, request.domain)


# -- merging ------------------------------------------------------------------------


def merge_upward(paths: Dict[str, int], depth: int) -> Tuple[Dict[str, int], List[str]]:
    """Rules with the same rights whose paths share an ancestor at most
    ``depth`` levels up become one rule there (never ``/``).  Returns the
    rules and notes."""
    notes: List[str] = []
    rules = dict(paths)
    climbed = {path: 0 for path in rules}  # how far above its objects a rule is
    for level in range(1, depth + 1):
        groups: Dict[Tuple[int, str], List[str]] = {}
        for path, rights in rules.items():
            ancestor = path
            for _ in range(level - climbed[path]):
                ancestor = posixpath.dirname(ancestor)
            groups.setdefault((rights, ancestor), []).append(path)
        for (rights, ancestor), members in groups.items():
            if len(members) < 2 or any(m not in rules for m in members):
                continue
            if ancestor == "/":
                _remember(notes, f"not merged into one rule on /: {len(members)} rules with "
                                 f"{','.join(mask_to_names('fs', rights))}")
                continue
            for member in members:
                del rules[member]
            rules[ancestor] = rules.get(ancestor, 0) | rights
            climbed[ancestor] = level
    return _without_covered(rules), notes


def _without_covered(rules: Dict[str, int]) -> Dict[str, int]:
    """Drop a rule whose rights a rule on a directory above it grants."""
    kept = {}
    for path, rights in rules.items():
        above = 0
        for ancestor in list(ancestors(path))[1:]:
            above |= rules.get(ancestor, 0)
        if rights & ~above:
            kept[path] = rights
    return kept


# -- writing ------------------------------------------------------------------------


def access_names(kind: str, rights: int, abi: Optional[int]) -> List[str]:
    """landlockconfig names for ``rights``: an ``abi.*`` group where one is
    included in them (the document's ``abi`` given), then the bare names."""
    if abi is not None:
        groups = _FS_GROUPS if kind == "fs" else ("abi.all",)
        for group in groups:
            mask = _group_mask(kind, group, abi)
            if mask and not mask & ~rights:
                rest = [known_right(n).name for n in mask_to_names(kind, rights & ~mask)]
                return [group] + rest
    return [known_right(n).name for n in mask_to_names(kind, rights)]


def _group_mask(kind: str, group: str, abi: int) -> int:
    everything = all_mask(kind, abi)
    if group == "abi.all":
        return everything
    if group == "abi.read_execute":
        return everything & fs_mask("execute", "read_file", "read_dir", "refer")
    return everything & ~fs_mask("execute")


def rule_entries(additions: _Additions, abi: Optional[int], camel: bool
                 ) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
    """The ``[[path_beneath]]`` and ``[[net_port]]`` entries of the added
    rules: rules with the same rights and the same parent directory share
    an entry; ports with the same rights too."""
    allowed_key = "allowedAccess" if camel else "allowed_access"
    by_parent: Dict[Tuple[int, str], List[str]] = {}
    for path in sorted(additions.paths):
        rights = additions.paths[path]
        by_parent.setdefault((rights, posixpath.dirname(path)), []).append(path)
    paths = [{allowed_key: access_names("fs", rights, abi), "parent": members}
             for (rights, _), members in sorted(by_parent.items(), key=lambda i: i[1][0])]
    by_rights: Dict[int, List[int]] = {}
    for port in sorted(additions.ports):
        by_rights.setdefault(additions.ports[port], []).append(port)
    ports = [{allowed_key: access_names("net", rights, abi), "port": members}
             for rights, members in by_rights.items()]
    return paths, ports


def toml_safe(text: str) -> str:
    """TOML text with the characters a terminal could act on or that hide
    text (C1 controls, format characters such as bidirectional overrides,
    line and paragraph separators) written as escapes: they only occur
    inside the basic strings :func:`toml_document` writes, where an escape
    reads back as the same character."""
    out = []
    for char in text:
        if char in "\n\t" or char.isascii() and char.isprintable():
            out.append(char)
            continue
        if unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp", "Co", "Cn"):
            code = ord(char)
            out.append(f"\\u{code:04X}" if code <= 0xFFFF else f"\\U{code:08X}")
        else:
            out.append(char)
    return "".join(out)


def _toml_table_text(key: str, entries: List[Dict[str, Any]]) -> str:
    return toml_safe(toml_document({key: entries}))


def snippet_document(additions: _Additions, abi: Optional[int]) -> Dict[str, Any]:
    """The added rules as a landlockconfig document holding only them
    (``path_beneath`` and ``net_port`` entries, each key only when it has
    one)."""
    paths, ports = rule_entries(additions, abi, False)
    document: Dict[str, Any] = {}
    if paths:
        document["path_beneath"] = paths
    if ports:
        document["net_port"] = ports
    return document


def additions_of(rules: Sequence[Rule]) -> _Additions:
    """The rules given, gathered again by target (path or port)."""
    additions = _Additions()
    for rule in rules:
        mask = 0
        for name in rule.rights:
            mask |= known_right(name).mask
        for target in rule.targets:
            if rule.table == "path_beneath" and isinstance(target, str):
                additions.paths[target] = additions.paths.get(target, 0) | mask
            elif isinstance(target, int):
                additions.ports[target] = additions.ports.get(target, 0) | mask
    return additions


def _updated_text(source: _Source, document: Dict[str, Any], additions: _Additions,
                  rewrite: bool) -> Tuple[str, str, Dict[str, Any], Optional[str]]:
    """(format, text, document, note) of a layer file with the rules added."""
    camel = any(k in source.document for k in ("pathBeneath", "netPort", "handledAccessFs")) \
        or source.format == "json" and not any(k in source.document
                                               for k in ("path_beneath", "net_port"))
    abi = document.get("abi") if isinstance(document.get("abi"), int) else None
    paths, ports = rule_entries(additions, abi, camel)
    updated = json.loads(json.dumps(document))
    keys = []
    for table, entries in (("path_beneath", paths), ("net_port", ports)):
        if not entries:
            continue
        key = _existing_key(updated, table) or (_JSON_KEYS[table] if camel else table)
        updated.setdefault(key, []).extend(entries)
        keys.append((key, entries))
    note = None
    if source.format == "json":
        return "json", json_document(updated), updated, None
    all_text = all(representable_in_toml(p) for e in paths for p in e["parent"])
    if not all_text:
        note = (f"{source.path}: a rule path is not valid UTF-8 and cannot be written in TOML: "
                "the layer is given in JSON")
        return "json", json_document(updated), updated, note
    base: Optional[str] = source.text
    if rewrite:  # scopes dropped: edit the scoped lines in place when that is enough
        base = _edit_scoped(source.text, document)
    if base is not None:
        text = base if base.endswith("\n") or not base else base + "\n"
        for key, entries in keys:
            text += "\n# added by lldecode suggest\n" + _toml_table_text(key, entries)
        try:
            tomllib.loads(text)
            return "toml", text, updated, None
        except tomllib.TOMLDecodeError:
            note = (f"{source.path}: its rules cannot be appended as tables (an inline "
                    "array?): the file is rewritten, without its comments")
    try:
        return "toml", toml_safe(toml_document(updated)), updated, note
    except (NotRepresentable, TypeError):
        return "json", json_document(updated), updated, (
            f"{source.path}: cannot be written back as TOML: the layer is given in JSON")


_SCOPED_LINE = re.compile(r'^([ \t]*)(scoped|"scoped")([ \t]*=[ \t]*)\[[^\]\n#]*\]', re.M)


def _edit_scoped(text: str, document: Dict[str, Any]) -> Optional[str]:
    """The TOML text with its ``scoped = [...]`` lines set to the
    document's, comments and all else kept; None when the text cannot be
    edited so (the values do not read back as the document)."""
    rulesets = document.get("ruleset")
    values = [r.get("scoped") for r in rulesets if isinstance(r, dict)] \
        if isinstance(rulesets, list) else []
    matches = list(_SCOPED_LINE.finditer(text))
    if not matches or len(matches) != len(values):
        return None
    out = []
    position = 0
    for match, value in zip(matches, values):
        out.append(text[position:match.start()])
        if value:
            out.append(f"{match.group(1)}{match.group(2)}{match.group(3)}{toml_value(value)}")
        position = match.end()
    out.append(text[position:])
    edited = "".join(out)
    try:
        if tomllib.loads(edited) != document:
            return None
    except tomllib.TOMLDecodeError:
        return None
    return edited


def _existing_key(document: Dict[str, Any], table: str) -> Optional[str]:
    for key in (table, _JSON_KEYS[table]):
        if key in document:
            return key
    return None


def _drop_scopes(document: Dict[str, Any], scopes: Sequence[str]) -> Tuple[Dict[str, Any],
                                                                            List[str]]:
    """The document without ``scopes`` in its rulesets' ``scoped`` (and the
    scopes it did drop)."""
    updated = json.loads(json.dumps(document))
    dropped: List[str] = []
    rulesets = updated.get("ruleset")
    if not isinstance(rulesets, list):
        return updated, dropped
    kept = []
    for ruleset in rulesets:
        if isinstance(ruleset, dict) and isinstance(ruleset.get("scoped"), list):
            abi = document.get("abi") if isinstance(document.get("abi"), int) else None
            before: List[Any] = []
            for item in ruleset["scoped"]:  # a group (abi.all) is spelled out
                if isinstance(item, str) and item.startswith("abi.") and abi is not None:
                    before.extend(access_names("scope", _group_mask("scope", item, abi), None))
                else:
                    before.append(item)
            after = [s for s in before if not (isinstance(s, str) and s.split(".")[-1]
                                               in scopes)]
            for s in before:
                if s not in after:
                    _remember(dropped, str(s).split(".")[-1])
            if len(after) == len(before):
                after = ruleset["scoped"]
            if after:
                ruleset["scoped"] = after
            else:
                del ruleset["scoped"]
        if ruleset:
            kept.append(ruleset)
    if kept:
        updated["ruleset"] = kept
    else:
        del updated["ruleset"]
    return updated, dropped


# -- the whole suggestion -----------------------------------------------------------


def suggest_rules(requests: Sequence[Request], policy_files: Optional[Sequence[str]] = None,
                  scope: Union[str, Scope] = "file", merge_depth: int = 0,
                  allow_scopes: Sequence[str] = (), mount_root: str = "/",
                  cwd: Optional[str] = None) -> Suggestion:
    """The rules that allow ``requests``, added to ``policy_files`` (one per
    layer, oldest first) when given, and verified.

    >>> requests = [Request("1b6b1616d", ("fs.read_file",), "openat /etc/passwd",
    ...                     path="/etc/passwd")]
    >>> result = suggest_rules(requests)
    >>> [(r.table, r.rights, r.targets) for r in result.rules]
    [('path_beneath', ('fs.read_file',), ('/etc/passwd',))]
    >>> result.verification.summary
    '1 of 1 denials allowed by the suggested policy'
    """
    if isinstance(scope, str):
        scope = Scope.parse(scope)
    if merge_depth < 0:
        raise SuggestError("--merge-depth must not be negative")
    for name in allow_scopes:
        if name not in SCOPES:
            raise SuggestError(f"unknown scope {name!r} (known: {', '.join(SCOPES)})")
    for request in requests:
        if request.scope:
            Scope.parse(request.scope)
    if policy_files:
        return _with_policy(requests, read_sources(policy_files, cwd), scope, merge_depth,
                            allow_scopes, mount_root, cwd)
    return _without_policy(requests, scope, merge_depth, allow_scopes, mount_root)


def _usable(request: Request, notes: List[str]) -> bool:
    """Can a rule allow this request?  If not, say why in ``notes``."""
    kind = request.kind
    if request.decision:
        return False
    if kind in ("fs", "reparent"):
        paths = [request.path] + ([request.destination] if kind == "reparent" else [])
        for path in paths:
            if path is None or not path.startswith("/"):
                _remember(notes, f"{request.what}: the record has no absolute path: no "
                                 "[[path_beneath]] rule can name it")
                return False
            if "\0" in path:
                _remember(notes, f"{request.what}: the path holds a NUL character: no rule "
                                 "can name it")
                return False
        return True
    if kind == "net":
        if request.port is None:
            _remember(notes, f"{request.what}: the record has no port")
            return False
        return True
    return False


def _cannot(request: Request, allow_scopes: Sequence[str]) -> Optional[str]:
    """Why no rule can allow the request (None: a rule can)."""
    kind = request.kind
    if kind == "scope":
        name = request.blockers[0].split(".")[1]
        if name in allow_scopes:
            return None
        return (f"{request.blockers[0]}: no rule can allow it; only removing \"{name}\" from "
                f"the scoped rights of the layers that scope it helps (--allow-scope {name}), "
                "or starting the other process inside the sandbox")
    if kind == "ptrace":
        return ("ptrace: no rule can allow a sandboxed process to trace or inspect a process "
                "outside its domain; run the tracer outside the sandbox or the target inside it")
    if kind == "topology":
        return ("fs.change_topology: no rule can allow mount changes inside a sandbox; set up "
                "mounts before enforcing the ruleset")
    if kind == "unknown":
        names = ",".join(request.blockers) or "no blocker"
        return f"{names}: not a right the model knows (newer than Landlock ABI 7?): no rule derived"
    return None


def _verify(requests: Sequence[Request], policy_of: Dict[str, Policy],
            original_of: Dict[str, Policy], allow_scopes: Sequence[str], mount_root: str,
            notes: List[str]) -> Verification:
    """Every request checked again under its suggested policy."""
    result = Verification()
    for request in requests:
        result.total += request.records
        if request.decision:
            decided = ("skipped" if request.decision == "skip"
                       else "denied on purpose (deny forever)")
            result.failures.append(Unallowed(request.what, request.records, decided))
            continue
        policy = policy_of.get(request.domain) or policy_of.get("")
        original = original_of.get(request.domain) or original_of.get("")
        reason = _cannot(request, allow_scopes)
        if reason is None and policy is not None:
            if original is not None and _allowed(request, original, mount_root) is True \
                    and request.kind in ("fs", "reparent", "net"):
                _remember(notes, _not_from(request, original))
            allowed = _allowed(request, policy, mount_root)
            if allowed is True:
                result.allowed += request.records
                continue
            reason = allowed or "still denied by the suggested policy"
        result.failures.append(Unallowed(request.what, request.records,
                                         reason or "no policy to check"))
    return result


def _not_from(request: Request, policy: Policy) -> str:
    """What to say of a denial the policy does not make."""
    names = ",".join(request.blockers)
    handled = 0
    for layer in policy.layers:
        handled |= layer.handled_net if request.kind == "net" else checked(layer)
    mask = 0
    for name in request.blockers:
        mask |= known_right(name).mask
    if mask & ~handled:
        return (f"{request.what}: no layer of the policy handles {names}: this denial cannot "
                "come from it, and no rule is added (a rule would widen handled_access_*)")
    return (f"{request.what}: the policy already allows {names} there: this denial cannot "
            "come from it (another policy, or rules changed since)")


def _allowed(request: Request, policy: Policy, mount_root: str) -> Union[bool, str]:
    """True when the policy allows the request, else why not (the model of
    lldecode.landlock.simulate)."""
    domain = Domain(policy.layers)
    kind = request.kind
    if kind == "fs":
        if request.path is None or "\0" in request.path or not request.path.startswith("/"):
            return "the record has no absolute path"
        denial = domain.check_path(normalize_path(request.path), request.access)
        if denial is None:
            return True
        return (f"layer {denial.layer + 1} still denies "
                f"{','.join(mask_to_names('fs', denial.missing))}")
    if kind == "reparent":
        assert request.path is not None and request.destination is not None
        options = Options(kind=request.file_kind if request.file_kind in MAKE_RIGHT else "file",
                          replace=request.replace, mount_root=mount_root)
        try:
            outcome = simulate(policy, request.operation or "rename",
                               [posixpath.join(request.path, UNKNOWN_ENTRY),
                                posixpath.join(request.destination, UNKNOWN_ENTRY)], options)
        except SimulationError as exc:
            return str(exc)
        if outcome.allowed:
            return True
        return "; ".join(f"layer {d.layer} still denies {','.join(d.blockers)} on "
                         f"{d.object.get('path')}" for d in outcome.denials) or "denied"
    if kind == "net":
        assert request.port is not None
        mask = 0
        for name in request.blockers:
            mask |= known_right(name).mask
        denial = domain.check_port(request.port, mask)
        if denial is None:
            return True
        return f"layer {denial.layer + 1} still denies port {request.port}"
    if kind == "scope":
        mask = known_right(request.blockers[0]).mask
        level = domain.scope_denial(mask, 0, 0)
        if level is None:
            return True
        return f"layer {level + 1} still scopes {request.blockers[0].split('.')[1]}"
    return "no rule can allow it"


def _derive(requests: Sequence[Request], deriver: _Deriver, notes: List[str]) -> None:
    for request in requests:
        if not _usable(request, notes):
            continue
        if request.kind == "fs":
            deriver.fs(request)
        elif request.kind == "reparent":
            deriver.reparent(request)
        else:
            deriver.net(request)


def _merged(additions: _Additions, merge_depth: int, notes: List[str]) -> _Additions:
    paths, merge_notes = merge_upward(additions.paths, merge_depth)
    for note in merge_notes:
        _remember(notes, note)
    out = _Additions(paths, dict(additions.ports), {})
    for path in paths:
        domains: List[str] = []
        for (kind, target), names in additions.domains.items():
            if kind == "path" and isinstance(target, str) and (
                    target == path or target.startswith(path.rstrip("/") + "/")):
                for name in names:
                    _remember(domains, name)
        out.domains[("path", path)] = domains
    for port in out.ports:
        out.domains[("port", port)] = list(additions.domains.get(("port", port), []))
    return out


def _rules_of(additions: _Additions, layer: Optional[int], source: Optional[str]) -> List[Rule]:
    rules = []
    for path in sorted(additions.paths):
        rules.append(Rule("path_beneath", tuple(mask_to_names("fs", additions.paths[path])),
                          (path,), layer, source,
                          tuple(additions.domains.get(("path", path), []))))
    for port in sorted(additions.ports):
        rules.append(Rule("net_port", tuple(mask_to_names("net", additions.ports[port])),
                          (port,), layer, source,
                          tuple(additions.domains.get(("port", port), []))))
    return rules


def _scope_notes(requests: Sequence[Request], allow_scopes: Sequence[str],
                 notes: List[str]) -> None:
    for request in requests:
        if request.decision:
            continue
        reason = _cannot(request, allow_scopes)
        if reason:
            _remember(notes, reason)


def _abi_notes(layer_number: int, source: str, abi: Optional[int], rules: List[Rule],
               notes: List[str]) -> None:
    if abi is None:
        return
    for rule in rules:
        for name in rule.rights:
            needed = known_right(name).abi
            if needed > abi:
                _remember(notes, f"{source} (layer {layer_number}): {name} needs Landlock ABI "
                                 f"{needed}, newer than the file's abi = {abi}: raise its abi "
                                 "for a kernel that has it (its abi.* groups do not include it)")


def _with_policy(requests: Sequence[Request], sources: List[_Source], scope: Scope,
                 merge_depth: int, allow_scopes: Sequence[str], mount_root: str,
                 cwd: Optional[str]) -> Suggestion:
    notes: List[str] = []
    remembered = [key for source in sources for key in source.denied]
    requests = [replace(r, decision="deny") if not r.decision and deny_key(r) in remembered
                else r for r in requests]
    to_remember = []
    for request in requests:
        key = deny_key(request)
        if request.decision == "deny" and key not in remembered and key not in to_remember:
            to_remember.append(key)
    keeper = next((i for i in reversed(range(len(sources)))
                   if sources[i].format == "toml"), None)
    if to_remember and keeper is None:
        _remember(notes, "denials answered \"deny forever\" cannot be remembered: JSON "
                         "policy files hold no comments")
    original = Policy(tuple(s.layer for s in sources))
    deriver = _Deriver([s.layer for s in sources], scope, mount_root)
    _derive(requests, deriver, notes)
    _scope_notes(requests, allow_scopes, notes)
    wanted_scopes = [name for name in allow_scopes if any(
        r.kind == "scope" and r.blockers[0] == f"scope.{name}" and not r.decision
        for r in requests)]
    documents: List[LayerDocument] = []
    rules: List[Rule] = []
    layers: List[Layer] = []
    for index, source in enumerate(sources):
        number = index + 1
        additions = _merged(deriver.additions[index], merge_depth, notes)
        document = source.document
        dropped: List[str] = []
        if wanted_scopes and source.layer.scoped:
            candidate, dropped = _drop_scopes(document, wanted_scopes)
            if dropped:
                try:
                    parse_layer(json.dumps(candidate), source.path, "json", cwd)
                    document = candidate
                except PolicyError:
                    _remember(notes, f"{source.path} (layer {number}) handles nothing but "
                                     f"the scope {', '.join(dropped)}: remove the layer "
                                     "instead (a ruleset must handle a right)")
                    dropped = []
        remember = to_remember if index == keeper else []
        changed = bool(additions.paths or additions.ports or dropped or remember)
        if changed:
            fmt, text, updated, note = _updated_text(source, document, additions,
                                                     rewrite=bool(dropped))
            if note:
                _remember(notes, note)
            # a rewritten file lost its comments
            kept = source.denied if dropped and _edit_scoped(source.text, document) is None \
                else []
            if (remember or kept) and fmt == "toml":
                text = _ended(text) + "".join(
                    DENY_MARK + json.dumps(list(key)) + "\n" for key in [*kept, *remember])
            if dropped and fmt == "toml" and _edit_scoped(source.text, document) is None:
                _remember(notes, f"{source.path} (layer {number}): rewritten to drop "
                                 f"{', '.join(dropped)} from scoped (its comments are lost)")
        else:
            fmt, text, updated = source.format, source.text, document
        layer_rules = _rules_of(additions, number, source.path)
        abi = document.get("abi") if isinstance(document.get("abi"), int) else None
        _abi_notes(number, source.path, abi, layer_rules, notes)
        layer = parse_layer(text, source.path, fmt, cwd)
        _check_not_widened(source.layer, layer, number, dropped, notes)
        layers.append(layer)
        rules.extend(layer_rules)
        documents.append(LayerDocument(source.path, number, fmt, source.text, text, updated,
                                       layer_rules, dropped, source.format))
    suggested = Policy(tuple(layers))
    verification = _verify(requests, {"": suggested}, {"": original}, allow_scopes,
                           mount_root, notes)
    return Suggestion(documents, rules, _per_domain(rules), verification, notes, suggested)


def _check_not_widened(before: Layer, after: Layer, number: int, dropped: Sequence[str],
                       notes: List[str]) -> None:
    widened_fs = after.handled_fs & ~before.handled_fs
    if widened_fs == REFER and before.handled_fs:
        _remember(notes, f"{before.source} (layer {number}) did not list refer in "
                         "handled_access_fs: its new rule adds it (the kernel already denied "
                         "moving files between directories in this layer; handling refer is "
                         "what lets a rule allow it)")
        widened_fs = 0
    if widened_fs or after.handled_net & ~before.handled_net:
        raise AssertionError(f"layer {number}: the suggestion widened handled_access_*")
    if after.scoped & ~before.scoped:
        raise AssertionError(f"layer {number}: the suggestion added a scope")


def _per_domain(rules: List[Rule]) -> Dict[str, List[Rule]]:
    out: Dict[str, List[Rule]] = {}
    for rule in rules:
        for domain in rule.domains:
            out.setdefault(domain, []).append(rule)
    return out


def _model_layer(domain: str, requests: Sequence[Request]) -> Optional[Layer]:
    """One layer handling the rights a domain's denials name (its model
    without a policy)."""
    handled_fs = handled_net = scoped = 0
    for request in requests:
        kind = request.kind
        if kind in ("fs", "reparent"):
            handled_fs |= request.access
            if kind == "reparent":
                handled_fs |= REFER
        elif kind == "net":
            for name in request.blockers:
                handled_net |= known_right(name).mask
        elif kind == "scope":
            scoped |= known_right(request.blockers[0]).mask
    if not (handled_fs or handled_net or scoped):
        return None
    return Layer(f"domain {domain}", None, handled_fs, handled_net, scoped, {}, {})


def _without_policy(requests: Sequence[Request], scope: Scope, merge_depth: int,
                    allow_scopes: Sequence[str], mount_root: str) -> Suggestion:
    notes: List[str] = []
    by_domain: Dict[str, List[Request]] = {}
    for request in requests:
        by_domain.setdefault(request.domain, []).append(request)
    policies: Dict[str, Policy] = {}
    originals: Dict[str, Policy] = {}
    rules: List[Rule] = []
    domains: Dict[str, List[Rule]] = {}
    snippets: Dict[str, Dict[str, Any]] = {}
    for domain, members in by_domain.items():
        model = _model_layer(domain, [r for r in members if not r.decision])
        if model is None:
            continue
        deriver = _Deriver([model], scope, mount_root)
        _derive(members, deriver, notes)
        additions = _merged(deriver.additions[0], merge_depth, notes)
        domain_rules = _rules_of(additions, None, None)
        for name in allow_scopes:
            if model.scoped & known_right(f"scope.{name}").mask:
                model = replace(model, scoped=model.scoped & ~known_right(f"scope.{name}").mask)
        originals[domain] = Policy((model,))
        policies[domain] = Policy((_with_rules(model, additions),))
        rules.extend(domain_rules)
        domains[domain] = domain_rules
        snippet = snippet_document(additions, None)
        if snippet:
            snippets[domain] = snippet
    _scope_notes(requests, allow_scopes, notes)
    for name in allow_scopes:
        if any(r.kind == "scope" and r.blockers[0] == f"scope.{name}" for r in requests):
            _remember(notes, f"remove \"{name}\" from the scoped rights of each layer of the "
                             "domain that scopes it (--allow-scope)")
    if rules:
        _remember(notes, "without --policy, the rules are for the layer the log names (the "
                         "youngest that denied); older layers of the domain may deny too: "
                         "give every layer's file with --policy to fix them all")
    verification = _verify(requests, policies, originals, allow_scopes, mount_root, notes)
    return Suggestion([], rules, domains, verification, notes, None, snippets)
