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
The fields are those of :data:`lldecode.analysis.selection.FIELDS`; a
``matcher`` (see :func:`compile_query`) checks the values a field can take
(blocker names, domain ids, users) and compares them its own way.

The expression is bounded: at most :data:`MAX_LENGTH` characters, and
parentheses and ``not`` nested at most :data:`MAX_DEPTH` deep (the parser
recurses once per level), each checked before parsing with a clear error.
"""

from __future__ import annotations

import fnmatch
import operator
import re
from typing import TYPE_CHECKING, Any, Callable, FrozenSet, List, Mapping, Optional, Set, Union

if TYPE_CHECKING:  # imported when a query is compiled (about 25 ms every reading otherwise)
    import pyparsing as pp

from lldecode.analysis.denials import log_text

# A test of one denial (any object the field getters can read).
Predicate = Callable[[Any], bool]
# Field name -> a function of a denial giving a value or a list of values.
Fields = Mapping[str, Callable[[Any], Any]]
# (field, text of a value) -> what the ordering operators compare.
Ordered = Callable[[str, str], Any]

# A field's own comparison: (field, operator, value as written) -> a test of
# one value of the field (never None), or None for the ordinary comparison;
# raises ValueError (its message says why) for a value the field cannot hold.
ValueTest = Callable[[Any], bool]
Matcher = Callable[[str, str, str], Optional[ValueTest]]

# Characters of the expression quoted where it fails to parse.
_QUOTED_CHARS = 12
# The longest expression read (characters): a query is typed or generated
# from a list of values; far longer is a mistake, and parsing time grows with it.
MAX_LENGTH = 65536
# Parentheses and ``not`` nested deeper than this are refused before parsing:
# the parser and the compiled predicate recurse once per level.
MAX_DEPTH = 100
# Characters shown on each side of the column at fault of a long expression.
_POINTER_CONTEXT = 40
_NEGATIONS = ("!=", "!~")
_ORDERING = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
# The operators that compare numbers.
ORDERING = frozenset(_ORDERING)


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
    """A --where expression that does not parse, is too long or too deeply
    nested, or compares a field with a value it cannot hold: column and reason."""

    def __init__(self, expression: str, column: int, message: str):
        """``column`` 0: the fault is the whole expression (no column, no pointer)."""
        super().__init__(f"column {column}: {message}" if column else message)
        self.expression = expression
        self.column = column
        self.message = message

    def pointer(self) -> str:
        """The expression with a caret under the column at fault (a long
        expression: the characters around the column, elided with ...);
        empty when the fault is the whole expression."""
        text, column = self.expression, self.column
        if not column:
            return ""
        if len(text) > 2 * _POINTER_CONTEXT + 20:
            start = max(0, column - 1 - _POINTER_CONTEXT)
            end = column - 1 + _POINTER_CONTEXT
            head = "..." if start > 0 else ""
            tail = "..." if end < len(text) else ""
            text = head + text[start:end] + tail
            column = column - start + len(head)
        return f"  {text}\n  {' ' * (column - 1)}^"


class _Value(str):
    """A value of a comparison, with where it starts in the expression (0-based)."""

    loc = 0


def _located(text: str, loc: int, tokens: pp.ParseResults) -> _Value:
    """A parsed value and where it starts (``loc`` may be before the blanks
    that precede it)."""
    while loc < len(text) and text[loc].isspace():
        loc += 1
    value = _Value(tokens[0])
    value.loc = loc
    return value


def _grammar(fields: List[str]) -> pp.ParserElement:
    import pyparsing as pp

    field = pp.one_of(sorted(fields, key=len, reverse=True),
                      as_keyword=True).set_name("a field name")
    op = pp.one_of("!= !~ ^= $= *= <= >= = ~ < >").set_name("an operator")
    value = (pp.QuotedString('"', esc_char="\\") | pp.QuotedString("'", esc_char="\\")
             | pp.Regex(r"[^\s()\"']+")).set_name("a value").set_parse_action(_located)
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


# The tokens of an expression, as far as nesting goes: blanks, quoted values,
# parentheses, operators, words (fields, keywords, bare values), any other character.
_SCAN = re.compile(r"""(?P<blank>\s+)
    | (?P<quoted>"(?:[^"\\]|\\.)*"?|'(?:[^'\\]|\\.)*'?)
    | (?P<paren>[()])
    | (?P<op>!=|!~|\^=|\$=|\*=|<=|>=|[=~<>])
    | (?P<word>[^\s()"'=~<>!^$*]+)
    | (?P<other>.)""", re.VERBOSE | re.DOTALL)
_BARE_VALUE = re.compile(r"[^\s()\"']+")


def check_bounds(expression: str) -> None:
    """QueryError unless the expression is at most :data:`MAX_LENGTH`
    characters long and nests parentheses and ``not`` at most
    :data:`MAX_DEPTH` deep (checked in one pass, without recursion)."""
    if len(expression) > MAX_LENGTH:
        raise QueryError(expression, 0,
                         f"the expression is {len(expression)} characters long; "
                         f"the longest accepted is {MAX_LENGTH}")
    # Per open parenthesis (and the top level): the ``not`` waiting for their
    # operand; the nesting is the open parentheses plus every waiting ``not``.
    waiting = [0]
    nots = 0
    position, end = 0, len(expression)
    while position < end:
        match = _SCAN.match(expression, position)
        assert match is not None  # the last alternative takes any character
        kind, text = match.lastgroup, match.group(0)
        at = position
        position = match.end()
        if kind == "op":
            # the value follows (a bare value may hold anything but blanks,
            # parentheses and quotes): the comparison ends after it
            while position < end and expression[position].isspace():
                position += 1
            value = _SCAN.match(expression, position)
            if value is not None and value.lastgroup == "quoted":
                position = value.end()
            else:
                bare = _BARE_VALUE.match(expression, position)
                position = bare.end() if bare is not None else position
            nots -= waiting[-1]
            waiting[-1] = 0
        elif kind == "paren" and text == "(":
            waiting.append(0)
        elif kind == "paren":
            if len(waiting) > 1:
                nots -= waiting.pop()
            nots -= waiting[-1]  # a parenthesized group is a complete operand
            waiting[-1] = 0
        elif kind == "word" and text.lower() == "not":
            waiting[-1] += 1
            nots += 1
        else:
            continue
        if len(waiting) - 1 + nots > MAX_DEPTH:
            raise QueryError(expression, at + 1,
                             f"nesting deeper than {MAX_DEPTH} (parentheses and 'not')")


def compile_query(expression: str, fields: Fields,
                  ordered: Ordered = lambda field, value: _number(value),
                  matcher: Optional[Matcher] = None) -> CompiledQuery:
    """A predicate over denials for ``expression`` (QueryError if it is bad).

    The predicate's ``fields`` attribute is the set of field names it reads.

    ``fields`` maps a field name to a function of a denial returning a value
    or a list of values; ``ordered(field, text)`` turns the text of a value
    into something the ordering operators can compare (times, numbers).
    ``matcher(field, op, text)``, when given, checks a value against what
    the field can hold (a ValueError becomes a QueryError pointing at the
    value) and may return the field's own test of one value (None: the
    ordinary comparison).
    """
    import pyparsing as pp

    check_bounds(expression)
    grammar = _grammar(list(fields))
    try:
        tree = grammar.parse_string(expression, parse_all=True)[0]
    except pp.ParseBaseException as exc:
        raise _error(expression, exc, fields) from None
    used: Set[str] = set()
    predicate = _build(tree, expression, fields, ordered, matcher, used)
    return CompiledQuery(predicate, frozenset(used))


def _build(node: Any, expression: str, fields: Fields, ordered: Ordered,
           matcher: Optional[Matcher], used: Set[str]) -> Predicate:
    """The predicate of a parsed (sub)expression; the fields it reads go to
    ``used`` (the recursion is bounded by :data:`MAX_DEPTH`)."""
    from pyparsing import ParseResults

    if isinstance(node, ParseResults) and len(node) == 3 and node[0] in fields:
        name: str = node[0]
        op: str = node[1]
        wanted: str = node[2]
        used.add(name)
        return _comparison(name, op, wanted, expression, fields, ordered, matcher)
    if isinstance(node, ParseResults) and node[0] == "not":
        inner = _build(node[1], expression, fields, ordered, matcher, used)
        return lambda denial: not inner(denial)
    parts = [_build(node[i], expression, fields, ordered, matcher, used)
             for i in range(0, len(node), 2)]
    if node[1] == "and":
        return lambda denial: all(p(denial) for p in parts)
    return lambda denial: any(p(denial) for p in parts)


def _comparison(name: str, op: str, wanted: str, expression: str, fields: Fields,
                ordered: Ordered, matcher: Optional[Matcher]) -> Predicate:
    """The predicate of one comparison FIELD OP VALUE."""
    get = fields[name]
    custom: Optional[ValueTest] = None
    if matcher is not None:
        try:
            custom = matcher(name, op, wanted)
        except ValueError as exc:
            column = getattr(wanted, "loc", 0) + 1
            raise QueryError(expression, column, str(exc)) from None
    negation = op in _NEGATIONS
    if custom is not None:
        test = custom

        def compare_own(denial: Any) -> bool:
            got = get(denial)
            values = got if isinstance(got, list) else [got]
            results = [negation if v is None else test(v) for v in values]
            return all(results) if negation else any(results)
        return compare_own
    if op in _ORDERING:
        ordered(name, wanted)  # fail now on a value that can never compare

    def compare(denial: Any) -> bool:
        got = get(denial)
        values = got if isinstance(got, list) else [got]
        results = [_test(op, wanted, v, lambda w: ordered(name, w)) for v in values]
        return all(results) if negation else any(results)
    return compare
