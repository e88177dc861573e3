"""The reading commands: filter, explain, summarize, domains."""

from __future__ import annotations

import json
import sys

import click

from lldecode.cli.common import (exit_status, files_argument, guarded, strict_option)


@click.command("filter")
@files_argument
@click.option("-c", "--count", is_flag=True,
              help="Print only the number of selected denials.")
@click.option("-f", "--format", "fmt", type=click.Choice(["ndjson", "json"]),
              default="ndjson", show_default=True, help="Output format.")
@strict_option
@guarded
def filter_cmd(files, count, fmt, strict):
    """Select Landlock denials (exit 0 if any, 1 if none, 2 on error)."""
    from lldecode.jsonable import denial_dict
    from lldecode.pipeline import Reading
    from lldecode.records import Diagnostics

    diagnostics = Diagnostics()
    reading = Reading(files, diagnostics)
    out = sys.stdout
    n = 0
    if count:
        for _ in reading.denials():
            n += 1
        out.write(f"{n}\n")
    elif fmt == "ndjson":
        for denial in reading.denials():
            n += 1
            out.write(json.dumps(denial_dict(denial), ensure_ascii=False) + "\n")
    else:
        items = [denial_dict(d) for d in reading.denials()]
        n = len(items)
        json.dump(items, out, ensure_ascii=False, indent=2)
        out.write("\n")
    sys.exit(exit_status(n > 0, diagnostics, strict))
