"""Every command's output on every fixture is what it was when recorded.

The fingerprints in tests/golden/digests.json were recorded by
``python -m tools.golden --write`` before the package was restructured; a
change that means to alter an output records them again (and says so in its
commit).  journald's short format has no year: its stamps are read in the
latest year not in the future, so these outputs hold until November 2027.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from tools import golden

RECORDED = json.loads(golden.GOLDEN.read_text())


@pytest.fixture(scope="module")
def outputs():
    commands = golden.commands()
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(golden.run, commands))
    return {" ".join(c): golden.digest(*r) for c, r in zip(commands, results)}


def test_every_recorded_command_is_still_run():
    assert sorted(RECORDED) == sorted(" ".join(c) for c in golden.commands())


def test_outputs_are_byte_identical(outputs):
    changed = sorted(c for c, d in outputs.items() if RECORDED.get(c) != d)
    assert not changed, (f"{len(changed)} command outputs changed (python -m tools.golden "
                         f"--full FILE shows them whole): " + "; ".join(changed[:10]))
