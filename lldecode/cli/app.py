"""The ``lldecode`` command: a click group whose subcommands load lazily.

Each subcommand lives in its own module of this package and is imported only
when it runs (or when help lists it), so ``lldecode --version`` imports
nothing but click.
"""

import importlib

import click

from lldecode import __version__

# command name -> "module:attribute" inside lldecode.cli
COMMANDS = {
    "filter": "read:filter_cmd",
    "explain": "read:explain_cmd",
    "summarize": "read:summarize_cmd",
    "domains": "read:domains_cmd",
    "doctor": "doctor:doctor_cmd",
    "export": "export:export_cmd",
    "mask": "mask:mask_cmd",
    "simulate": "simulate:simulate_cmd",
    "suggest": "suggest:suggest_cmd",
    "run": "run:run_cmd",
    "completion": "completion:completion_cmd",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return sorted(COMMANDS)

    def get_command(self, ctx, name):
        target = COMMANDS.get(name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        module = importlib.import_module(f"lldecode.cli.{module_name}")
        return _examples_last(getattr(module, attr))


def _examples_last(command: click.Command) -> click.Command:
    """Every --help ends with its examples and exit statuses: the blocks
    of a command's help from its ``Examples:`` block on become its epilog
    (shown after the options), unless it has an epilog already."""
    import inspect
    import re

    if command.epilog or not command.help or "Examples:" not in command.help:
        return command
    blocks = re.split(r"\n[ \t]*\n", inspect.cleandoc(command.help))
    for i, block in enumerate(blocks):
        lines = [line.strip() for line in block.splitlines()]
        if len(lines) > 1 and lines[0] == "\b" and lines[1] == "Examples:":
            if i:
                command.help = "\n\n".join(blocks[:i])
                command.epilog = "\n\n".join(blocks[i:])
            break
    return command


EPILOG = """\
\b
Examples:
  lldecode explain /var/log/audit/audit.log
  ausearch -m 1423,1424 --raw | lldecode explain
  lldecode summarize --by blocker,exe /var/log/audit/
  lldecode filter -q --blocker 'fs.*' build.log && echo "Landlock denials"
  lldecode COMMAND --help

\b
Exit status: each command's --help gives its own; 2 is always an error.
Manual: man lldecode.  Completion: lldecode completion bash|zsh|fish.
"""


@click.group(cls=LazyGroup, epilog=EPILOG,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="lldecode")
def cli():
    """Decode and analyze Linux Landlock audit logs.

    Reads auditd logs (raw, enriched or `ausearch -i`), dmesg, journald
    output and CI logs, from files, rotated sets, compressed files or stdin.
    """


def main(argv=None):
    """The console entry point: never a traceback (LLDECODE_DEBUG=1 shows it)."""
    import os
    import sys

    if sys.stdout is None:  # started with standard output closed
        if sys.stderr is not None:
            sys.stderr.write("lldecode: standard output is closed\n")
        sys.exit(2)
    try:
        cli.main(args=argv, prog_name="lldecode")
    except Exception as exc:  # noqa: BLE001 - one line, exit status 2
        if os.environ.get("LLDECODE_DEBUG"):
            raise
        sys.stderr.write(f"lldecode: internal error: {type(exc).__name__}: {exc}\n")
        sys.exit(2)
