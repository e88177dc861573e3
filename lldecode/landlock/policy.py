"""Landlock policies: landlockconfig documents (TOML or JSON), one per layer.

A policy is the list of rulesets a process enforced, oldest first; each is
described by one landlockconfig file:

    abi = 4                                  # needed by the abi.* groups
    [[variable]]
    name = "home"
    literal = ["/home/alice", "/home/bob"]
    [[ruleset]]
    handled_access_fs = ["abi.read_write"]
    handled_access_net = ["bind_tcp"]
    scoped = ["signal"]
    [[path_beneath]]
    allowed_access = ["read_file", "read_dir"]
    parent = ["/usr", "${home}/src"]
    [[net_port]]
    allowed_access = ["bind_tcp"]
    port = [8080]

JSON spells the keys as landlockconfig's JSON does (``handledAccessFs``,
``pathBeneath``, ``allowedAccess``, ``netPort``); both spellings are accepted
in both formats.  Access names are landlockconfig's bare names; the dotted
(``fs.read_file``) and legacy (``fs_read_file``) spellings are accepted too.

As landlockconfig does, every ``[[ruleset]]`` of a file is merged into one
layer, and the rights a rule allows are added to the layer's handled rights.
Rule paths are made absolute against the current directory and normalized
lexically (``a/../b`` is ``b``); nothing here touches the filesystem.

Errors raise :class:`PolicyError`, whose message names the file and the key,
whatever the document holds: arrays or tables nested hundreds deep, numbers
of thousands of digits, a NUL in a path, variables whose combinations would
expand to millions of paths (at most MAX_EXPANDED_PATHS a file).
"""

from __future__ import annotations

import itertools
import json
import os
import posixpath
import re
import sys
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence, Set, Tuple

if sys.version_info >= (3, 11):
    import tomllib
else:
    # tomllib's origin, a dependency on these Pythons only: mypy checks this
    # branch (it reads python_version 3.9 as 3.10) where tomli may be absent.
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

from lldecode.landlock.access import all_mask, fs_mask, lookup, rights_of
from lldecode.landlock.layers import MAX_LAYERS

# other spelling -> the TOML spelling used internally
_KEY_ALIASES = {
    "handledAccessFs": "handled_access_fs",
    "handledAccessNet": "handled_access_net",
    "pathBeneath": "path_beneath",
    "netPort": "net_port",
    "allowedAccess": "allowed_access",
}
_TOP_KEYS = ("abi", "variable", "ruleset", "path_beneath", "net_port")
_RULESET_KEYS = {"handled_access_fs": "fs", "handled_access_net": "net", "scoped": "scope"}
_VARIABLE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
# TCP ports are 16-bit numbers.
MAX_PORT = 65535
# An ABI version is a positive C int (what landlock_create_ruleset() returns).
_MAX_ABI = 2**31 - 1
# The rule paths one file may expand to (its [[variable]] combinations
# included): far more than any sandbox needs, few enough to hold.
MAX_EXPANDED_PATHS = 10_000
# A value is quoted in a message up to this many characters.
_SHOWN_CHARS = 60
# How deep arrays and tables nest before a message says where they nest too
# deeply (a policy needs three levels; the parsers give up past a few hundred).
_MAX_NESTING = 64

# A key of a document's table, as spelled there, and its value.
_Entry = Tuple[str, object]


class PolicyError(ValueError):
    """A policy file that cannot be used; the message names the file and key."""


@dataclass(frozen=True)
class Layer:
    """One enforced ruleset, as read from one policy file."""

    source: str
    abi: Optional[int]
    handled_fs: int
    handled_net: int
    scoped: int
    # normalized absolute path -> allowed fs access bits
    path_rules: Dict[str, int] = field(default_factory=dict, hash=False)
    # TCP port -> allowed net access bits
    port_rules: Dict[int, int] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class Policy:
    """The layers of a domain, oldest (first enforced) first."""

    layers: Tuple[Layer, ...]

    @property
    def sources(self) -> List[str]:
        """The file of each layer, oldest first."""
        return [layer.source for layer in self.layers]


def normalize_path(path: str, cwd: Optional[str] = None) -> str:
    """An absolute, lexically normalized path (no filesystem access)."""
    if not path:
        raise ValueError("empty path")
    if not path.startswith("/"):
        path = posixpath.join(cwd if cwd is not None else os.getcwd(), path)
    path = posixpath.normpath(path)
    return "/" + path.lstrip("/")


def load_policy(paths: Sequence[str], cwd: Optional[str] = None) -> Policy:
    """Read one policy file per layer, in enforcement order."""
    if not paths:
        raise PolicyError("a policy needs at least one layer file")
    if len(paths) > MAX_LAYERS:
        raise PolicyError(f"{len(paths)} layers: Landlock stacks at most {MAX_LAYERS}")
    return Policy(tuple(load_layer(path, cwd) for path in paths))


def load_layer(path: str, cwd: Optional[str] = None) -> Layer:
    """Read one policy file (TOML or JSON, by its name or its first character)."""
    try:
        with open(path, encoding="utf-8") as stream:
            text = stream.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"{path}: cannot read: {exc}") from None
    return parse_layer(text, path, _format_of(path, text), cwd)


def _format_of(path: str, text: str) -> str:
    """"json" or "toml": the file's suffix says, else its first character."""
    suffix = posixpath.splitext(path)[1].lower()
    if suffix in (".json", ".toml"):
        return suffix[1:]
    return "json" if text.lstrip().startswith("{") else "toml"


def parse_layer(text: str, source: str, fmt: str = "toml",
                cwd: Optional[str] = None) -> Layer:
    """Build a layer from the text of a landlockconfig document."""
    if fmt not in ("toml", "json"):
        raise PolicyError(f"{source}: unknown policy format {fmt!r} (toml or json)")
    name = fmt.upper()
    try:
        document = tomllib.loads(text) if fmt == "toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise PolicyError(f"{source}: invalid {name}: {exc}") from None
    except RecursionError:
        raise PolicyError(f"{source}: invalid {name}: {_too_deep(text, fmt)}") from None
    except ValueError as exc:  # a number of more than 4300 digits
        raise PolicyError(f"{source}: invalid {name}: {_bad_number(text, fmt, exc)}") from None
    try:
        return _Reader(source, cwd).layer(document)
    except RecursionError:  # pragma: no cover - the reader does not recurse
        raise PolicyError(f"{source}: arrays or tables nested too deeply") from None


# What matters to nesting: brackets, and what holds brackets that do not
# count (strings, TOML comments), skipped to their end.
_NESTING_TOKENS = {"toml": re.compile(r"[\[\]{}\"'#]"), "json": re.compile(r"[\[\]{}\"]")}


def _string_end(text: str, start: int, quote: str, escapes: bool) -> int:
    """Where the string opened by ``quote`` at ``start`` ends (after its
    closing quote; the end of the text when it is not closed).  Linear, and
    no memory: str.find, then the backslashes before each quote found."""
    position = start + len(quote)
    while True:
        found = text.find(quote, position)
        if found < 0:
            return len(text)
        before = found - 1
        while escapes and before >= position and text[before] == "\\":
            before -= 1
        if (found - 1 - before) % 2:  # an escaped quote
            position = found + 1
            continue
        end = found + len(quote)
        if len(quote) == 3:  # """a"""" holds a": up to two more quotes are the string's
            while end < len(text) and text[end] == quote[0] and end - found < 5:
                end += 1
        return end


def _where(text: str, position: int, fmt: str) -> str:
    """``line L, column C`` of a position, and the key whose value holds it."""
    line = text.count("\n", 0, position) + 1
    column = position - (text.rfind("\n", 0, position) + 1) + 1
    key = _key_at(text, position, fmt)
    return f"line {line}, column {column}" + (f" (key {_shown(key)})" if key else "")


def _key_at(text: str, position: int, fmt: str) -> Optional[str]:
    """The key (as written) whose value holds ``position``, as far as a look
    at the text tells: the last ``"key":`` before it in JSON; in TOML, the
    ``key =`` of its line, else the last ``[table]`` before it."""
    before = text[max(0, position - 4096):position]
    if fmt == "json":
        keys = re.findall(r"\"([^\"\\]*(?:\\.[^\"\\]*)*)\"\s*:", before)
        return keys[-1] if keys else None
    line = before[before.rfind("\n") + 1:]
    if "=" in line:
        return line.split("=", 1)[0].strip() or None
    tables = re.findall(r"^[ \t]*\[\[?[ \t]*([^\]\n]+)\]", before, re.M)
    return tables[-1].strip() if tables else None


def _too_deep(text: str, fmt: str) -> str:
    """Where a document nests too deeply for the parser (say it)."""
    depth = 0
    position = 0
    token = _NESTING_TOKENS[fmt].search
    while True:
        found = token(text, position)
        if found is None:
            return "arrays or tables nested too deeply"
        char, position = found.group(), found.end()
        if char in "[{":
            depth += 1
            if depth > _MAX_NESTING:
                return (f"{_where(text, found.start(), fmt)}: arrays or tables nested more "
                        f"than {_MAX_NESTING} deep")
        elif char in "]}":
            depth = max(0, depth - 1)
        elif char == "#":
            newline = text.find("\n", position)
            position = len(text) if newline < 0 else newline
        else:
            quote = char * 3 if fmt == "toml" and text.startswith(char * 3, found.start()) \
                else char
            position = _string_end(text, found.start(), quote, escapes=char == '"')


def _bad_number(text: str, fmt: str, exc: ValueError) -> str:
    """What a ValueError of a parser (not a syntax error) says: a number of
    more digits than Python reads."""
    long_number = re.search(r"[0-9_]{4300,}", text)
    if long_number is None:
        return _shown(str(exc))
    return f"{_where(text, long_number.start(), fmt)}: a number of more than 4300 digits"


class _Reader:
    """Walks one document, keeping the file name for error messages."""

    def __init__(self, source: str, cwd: Optional[str]) -> None:
        self.source = source
        self.cwd = cwd
        self.expanded = 0  # the rule paths expanded so far (MAX_EXPANDED_PATHS)

    def error(self, where: str, message: str) -> PolicyError:
        """The error to raise about the key at ``where`` ('' for the document)."""
        return PolicyError(f"{self.source}: {where}: {message}" if where
                           else f"{self.source}: {message}")

    def table(self, value: object, where: str, allowed: Iterable[str]) -> Dict[str, _Entry]:
        """A table's entries by canonical key: (the key as spelled, the value)."""
        if not isinstance(value, dict):
            raise self.error(where, f"expected a table, got {_kind(value)}")
        allowed = tuple(allowed)
        result: Dict[str, _Entry] = {}
        for key, item in value.items():
            name = _KEY_ALIASES.get(key, key)
            if name not in allowed:
                raise self.error(_join(where, _shown_key(key)), "unknown key (expected one of: "
                                 + ", ".join(allowed) + ")")
            if name in result:
                raise self.error(_join(where, _shown_key(key)), "given twice (in two spellings)")
            result[name] = (key, item)
        return result

    def array(self, value: object, where: str) -> List[object]:
        """A non-empty array's items."""
        if not isinstance(value, list):
            raise self.error(where, f"expected an array, got {_kind(value)}")
        if not value:
            raise self.error(where, "must not be empty")
        return value

    def layer(self, document: object) -> Layer:
        """The layer a whole document describes."""
        top = self.table(document, "", _TOP_KEYS)
        if not any(name in top for name in _TOP_KEYS if name != "abi"):
            raise self.error("", "empty configuration (no ruleset, path_beneath, "
                             "net_port or variable)")
        abi = None
        if "abi" in top:
            key, value = top["abi"]
            abi = _integer(value, 1, _MAX_ABI)
            if abi is None:
                raise self.error(key, "ABI version must be an integer >= 1, got "
                                 + _shown(value))
        variables = self.variables(top.get("variable"))
        handled = {"fs": 0, "net": 0, "scope": 0}
        if "ruleset" in top:
            key, rulesets = top["ruleset"]
            for index, entry in enumerate(self.array(rulesets, key)):
                where = f"{key}[{index}]"
                ruleset = self.table(entry, where, _RULESET_KEYS)
                if not ruleset:
                    raise self.error(where, "empty ruleset")
                for name, (spelled, items) in ruleset.items():
                    kind = _RULESET_KEYS[name]
                    handled[kind] |= self.access(kind, items, abi, _join(where, spelled))
        path_rules: Dict[str, int] = {}
        if "path_beneath" in top:
            key, entries = top["path_beneath"]
            for index, entry in enumerate(self.array(entries, key)):
                where = f"{key}[{index}]"
                rule = self.required(entry, where, ("allowed_access", "parent"))
                spelled, items = rule["allowed_access"]
                allowed = self.access("fs", items, abi, _join(where, spelled))
                handled["fs"] |= allowed
                for path in self.parents(rule["parent"], where, variables):
                    path_rules[path] = path_rules.get(path, 0) | allowed
        port_rules: Dict[int, int] = {}
        if "net_port" in top:
            key, entries = top["net_port"]
            for index, entry in enumerate(self.array(entries, key)):
                where = f"{key}[{index}]"
                rule = self.required(entry, where, ("allowed_access", "port"))
                spelled, items = rule["allowed_access"]
                allowed = self.access("net", items, abi, _join(where, spelled))
                handled["net"] |= allowed
                for port in self.ports(rule["port"], where):
                    port_rules[port] = port_rules.get(port, 0) | allowed
        if not any(handled.values()):
            raise self.error("", "handles no access right: the kernel refuses such a "
                             "ruleset (ENOMSG)")
        return Layer(self.source, abi, handled["fs"], handled["net"], handled["scope"],
                     path_rules, port_rules)

    def required(self, entry: object, where: str, keys: Tuple[str, ...]) -> Dict[str, _Entry]:
        """A table that has every one of ``keys`` (and no other)."""
        table = self.table(entry, where, keys)
        for key in keys:
            if key not in table:
                raise self.error(where, f"missing key {key!r}")
        return table

    def access(self, kind: str, items: object, abi: Optional[int], where: str) -> int:
        """The mask of an array of access names and abi.* groups."""
        mask = 0
        for index, name in enumerate(self.array(items, where)):
            item_where = f"{where}[{index}]"
            if not isinstance(name, str):
                raise self.error(item_where, f"expected an access name, got {_kind(name)}")
            if name.startswith("abi."):
                mask |= self.group(kind, name, abi, item_where)
                continue
            found = lookup(kind, name)
            if found is None:
                known = ", ".join(r.name for r in rights_of(kind))
                raise self.error(item_where, f"unknown {kind} access right {_shown(name)} "
                                 f"(known: {known}, or an abi.* group)")
            mask |= found.mask
        return mask

    def group(self, kind: str, name: str, abi: Optional[int], where: str) -> int:
        """The mask of an abi.* group (abi.all, abi.read_execute, abi.read_write)."""
        if abi is None:
            raise self.error(where, f"{_shown(name)} needs a top-level 'abi' version")
        everything = all_mask(kind, abi)
        if name == "abi.all":
            return everything
        if kind == "fs" and name == "abi.read_execute":
            return everything & fs_mask("execute", "read_file", "read_dir", "refer")
        if kind == "fs" and name == "abi.read_write":
            return everything & ~fs_mask("execute")
        groups = "abi.all, abi.read_execute, abi.read_write" if kind == "fs" else "abi.all"
        raise self.error(where, f"unknown {kind} access group {_shown(name)} "
                         f"(known: {groups})")

    def variables(self, entry: Optional[_Entry]) -> Dict[str, List[str]]:
        """The values of each [[variable]] (several entries of a name add up)."""
        variables: Dict[str, List[str]] = {}
        seen: Dict[str, Set[str]] = {}  # the values of each, to skip repeats
        if entry is None:
            return variables
        key, items = entry
        for index, item in enumerate(self.array(items, key)):
            where = f"{key}[{index}]"
            table = self.table(item, where, ("name", "literal"))
            if "name" not in table:
                raise self.error(where, "missing key 'name'")
            name = table["name"][1]
            if not isinstance(name, str) or not _VARIABLE_NAME.match(name):
                raise self.error(_join(where, "name"), f"invalid variable name {_shown(name)} "
                                 "(ASCII letter, then letters, digits or '_')")
            values = variables.setdefault(name, [])
            known = seen.setdefault(name, set())
            if "literal" in table:
                literal_key, literal = table["literal"]
                for value_index, value in enumerate(self.array(literal, _join(where, literal_key))):
                    if not isinstance(value, str):
                        raise self.error(f"{_join(where, literal_key)}[{value_index}]",
                                         f"expected a string, got {_kind(value)}")
                    if value not in known:
                        known.add(value)
                        values.append(value)
        return variables

    def parents(self, entry: _Entry, where: str,
                variables: Dict[str, List[str]]) -> List[str]:
        """The normalized paths of a rule's parent array, variables expanded."""
        key, items = entry
        paths: List[str] = []
        for index, template in enumerate(self.array(items, _join(where, key))):
            item_where = f"{_join(where, key)}[{index}]"
            if not isinstance(template, str):
                raise self.error(item_where, f"expected a path, got {_kind(template)}")
            for expanded in self.expand(template, variables, item_where):
                if "\0" in expanded:
                    raise self.error(item_where, "a path cannot hold a NUL character")
                try:
                    paths.append(normalize_path(expanded, self.cwd))
                except ValueError as exc:
                    raise self.error(item_where, str(exc)) from None
        return paths

    def expand(self, template: str, variables: Dict[str, List[str]], where: str) -> List[str]:
        """All the strings a ``${var}`` template stands for ($$ is a dollar)."""
        pieces: List[List[str]] = []
        text: List[str] = []
        position = 0
        while position < len(template):
            char = template[position]
            following = template[position + 1: position + 2]
            if char == "$" and following == "$":
                text.append("$")
                position += 2
            elif char == "$" and following == "{":
                end = template.find("}", position + 2)
                if end < 0:
                    raise self.error(where, f"unclosed variable reference at position {position}")
                name = template[position + 2: end]
                if not _VARIABLE_NAME.match(name):
                    raise self.error(where,
                                     f"invalid variable name {name!r} at position {position}")
                if name not in variables:
                    raise self.error(where, f"undefined variable {name!r}")
                pieces.append(["".join(text)])
                pieces.append(variables[name])
                text = []
                position = end + 1
            else:
                text.append(char)
                position += 1
        pieces.append(["".join(text)])
        count = 1
        for values in pieces:
            count *= len(values)
            if count > MAX_EXPANDED_PATHS:
                break
        self.expanded += count
        if self.expanded > MAX_EXPANDED_PATHS:
            what = ("its variables expand to more than" if count > MAX_EXPANDED_PATHS
                    else "with it, the file's rule paths (variables expanded) are more than")
            raise self.error(where, f"{what} {MAX_EXPANDED_PATHS} paths: a policy file may "
                             f"give at most {MAX_EXPANDED_PATHS} rule paths")
        return ["".join(parts) for parts in itertools.product(*pieces)]

    def ports(self, entry: _Entry, where: str) -> List[int]:
        """The port numbers of a rule's port array."""
        key, items = entry
        ports: List[int] = []
        for index, item in enumerate(self.array(items, _join(where, key))):
            port = _integer(item, 0, MAX_PORT)
            if port is None:
                raise self.error(f"{_join(where, key)}[{index}]",
                                 f"expected a port number 0..{MAX_PORT}, got {_shown(item)}")
            ports.append(port)
        return ports


def _integer(value: object, low: int, high: int) -> Optional[int]:
    """``value`` when the document gives an integer in [low, high] (not a boolean)."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        return None
    return value


def _join(where: str, key: str) -> str:
    """The path of ``key`` in the table at ``where``: ``ruleset[0].scoped``."""
    return f"{where}.{key}" if where else key


def _kind(value: object) -> str:
    """What a document value is, in words (for messages)."""
    return {dict: "a table", list: "an array", str: "a string", bool: "a boolean",
            int: "an integer", float: "a number"}.get(type(value), type(value).__name__)


def _shown(value: object) -> str:
    """A document value in a message: short whatever it holds (the repr of a
    string or a small number, what a container or a huge number is)."""
    if isinstance(value, str):
        if len(value) <= _SHOWN_CHARS:
            return repr(value)
        return repr(value[:_SHOWN_CHARS])[:-1] + "..." + repr(value[:1])[-1]
    if isinstance(value, int) and not isinstance(value, bool):
        if value.bit_length() > 64:  # str() refuses past 4300 digits (about 14,000 bits)
            if value.bit_length() < 14000:
                return f"an integer of {len(str(abs(value)))} digits"
            return "an integer of more than 4000 digits"
        return repr(value)
    if isinstance(value, (bool, float)) or value is None:
        return repr(value)
    return _kind(value)


def _shown_key(key: str) -> str:
    """A key of the document in a message (shortened)."""
    return key if len(key) <= _SHOWN_CHARS else key[:_SHOWN_CHARS] + "..."
