"""Writing landlockconfig policy text: TOML and JSON that parse back to the
same values, whatever the path holds.

TOML strings must be valid Unicode: a path whose bytes are not UTF-8 (held
here, as everywhere in lldecode, as lone surrogates U+DC80..U+DCFF after
``surrogateescape`` decoding) cannot be written in TOML at all.
:func:`toml_string` raises :class:`NotRepresentable` for it, and callers say
so and give the JSON form, where :func:`json_string` keeps each byte as the
escape ``\\udcXX`` (the convention of Python's ``surrogateescape``).

>>> toml_string('say "hi"\\x1b')
'"say \\\\"hi\\\\"\\\\u001B"'
>>> import tomllib
>>> tomllib.loads("p = " + toml_string('a\\tb\\x7f\\U0001f600'))["p"] == 'a\\tb\\x7f\\U0001f600'
True
>>> toml_string('bad\\udcff')
Traceback (most recent call last):
    ...
lldecode.landlock.policy_writer.NotRepresentable: 'bad\\udcff' is not valid UTF-8 ...
"""

from __future__ import annotations

import json
from typing import Any, Mapping

__all__ = ["NotRepresentable", "toml_string", "toml_value", "toml_document",
           "json_string", "json_document", "representable_in_toml"]


class NotRepresentable(ValueError):
    """A string TOML cannot hold (bytes that are not UTF-8)."""


_SHORT = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r",
          '"': '\\"', "\\": "\\\\"}


def representable_in_toml(text: str) -> bool:
    """True when ``text`` holds no lone surrogate (every byte was UTF-8)."""
    return not any(0xD800 <= ord(c) <= 0xDFFF for c in text)


def toml_string(text: str) -> str:
    """A TOML basic string holding exactly ``text``.

    Quotes and backslashes are escaped, control characters (U+0000..U+001F,
    U+007F) written as escapes; everything else is written as itself."""
    out = ['"']
    for char in text:
        code = ord(char)
        if char in _SHORT:
            out.append(_SHORT[char])
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\u{code:04X}")
        elif 0xD800 <= code <= 0xDFFF:
            raise NotRepresentable(
                f"{text!r} is not valid UTF-8 and cannot be written in TOML; "
                "use the JSON form of the policy")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def toml_value(value: Any) -> str:
    """A TOML value for a string, integer, boolean or list of them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {type(value).__name__}")


def _key(name: str) -> str:
    if name and all(c.isascii() and (c.isalnum() or c in "_-") for c in name):
        return name
    return toml_string(name)


def toml_document(document: Mapping[str, Any]) -> str:
    """A landlockconfig document as TOML: top-level keys first, then each
    array of tables (``[[path_beneath]]``, ``[[net_port]]``) in order.

    >>> print(toml_document({"abi": 6, "path_beneath": [
    ...     {"allowed_access": ["fs.read_file"], "parent": ["/etc"]}]}), end="")
    abi = 6
    <BLANKLINE>
    [[path_beneath]]
    allowed_access = ["fs.read_file"]
    parent = ["/etc"]
    """
    lines = []
    tables = []
    for key, value in document.items():
        if isinstance(value, (list, tuple)) and value and all(
                isinstance(v, Mapping) for v in value):
            tables.append((key, value))
        else:
            lines.append(f"{_key(key)} = {toml_value(value)}")
    for key, rows in tables:
        for row in rows:
            if lines:
                lines.append("")
            lines.append(f"[[{_key(key)}]]")
            lines.extend(f"{_key(k)} = {toml_value(v)}" for k, v in row.items())
    return "\n".join(lines) + "\n"


def json_string(text: str) -> str:
    """A JSON string; a byte that was not UTF-8 is kept as ``\\udcXX``."""
    return json.dumps(text)


def json_document(document: Mapping[str, Any], indent: int = 2) -> str:
    """A landlockconfig document as JSON (every byte of every path kept)."""
    return json.dumps(document, indent=indent) + "\n"

