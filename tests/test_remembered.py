"""What jcsaml remembers between runs: written without following links, leaving no litter."""

from __future__ import annotations

import stat
from pathlib import Path

from jcsaml import remembered


def test_remembering_never_writes_through_a_link_at_the_temporary_name(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "XDG_STATE_HOME": str(tmp_path / "state")}
    path = remembered.notices_path(env)
    path.parent.mkdir(parents=True)
    victim = tmp_path / "victim"
    victim.write_text("keep me\n")
    for name in (path.name + ".tmp", f".{path.name}.tmp"):
        (path.parent / name).symlink_to(victim)
    remembered.remember("keyring-missing", env)
    remembered.remember_role("prod", "arn:aws:iam::012345678987:role/R", env)
    assert victim.read_text() == "keep me\n"
    assert remembered.given("keyring-missing", env)
    assert remembered.last_role("prod", env) == "arn:aws:iam::012345678987:role/R"
    assert not path.is_symlink() and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in path.parent.iterdir() if not p.is_symlink()) == [path.name]
