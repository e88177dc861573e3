"""What the hostile-input tests check, defined independently of the code
under test (the unsafe characters come from the Unicode database, not from
lldecode.output.escape).

- text output: no C0 control but the newline, no DEL or C1 control, no
  format (Cf: bidi overrides and isolates, zero-width...), line or paragraph
  separator (Zl, Zp) or lone surrogate (Cs), raw; the colour codes lldecode
  writes itself (``ESC [ ... m``) are taken out first;
- JSON output: strict UTF-8, parses, no raw U+2028/U+2029, and every
  ``<field>_hex`` sibling gives back bytes whose text is the field's.
"""

from __future__ import annotations

import functools
import json
import re
import sys
import unicodedata
from typing import Any, Iterator, List, Tuple

UNSAFE_CATEGORIES = ("Cc", "Cf", "Zl", "Zp", "Cs")
OUR_COLOURS = re.compile("\x1b\\[[0-9;]*m")


@functools.lru_cache(maxsize=1)
def unsafe_re() -> "re.Pattern[str]":
    """Every character of the unsafe categories but the newline."""
    ranges: List[Tuple[int, int]] = []
    for code in range(sys.maxunicode + 1):
        if code != 0x0A and unicodedata.category(chr(code)) in UNSAFE_CATEGORIES:
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1] = (ranges[-1][0], code)
            else:
                ranges.append((code, code))
    parts = "".join(re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}"
                    for a, b in ranges)
    return re.compile(f"[{parts}]")


def assert_clean_text(out: Any, what: Any = "") -> str:
    """``out`` (bytes or text) holds no unsafe character raw; its text."""
    text = out.decode("utf-8") if isinstance(out, bytes) else out
    bare = OUR_COLOURS.sub("", text)
    bad = unsafe_re().search(bare)
    assert bad is None, (what, repr(bare[max(0, bad.start() - 60): bad.end() + 60]))
    return text


def strings(value: Any) -> Iterator[str]:
    """Every key and string of a parsed JSON value."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def hex_siblings(value: Any) -> Iterator[Tuple[str, Any, Any]]:
    """(name, field value, sibling value) of every ``_hex`` sibling in ``value``."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key.endswith("_hex") and key[:-4] in value:
                yield key[:-4], value[key[:-4]], item
            yield from hex_siblings(item)
    elif isinstance(value, list):
        for item in value:
            yield from hex_siblings(item)


def _check_sibling(name: str, text: Any, hexed: Any) -> None:
    if hexed is None:
        # a field with no bytes (a number, null), or (the siblings of schema
        # v1 are always there) a text that is its bytes: it can hold no U+FFFD
        if isinstance(text, str):
            assert "\ufffd" not in text, (name, text)
        elif isinstance(text, list):
            assert not any(isinstance(t, str) and "\ufffd" in t for t in text), (name, text)
        return
    if isinstance(hexed, list):
        assert isinstance(text, list) and len(text) == len(hexed), name
        for element, element_hex in zip(text, hexed):
            if element_hex is not None:
                _check_sibling(name, element, element_hex)
        return
    raw = bytes.fromhex(hexed)
    assert raw.decode("utf-8", "replace") == text, (name, text, hexed)


def assert_json_rule(out: bytes, ndjson: bool, what: Any = "") -> List[Any]:
    """``out`` is JSON (or NDJSON) by lldecode's rule; its documents."""
    text = out.decode("utf-8")  # strict: UnicodeDecodeError if not UTF-8
    assert "\u2028" not in text and "\u2029" not in text, what
    docs = [json.loads(line) for line in text.splitlines()] if ndjson else [json.loads(text)]
    for doc in docs:
        for string in strings(doc):
            string.encode("utf-8")  # no lone surrogate once parsed
        for name, field, hexed in hex_siblings(doc):
            _check_sibling(name, field, hexed)
    return docs
