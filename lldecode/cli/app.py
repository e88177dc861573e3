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
        return getattr(module, attr)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
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
