"""The wheel installs the command, the manual page and nothing stray."""

from __future__ import annotations

import subprocess
import sys
import zipfile

import pytest

from tests.conftest import ROOT


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps",
                             "-q", "-w", str(out)], capture_output=True, text=True, timeout=600)
    if result.returncode and ("Could not find a version" in result.stderr
                              or "NewConnectionError" in result.stderr):
        pytest.skip("no package index to build the wheel with (setuptools)")
    assert result.returncode == 0, result.stderr
    (path,) = out.glob("lldecode-*.whl")
    return path


def test_wheel_installs_the_manual_page(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        pages = [n for n in names if n.endswith("/data/share/man/man1/lldecode.1")]
        assert len(pages) == 1, names
        assert archive.read(pages[0]) == (ROOT / "man" / "lldecode.1").read_bytes()
        entry_points = next(n for n in names if n.endswith("entry_points.txt"))
        assert "lldecode = lldecode.cli.app:main" in archive.read(entry_points).decode()
        assert any(n == "lldecode/cli/completion.py" for n in names)
        assert not any(n.startswith(("tests/", "tools/", "fixtures/")) for n in names)


def test_readme_says_how_to_install_on_a_distribution_python():
    readme = (ROOT / "README.md").read_text()
    setup = readme.split("## Set up", 1)[1].split("\n## ", 1)[0]
    assert "pipx install ." in setup
    assert "externally-managed-environment" in setup and "venv" in setup
