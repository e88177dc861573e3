"""lldecode doctor: would this host log Landlock denials, and could they be read?"""

from __future__ import annotations

import sys

import click

from lldecode.cli.common import color_option, guarded


@click.command("doctor")
@click.option("-f", "--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="Output format.")
@click.option("--no-probe", is_flag=True,
              help="Do not make test denials (as root, doctor makes two in a sandboxed child "
                   "process and watches the audit multicast group for their records).")
@color_option
@guarded
def doctor_cmd(fmt, no_probe, color):
    """Check why Landlock denials would not be logged, or not be readable, here.

    \b
    Checks, each ok, warning, problem or unknown (this user cannot check it),
    with the fix: kernel 6.15 or later, CONFIG_AUDIT, Landlock ABI 7, audit
    enabled, exclude rules on types 1423/1424, the audit rate limit, the
    backlog and lost records, who receives the records (auditd, journald or
    the console), the console's rate limit, whether the audit userspace names
    type 1423, whether the audit log is readable, and, as root, whether a test
    denial is logged, and one after execve (Landlock's default: not logged).
    Without root, the checks that need it say so.

    \b
    Examples:
      lldecode doctor
      sudo lldecode doctor --format json | jq '.checks[] | select(.status != "ok")'

    \b
    Exit status: 0 when denials would be logged and readable (no problem),
    1 when a problem was found, 2 on an error.
    """
    from lldecode.analysis.doctor import diagnose, healthy
    from lldecode.output.jsonable import write_json_document
    from lldecode.output.text import Style, utf8_stdout

    checks = diagnose(probe=not no_probe)
    good = healthy(checks)
    out = utf8_stdout()
    if fmt == "json":
        write_json_document(out, {"healthy": good}, "checks", (c.to_dict() for c in checks))
    else:
        from lldecode.output.doctor import render_text

        out.write(render_text(checks, good, Style(color)))
    sys.exit(0 if good else 1)
