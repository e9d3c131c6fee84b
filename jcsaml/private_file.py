"""Writing a file that holds secrets or settings so that a crash never leaves half of it.

A new file is created beside its target under a random name, exclusively, never through a
symbolic link, with exactly the mode asked for (0600 unless said otherwise: the umask can only
narrow what ``open`` gives, so the mode is set again on the open file), written whole, flushed to
disk, and renamed over the target; the directory is then synced so that the rename lasts. Every
writer of jcsaml's files uses this: the config and AWS files (:mod:`jcsaml.ini_edit`), the
credential-process cache, the notices and the IdP key and certificate.

Imports only ``contextlib``, ``os`` and ``re``: the light entry's modules use it.
"""

from __future__ import annotations

import contextlib
import os
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "TEMP_SUFFIX",
    "fsync_directory",
    "remove_temp_files",
    "temp_file_pattern",
    "temp_name",
    "write_new_file",
    "write_private_file",
]

#: The suffix of every temporary file jcsaml writes beside a target.
TEMP_SUFFIX = ".jcsaml-tmp"


def temp_name(target: Path) -> Path:
    """A fresh temporary name beside ``target``: hidden, random, with :data:`TEMP_SUFFIX`."""
    return target.with_name(f".{target.name}.{os.urandom(6).hex()}{TEMP_SUFFIX}")


def temp_file_pattern(target: Path) -> re.Pattern[str]:
    """What :func:`temp_name` gives for ``target``, as a pattern over names."""
    return re.compile(rf"\.{re.escape(target.name)}\.[0-9a-f]{{12}}{re.escape(TEMP_SUFFIX)}")


def remove_temp_files(target: Path) -> None:
    """Remove the temporary files a killed writer of ``target`` left (call it under the lock
    that serialises the writers)."""
    pattern = temp_file_pattern(target)
    with os.scandir(target.parent) as entries:
        for entry in entries:
            if pattern.fullmatch(entry.name):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)


def write_new_file(path: Path, data: bytes, *, mode: int = 0o600, sync: bool = True) -> None:
    """Create ``path`` (it must not exist; never through a link) with exactly ``mode`` and write
    ``data`` to it whole, flushed to disk unless ``sync`` is false. On failure nothing is left."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    flags |= getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags, mode)
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, mode)  # exactly ``mode``, whatever the umask removed
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        if sync:
            os.fsync(fd)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise
    os.close(fd)


def write_private_file(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Replace ``path`` with ``data`` atomically: readers see the old file or the new one,
    whole, and a crash at any point leaves one of the two. Raises OSError."""
    temp = temp_name(path)
    write_new_file(temp, data, mode=mode)
    try:
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    fsync_directory(path.parent)


def fsync_directory(directory: Path) -> None:
    """Make a rename in ``directory`` durable; best effort where directories cannot be opened
    or synced."""
    if os.name != "posix":
        return
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
