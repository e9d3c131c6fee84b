"""The one writer of jcsaml's files: exact modes, whole files, nothing left on failure."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from jcsaml.private_file import temp_file_pattern, temp_name, write_new_file, write_private_file


@pytest.mark.parametrize("umask", [0o000, 0o077])
@pytest.mark.parametrize("mode", [0o600, 0o644])
def test_the_mode_is_exactly_the_one_asked_for_whatever_the_umask(
    tmp_path: Path, umask: int, mode: int
) -> None:
    target = tmp_path / "out" / "file"
    target.parent.mkdir()
    old = os.umask(umask)
    try:
        write_private_file(target, b"first", mode)
        write_private_file(target, b"second", mode)
    finally:
        os.umask(old)
    assert target.read_bytes() == b"second"
    assert target.stat().st_mode & 0o7777 == mode
    assert [p.name for p in target.parent.iterdir()] == ["file"]


def test_a_link_in_the_temporary_files_place_is_never_followed(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_bytes(b"untouched")
    planted = tmp_path / "planted"
    planted.symlink_to(elsewhere)
    with pytest.raises(FileExistsError):
        write_new_file(planted, b"secret")
    assert elsewhere.read_bytes() == b"untouched"


def test_a_failed_rename_leaves_the_old_file_and_no_temporary_one(tmp_path: Path) -> None:
    target = tmp_path / "out" / "dir-in-the-way"
    target.mkdir(parents=True)
    (target / "inside").write_text("x")
    with pytest.raises(OSError):
        write_private_file(target, b"new")
    assert [p.name for p in target.parent.iterdir()] == ["dir-in-the-way"]
    assert (target / "inside").read_text() == "x"


def test_temporary_names_are_fresh_and_recognised(tmp_path: Path) -> None:
    target = tmp_path / "credentials"
    names = {temp_name(target).name for _ in range(100)}
    assert len(names) == 100
    assert all(temp_file_pattern(target).fullmatch(name) for name in names)
