"""Every command's JSON and NDJSON follows the shipped schema (v1), on every
fixture and on the hostile logs: stable keys, one type per key whatever the
input's format, ISO 8601 times beside epoch seconds, ids as numbers.

The schema is lldecode/schema/lldecode-v1.schema.json (package data);
docs/json.md documents it.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import pytest
from click.testing import CliRunner

from lldecode.cli.app import cli
from lldecode.output.jsonable import SCHEMA_VERSION, iso_time, load_schema
from tests.cli.test_hostile_output import LOGS as HOSTILE_LOGS
from tests.cli.test_hostile_output import logs  # noqa: F401  (a fixture)
from tests.conftest import FIXTURES

jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is not installed")

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "lldecode" / "schema" / \
    "lldecode-v1.schema.json"
POLICIES = sorted(str(p) for p in (FIXTURES / "policies").iterdir())

# every input the project ships: the captures of each carrier, the rotated
# set, the kernel samples
INPUTS = sorted(
    [p for p in FIXTURES.iterdir()
     if p.is_file() and p.suffix in (".log", ".txt", ".json", ".netlink")
     and not p.name.endswith(".scenarios.json")]
    + [FIXTURES / "rotated", *(FIXTURES / "samples").iterdir()], key=str)

# (command, what each document or line is: a $defs name)
COMMANDS: List[Tuple[List[str], str]] = [
    (["filter", "-f", "json"], "denial"),
    (["filter", "-f", "ndjson"], "denial"),
    (["explain", "-f", "json"], "explanation"),
    (["explain", "-f", "ndjson"], "explanation"),
    (["explain", "--policy", POLICIES[0], "-f", "ndjson"], "explanation"),
    (["summarize", "-f", "json"], "summary"),
    (["summarize", "--by", "domain,blocker,exe,path,syscall", "-f", "json"], "summary"),
    (["summarize", "--by", "blocker,exe", "-f", "ndjson"], "summary_group"),
    (["domains", "-f", "json"], "domain"),
    (["domains", "-f", "ndjson"], "domain"),
    (["domains", "--blocker", "fs.*", "-f", "ndjson"], "domain"),
]


@lru_cache(maxsize=1)
def schema() -> Dict[str, Any]:
    data: Dict[str, Any] = json.loads(SCHEMA_FILE.read_text())
    jsonschema.Draft202012Validator.check_schema(data)
    return data


def validator(kind: str) -> Any:
    """A validator of one kind of record (or the summary document)."""
    whole = schema()
    return jsonschema.Draft202012Validator(
        {"$defs": whole["$defs"], "$ref": f"#/$defs/{kind}"})


def run(args: List[str], path: Any) -> Tuple[int, str]:
    extra = ["-j", "1"] if args[0] in ("summarize", "domains") else []
    result = CliRunner().invoke(cli, [*args, *extra, str(path)])
    assert b"internal error" not in result.stderr_bytes, result.stderr_bytes[-300:]
    assert result.exit_code in (0, 1), (args, result.exit_code, result.stderr_bytes[-300:])
    return result.exit_code, result.stdout


def records(args: List[str], kind: str, text: str) -> List[Dict[str, Any]]:
    """The documents of an output, validated; its records (the lines of
    NDJSON, the items of a list, the groups of a summary)."""
    whole = jsonschema.Draft202012Validator(schema())
    if "ndjson" in args:
        docs = [json.loads(line) for line in text.splitlines()]
        one = validator(kind)
        for doc in docs:
            whole.validate(doc)
            one.validate(doc)
        return docs
    doc = json.loads(text)
    whole.validate(doc)
    if kind == "summary":
        validator("summary").validate(doc)
        assert doc["schema_version"] == SCHEMA_VERSION
        return list(doc["groups"])
    list_schema = {"$defs": schema()["$defs"], "type": "array",
                   "items": {"$ref": f"#/$defs/{kind}"}}
    jsonschema.Draft202012Validator(list_schema).validate(doc)
    return list(doc)


@pytest.mark.parametrize("args,kind", COMMANDS, ids=[" ".join(c[0][:3]) for c in COMMANDS])
@pytest.mark.parametrize("path", INPUTS, ids=lambda p: p.name)
def test_every_output_follows_the_schema(path, args, kind):
    status, text = run(args, path)
    found = records(args, kind, text)
    if status == 0 and args[0] in ("filter", "explain"):
        assert found, (args, path)
    for record in found:
        assert record["schema_version"] == SCHEMA_VERSION


@pytest.mark.parametrize("args,kind", COMMANDS, ids=[" ".join(c[0][:3]) for c in COMMANDS])
@pytest.mark.parametrize("log", HOSTILE_LOGS)
def test_hostile_logs_follow_the_schema(logs, log, args, kind):  # noqa: F811
    _, text = run(args, logs[log])
    records(args, kind, text)


def _shape(value: Any, at: str = "") -> Iterator[Tuple[str, str]]:
    """(key path, JSON type) of every value, lists' items under ``[]``."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _shape(item, f"{at}.{key}")
    elif isinstance(value, list):
        for item in value:
            yield from _shape(item, f"{at}[]")
    else:
        kind = ("null" if value is None else "bool" if isinstance(value, bool)
                else "number" if isinstance(value, (int, float)) else "str")
        yield at, kind


def _keys(value: Any, at: str = "") -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield f"{at}.{key}"
            if key != "other":
                yield from _keys(item, f"{at}.{key}")
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict):
                yield from _keys(item, f"{at}[]")


# The same capture read by auditd (raw) and by ausearch -i: ausearch names
# uids and joins argv; everything else is the same type.
@pytest.mark.parametrize("args", [["filter", "-f", "ndjson"], ["explain", "-f", "ndjson"],
                                  ["domains", "-f", "ndjson"]], ids=" ".join)
def test_one_type_per_key_whatever_the_input(args):
    types: Dict[str, set] = {}
    keys = set()
    for name in ("auditd-raw.log", "ausearch-i.txt", "auditd-enriched.log", "dmesg.txt",
                 "journal-json.json", "journal-short.txt", "auditd-node.log", "laurel.json"):
        if not (FIXTURES / name).exists():
            continue
        _, text = run(args, FIXTURES / name)
        for line in text.splitlines():
            record = json.loads(line)
            keys.add(frozenset(_keys(record)) - {k for k in _keys(record) if "[]" in k})
            for at, kind in _shape(record):
                if kind != "null":
                    types.setdefault(at, set()).add(kind)
    assert len(keys) == 1, "keys come and go: " + repr(set.union(*map(set, keys))
                                                       - set.intersection(*map(set, keys)))
    mixed = {at: kinds for at, kinds in types.items() if len(kinds) > 1}
    assert not mixed


def test_ausearch_names_keep_the_number():
    """ausearch -i writes uid=root auid=unset: the numbers stay numbers, the
    names go to their own keys; a raw log has no names."""
    _, raw = run(["filter", "-f", "ndjson"], FIXTURES / "auditd-raw.log")
    _, named = run(["filter", "-f", "ndjson"], FIXTURES / "ausearch-i.txt")
    first_raw = json.loads(raw.splitlines()[0])["process"]
    first_named = json.loads(named.splitlines()[0])["process"]
    for key, number in (("uid", 0), ("auid", 4294967295), ("gid", 0), ("euid", 0)):
        assert first_raw[key] == first_named[key] == number, key
        assert first_raw[f"{key}_name"] is None
    assert first_named["uid_name"] == "root" and first_named["auid_name"] == "unset"
    assert first_named["ses"] == 4294967295
    # auditd's ENRICHED format names them after the record: the same keys
    _, enriched = run(["filter", "-f", "ndjson"], FIXTURES / "auditd-enriched.log")
    process = json.loads(enriched.splitlines()[0])["process"]
    assert (process["uid"], process["uid_name"], process["auid"], process["auid_name"]) == (
        0, "root", 4294967295, "unset")


def test_times_are_epoch_and_iso_8601_with_offset():
    _, text = run(["filter", "-f", "ndjson"], FIXTURES / "auditd-raw.log")
    record = json.loads(text.splitlines()[0])
    assert record["time"] == 1795737091.549
    assert record["time_iso"] == "2026-11-26T23:51:31.549+00:00"
    assert iso_time(None) is None and iso_time(1e300) is None
    assert iso_time(float("inf")) is None
    assert iso_time(0.9996) == "1970-01-01T00:00:00.999+00:00"


def test_summary_document_carries_the_version():
    _, text = run(["summarize", "--by", "blocker", "-f", "json"], FIXTURES / "auditd-raw.log")
    doc = json.loads(text)
    assert list(doc)[:3] == ["schema_version", "total", "by"]
    assert doc["schema_version"] == 1 and doc["total"] == 56


def test_schema_is_shipped_as_package_data():
    from importlib import resources

    shipped = resources.files("lldecode") / "schema" / "lldecode-v1.schema.json"
    assert json.loads(shipped.read_text())["$defs"]["denial"]
    assert load_schema() == schema()
    import tomllib

    project = tomllib.loads((SCHEMA_FILE.parents[2] / "pyproject.toml").read_text())
    assert "schema/*.json" in project["tool"]["setuptools"]["package-data"]["lldecode"]


SIMULATIONS = [["write", "/etc/hostname"], ["read", "/etc/hostname"], ["bind", "80"],
               ["connect", "443"], ["signal"], ["ptrace"], ["ioctl", "/dev/null"],
               ["rename", "/tmp/a/f", "/tmp/b/f"], ["truncate", "/tmp/project/notes"]]


@pytest.mark.parametrize("operation", SIMULATIONS, ids=" ".join)
def test_simulate_and_mask_follow_the_schema(operation):
    args = ["simulate", *[a for p in POLICIES for a in ("--policy", p)], *operation, "-f", "json"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code in (0, 1), result.output
    doc = json.loads(result.stdout)
    jsonschema.Draft202012Validator(schema()).validate(doc)
    validator("simulation").validate(doc)
    assert doc["schema_version"] == SCHEMA_VERSION
    for kind, value in (("fs", "0xc000"), ("net", "3"), ("scope", "2")):
        names = json.loads(CliRunner().invoke(cli, ["mask", kind, value, "-f", "json"]).stdout)
        validator("mask_rights").validate(names)
    layers = json.loads(CliRunner().invoke(cli, ["mask", "deny", "0x21", "-f", "json"]).stdout)
    validator("deny_layers").validate(layers)
