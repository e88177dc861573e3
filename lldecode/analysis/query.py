"""``--where``: a small query language over denials, parsed with pyparsing.

    blocker ~ "fs.truncate" and not path ^= "/proc" or domain = 17fcedafa

Grammar (``not`` binds tighter than ``and``, ``and`` tighter than ``or``)::

    expr       := term ("or" term)*
    term       := factor ("and" factor)*
    factor     := "not" factor | "(" expr ")" | comparison
    comparison := FIELD OP VALUE
    OP         := "=" | "!=" | "~" | "!~" | "^=" | "$=" | "*=" | "<" | "<=" | ">" | ">="
    VALUE      := "double-quoted" | 'single-quoted' | bare-word

``=``/``!=`` compare exactly (numbers as numbers), ``~``/``!~`` match a
shell-style glob, ``^=`` a prefix, ``$=`` a suffix, ``*=`` a substring, and
the ordering operators compare numbers (times accept what --since accepts).
A field holding several values (``blocker``) matches when any value does.
The fields are those of :data:`lldecode.analysis.selection.FIELDS`.
"""

from __future__ import annotations

import fnmatch
import operator
import re
from typing import Any, Callable, FrozenSet, List, Mapping, Set, Union

import pyparsing as pp

from lldecode.analysis.denials import log_text

# A test of one denial (any object the field getters can read).
Predicate = Callable[[Any], bool]
# Field name -> a function of a denial giving a value or a list of values.
Fields = Mapping[str, Callable[[Any], Any]]
# (field, text of a value) -> what the ordering operators compare.
Ordered = Callable[[str, str], Any]

# Characters of the expression quoted where it fails to parse.
_QUOTED_CHARS = 12
_ORDERING = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


class CompiledQuery:
    """A compiled ``--where`` expression: call it on a denial; ``fields``
    is the set of field names it reads."""

    __slots__ = ("_test", "fields")

    def __init__(self, test: Predicate, fields: FrozenSet[str]):
        self._test = test
        self.fields = fields

    def __call__(self, denial: Any) -> bool:
        """Does the denial match the expression?"""
        return self._test(denial)


class QueryError(ValueError):
    """A --where expression that does not parse: column and reason."""

    def __init__(self, expression: str, column: int, message: str):
        super().__init__(f"column {column}: {message}")
        self.expression = expression
        self.column = column
        self.message = message

    def pointer(self) -> str:
        """The expression with a caret under the column at fault."""
        return f"  {self.expression}\n  {' ' * (self.column - 1)}^"


def _grammar(fields: List[str]) -> pp.ParserElement:
    field = pp.one_of(sorted(fields, key=len, reverse=True),
                      as_keyword=True).set_name("a field name")
    op = pp.one_of("!= !~ ^= $= *= <= >= = ~ < >").set_name("an operator")
    value = (pp.QuotedString('"', esc_char="\\") | pp.QuotedString("'", esc_char="\\")
             | pp.Regex(r"[^\s()\"']+")).set_name("a value")
    comparison = pp.Group(field + op + value).set_name("a comparison (FIELD OP VALUE)")
    # pyparsing leaves infix_notation unannotated (it returns a ParserElement).
    expr: pp.ParserElement = pp.infix_notation(  # type: ignore[no-untyped-call]
        comparison, [
            (pp.CaselessKeyword("not"), 1, pp.OpAssoc.RIGHT),
            (pp.CaselessKeyword("and"), 2, pp.OpAssoc.LEFT),
            (pp.CaselessKeyword("or"), 2, pp.OpAssoc.LEFT),
        ])
    return expr


def _error(expression: str, exc: pp.ParseBaseException, fields: Fields) -> QueryError:
    found = expression[exc.loc:exc.loc + _QUOTED_CHARS]
    word = re.match(r"[A-Za-z_][\w-]*", expression[exc.loc:])
    if word and word.group(0) not in fields and word.group(0).lower() not in ("and", "or", "not"):
        return QueryError(expression, exc.loc + 1,
                          f"unknown field '{word.group(0)}' (fields: {', '.join(fields)})")
    expected = exc.msg[len("Expected "):] if exc.msg.startswith("Expected ") else exc.msg
    where = f", found '{found}'" if found else ", found the end"
    return QueryError(expression, exc.loc + 1, f"expected {expected}{where}")


def _number(value: Any) -> Union[int, float]:
    if isinstance(value, (int, float)):
        return value
    try:
        return int(str(value), 0)
    except ValueError:
        return float(value)


def _test(op: str, wanted: str, got: Any, ordered: Callable[[str], Any]) -> bool:
    """Does ``got`` (a value of the denial) compare with ``wanted`` so?"""
    if got is None:
        return op in ("!=", "!~")
    if isinstance(got, bytes):
        got = log_text(got)
    compare = _ORDERING.get(op)
    if compare is not None:
        try:
            left, right = _number(got), ordered(wanted)
        except ValueError:
            return False
        return bool(compare(left, right))
    text = str(got)
    if op in ("=", "!="):
        same = text == wanted
        if not same:
            try:
                same = _number(got) == _number(wanted)
            except ValueError:
                same = False
        return same if op == "=" else not same
    if op in ("~", "!~"):
        hit = fnmatch.fnmatchcase(text, wanted)
        return hit if op == "~" else not hit
    if op == "^=":
        return text.startswith(wanted)
    if op == "$=":
        return text.endswith(wanted)
    return wanted in text  # *=


def compile_query(expression: str, fields: Fields,
                  ordered: Ordered = lambda field, value: _number(value)) -> CompiledQuery:
    """A predicate over denials for ``expression`` (QueryError if it is bad).

    The predicate's ``fields`` attribute is the set of field names it reads.

    ``fields`` maps a field name to a function of a denial returning a value
    or a list of values; ``ordered(field, text)`` turns the text of a value
    into something the ordering operators can compare (times, numbers).
    """
    grammar = _grammar(list(fields))
    try:
        tree = grammar.parse_string(expression, parse_all=True)[0]
    except pp.ParseBaseException as exc:
        raise _error(expression, exc, fields) from None
    used: Set[str] = set()
    predicate = _build(tree, fields, ordered, used)
    return CompiledQuery(predicate, frozenset(used))


def _build(node: Any, fields: Fields, ordered: Ordered, used: Set[str]) -> Predicate:
    """The predicate of a parsed (sub)expression; the fields it reads go to ``used``."""
    if isinstance(node, pp.ParseResults) and len(node) == 3 and node[0] in fields:
        name: str = node[0]
        op: str = node[1]
        wanted: str = node[2]
        used.add(name)
        get = fields[name]
        if op in _ORDERING:
            ordered(name, wanted)  # fail now on a value that can never compare

        def compare(denial: Any) -> bool:
            got = get(denial)
            values = got if isinstance(got, list) else [got]
            test = [_test(op, wanted, v, lambda w: ordered(name, w)) for v in values]
            return all(test) if op in ("!=", "!~") else any(test)
        return compare
    if isinstance(node, pp.ParseResults) and node[0] == "not":
        inner = _build(node[1], fields, ordered, used)
        return lambda denial: not inner(denial)
    parts = [_build(node[i], fields, ordered, used) for i in range(0, len(node), 2)]
    if node[1] == "and":
        return lambda denial: all(p(denial) for p in parts)
    return lambda denial: any(p(denial) for p in parts)

