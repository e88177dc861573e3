#!/usr/bin/env python3
"""Generate man/lldecode.1 from the click command tree and man/lldecode.1.in.

The template holds the hand-written sections (description, inputs, exit
status, environment, examples); ``@COMMANDS@`` and ``@SELECTION@`` are
replaced by what the code says: every command with its usage, help text and
options.  tests/cli/test_manual.py checks the committed page is up to date.

Usage: tools/gen_man.py [--check]
"""

from __future__ import annotations

import argparse
import datetime
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
            out.append(".nf\n" + "\n".join(roff(line.strip()) for line in lines[1:]) + "\n.fi")
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
    return "\n".join(lines)


def render() -> str:
    template = TEMPLATE.read_text()
    selection = render_selection()
    ctx = click.Context(cli, info_name="lldecode")
    commands = "\n".join(render_command(name, cli.get_command(ctx, name))
                         for name in cli.list_commands(ctx))
    date = _template_date(template)
    return (template.replace("@VERSION@", __version__).replace("@DATE@", date)
            .replace("@SELECTION@", selection).replace("@COMMANDS@", commands))


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
