"""Rendering ``lldecode suggest``: rules as landlockconfig text, the
verification line, what is not allowed and the notes.

Paths and other values from the log appear in three syntaxes: in TOML
(escaped by :mod:`lldecode.landlock.policy_writer`, the characters a
terminal could act on written as ``\\uNNNN``), in JSON (``\\uNNNN`` for
every character that is not ASCII, ``\\udcXX`` for a byte that is not
UTF-8) and in the sentences of notes (:func:`lldecode.output.escape.escape_text`).
"""

from __future__ import annotations

import json
from typing import Any, Dict, List

from lldecode.landlock.policy_writer import NotRepresentable, json_document, toml_document
from lldecode.landlock.suggest import (
    LayerDocument,
    Suggestion,
    additions_of,
    snippet_document,
    toml_safe,
)
from lldecode.output.escape import escape_text


def snippet_text(document: Dict[str, Any], fmt: str = "toml") -> str:
    """A landlockconfig document as TOML (JSON when a path is not UTF-8,
    with a comment saying so) or JSON."""
    if fmt == "toml":
        try:
            return toml_safe(toml_document(document))
        except NotRepresentable:
            return ("# a path is not valid UTF-8: TOML cannot hold it; the JSON form:\n"
                    + json_document(document))
    return json_document(document)


def layer_snippet(doc: LayerDocument) -> str:
    """The rules added to one layer, as the text to add to its file."""
    abi = doc.document.get("abi") if isinstance(doc.document.get("abi"), int) else None
    body = snippet_document(additions_of(doc.rules), abi)
    return snippet_text(body, "json" if doc.format == "json" else "toml") if body else ""


def render_text(result: Suggestion) -> str:
    """The default output: the rules to add (per layer with a policy, per
    domain without), then the verification and the notes."""
    parts: List[str] = []
    if result.documents:
        for doc in result.documents:
            if doc.rules:
                parts.append(f"# add to {escape_text(doc.source)} (layer {doc.layer})\n"
                             + layer_snippet(doc))
            if doc.dropped_scopes:
                parts.append(f"# in {escape_text(doc.source)} (layer {doc.layer}): remove "
                             + ", ".join(f'"{s}"' for s in doc.dropped_scopes)
                             + " from [[ruleset]] scoped\n")
    else:
        for domain, snippet in result.snippets.items():
            parts.append(f"# domain {escape_text(domain)}: add to the ruleset that denied\n"
                         + snippet_text(snippet))
    if not parts:
        parts.append("# no rule to add\n")
    return "\n".join(parts) + "\n" + report_text(result)


def report_text(result: Suggestion) -> str:
    """The verification line, what is not allowed, and the notes."""
    lines = [result.verification.summary]
    failures = result.verification.failures
    if failures:
        lines.append("not allowed:")
        for failure in failures:
            count = f" ({failure.records} denials)" if failure.records > 1 else ""
            lines.append(f"  - {escape_text(failure.what)}{count}: "
                         f"{escape_text(failure.reason)}")
    if result.notes:
        lines.append("notes:")
        lines.extend(f"  - {escape_text(note)}" for note in result.notes)
    return "\n".join(lines) + "\n"


def documents_text(result: Suggestion, fmt: str) -> str:
    """Every updated file in ``fmt`` (toml or json), each after a comment
    (TOML) or as one JSON object keyed by file name."""
    if not result.documents:
        if fmt == "json":
            return json_document({f"domain {d}": s for d, s in result.snippets.items()})
        return "\n".join(f"# domain {escape_text(d)}\n" + snippet_text(s)
                         for d, s in result.snippets.items())
    if fmt == "json":
        out: Dict[str, Any] = {}
        for doc in result.documents:
            name, text = doc.as_format("json")
            out[name] = json.loads(text)
        return json_document(out)
    texts = []
    for doc in result.documents:
        try:
            name, text = doc.as_format("toml")
        except NotRepresentable:
            name, text = doc.as_format("json")
            text = "# a path is not valid UTF-8: TOML cannot hold it; the JSON form:\n" + text
        texts.append(f"# {escape_text(name)}\n{toml_safe(text)}")
    return "\n".join(texts)
