"""The public API: lazily imported names, help(), and light imports."""

from __future__ import annotations

import pydoc
import subprocess
import sys

import lldecode


def test_every_public_name_resolves():
    for name in lldecode.__all__:
        assert getattr(lldecode, name) is not None, name


def test_help_shows_the_api():
    text = pydoc.render_doc(lldecode, renderer=pydoc.plaintext)
    for name in ("read_denials", "tally", "explain", "simulate", "blame_denial",
                 "load_policy", "DomainRegistry", "decode_deny_masks", "Selection"):
        assert name in text, name


def test_unknown_name_is_an_attribute_error():
    try:
        lldecode.no_such_thing  # noqa: B018
    except AttributeError as exc:
        assert "no_such_thing" in str(exc)
    else:
        raise AssertionError("no AttributeError")


def test_import_is_light():
    """``import lldecode`` loads none of the subpackages (--version stays fast)."""
    code = ("import sys, lldecode; print(sorted(m for m in sys.modules "
            "if m.startswith('lldecode.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_py_typed_is_shipped():
    from importlib import resources

    assert resources.files("lldecode").joinpath("py.typed").is_file()
