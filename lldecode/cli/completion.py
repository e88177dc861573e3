"""``lldecode completion bash|zsh|fish``: the shell completion script, and
what each argument completes to.

click writes the scripts; each asks ``lldecode`` itself what completes the
word under the cursor (``_LLDECODE_COMPLETE=bash_complete`` and so on, which
:func:`lldecode.cli.app.main` answers through click).  The functions below
are the ``shell_complete`` callbacks of the options and arguments:

* a FILE argument answers a single item of type ``file``, which every
  click script turns into the shell's own file-name completion (click's
  default for a plain argument is no completion at all, which broke
  ``lldecode filter fixtures/audi<Tab>``);
* ``--blocker`` completes the blockers the kernel logs, ``--by`` the
  dimensions of summarize (after the last comma too), simulate's OPERATION
  its operations; ``--format`` and the other choices complete by click.

This module imports only click: completing a word costs no more than
``lldecode --version``.
"""

from __future__ import annotations

from typing import List

import click
from click.shell_completion import CompletionItem, get_completion_class

SHELLS = ("bash", "zsh", "fish")
PROG, COMPLETE_VAR = "lldecode", "_LLDECODE_COMPLETE"


def complete_files(ctx: click.Context, param: click.Parameter,
                   incomplete: str) -> List[CompletionItem]:
    """File names: the shell completes them (click's ``file`` item)."""
    return [CompletionItem(incomplete, type="file")]


def complete_blockers(ctx: click.Context, param: click.Parameter,
                      incomplete: str) -> List[CompletionItem]:
    # (the names of lldecode.analysis.selection.KNOWN_BLOCKERS, without
    # importing the selection machinery on every Tab)
    from lldecode.landlock.access import NON_RIGHT_BLOCKERS, RIGHTS

    names = [r.dotted for r in RIGHTS] + list(NON_RIGHT_BLOCKERS) + ["unknown"]
    return [CompletionItem(name) for name in names if name.startswith(incomplete)]


def complete_by(ctx: click.Context, param: click.Parameter,
                incomplete: str) -> List[CompletionItem]:
    """summarize's dimensions; ``blocker,e`` completes to ``blocker,exe``."""
    from lldecode.analysis.summarize import DIMENSIONS

    head, comma, last = incomplete.rpartition(",")
    given = set(head.split(",")) if comma else set()
    return [CompletionItem(head + comma + name) for name in DIMENSIONS
            if name.startswith(last) and name not in given]


def complete_operations(ctx: click.Context, param: click.Parameter,
                        incomplete: str) -> List[CompletionItem]:
    from lldecode.landlock.simulate import OPERATIONS

    return [CompletionItem(name, help=op.summary) for name, op in OPERATIONS.items()
            if name.startswith(incomplete)]


def script(shell: str) -> str:
    """The completion script click writes for ``shell``."""
    from lldecode.cli.app import cli

    completion_class = get_completion_class(shell)
    if completion_class is None:  # pragma: no cover - SHELLS are click's
        raise click.BadParameter(f"no completion for {shell}")
    source = completion_class(cli, {}, PROG, COMPLETE_VAR).source()
    if shell == "fish":
        # click's fish script splits "plain,VALUE" at every comma: a --by
        # value "domain,blocker" would complete to "domain".
        source = source.replace('(string split "," $completion)',
                                '(string split -m 1 "," $completion)')
    return source


COMPLETION_EPILOG = """\
\b
Examples:
  # bash, in ~/.bashrc:
  eval "$(lldecode completion bash)"
  # zsh, in ~/.zshrc (after compinit):
  eval "$(lldecode completion zsh)"
  # fish:
  lldecode completion fish > ~/.config/fish/completions/lldecode.fish

\b
Exit status:
  0  the script was printed
  2  an unknown shell
"""


@click.command("completion", epilog=COMPLETION_EPILOG,
               context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("shell", type=click.Choice(SHELLS), metavar="bash|zsh|fish")
def completion_cmd(shell: str) -> None:
    """Print the shell completion script for SHELL.

    It completes commands, options, blocker names (--blocker), summarize's
    --by fields, --format values, simulate's operations, and file names
    for FILE arguments.  Load it from the shell's start-up file (below), or
    write it once where the shell looks for completions.
        """
    click.echo(script(shell), nl=False)
