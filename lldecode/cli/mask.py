"""``lldecode mask``: decode a raw access mask or deny mask from the kernel."""

from __future__ import annotations

import click

from lldecode.cli.common import EXIT_ERROR, format_option, guarded

KINDS = ("fs", "net", "scope", "deny")


def parse_value(text: str) -> int:
    """A kernel value: 0x-prefixed hex, decimal, or bare hex digits (``ff``)."""
    try:
        return int(text, 0)
    except ValueError:
        pass
    try:
        return int(text, 16)
    except ValueError:
        raise ValueError(f"not a number: {text!r} (hex like 0x4006, or decimal)") from None


MASK_EPILOG = """\
\b
Examples:
  lldecode mask fs 0xc000
  lldecode mask net 3
  lldecode mask deny 0x21
  lldecode mask --abi 4 -f json fs 0x7fff

\b
Exit status:
  0  the value was decoded
  2  an error: not a number, or a bit no right has (or, with --abi, one
     newer than that ABI)
"""


@click.command("mask", epilog=MASK_EPILOG,
               context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("kind", type=click.Choice(KINDS), metavar="fs|net|scope|deny")
@click.argument("value")
@format_option(["text", "json"], "text")
@click.option("--abi", type=click.IntRange(1), default=None, metavar="N",
              help="Reject bits of rights newer than Landlock ABI N.")
@guarded
def mask_cmd(kind: str, value: str, fmt: str, abi: int) -> None:
    """Decode a raw kernel VALUE (hex or decimal).

    fs, net and scope: an access mask, to the names of its rights.
    deny: the deny masks a file records when opened (one 4-bit layer index
    per optional right: truncate, then ioctl_dev), to the layer of each.

    Layers are 0-based in JSON, as in the kernel; the text output shows
    both the kernel's index and the 1-based layer (the --policy order of
    `lldecode simulate`).
    """
    from lldecode.landlock.access import mask_to_names, right
    from lldecode.landlock.layers import decode_deny_masks
    from lldecode.output.jsonable import dumps
    from lldecode.output.masks import render_access, render_deny

    try:
        number = parse_value(value)
        if kind == "deny":
            layers = {right_name(bit): layer for bit, layer in decode_deny_masks(number).items()}
        else:
            names = mask_to_names(kind, number, abi)
    except ValueError as exc:
        click.echo(f"lldecode mask: {exc}", err=True)
        raise click.exceptions.Exit(EXIT_ERROR) from None
    if fmt == "json":
        click.echo(dumps(layers if kind == "deny" else names))
    elif kind == "deny":
        click.echo(render_deny(number, layers))
    else:
        click.echo(render_access(kind, number, [right(n) for n in names]))


def right_name(bit: int) -> str:
    from lldecode.landlock.access import mask_to_names

    return mask_to_names("fs", 1 << bit)[0]
