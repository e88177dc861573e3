#!/usr/bin/env python3
"""Refresh the example outputs in README.md by running the commands.

An example is a block like::

    <!-- run: lldecode summarize fixtures/auditd-raw.log -->
    ```console
    $ lldecode summarize fixtures/auditd-raw.log
    (output)
    ```

The command runs with bash in the repository, with TZ=UTC and no colour;
the output written below it is what it printed.  tests/cli/test_readme.py runs
every block again and compares, so the README never shows stale output.

Usage: tools/gen_readme.py [--check]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Iterator, Tuple

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
BLOCK_RE = re.compile(r"<!-- run: (?P<command>.+?) -->\n```console\n(?P<body>.*?)```\n",
                      re.DOTALL)


def environment() -> dict:
    env = dict(os.environ, TZ="UTC", NO_COLOR="1", COLUMNS="100", LC_ALL="C.UTF-8")
    # The lldecode of the interpreter running this (a virtual environment's).
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return env


def run(command: str) -> str:
    result = subprocess.run(["bash", "-c", command], cwd=REPO, env=environment(),
                            capture_output=True, timeout=600)
    return result.stdout.decode("utf-8", "replace") + result.stderr.decode("utf-8", "replace")


def blocks(text: str) -> Iterator[Tuple["re.Match[str]", str]]:
    for match in BLOCK_RE.finditer(text):
        yield match, match.group("command")


def render_block(command: str, output: str) -> str:
    if output and not output.endswith("\n"):
        output += "\n"
    return f"<!-- run: {command} -->\n```console\n$ {command}\n{output}```\n"


def refresh(text: str) -> str:
    return BLOCK_RE.sub(lambda m: render_block(m.group("command"), run(m.group("command"))),
                        text)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="exit 1 if an example's output differs from the README")
    args = parser.parse_args(argv)
    text = README.read_text()
    new = refresh(text)
    if args.check:
        return 0 if new == text else 1
    README.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
