"""``lldecode simulate``: predict what the kernel does under a policy."""

from __future__ import annotations

from typing import Optional, Tuple

import click

from lldecode.cli.common import EXIT_ERROR, format_option, guarded
from lldecode.cli.completion import complete_files, complete_operations

EXIT_ALLOWED, EXIT_DENIED = 0, 1


def _operations_help() -> str:
    from lldecode.landlock.simulate import OPERATIONS

    return "\n".join(f"  {op.usage}".ljust(30) + op.summary for op in OPERATIONS.values())


class _SimulateCommand(click.Command):
    # tools/gen_man.py puts this text in the manual too.
    extra_help = staticmethod(lambda: "Operations:\n" + _operations_help())

    def format_epilog(self, ctx, formatter) -> None:
        formatter.write_paragraph()
        formatter.write_text("Operations:")
        with formatter.indentation():
            for line in _operations_help().splitlines():
                formatter.write(line + "\n")
        super().format_epilog(ctx, formatter)  # the examples and exit statuses


SIMULATE_EPILOG = """\
\b
Examples:
  lldecode simulate --policy base.toml read /etc/passwd
  lldecode simulate --policy base.toml open /dev/tty 'O_RDWR'
  lldecode simulate --policy base.toml open /tmp/out 'O_WRONLY|O_CREAT|O_TRUNC' --exists
  lldecode simulate --policy base.toml --policy app.toml ioctl /dev/null --cmd FIONREAD
  lldecode simulate --policy a.toml --policy b.toml rename /src/f /dst/f

\b
Exit status:
  0  the kernel allows the operation
  1  it denies it (the records it would log are shown)
  2  an error: a policy that cannot be read, an unknown operation
"""


@click.command("simulate", cls=_SimulateCommand, epilog=SIMULATE_EPILOG,
               context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--policy", "policies", multiple=True, required=True, metavar="FILE",
              shell_complete=complete_files,
              help="A landlockconfig file (TOML or JSON), one per layer, in the order "
                   "they are enforced. Repeatable.")
@click.argument("operation", shell_complete=complete_operations)
@click.argument("args", nargs=-1, shell_complete=complete_files)
@format_option(["text", "json"], "text")
@click.option("--cmd", "ioctl_cmd", default="FIONREAD", show_default=True, metavar="CMD",
              help="ioctl: the command, a number or a name (FIONREAD, FIOCLEX, ...).")
@click.option("--kind", type=click.Choice(["file", "dir", "symlink", "fifo", "socket",
                                           "char", "block"]),
              help="rename/link: what SRC is (default: a regular file).")
@click.option("--replace", is_flag=True, default=None,
              help="rename: DST exists and is replaced.")
@click.option("--exchange", is_flag=True, help="rename: swap SRC and DST (RENAME_EXCHANGE).")
@click.option("--device/--not-device", default=None,
              help="Whether the opened file is a device (default: only for ioctl).")
@click.option("--opened-under", type=click.IntRange(0), metavar="N",
              help="ftruncate/ioctl: the file was opened when only the first N layers "
                   "were enforced.")
@click.option("--target-shares", type=click.IntRange(0), default=0, show_default=True,
              metavar="N", help="signal/abstract-connect/ptrace: the other process is in "
                                "the domain of the first N layers (0: in none).")
@click.option("--target-own-layers", type=click.IntRange(0), default=0, metavar="N",
              help="... and enforced N layers of its own on top of them.")
@click.option("--mount-root", metavar="DIR",
              help="rename/link: the root of the mount holding SRC and DST (default /).")
@click.option("--exists/--new", "exists", default=None,
              help="open with O_CREAT: the file is there already (only opened), or not "
                   "(created: fs.make_reg on its directory). Default: new, or as found "
                   "on disk with --resolve.")
@click.option("--resolve", is_flag=True,
              help="Look paths up: follow symbolic links (operation and rule paths), read "
                   "file kinds, devices and mount points from the filesystem.")
@guarded
def simulate_cmd(policies: Tuple[str, ...], operation: str, args: Tuple[str, ...], fmt: str,
                 ioctl_cmd: str, kind: Optional[str], replace: Optional[bool],
                 exchange: bool, device: Optional[bool], opened_under: Optional[int],
                 target_shares: int, target_own_layers: int, mount_root: Optional[str],
                 exists: Optional[bool], resolve: bool) -> None:
    """Predict whether the kernel allows OPERATION [ARGS]... under the policy,
    and the denial records it logs (layer numbers follow the --policy order).

    Paths are compared lexically after normalization, without touching the
    filesystem unless --resolve is given.
    """
    from lldecode.landlock.policy import PolicyError, load_policy
    from lldecode.landlock.simulate import Options, SimulationError, parse_ioctl_cmd, simulate
    from lldecode.output.jsonable import dumps, simulation_record
    from lldecode.output.simulation import render_text

    try:
        policy = load_policy(list(policies))
        options = Options(kind=kind, replace=replace, exchange=exchange,
                          ioctl_cmd=parse_ioctl_cmd(ioctl_cmd), device=device,
                          opened_under=opened_under, target_shares=target_shares,
                          target_own_layers=target_own_layers, mount_root=mount_root,
                          exists=exists, resolve=resolve)
        outcome = simulate(policy, operation, list(args), options)
    except (PolicyError, SimulationError) as exc:
        click.echo(f"lldecode simulate: {exc}", err=True)
        raise click.exceptions.Exit(EXIT_ERROR) from None
    if fmt == "json":
        click.echo(dumps(simulation_record(outcome.as_dict()), indent=2))
    else:
        click.echo(render_text(operation, args, outcome))
    raise click.exceptions.Exit(EXIT_ALLOWED if outcome.allowed else EXIT_DENIED)
