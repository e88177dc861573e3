"""README.md: its set-up commands and its examples, which must be real output."""

from __future__ import annotations

import re

import pytest

from tests.conftest import ROOT
from tools import gen_readme

README = (ROOT / "README.md").read_text()


def test_two_setup_commands_the_second_runs_the_tests():
    block = re.search(r"<!-- setup -->\n```sh\n(.*?)```\n<!-- /setup -->", README, re.DOTALL)
    commands = block.group(1).strip().splitlines()
    assert len(commands) == 2
    assert commands[0].startswith("pip install . && lldecode ")
    assert commands[1] == "pip install '.[test]' && python -m pytest"
    ci = (ROOT / ".ci" / "run").read_text()
    assert "<!-- setup -->" in ci  # CI runs exactly these lines


EXAMPLES = [m.group("command") for m, _ in gen_readme.blocks(README)]


def test_readme_has_examples_of_every_reading_command():
    text = " ".join(EXAMPLES)
    for command in ("explain", "summarize", "domains", "filter", "mask", "simulate"):
        assert f"lldecode {command}" in text, command


@pytest.mark.parametrize("command", EXAMPLES)
def test_readme_example_is_real_output(command):
    match = next(m for m, c in gen_readme.blocks(README) if c == command)
    assert gen_readme.render_block(command, gen_readme.run(command)) == match.group(0), (
        "README example is stale: run tools/gen_readme.py")
