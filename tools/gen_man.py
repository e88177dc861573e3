#!/usr/bin/env python3
"""Generate man/lldecode.1 from the click command tree and man/lldecode.1.in.

The template holds the hand-written sections (description, inputs, exit
status, environment); ``@COMMANDS@``, ``@SELECTION@`` and ``@EXAMPLES@`` are
replaced by what the code says: every command with its usage, help text,
options, examples and exit statuses (its ``--help``), and the examples of
every command gathered in EXAMPLES.  tests/cli/test_manual.py checks the
committed page is up to date; tests/cli/test_manual_examples.py runs the
examples.

Usage: tools/gen_man.py [--check]
"""

from __future__ import annotations

import argparse
import datetime
import inspect
import re
import sys
from pathlib import Path
from typing import List

import click

REPO = Path(__file__).resolve().parent.parent
TEMPLATE = REPO / "man" / "lldecode.1.in"
OUTPUT = REPO / "man" / "lldecode.1"
sys.path.insert(0, str(REPO))

from lldecode import __version__  # noqa: E402
from lldecode.cli.app import cli  # noqa: E402
from lldecode.cli.common import selection_options  # noqa: E402


def roff(text: str) -> str:
    """Text safe in roff: backslashes, hyphens, leading dots and quotes."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return re.sub(r"^([.'])", r"\\&\1", text, flags=re.MULTILINE)


def paragraphs(help_text: str) -> List[str]:
    """Click help text as roff: paragraphs, and \\b blocks kept verbatim."""
    out = []
    for block in re.split(r"\n\s*\n", help_text.strip()):
        lines = block.splitlines()
        if lines and lines[0].strip() == "\b":
            # verbatim, keeping the indentation of its lines under the first
            body = lines[1:]
            indent = min((len(x) - len(x.lstrip()) for x in body if x.strip()), default=0)
            out.append(".nf\n" + "\n".join(roff(x[indent:].rstrip()) for x in body) + "\n.fi")
        else:
            out.append(roff(" ".join(line.strip() for line in lines)))
    return out


def option_lines(param: click.Parameter) -> List[str]:
    names = ", ".join(f"\\fB{roff(o)}\\fR" for o in param.opts + param.secondary_opts)
    metavar = ""
    if not getattr(param, "is_flag", False) and not getattr(param, "count", False):
        if isinstance(param.type, click.Choice):
            metavar = " \\fI" + roff("|".join(param.type.choices)) + "\\fR"
        else:
            metavar = " \\fI" + roff(param.metavar or param.type.name.upper()) + "\\fR"
    help_text = roff(param.help or "")
    default = param.default
    if getattr(param, "show_default", False) and default not in (None, (), False):
        help_text += f" Default: {roff(str(default))}."
    return [".TP", names + metavar, help_text]


def _selection_params() -> List[click.Parameter]:
    @selection_options
    def probe(**_kwargs):  # pragma: no cover - never called
        pass

    return list(reversed(probe.__click_params__))


SELECTION_NAMES = {param.name for param in _selection_params()}


def render_selection() -> str:
    lines = []
    for param in _selection_params():
        lines.extend(option_lines(param))
    return "\n".join(lines)


def _blocks(text: str) -> List[str]:
    """The paragraphs of a help text, \\b blocks with their \\b line."""
    return [b for b in re.split(r"\n\s*\n", inspect.cleandoc(text).strip()) if b.strip()]


def _help_and_epilog(command: click.Command) -> List[str]:
    return _blocks(command.help or "") + _blocks(command.epilog or "")


def _titled(block: str, title: str) -> bool:
    lines = [line.strip() for line in block.splitlines()]
    return len(lines) > 1 and lines[0] == "\b" and lines[1] == title


def examples(command: click.Command) -> List[str]:
    """The command lines of a command's Examples block (its help or epilog)."""
    out: List[str] = []
    for block in _help_and_epilog(command):
        if _titled(block, "Examples:"):
            out.extend(line.strip() for line in block.splitlines()[2:] if line.strip())
    return out


def all_examples() -> List[tuple]:
    """(command name, its examples) for every command, explain first."""
    ctx = click.Context(cli, info_name="lldecode")
    names = sorted(cli.list_commands(ctx), key=lambda n: (n not in EXAMPLES_FIRST,
                                                          EXAMPLES_FIRST.index(n)
                                                          if n in EXAMPLES_FIRST else 0, n))
    return [(name, examples(cli.get_command(ctx, name))) for name in names]


# The commands whose examples open the EXAMPLES section, in this order.
EXAMPLES_FIRST = ["explain", "filter", "summarize", "domains"]


def render_examples() -> str:
    lines = []
    for name, found in all_examples():
        if not found:
            continue
        lines += [".PP", f"\\fB{roff(name)}\\fR:", ".PP", ".RS", ".nf"]
        lines += [roff(line) for line in found]
        lines += [".fi", ".RE"]
    return "\n".join(lines)


def render_command(name: str, command: click.Command) -> str:
    ctx = click.Context(command, info_name=f"lldecode {name}")
    usage = " ".join(command.collect_usage_pieces(ctx))
    lines = [f".SS {name}", f".B lldecode {name}", roff(usage), ".PP"]
    lines.extend("\n.PP\n".join(paragraphs(command.help or "")).splitlines())
    extra = getattr(command, "extra_help", None)
    if extra is not None:
        title, _, body = extra().partition("\n")
        lines += [".PP", roff(title), ".PP", ".nf", ".RS"]
        lines += [roff(line.strip()) for line in body.splitlines()]
        lines += [".RE", ".fi"]
    own = [p for p in command.params
           if isinstance(p, click.Option) and p.name not in SELECTION_NAMES]
    shared = [p for p in command.params
              if isinstance(p, click.Option) and p.name in SELECTION_NAMES]
    if own:
        lines.append(".PP\nOptions:")
        lines.append(".RS")
        for param in own:
            lines.extend(option_lines(param))
        lines.append(".RE")
    if shared:
        flags = ", ".join(f"\\fB{roff(p.opts[0])}\\fR" for p in shared)
        lines.append(".PP")
        lines.append(f"Selection options (see \\fBSELECTION OPTIONS\\fR): {flags}.")
    if command.epilog:  # the examples and exit statuses that end its --help
        lines.append(".PP")
        lines.extend("\n.PP\n".join(paragraphs(inspect.cleandoc(command.epilog))).splitlines())
    return "\n".join(lines)


def render() -> str:
    template = TEMPLATE.read_text()
    selection = render_selection()
    ctx = click.Context(cli, info_name="lldecode")
    commands = "\n".join(render_command(name, cli.get_command(ctx, name))
                         for name in cli.list_commands(ctx))
    date = _template_date(template)
    return (template.replace("@VERSION@", __version__).replace("@DATE@", date)
            .replace("@SELECTION@", selection).replace("@COMMANDS@", commands)
            .replace("@EXAMPLES@", render_examples()))


def _template_date(template: str) -> str:
    # The page's date is the template's, so regeneration is reproducible.
    m = re.search(r"^\.\\\" date: (\S+)", template, re.MULTILINE)
    return m.group(1) if m else datetime.date.today().isoformat()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="exit 1 if man/lldecode.1 is not up to date")
    args = parser.parse_args(argv)
    page = render()
    if args.check:
        return 0 if OUTPUT.read_text() == page else 1
    OUTPUT.write_text(page)
    return 0


if __name__ == "__main__":
    sys.exit(main())
