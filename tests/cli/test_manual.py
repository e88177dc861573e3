"""man/lldecode.1: generated from the command tree, complete, and clean roff."""

from __future__ import annotations

import os
import shutil
import subprocess

import click
import pytest

from lldecode.cli.app import cli
from tests.conftest import ROOT
from tools import gen_man

PAGE = ROOT / "man" / "lldecode.1"


def test_manual_is_generated_from_the_code():
    assert PAGE.read_text() == gen_man.render(), "stale manual: run tools/gen_man.py"


def _sections(text):
    """Command name -> its .SS section of the manual."""
    parts = {}
    for chunk in text.split("\n.SS ")[1:]:
        name, _, body = chunk.partition("\n")
        parts[name.strip()] = body.split("\n.SH ")[0]
    return parts


def test_every_command_and_option_is_in_the_manual():
    text = PAGE.read_text()
    sections = _sections(text)
    ctx = click.Context(cli, info_name="lldecode")
    for name in cli.list_commands(ctx):
        command = cli.get_command(ctx, name)
        assert name in sections, f"command {name} missing from the manual"
        for param in command.params:
            if not isinstance(param, click.Option):
                continue
            for flag in param.opts + param.secondary_opts:
                assert gen_man.roff(flag) in sections[name], f"{name} {flag} missing"
            if param.name in gen_man.SELECTION_NAMES:
                selection = text.split(".SH SELECTION OPTIONS")[1].split("\n.SH ")[0]
                assert gen_man.roff(param.opts[0]) in selection
    for flag in ("\\-\\-version", "\\-\\-help"):
        assert flag in text


@pytest.mark.skipif(shutil.which("groff") is None, reason="groff is not installed")
def test_groff_prints_no_warning():
    result = subprocess.run(["groff", "-man", "-ww", "-z", str(PAGE)], capture_output=True)
    assert result.returncode == 0 and result.stderr == b"", result.stderr.decode()


@pytest.mark.skipif(shutil.which("man") is None, reason="man is not installed")
def test_man_renders_the_page():
    env = dict(os.environ, MANWIDTH="80", MANPAGER="cat", PAGER="cat")
    result = subprocess.run(["man", "-l", str(PAGE)], capture_output=True, env=env)
    assert result.returncode == 0
    text = result.stdout.decode()
    assert "lldecode - decode and analyze Linux Landlock audit logs" in text
    assert "SELECTION OPTIONS" in text and "EXIT STATUS" in text
