"""Making a directory read-only for the code under test, whoever runs the tests."""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def read_only(directory: Path) -> Iterator[None]:
    """``directory`` cannot be written while the block runs.

    An ordinary user gets mode 0555. root ignores modes, so for root the directory is
    bind-mounted read-only on itself instead (as a read-only file system would be); where root
    may not mount (a container without the capability), the condition cannot be made and the
    test is skipped with that reason.
    """
    if os.geteuid() != 0:
        old = stat.S_IMODE(directory.stat().st_mode)
        directory.chmod(0o555)
        try:
            yield
        finally:
            directory.chmod(old)
        return
    mounted = subprocess.run(
        ["mount", "--bind", str(directory), str(directory)], capture_output=True, check=False
    )
    if mounted.returncode != 0:
        pytest.skip(f"running as root without the right to mount: {mounted.stderr!r}")
    try:
        remounted = subprocess.run(
            ["mount", "-o", "remount,ro,bind", str(directory)], capture_output=True, check=False
        )
        if remounted.returncode != 0:
            pytest.skip(f"running as root without the right to remount: {remounted.stderr!r}")
        yield
    finally:
        subprocess.run(["umount", str(directory)], capture_output=True, check=True)
