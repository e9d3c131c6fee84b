"""The README's demo command keeps working: it signs in and runs a command as the assumed role."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_demo_runs_a_command_as_the_assumed_role(hermetic_home: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "jcsaml.testing.demo"],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith("The command ran as arn:aws:sts::012345678987:assumed-role/")
    assert list(hermetic_home.iterdir()) == []  # nothing written outside its temporary directory
