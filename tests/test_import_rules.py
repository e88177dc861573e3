"""The layering of the package, checked on the source (ast), import by import.

    audit     reading the log           imports none of landlock, analysis, output, cli
    landlock  the kernel model          imports none of audit, analysis, output, cli
    analysis  denials, domains, queries imports neither output nor cli
    output    rendering                 does not import cli
    cli       click wiring              the only importer of click
    leaves    lldecode/*.py helpers     import none of the subpackages

``lldecode/__main__.py`` may import ``lldecode.cli`` (it runs it),
``lldecode/__init__.py`` may not (``import lldecode`` stays light), and the
subpackages' ``__init__.py`` hold at most a docstring.

Every import counts: module level or inside a function, class, ``try`` or
``if TYPE_CHECKING``; ``import x``, ``from x import y`` (as ``x.y``, which
may be a submodule), relative imports resolved against the importing
module's package, and ``importlib.import_module``/``__import__`` calls with
a literal name (an f-string counts by its literal prefix).
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, FrozenSet, Iterator, List, NamedTuple, Optional, Tuple

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "lldecode"
SUBPACKAGES = ("audit", "landlock", "analysis", "output", "cli")


def _pkgs(*names: str) -> FrozenSet[str]:
    return frozenset(f"{PACKAGE}.{name}" for name in names)


# What each part of the package must not import (by dotted-name prefix).
FORBIDDEN: Dict[str, FrozenSet[str]] = {
    "audit": _pkgs("landlock", "analysis", "output", "cli"),
    "landlock": _pkgs("audit", "analysis", "output", "cli"),
    "analysis": _pkgs("output", "cli"),
    "output": _pkgs("cli"),
    "cli": frozenset(),
    "leaf": _pkgs(*SUBPACKAGES),
    "__init__": _pkgs("cli"),
    "__main__": frozenset(),
}
CLICK_ALLOWED = frozenset({"cli"})


class Import(NamedTuple):
    line: int
    target: str  # the dotted name imported (for ``from m import n``: ``m.n``)


class Violation(NamedTuple):
    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


# --- the walker -------------------------------------------------------------------

def module_name(path: Path, root: Path) -> Tuple[str, bool]:
    """(dotted module name, is a package's __init__) of a file under ``root``."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]), True
    return ".".join(parts), False


def _resolve(level: int, module: Optional[str], current: str, is_package: bool) -> str:
    """The absolute name of ``from <level dots><module> import ...`` in ``current``."""
    if level == 0:
        return module or ""
    package = current.split(".") if is_package else current.split(".")[:-1]
    if level - 1 > len(package) - 1:
        raise ValueError(f"relative import beyond the top-level package in {current}")
    base = package[:len(package) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def _literal_prefix(node: ast.expr) -> Optional[str]:
    """A string literal, or the literal start of an f-string up to its last dot."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr) and node.values:
        first = node.values[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str) and "." in first.value:
            return first.value.rsplit(".", 1)[0]
    return None


def _dynamic_import(node: ast.Call) -> Optional[str]:
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    if name not in ("import_module", "__import__") or not node.args:
        return None
    return _literal_prefix(node.args[0])


def imports_of(source: str, module: str, is_package: bool = False,
               filename: str = "<source>") -> List[Import]:
    """Every import in ``source``, the source of ``module``."""
    found: List[Import] = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            found.extend(Import(node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(node.level, node.module, module, is_package)
            if base == "__future__":
                continue
            for alias in node.names:
                found.append(Import(node.lineno, base if alias.name == "*"
                                    else f"{base}.{alias.name}" if base else alias.name))
        elif isinstance(node, ast.Call):
            target = _dynamic_import(node)
            if target is not None:
                if target.startswith("."):
                    level = len(target) - len(target.lstrip("."))
                    target = _resolve(level, target.lstrip(".") or None, module, is_package)
                found.append(Import(node.lineno, target))
    return sorted(found)


def part_of(module: str, is_package: bool) -> Optional[str]:
    """Which rule set applies: a subpackage's name, "leaf", "__init__", "__main__"."""
    parts = module.split(".")
    if parts[0] != PACKAGE:
        return None
    if len(parts) == 1:
        return "__init__"
    if parts[1] in SUBPACKAGES:
        return parts[1]
    if parts[1] == "__main__":
        return "__main__"
    return "leaf" if len(parts) == 2 and not is_package else None


def _within(target: str, package: str) -> bool:
    return target == package or target.startswith(package + ".")


def check_source(source: str, module: str, is_package: bool = False,
                 path: str = "<source>") -> List[Violation]:
    """Every broken rule in ``source``, the source of ``module``."""
    try:
        tree = ast.parse(source, path)
    except SyntaxError as exc:
        return [Violation(path, exc.lineno or 0, f"cannot parse: {exc.msg}")]
    part = part_of(module, is_package)
    if part is None:
        return []
    violations = []
    for line, target in imports_of(source, module, is_package, path):
        for forbidden in sorted(FORBIDDEN[part]):
            if _within(target, forbidden):
                violations.append(Violation(path, line, f"{module} imports {target} "
                                            f"({part} must not import {forbidden})"))
        if _within(target, "click") and part not in CLICK_ALLOWED:
            violations.append(Violation(path, line, f"{module} imports {target} "
                                        f"(only {PACKAGE}.cli may import click)"))
    if is_package and part in SUBPACKAGES and module == f"{PACKAGE}.{part}":
        body = tree.body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                and isinstance(body[0].value.value, str):
            body = body[1:]
        if body:
            violations.append(Violation(path, body[0].lineno, f"{module}'s __init__.py holds "
                                        "more than a docstring (it must be empty or only one)"))
    return violations


def package_files(root: Path) -> Iterator[Tuple[Path, str, bool]]:
    """(path, module name, is __init__) of every .py file of the package under ``root``."""
    for path in sorted((root / PACKAGE).rglob("*.py")):
        name, is_package = module_name(path, root)
        yield path, name, is_package


def check_tree(root: Path) -> List[Violation]:
    violations = []
    for path, name, is_package in package_files(root):
        source = path.read_text(encoding="utf-8")
        violations.extend(check_source(source, name, is_package,
                                       str(path.relative_to(root))))
    return violations


# --- the package itself ---------------------------------------------------------------

def test_the_package_keeps_its_layers():
    violations = check_tree(ROOT)
    assert not violations, (f"{len(violations)} forbidden import(s) or non-empty "
                            "__init__.py:\n" + "\n".join(map(str, violations)))


def test_the_walker_sees_the_package():
    files = list(package_files(ROOT))
    names = {name for _, name, _ in files}
    assert {"lldecode", "lldecode.__main__", "lldecode.cli"} <= names
    for sub in SUBPACKAGES:
        assert any(name.startswith(f"lldecode.{sub}.") for name in names), sub
    total = 0
    local = 0
    for path, name, is_package in files:
        source = path.read_text(encoding="utf-8")
        found = imports_of(source, name, is_package)
        total += len(found)
        top_level = {n.lineno for n in ast.parse(source).body
                     if isinstance(n, (ast.Import, ast.ImportFrom))}
        local += sum(1 for imp in found if imp.line not in top_level)
    assert total > 50
    assert local > 0  # function-local imports are seen too


# --- the walker on synthetic sources ----------------------------------------------------

def targets(source: str, module: str = "lldecode.audit.records", is_package: bool = False):
    return [imp.target for imp in imports_of(source, module, is_package)]


def test_every_kind_of_import_is_collected():
    source = '''
import os, sys as system
import lldecode.landlock.access
from lldecode.output import escape, render as r
from lldecode.analysis.query import *
from __future__ import annotations

def f():
    from lldecode.cli.common import fail
    import click

class C:
    try:
        import json
    except ImportError:
        pass

if TYPE_CHECKING:
    from typing import List
'''
    assert targets(source) == [
        "os", "sys", "lldecode.landlock.access", "lldecode.output.escape",
        "lldecode.output.render", "lldecode.analysis.query", "lldecode.cli.common.fail",
        "click", "json", "typing.List",
    ]


@pytest.mark.parametrize("source, module, is_package, expected", [
    ("from . import syntax", "lldecode.audit.records", False, "lldecode.audit.syntax"),
    ("from .syntax import ACCESS", "lldecode.audit.records", False,
     "lldecode.audit.syntax.ACCESS"),
    ("from .. import spill", "lldecode.audit.records", False, "lldecode.spill"),
    ("from ..output.escape import escape_text", "lldecode.audit.records", False,
     "lldecode.output.escape.escape_text"),
    ("from . import records", "lldecode.audit", True, "lldecode.audit.records"),
    ("from .. import cli", "lldecode.audit", True, "lldecode.cli"),
    ("from .cli import main", "lldecode.__main__", False, "lldecode.cli.main"),
    ("from .cli import main", "lldecode", True, "lldecode.cli.main"),
    ("from . import syscalls", "lldecode.spill", False, "lldecode.syscalls"),
])
def test_relative_imports_are_resolved(source, module, is_package, expected):
    assert targets(source, module, is_package) == [expected]


def test_a_relative_import_beyond_the_package_is_an_error():
    with pytest.raises(ValueError):
        imports_of("from ... import x", "lldecode.audit", True)


def test_dynamic_imports_with_literal_names():
    source = '''
import importlib
importlib.import_module("lldecode.output.render")
__import__("lldecode.landlock")
importlib.import_module(f"lldecode.cli.{name}")
importlib.import_module(".values", __package__)
importlib.import_module(name)
'''
    assert targets(source) == ["importlib", "lldecode.output.render", "lldecode.landlock",
                               "lldecode.cli", "lldecode.audit.values"]


def test_module_names_and_parts(tmp_path):
    assert module_name(tmp_path / "lldecode/audit/records.py", tmp_path) == (
        "lldecode.audit.records", False)
    assert module_name(tmp_path / "lldecode/audit/__init__.py", tmp_path) == (
        "lldecode.audit", True)
    assert module_name(tmp_path / "lldecode/__init__.py", tmp_path) == ("lldecode", True)
    assert part_of("lldecode.audit.records", False) == "audit"
    assert part_of("lldecode.cli", True) == "cli"
    assert part_of("lldecode.spill", False) == "leaf"
    assert part_of("lldecode._tables", False) == "leaf"
    assert part_of("lldecode", True) == "__init__"
    assert part_of("lldecode.__main__", False) == "__main__"


def messages(source: str, module: str, is_package: bool = False) -> List[str]:
    return [v.message for v in check_source(source, module, is_package)]


@pytest.mark.parametrize("module, source, forbidden", [
    ("lldecode.audit.records", "from lldecode.output.escape import escape_text",
     "lldecode.output"),
    ("lldecode.audit.records", "def f():\n    from ..landlock import access\n",
     "lldecode.landlock"),
    ("lldecode.audit.events", "import lldecode.analysis.domains", "lldecode.analysis"),
    ("lldecode.audit.events", "from lldecode import cli", "lldecode.cli"),
    ("lldecode.landlock.access", "from lldecode.audit.values import decode_int",
     "lldecode.audit"),
    ("lldecode.landlock.simulate", "from ..analysis import explain", "lldecode.analysis"),
    ("lldecode.landlock.policy", "import lldecode.output", "lldecode.output"),
    ("lldecode.landlock.policy", "from lldecode.cli.app import common", "lldecode.cli"),
    ("lldecode.analysis.explain", "from lldecode.output.render import x", "lldecode.output"),
    ("lldecode.analysis.parallel", "def f():\n    from lldecode.cli.common import fail\n",
     "lldecode.cli"),
    ("lldecode.output.render", "from ..cli.common import fail", "lldecode.cli"),
    ("lldecode.spill", "from lldecode.audit import sources", "lldecode.audit"),
    ("lldecode.syscalls", "from .analysis import query", "lldecode.analysis"),
    ("lldecode._tables", "import lldecode.landlock.access", "lldecode.landlock"),
    ("lldecode", "def main():\n    from lldecode.cli.app import main\n", "lldecode.cli"),
])
def test_a_planted_forbidden_import_is_caught(module, source, forbidden):
    found = messages(source, module)
    assert len(found) == 1, found
    assert f"must not import {forbidden})" in found[0]
    assert found[0].startswith(f"{module} imports {forbidden}")


@pytest.mark.parametrize("module, source", [
    ("lldecode.audit.records", "from lldecode.audit import syntax\nfrom lldecode import _tables"),
    ("lldecode.landlock.simulate", "from lldecode.landlock.access import right"),
    ("lldecode.analysis.denials", "from lldecode.audit.events import Event\n"
                                  "from lldecode.landlock.access import normalize_blocker"),
    ("lldecode.output.render", "from lldecode.analysis.denials import Denial\n"
                               "from lldecode.audit.values import decode_text"),
    ("lldecode.cli.read", "import click\nfrom lldecode.output import render\n"
                          "from lldecode.analysis import pipeline"),
    ("lldecode.__main__", "from lldecode.cli.app import main"),
    ("lldecode.spill", "import sqlite3\nfrom lldecode import syscalls"),
    ("lldecode", '"""Docs."""\n__version__ = "1"'),
    ("lldecode.auditing", "import os"),  # a leaf whose name starts like a subpackage's
])
def test_allowed_imports_pass(module, source):
    assert messages(source, module) == []


@pytest.mark.parametrize("module", ["lldecode.analysis.query", "lldecode.output.render",
                                    "lldecode.spill", "lldecode", "lldecode.__main__"])
def test_only_the_cli_imports_click(module):
    for source in ("import click", "from click import echo",
                   "def f():\n    import click.testing\n"):
        found = messages(source, module)
        assert len(found) == 1 and "only lldecode.cli may import click" in found[0], found
    assert messages("import clickhouse", module) == []


def test_the_top_package_must_not_import_the_cli_but_main_may():
    assert messages("import lldecode.cli", "lldecode", True)
    assert messages("from lldecode import cli", "lldecode", True)
    assert messages("from . import cli", "lldecode", True)
    assert messages("from .cli import main", "lldecode.__main__") == []
    assert messages("import lldecode.cli", "lldecode.__main__") == []


@pytest.mark.parametrize("source, ok", [
    ("", True),
    ('"""Reading the log."""\n', True),
    ("# just a comment\n", True),
    ('"""Docs."""\nfrom .records import Record\n', False),
    ("__all__ = []\n", False),
    ('"""Docs."""\n"""Second string."""\n', False),
    ("import click\n", False),
])
def test_subpackage_init_is_empty_or_docstring_only(source, ok):
    found = messages(source, "lldecode.audit", is_package=True)
    assert (not any("more than a docstring" in m for m in found)) is ok, found


def test_a_file_that_does_not_parse_is_reported():
    found = check_source("def f(:\n", "lldecode.audit.records", path="lldecode/audit/records.py")
    assert len(found) == 1 and "cannot parse" in found[0].message


def test_the_tree_walker_finds_a_planted_file(tmp_path):
    package = tmp_path / "lldecode"
    for sub in SUBPACKAGES:
        (package / sub).mkdir(parents=True)
        (package / sub / "__init__.py").write_text("")
    (package / "__init__.py").write_text('"""Top."""\n')
    (package / "__main__.py").write_text("from lldecode.cli.app import main\nmain()\n")
    (package / "audit" / "fine.py").write_text("from lldecode.audit import fine\n")
    (package / "audit" / "planted.py").write_text(
        "import os\n\n\ndef render():\n    from ..output.render import table\n    return table\n")
    (package / "leafy.py").write_text("import click\n")
    (package / "cli" / "main.py").write_text("import click\nfrom lldecode.output import render\n")
    found = check_tree(tmp_path)
    assert [(v.path, v.line) for v in found] == [
        ("lldecode/audit/planted.py", 5), ("lldecode/leafy.py", 1)], found
    assert "lldecode.audit.planted imports lldecode.output.render.table" in found[0].message
    assert "only lldecode.cli may import click" in found[1].message
    (package / "cli" / "__init__.py").write_text('"""The command."""\nimport click\n')
    found = check_tree(tmp_path)
    assert ("lldecode/cli/__init__.py", 2) in [(v.path, v.line) for v in found]
    assert len(found) == 3
