"""--max-line-length: a longer line is skipped with a diagnostic, and the
next lines are read (in one pass and in parallel parts)."""

from __future__ import annotations

from click.testing import CliRunner

from lldecode.analysis import parallel
from lldecode.cli.app import cli

DENIAL = ('type=UNKNOWN[1423] msg=audit(1795737091.549:{serial}): domain=1b6b1616d '
          'blockers=fs.read_file path="/{path}"\n')


def test_a_long_line_is_skipped_and_reading_goes_on(tmp_path, monkeypatch):
    log = tmp_path / "long.log"
    log.write_text(DENIAL.format(serial=1, path="a" * 3000) + DENIAL.format(serial=2, path="x")
                   * 20000)
    monkeypatch.setattr(parallel, "MIN_PART", 64 << 10)
    for jobs in ("1", "2"):
        result = CliRunner().invoke(cli, ["filter", "--count", "--max-line-length", "2048",
                                          "--jobs", jobs, str(log)])
        assert result.stdout == "20000\n", jobs
        assert f"{log}:1: line longer than 2048 bytes: skipped" in result.stderr
        result = CliRunner().invoke(cli, ["filter", "--count", "--jobs", jobs, str(log)])
        assert result.stdout == "20001\n" and result.stderr == ""


def test_the_limit_has_a_floor():
    result = CliRunner().invoke(cli, ["filter", "--max-line-length", "10", "-"])
    assert result.exit_code == 2
