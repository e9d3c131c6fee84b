"""jcsaml.environment: the command's environment and lookup, shared by both ways into exec."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from jcsaml.environment import CONFLICTING, MARKER, child_environment, find_command


class Exported:
    def to_environment(self, *, region: str | None = None) -> dict[str, str]:
        return {"AWS_ACCESS_KEY_ID": "ASIANEW", **({"AWS_REGION": region} if region else {})}


def test_child_environment_drops_conflicts_and_jcsaml_inputs() -> None:
    base = {"PATH": "/bin", "JCSAML_PASSWORD": "pw", **dict.fromkeys(CONFLICTING, "old")}
    env = child_environment(base, Exported(), "production")
    assert env == {"PATH": "/bin", "AWS_ACCESS_KEY_ID": "ASIANEW", MARKER: "production"}
    assert child_environment(base, Exported(), "p", region="eu-west-1")["AWS_REGION"] == "eu-west-1"


@pytest.fixture
def path_dirs(tmp_path: Path) -> list[Path]:
    first, second, empty = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for directory in (first, second, empty):
        directory.mkdir()
    (first / "plain").write_text("not executable")
    (second / "plain").write_text("#!/bin/sh\n")
    (second / "plain").chmod(0o755)
    (first / "tool").write_text("#!/bin/sh\n")
    (first / "tool").chmod(0o755)
    (second / "tool").write_text("#!/bin/sh\n")
    (second / "tool").chmod(0o755)
    (first / "dir").mkdir(mode=0o755)
    return [first, second, empty]


@pytest.mark.parametrize("name", ["plain", "tool", "dir", "missing", "a/tool", "./missing"])
@pytest.mark.parametrize("path", ["both", "reversed", "empty", "unset", "none"])
def test_find_command_answers_as_shutil_which(
    path_dirs: list[Path], name: str, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second, empty = path_dirs
    monkeypatch.chdir(first.parent)
    env: dict[str, str] = {}
    value = {
        "both": os.pathsep.join(map(str, [first, second, empty])),
        "reversed": os.pathsep.join(map(str, [empty, second, first, first])),
        "empty": "",
    }.get(path)
    if value is not None:
        env["PATH"] = value
    if path == "none":
        monkeypatch.delenv("PATH", raising=False)
    expected = shutil.which(name, path=env.get("PATH"))
    assert find_command(name, env) == expected
