"""Directories that hold credentials or locks, checked as ssh's StrictModes checks ``~/.ssh``.

Every directory from the one jcsaml uses up to the user's home directory (or up to ``/`` when it
is elsewhere) must belong to the user or to root, and must not be writable by the group or others
unless it is a sticky directory of root's (``/tmp``): otherwise another user could swap an entry,
and hand out their credentials or hold the lock. The directory jcsaml uses itself must be the
user's.

:func:`open_directory` walks down from the home directory (or ``/``) one name at a time with
``openat`` and ``O_NOFOLLOW``, checking each directory it has open, and returns the last one's file
descriptor: files are then opened relative to it, so a directory renamed or replaced by a link
between the check and the use changes nothing.

Standard library only (``os`` and ``stat``): the cache reader on the hot path uses it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["is_safe_directory", "open_directory", "read_private_file", "unsafe_reason"]

_DIRECTORY_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def unsafe_reason(info: os.stat_result, path: str, *, own: bool = False) -> str | None:
    """Why the directory ``path`` (whose ``fstat`` is ``info``) is not safe, or None.

    ``own``: it must be the user's (not root's either): the directory jcsaml keeps files in.
    """
    if not hasattr(os, "geteuid"):
        return None
    user = os.geteuid()
    if not stat.S_ISDIR(info.st_mode):
        return f"{path} is not a directory"
    if info.st_uid != user and (own or info.st_uid != 0):
        return f"{path} belongs to another user; it must be yours" + ("" if own else " or root's")
    writable = info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    sticky_root = info.st_mode & stat.S_ISVTX and info.st_uid == 0 and not own
    if writable and not sticky_root:
        return f"{path} is writable by other users; run: chmod go-w {path}"
    return None


def _start(target: str, environ: Mapping[str, str]) -> tuple[str, list[str]]:
    """Where the walk starts (the home directory when ``target`` is inside it, else ``/``) and
    the names below it."""
    home_text = environ.get("HOME") or os.path.expanduser("~")
    home = os.path.realpath(home_text) if home_text else ""
    inside = target == home or target.startswith(home + os.sep)
    if home and home != os.sep and inside and os.path.isdir(home):
        rest = target[len(home) :]
        return home, [name for name in rest.split(os.sep) if name]
    return os.sep, [name for name in target.split(os.sep) if name]


def open_directory(
    path: str | os.PathLike[str],
    *,
    purpose: str,
    create: bool = False,
    environ: Mapping[str, str] = os.environ,
) -> int:
    """An open file descriptor of the directory ``path``, checked with every directory above it
    (see the module's docstring); ``create`` makes the missing ones, 0700. The caller closes it.

    Raises :class:`~jcsaml.errors.UnsafeDirectoryError` (``purpose`` says what the directory is
    for), FileNotFoundError when it is missing and not ``create``, and OSError.
    """
    target = os.path.realpath(os.fspath(path))
    start, names = _start(target, environ)
    fd = os.open(start, _DIRECTORY_FLAGS)
    here = start
    try:
        _check(fd, here, target, purpose, own=not names)
        for index, name in enumerate(names):
            child = os.path.join(here, name)
            try:
                inner = os.open(name, _DIRECTORY_FLAGS | _NOFOLLOW, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    raise
                with contextlib.suppress(FileExistsError):  # made by another process just now
                    os.mkdir(name, 0o700, dir_fd=fd)
                inner = os.open(name, _DIRECTORY_FLAGS | _NOFOLLOW, dir_fd=fd)
            except OSError as exc:
                if exc.errno != errno.ELOOP:  # ENOTDIR (a file in the way) and the like
                    raise
                # A link where realpath found a directory: swapped in since.
                from jcsaml.errors import UnsafeDirectoryError

                raise UnsafeDirectoryError(
                    directory=target,
                    purpose=purpose,
                    reason=f"{child} is not a directory ({exc.strerror or exc})",
                ) from None
            os.close(fd)
            fd, here = inner, child
            _check(fd, here, target, purpose, own=index == len(names) - 1)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _check(fd: int, path: str, target: str, purpose: str, *, own: bool) -> None:
    reason = unsafe_reason(os.fstat(fd), path, own=own)
    if reason is not None:
        from jcsaml.errors import UnsafeDirectoryError

        raise UnsafeDirectoryError(directory=target, purpose=purpose, reason=reason)


def is_safe_directory(path: str, *, environ: Mapping[str, str] = os.environ) -> bool:
    """Whether :func:`open_directory` would open ``path`` (existing) without complaint."""
    try:
        fd = open_directory(path, purpose="", environ=environ)
    except Exception:
        return False
    os.close(fd)
    return True


def read_private_file(directory_fd: int, name: str, *, limit: int) -> bytes | None:
    """The content of ``name`` in the open directory, or None unless it is a regular file (not a
    link, FIFO or device), the user's, and at most ``limit`` bytes. Never blocks on a FIFO and
    never reads more than ``limit`` bytes."""
    flags = os.O_RDONLY | _NOFOLLOW | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(name, flags, dir_fd=directory_fd)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        owner_ok = not hasattr(os, "geteuid") or info.st_uid == os.geteuid()
        if not (stat.S_ISREG(info.st_mode) and owner_ok and info.st_size <= limit):
            return None
        chunks = []
        size = 0
        while size <= limit:
            chunk = os.read(fd, limit + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return None if size > limit else b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(fd)
