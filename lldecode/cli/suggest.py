"""``lldecode suggest``: the landlockconfig rules that would allow denials, verified."""

from __future__ import annotations

import os
from typing import Any, Dict, List, Optional, Tuple

import click

from lldecode.cli.common import (
    EXIT_ERROR,
    Run,
    fail,
    guarded,
    input_options,
    selection_options,
)

_EPILOG = """\b
Examples:
  lldecode suggest /var/log/audit/audit.log
  lldecode suggest --domain 1b6b161a9 --scope dir audit.log
  lldecode suggest --policy base.toml --policy app.toml -f diff audit.log
  lldecode suggest --policy app.toml --write --since 10m /var/log/audit/audit.log
  lldecode suggest --policy app.toml -f toml -o fixed/ audit.log
  lldecode suggest --interactive --policy app.toml audit.log

\b
Exit status: 0 when every selected denial is allowed by the suggested policy,
1 when no denial was selected or some cannot be allowed (they are listed
with the reason), 2 on an error."""


@click.command("suggest", epilog=_EPILOG)
@input_options
@selection_options
@click.option("--policy", "policies", multiple=True, metavar="FILE",
              type=click.Path(dir_okay=False),
              help="The landlockconfig file (TOML or JSON) of each layer, in enforcement "
                   "order; repeat for nested layers. The rules go into every layer that "
                   "denies. Without it: the rules per domain.")
@click.option("--scope", "scope", default="file", show_default=True,
              metavar="file|dir|parent:N|under:PREFIX",
              help="Where rules go: on the object (file rights on the file, directory "
                   "rights on the directory holding the entry), its directory, N "
                   "directories above it, or PREFIX when the object is beneath it.")
@click.option("--merge-depth", type=click.IntRange(0), default=0, show_default=True,
              metavar="N", help="Merge rules with the same rights into one rule on a common "
                                "directory at most N levels above them (never /).")
@click.option("--allow-scope", "allow_scopes", multiple=True,
              type=click.Choice(["signal", "abstract_unix_socket"]),
              help="Remove this scope from the scoped rights of the layers that deny with it "
                   "(no rule can allow a scoped signal or abstract socket). Repeatable.")
@click.option("-f", "--format", "fmt", type=click.Choice(["text", "diff", "toml", "json"]),
              default="text", show_default=True,
              help="text: the rules to add; diff: a unified diff of the policy files; "
                   "toml, json: the updated files (or rules per domain).")
@click.option("-o", "--output-dir", "output_dir", metavar="DIR",
              type=click.Path(file_okay=False),
              help="With --format toml or json: write the updated files into DIR.")
@click.option("--write", "write", is_flag=True,
              help="Update the --policy files in place (each first copied to FILE.orig).")
@click.option("--interactive", is_flag=True,
              help="Ask, for each group of similar denials: allow here, the directory, a "
                   "parent, a prefix, skip, or deny forever.")
@guarded
def suggest_cmd(policies: Tuple[str, ...], scope: str, merge_depth: int,
                allow_scopes: Tuple[str, ...], fmt: str, output_dir: Optional[str],
                write: bool, interactive: bool, **kwargs: Any) -> None:
    """Write the landlockconfig rules that would allow the selected denials,
    and check them.

    [[path_beneath]] rules carry exactly the missing rights: file rights on
    the file, directory rights (make_*, remove_*, read_dir, refer) on the
    directory holding the entry; a rename or link across directories gets
    refer on both sides, the remove_* right at the source and the make_*
    right at the destination.  [[net_port]] rules allow bind and connect.
    Rights are grouped with the abi.* names where one matches the file's abi.

    Every selected denial is checked again under the suggested policy (the
    simulator's model of the kernel): the output says "N of N denials
    allowed by the suggested policy" and lists any that are not, with the
    reason.  handled_access_* is never widened, and a scope is removed only
    with --allow-scope.  What no rule can allow (scoped signals and abstract
    sockets, ptrace, mount changes) is said.
    """
    from lldecode.analysis.suggest import requests_of
    from lldecode.landlock.policy import PolicyError
    from lldecode.landlock.suggest import Scope, SuggestError, suggest_rules
    from lldecode.output.suggest import documents_text, render_text, report_text
    from lldecode.output.text import utf8_stdout

    if fmt == "diff" and not policies:
        fail("--format diff needs the policy files (--policy FILE, one per layer)")
    if write and not policies:
        fail("--write needs the policy files to update (--policy FILE)")
    if output_dir and fmt not in ("toml", "json"):
        fail("-o DIR writes the updated files: give --format toml or --format json")
    try:
        Scope.parse(scope)
    except SuggestError as exc:
        fail(f"--scope: {exc}")
    from lldecode.cli.read import _run

    run: Run = _run(kwargs)  # every input and selection option, as the reading commands
    requests = requests_of(run.denials())
    try:
        if interactive and requests:
            requests = _ask(_remembered(requests, policies))
        result = suggest_rules(requests, list(policies) or None, scope=scope,
                               merge_depth=merge_depth, allow_scopes=allow_scopes)
    except PolicyError as exc:
        fail(str(exc))
    except SuggestError as exc:
        fail(str(exc))
    out = utf8_stdout()
    if not requests:
        click.echo("lldecode: no denial selected: no rule to suggest", err=True)
        run.exit(False)
    written: List[str] = []
    try:
        if write:
            written = result.write(in_place=True)
        elif output_dir:
            os.makedirs(output_dir, exist_ok=True)
            if result.documents:
                written = result.write(directory=output_dir, fmt=fmt)
            else:
                written = _write_snippets(result.snippets, output_dir, fmt)
    except OSError as exc:
        click.echo(f"lldecode: cannot write: {exc}", err=True)
        raise click.exceptions.Exit(EXIT_ERROR) from None
    if fmt == "text" and not write:
        out.write(render_text(result))
    else:
        if fmt == "diff":
            out.write(result.diff())
        elif fmt in ("toml", "json") and not output_dir:
            out.write(documents_text(result, fmt))
        out.flush()  # the result first, then the report on stderr
        for path in written:
            click.echo(f"lldecode: wrote {path}", err=True)
        click.echo(report_text(result), err=True, nl=False)
    run.exit(result.verification.ok)


def _write_snippets(snippets: Dict[str, Dict[str, Any]], directory: str, fmt: str) -> List[str]:
    from lldecode.output.suggest import snippet_text

    written = []
    for domain, snippet in snippets.items():
        text = snippet_text(snippet, fmt)
        suffix = "json" if fmt == "json" or text.startswith("# a path is not") else "toml"
        if suffix == "json" and fmt == "toml":
            text = snippet_text(snippet, "json")
        path = os.path.join(directory, f"domain-{domain}.{suffix}")
        with open(path, "w", encoding="utf-8") as stream:
            stream.write(text)
        written.append(path)
    return written


_CHOICES = {"a": "allow here", "d": "allow in the directory", "p": "allow in a parent",
            "x": "allow under a prefix", "s": "skip",
            "n": "deny forever (remembered in the youngest TOML layer)"}


def _remembered(requests: List[Any], policies: Tuple[str, ...]) -> List[Any]:
    """The requests, those the policy files remember as denied on purpose marked so."""
    import dataclasses

    from lldecode.landlock.suggest import deny_key, read_sources

    if not policies:
        return requests
    remembered = [key for source in read_sources(list(policies)) for key in source.denied]
    return [dataclasses.replace(r, decision="deny") if deny_key(r) in remembered else r
            for r in requests]


def _ask(requests: List[Any]) -> List[Any]:
    """One prompt per group of similar denials (on stderr); the requests
    with the answers (their scope, or skip/deny)."""
    import dataclasses

    from lldecode.analysis.suggest import group_key
    from lldecode.output.escape import escape_text

    groups: Dict[Tuple[object, ...], List[int]] = {}
    for index, request in enumerate(requests):
        groups.setdefault(group_key(request), []).append(index)
    answered = list(requests)
    menu = " / ".join(f"[{key}] {label}" for key, label in _CHOICES.items())
    for number, members in enumerate(groups.values(), 1):
        first = requests[members[0]]
        count = sum(requests[i].records for i in members)
        click.echo(f"\n({number}/{len(groups)}) {count} denial{'s' if count > 1 else ''}:",
                   err=True)
        for index in members[:5]:
            click.echo(f"  {escape_text(requests[index].what)}", err=True)
        if len(members) > 5:
            click.echo(f"  ... and {len(members) - 5} more", err=True)
        if first.kind not in ("fs", "reparent", "net"):
            click.echo("  no rule can allow this (see the notes)", err=True)
            continue
        if all(requests[i].decision == "deny" for i in members):
            click.echo("  denied on purpose earlier (remembered in the policy)", err=True)
            continue
        click.echo(menu, err=True)
        answer = click.prompt("choice", type=click.Choice(list(_CHOICES)), default="a",
                              err=True)
        scope: Optional[str] = None
        decision: Optional[str] = None
        if answer == "d":
            scope = "dir"
        elif answer == "p":
            levels = click.prompt("how many directories above the object", type=click.IntRange(1),
                                  default=2, err=True)
            scope = f"parent:{levels}"
        elif answer == "x":
            prefix = click.prompt("prefix", err=True)
            scope = f"under:{prefix}"
        elif answer == "s":
            decision = "skip"
        elif answer == "n":
            decision = "deny"
        else:
            scope = "file"
        if scope is not None:
            from lldecode.landlock.suggest import Scope, SuggestError

            try:
                Scope.parse(scope)
            except SuggestError as exc:
                click.echo(f"lldecode: {exc}: allowing here", err=True)
                scope = "file"
        for index in members:
            answered[index] = dataclasses.replace(requests[index], scope=scope,
                                                  decision=decision)
    return answered
