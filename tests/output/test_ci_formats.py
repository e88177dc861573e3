"""The CI formats (--format github, junit, sarif) of filter, explain and
summarize: valid against each format's own schema, shipped in
tests/output/schemas/ (SARIF 2.1.0: the OASIS JSON schema; JUnit: the
Jenkins/Ant XSD), and safe with hostile paths, comms and file names.

The hostile logs are raw kernel records whose path= (hex, as the kernel
writes any path with special bytes) holds what would break each syntax: a
newline followed by a workflow command, ``%0A``, ``|``, a Markdown link,
XML markup, U+FFFE (not XML), bytes that are not UTF-8, ESC and C1 controls.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from pathlib import Path
from typing import Dict, List, Tuple

import pytest
from click.testing import CliRunner

from lldecode.cli.app import cli
from lldecode.output import ci
from lldecode.output.text import safe
from tests.cli.test_hostile_output import ACCESS, ALLOCATED, AUSEARCH, DEALLOCATED, SYSCALL
from tests.conftest import FIXTURES
from tests.output.hostile import assert_clean_text
from tests.output.hostile_logs import HOSTILE_PATHS, event, hostile_paths_log

jsonschema = pytest.importorskip("jsonschema")
etree = pytest.importorskip("lxml.etree")

SCHEMAS = Path(__file__).parent / "schemas"

@pytest.fixture(scope="module")
def logs(tmp_path_factory) -> Dict[str, Path]:
    base = tmp_path_factory.mktemp("ci")
    made = {
        "paths": hostile_paths_log(),
        "raw": b"\n".join([ACCESS, ALLOCATED, SYSCALL, DEALLOCATED]) + b"\n",
        "ausearch-i": AUSEARCH,
        # a file name with what breaks a property, a URI and a terminal
        "name": event(300, b"/tmp/plain"),
    }
    paths = {"auditd-raw": FIXTURES / "auditd-raw.log"}
    for name, data in made.items():
        file_name = name if name != "name" else "log,x:y%0A|[a](b) \x1b[2J\nz.log"
        paths[name] = base / file_name
        paths[name].write_bytes(data)
    return paths


LOGS = ["auditd-raw", "paths", "raw", "ausearch-i", "name"]
COMMANDS: List[List[str]] = [
    ["filter"], ["explain"],
    ["explain", "--policy", str(FIXTURES / "policies" / "base-system.toml")],
    ["summarize"], ["summarize", "--by", "blocker,exe"], ["summarize", "--by", "path"],
    ["summarize", "--by", "domain,blocker,exe,path,syscall"],
]


def _run(args: List[str], path: Path) -> Tuple[int, bytes, bytes]:
    extra = ["-j", "1"] if args[0] == "summarize" else []
    result = CliRunner().invoke(cli, [*args, *extra, str(path)], env={"NO_COLOR": "1"})
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        args, result.exception)
    assert b"internal error" not in result.stderr_bytes, (args, result.stderr_bytes[-300:])
    return result.exit_code, result.stdout_bytes, result.stderr_bytes


def _ok(args: List[str], path: Path) -> str:
    code, out, err = _run(args, path)
    assert code == 0, (args, code, err[-300:])
    assert_clean_text(err, (args, "stderr"))
    return assert_clean_text(out, args)


@pytest.fixture(scope="module")
def sarif_validator():
    schema = json.loads((SCHEMAS / "sarif-schema-2.1.0.json").read_text())
    # (the schema's own "language" pattern uses a (?i) flag Python's re
    # refuses in the middle; the check of the schema is the validator's)
    return jsonschema.Draft202012Validator(schema)


@pytest.fixture(scope="module")
def junit_schema():
    return etree.XMLSchema(etree.parse(str(SCHEMAS / "jenkins-junit.xsd")))


# -- schemas ----------------------------------------------------------------------------

_URI_REFERENCE = re.compile(r"(?:file://)?[A-Za-z0-9\-._~/%]+")


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
@pytest.mark.parametrize("log", LOGS)
def test_sarif_is_valid(logs, log, args, sarif_validator):
    text = _ok([*args, "-f", "sarif"], logs[log])
    doc = json.loads(text)
    errors = sorted(sarif_validator.iter_errors(doc), key=lambda e: list(e.path))
    assert not errors, [(list(e.path), e.message) for e in errors[:3]]
    run = doc["runs"][0]
    results = run["results"]
    assert results
    rules = {rule["id"]: rule for rule in run["tool"]["driver"]["rules"]}
    for result in results:
        rule = rules[result["ruleId"]]
        assert run["tool"]["driver"]["rules"][result["ruleIndex"]] is rule
        assert rule["help"]["text"] and rule["shortDescription"]["text"]
        for location in result.get("locations", []):
            uri = location["physicalLocation"]["artifactLocation"]["uri"]
            assert _URI_REFERENCE.fullmatch(uri), uri
            file = urllib.parse.unquote_to_bytes(uri.removeprefix("file://"))
            assert file == str(logs[log]).encode("utf-8", "surrogateescape")
            assert location["physicalLocation"]["region"]["startLine"] >= 1
    assert run["invocations"][0]["executionSuccessful"] is True


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
@pytest.mark.parametrize("log", LOGS)
def test_junit_is_valid(logs, log, args, junit_schema):
    text = _ok([*args, "-f", "junit"], logs[log])
    doc = etree.fromstring(text.encode("utf-8"))
    assert junit_schema.validate(doc), junit_schema.error_log
    suites = doc.findall("testsuite")
    cases = doc.findall("testsuite/testcase")
    assert suites and cases
    assert int(doc.get("failures")) == len(cases) == len(doc.findall("testsuite/testcase/failure"))
    for suite in suites:
        assert int(suite.get("tests")) == len(suite.findall("testcase"))
    if args[0] != "summarize" or "domain" in args[-1] or len(args) == 1:
        # a test suite per domain
        names = [s.get("name") for s in suites]
        assert all(n.startswith("Landlock domain ") for n in names)
        assert len(set(names)) == len(names)


def _github_commands(text: str) -> List[Tuple[str, Dict[str, str], str]]:
    """Each workflow command: level, properties (unescaped) and message."""
    out = []
    for line in text.split("\n")[:-1]:
        m = re.fullmatch(r"::(error|warning) ([^:]*)::(.*)", line)
        assert m, line
        level, props, data = m.groups()
        for escaped in (props, data):
            # every % starts an escape the runner reads back
            assert re.fullmatch(r"(?:[^%\r]|%25|%0D|%0A|%3A|%2C)*", escaped), escaped
        parsed = {}
        for prop in props.split(","):
            key, _, value = prop.partition("=")
            parsed[key] = _unescape(value)
        out.append((level, parsed, _unescape(data)))
    assert text.endswith("\n")
    return out


def _unescape(text: str) -> str:
    return (text.replace("%0D", "\r").replace("%0A", "\n").replace("%3A", ":")
            .replace("%2C", ",").replace("%25", "%"))


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
@pytest.mark.parametrize("log", LOGS)
def test_github_commands(logs, log, args):
    text = _ok([*args, "-f", "github"], logs[log])
    commands = _github_commands(text)
    assert commands
    for level, props, message in commands:
        # warning: the domain says it was not enforcing (here a forged mode=)
        assert level == ("warning" if log == "raw" and args[0] != "summarize" else "error")
        assert set(props) <= {"file", "line", "title"} and props["title"]
        assert props["file"] == safe(str(logs[log]))
        assert int(props["line"]) >= 1
        assert_clean_text(message)
        assert_clean_text(props["title"])


# -- one group, one entry: nothing a value holds starts another --------------------------

def test_hostile_paths_make_one_entry_each(logs):
    n = len(HOSTILE_PATHS)
    commands = _github_commands(_ok(["filter", "-f", "github"], logs["paths"]))
    assert len(commands) == n
    for (_, props, message), path in zip(commands, HOSTILE_PATHS):
        shown = safe(path)
        assert shown in props["title"] and shown in message
        assert "\n" not in props["title"]
    # a summary names each group's values once escaped, as the text outputs do
    commands = _github_commands(_ok(["summarize", "--by", "path", "-f", "github"],
                                    logs["paths"]))
    assert sorted(props["title"] for _, props, _ in commands) == sorted(
        f"Landlock: 1 denial, path {safe(path)}" for path in HOSTILE_PATHS)
    doc = etree.fromstring(_ok(["filter", "-f", "junit"], logs["paths"]).encode())
    failures = doc.findall("testsuite/testcase/failure")
    assert len(failures) == n
    for failure, path in zip(failures, HOSTILE_PATHS):
        # (XML cannot hold U+FFFE or U+FFFF: written as escapes)
        shown = safe(path).replace("\ufffe", "\\ufffe").replace("\uffff", "\\uffff")
        assert shown in failure.get("message") and shown in failure.text
    sarif = json.loads(_ok(["filter", "-f", "sarif"], logs["paths"]))
    results = sarif["runs"][0]["results"]
    assert len(results) == n
    for result, path in zip(results, HOSTILE_PATHS):
        assert safe(path) in result["message"]["text"]
        # every byte kept in the property bag (hex beside bytes that are not UTF-8)
        obj = result["properties"]["objects"][0]
        got = (bytes.fromhex(obj["path_hex"]) if "path_hex" in obj
               else obj["path"].encode("utf-8"))
        assert got == path


def test_summaries_point_at_the_earliest_denial(logs):
    commands = _github_commands(_ok(["summarize", "--by", "blocker", "-f", "github"],
                                    FIXTURES / "auditd-raw.log"))
    lines = (FIXTURES / "auditd-raw.log").read_bytes().split(b"\n")
    for _, props, _ in commands:
        blocker = props["title"].split("blocker ")[1]
        line = lines[int(props["line"]) - 1]
        assert b"type=UNKNOWN[1423]" in line and blocker.replace("fs.", "").encode() in line


# -- exit statuses --------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ci.CI_FORMATS)
def test_exit_statuses(logs, fmt, sarif_validator, junit_schema):
    none = ["--since", "2099-01-01T00:00"]
    for command in ("filter", "explain"):
        assert _run([command, "-f", fmt], logs["paths"])[0] == 0
        code, out, _ = _run([command, "-f", fmt, *none], logs["paths"])
        assert code == 1
        if fmt == "sarif":  # an empty report is still a valid one
            doc = json.loads(out)
            assert not list(sarif_validator.iter_errors(doc)) and not doc["runs"][0]["results"]
        elif fmt == "junit":
            doc = etree.fromstring(out)
            assert junit_schema.validate(doc)
            assert doc.find("testsuite/testcase").get("name") == "no Landlock denial"
        else:
            assert out == b""
    assert _run(["summarize", "-f", fmt, *none], logs["paths"])[0] == 0
    assert _run(["summarize", "-f", fmt, "--fail-if-any", *none], logs["paths"])[0] == 0
    assert _run(["summarize", "-f", fmt, "--fail-if-any"], logs["paths"])[0] == 1


def test_summary_and_domains_exit_zero_on_a_clean_log(tmp_path):
    clean = tmp_path / "selinux.log"
    clean.write_text('type=AVC msg=audit(1795737091.549:1): avc:  denied  { read } for '
                     'pid=1 comm="x" name="y" scontext=a tcontext=b tclass=file\n')
    for command in ("summarize", "domains"):
        assert _run([command], clean)[0] == 0
        assert _run([command, "--fail-if-any"], clean)[0] == 0
        assert _run([command, "--fail-if-any"], FIXTURES / "auditd-raw.log")[0] == 1
        assert _run([command], FIXTURES / "auditd-raw.log")[0] == 0
    for command in ("filter", "explain"):
        assert _run([command], clean)[0] == 1
        assert _run([command], FIXTURES / "auditd-raw.log")[0] == 0
    assert _run(["summarize", "--by", "nothing"], clean)[0] == 2


# -- escaping, unit by unit -------------------------------------------------------------

def test_workflow_command_escapes():
    finding = ci.Finding("error", "t:i,t%le\r\n", "m%e\r\nss:a,ge", None, [], 1,
                         "f,i:l%e", 3)
    line = ci.github_command(finding)
    assert line == ("::error file=f%2Ci%3Al%25e,line=3,title=t%3Ai%2Ct%25le%0D%0A"
                    "::m%25e%0D%0Ass:a,ge\n")


def test_xml_escapes():
    assert ci.xml_text("a<b>&c\ufffe\uffff") == "a&lt;b&gt;&amp;c\\ufffe\\uffff"
    assert ci.xml_attr('"x"\n\t') == "&quot;x&quot;&#10;&#9;"
    doc = etree.fromstring(f'<a b="{ci.xml_attr(chr(0xFFFE) + "<")}">'
                           f'{ci.xml_text(chr(0xFFFF) + "]]>")}</a>')
    assert doc.get("b") == "\\ufffe<" and doc.text == "\\uffff]]>"


def test_artifact_uri():
    assert ci.artifact_uri("logs/audit.log") == "logs/audit.log"
    assert ci.artifact_uri("/var/log/a b#?%.log") == "file:///var/log/a%20b%23%3F%25.log"
    assert ci.artifact_uri("x\udcff\n") == "x%FF%0A"


# -- a summary's places, read in parallel -----------------------------------------------

@pytest.mark.parametrize("by", ["domain", "blocker,exe", "path"])
def test_summary_places_are_the_same_read_in_parallel(monkeypatch, tmp_path, by):
    """Parts read by other processes merge each group's earliest place
    (SQL's min in a spilled group) to what one pass gives."""
    from bench.loggen import generate
    from lldecode.analysis import parallel

    monkeypatch.setattr(parallel, "MIN_PART", 64 << 10)
    log = tmp_path / "mixed.log"
    with open(log, "w", encoding="latin-1") as out:
        generate(out, "mixed", size=1 << 20)
    assert parallel.plan([str(log)], 2) is not None
    outputs = []
    for jobs in ("1", "2"):
        result = CliRunner().invoke(cli, ["summarize", "--by", by, "-f", "github", "--jobs",
                                          jobs, str(log)], env={"TZ": "UTC"})
        assert result.exit_code == 0, result.stderr
        outputs.append(result.stdout)
    assert outputs[0] == outputs[1]
    assert all(props["line"] for _, props, _ in _github_commands(outputs[0]))


def test_sarif_says_when_the_reading_failed(tmp_path, sarif_validator):
    """--strict and a Landlock record that does not parse: exit 2, and the
    SARIF log (still valid) says the run did not succeed."""
    log = tmp_path / "bad.log"
    log.write_bytes(event(7, b"/tmp/x") + b"type=UNKNOWN[1423] msg=audit(1795737091.549:8): "
                    b"domain=zz blockers=fs.read_file\n")
    for strict, code, succeeded in (([], 0, True), (["--strict"], 2, False)):
        status, out, _ = _run(["filter", "-f", "sarif", *strict], log)
        doc = json.loads(out)
        assert status == code
        assert not list(sarif_validator.iter_errors(doc))
        assert doc["runs"][0]["invocations"][0]["executionSuccessful"] is succeeded
