"""``simulate open PATH FLAGS`` against the real kernel: a read-write open
(one record listing fs.write_file and fs.read_file), O_CREAT, O_TRUNC.

Each case enforces a one-layer policy in a forked child, makes the open(2)
call, and compares the kernel's errno and denial record (read from the
audit multicast group) with the simulator's.  Run under the shared lock.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

from lldecode.analysis.pipeline import Reading
from lldecode.audit.netlink import AuditControl, AuditMulticast, record_as_line
from lldecode.audit.records import Diagnostics
from lldecode.audit.sources import LinesSource
from lldecode.landlock.access import names_to_mask
from lldecode.landlock.policy import load_policy
from lldecode.landlock.simulate import Options, simulate
from tools.kernel.landlock import Ruleset, run_in_child

pytestmark = pytest.mark.kernel

HANDLED = ["read_file", "write_file", "truncate", "make_reg"]
_FLAGS = {"O_RDONLY": os.O_RDONLY, "O_WRONLY": os.O_WRONLY, "O_RDWR": os.O_RDWR,
          "O_TRUNC": os.O_TRUNC, "O_CREAT": os.O_CREAT, "O_EXCL": os.O_EXCL}

# (name, rights allowed beneath the directory, file (in the directory),
#  exists, flags, expected blockers (None: allowed), denied on the directory)
CASES = [
    ("rdwr, read only", ["read_file"], "f", True, "O_RDWR", ["fs.write_file"], False),
    ("rdwr, nothing", [], "f", True, "O_RDWR", ["fs.write_file", "fs.read_file"], False),
    ("rdwr, both", ["read_file", "write_file"], "f", True, "O_RDWR", None, False),
    ("creat new, no make_reg", ["write_file"], "new", False, "O_WRONLY|O_CREAT",
     ["fs.make_reg"], True),
    ("creat new, make_reg only", ["make_reg"], "new", False, "O_WRONLY|O_CREAT",
     ["fs.write_file"], False),
    ("creat existing, no make_reg", ["write_file"], "f", True, "O_WRONLY|O_CREAT", None, False),
    ("trunc existing, no truncate", ["write_file"], "f", True, "O_WRONLY|O_TRUNC",
     ["fs.truncate"], False),
    ("creat|trunc new, no truncate", ["write_file", "make_reg"], "new", False,
     "O_WRONLY|O_CREAT|O_TRUNC", None, False),
    ("rdwr|trunc existing, no truncate", ["read_file", "write_file"], "f", True,
     "O_RDWR|O_TRUNC", ["fs.truncate"], False),
]


@pytest.fixture(scope="module")
def feed(landlock_audit):
    with AuditControl() as control:
        was_enabled = control.status()["enabled"]
        if not was_enabled:
            control.set_enabled(True)
        try:
            with AuditMulticast() as multicast:
                yield multicast
        finally:
            if not was_enabled:
                control.set_enabled(False)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_open_flags_as_the_kernel_does(case, feed, undisturbed):
    name, allowed, target, exists, flags, blockers, on_directory = case
    root = tempfile.mkdtemp(prefix="lldecode-open-", dir="/tmp")
    try:
        with open(os.path.join(root, "f"), "w") as stream:
            stream.write("data\n")
        policy_file = os.path.join(root, "policy.toml")
        with open(policy_file, "w") as stream:
            stream.write(f"[[ruleset]]\nhandled_access_fs = {HANDLED!r}\n".replace("'", '"'))
            if allowed:
                stream.write(f"[[path_beneath]]\nallowed_access = {allowed!r}\n"
                             f"parent = [\"{root}\"]\n".replace("'", '"'))
        policy = load_policy([policy_file])
        path = os.path.join(root, target)
        predicted = simulate(policy, "open", [path, flags], Options(exists=exists))
        bits = 0
        for flag in flags.split("|"):
            bits |= _FLAGS[flag]

        def act():
            ruleset = Ruleset(handled_fs=names_to_mask("fs", HANDLED))
            if allowed:
                ruleset.allow_path(root, names_to_mask("fs", allowed))
            ruleset.enforce(flags=0)
            os.close(os.open(path, bits, 0o644))

        with undisturbed(f"open flags: {name}"):
            result = run_in_child(act)
            lines = [record_as_line(t, p) for t, p in feed.messages(timeout=1.0, idle=0.3)]
        events = list(Reading([], Diagnostics(), given_sources=[LinesSource(lines)]).events())
        mine = [d for _, ds in events for d in ds
                if d.object.get("path") in (path.encode(), root.encode())]
        if blockers is None:
            assert result["ok"], result
            assert predicted.allowed and not mine
            return
        assert not result["ok"] and result["errname"] == "EACCES", result
        assert not predicted.allowed and predicted.errno == "EACCES"
        assert len(mine) == 1, mine
        logged = mine[0]
        assert logged.blockers == blockers
        assert list(predicted.denials[0].blockers) == blockers
        expected_path = root if on_directory else path
        assert logged.object["path"] == expected_path.encode()
        assert predicted.denials[0].object["path"] == expected_path
    finally:
        shutil.rmtree(root, ignore_errors=True)
