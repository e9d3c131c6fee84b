"""The locked, atomic way to rewrite a file people also edit by hand (the jcsaml config file,
``~/.aws/credentials``, ``~/.aws/config``), and the checks that it is the user's alone.

:func:`edit_ini` reads the file as :class:`~jcsaml.inifile.IniDocument`, lets the caller change
it, and writes it back under a lock file, through a temporary file that replaces it only once
complete. :func:`is_private_file` asks the same question as :func:`safe_target` without raising
or importing anything: it is on the hot path of ``jcsaml exec`` (:mod:`jcsaml.light_lookup`).
"""

from __future__ import annotations

import os
import re
import stat
from typing import TYPE_CHECKING

from jcsaml.inifile import IniAccessError, IniDocument, decode, os_reason, read_ini
from jcsaml.private_file import remove_temp_files, temp_name, write_new_file, write_private_file

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from pathlib import Path
    from types import TracebackType

__all__ = [
    "CHECK_LOCK_TIMEOUT",
    "DEFAULT_LOCK_TIMEOUT",
    "check_editable",
    "edit_ini",
    "is_private_file",
    "lock_directory",
    "lock_path_for",
    "safe_target",
]

DEFAULT_LOCK_TIMEOUT = 10.0
#: How long :func:`check_editable` waits for the lock: long enough for another process's
#: rewrite (milliseconds), short enough to count as failing at once.
CHECK_LOCK_TIMEOUT = 1.0


def safe_target(path: Path) -> Path:
    """The file that an edit of ``path`` rewrites, after checking that it is the user's alone.

    A symlink at ``path`` is followed only to an existing regular file of this user
    (:class:`~jcsaml.errors.DanglingLinkError`, :class:`~jcsaml.errors.LinkTargetError`);
    the file and its directory must not be writable by other users
    (:class:`~jcsaml.errors.WritableByOthersError`). A missing file is fine.
    """
    from pathlib import Path

    from jcsaml.errors import DanglingLinkError, LinkTargetError, WritableByOthersError

    real = Path(os.path.realpath(path))
    if os.path.islink(path):
        try:
            info = os.stat(real)
        except FileNotFoundError:
            raise DanglingLinkError(path=str(path), target=str(real)) from None
        except OSError as exc:
            raise IniAccessError("read", real, os_reason(exc)) from None
        if not stat.S_ISREG(info.st_mode):
            raise LinkTargetError(path=str(path), target=str(real), reason="is not a regular file")
        if hasattr(os, "getuid") and info.st_uid != os.getuid():
            raise LinkTargetError(
                path=str(path), target=str(real), reason=f"belongs to another user ({info.st_uid})"
            )
    for kind, culprit in (("file", real), ("directory", real.parent)):
        try:
            info = os.stat(culprit)
        except OSError:
            continue  # missing, or reported by the operation that needs it
        if _writable_by_others(info, directory=kind == "directory"):
            raise WritableByOthersError(
                path=str(path),
                kind=kind,
                culprit=str(culprit),
                mode=f"{stat.S_IMODE(info.st_mode):04o}",
            )
    return real


def is_private_file(path: str | os.PathLike[str]) -> bool:
    """Whether :func:`safe_target` would accept ``path``, asked without raising or importing
    anything (for the hot path, which declines instead of explaining)."""
    real = os.path.realpath(path)
    if os.path.islink(path):
        try:
            info = os.stat(real)
        except OSError:
            return False
        if not stat.S_ISREG(info.st_mode):
            return False
        if hasattr(os, "getuid") and info.st_uid != os.getuid():
            return False
    for culprit, directory in ((real, False), (os.path.dirname(real), True)):
        try:
            info = os.stat(culprit)
        except OSError:
            continue
        if _writable_by_others(info, directory=directory):
            return False
    return True


def _writable_by_others(info: os.stat_result, *, directory: bool) -> bool:
    if os.name != "posix":
        return False  # Windows ACLs are not expressed in st_mode
    if directory and info.st_mode & stat.S_ISVTX:
        return False  # like /tmp: others may add files but not replace or remove this user's
    if info.st_mode & stat.S_IWOTH:
        return True
    return bool(info.st_mode & stat.S_IWGRP) and not _is_private_group(info.st_gid)


def _is_private_group(gid: int) -> bool:
    """A user-private group (named after the user, no other members) lets no one else write."""
    import grp
    import pwd

    try:
        group = grp.getgrgid(gid)
        user = pwd.getpwuid(os.getuid())
    except KeyError:
        return False
    return group.gr_name == user.pw_name and set(group.gr_mem) <= {user.pw_name}


def _make_parent(path: Path) -> None:
    """Create the missing directories above ``path`` (mode 0700), never through a dangling link."""
    from jcsaml.errors import DanglingLinkError

    parent = path.parent
    if parent.is_dir():
        return
    for ancestor in (parent, *parent.parents):
        if os.path.islink(ancestor) and not ancestor.exists():
            raise DanglingLinkError(path=str(ancestor), target=os.path.realpath(ancestor))
        if ancestor.exists():
            break
    try:
        parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise IniAccessError("write", parent, os_reason(exc)) from None


def lock_directory(environ: Mapping[str, str] = os.environ) -> Path:
    """Where lock files live, out of sight: ``$XDG_RUNTIME_DIR/jcsaml`` when that is a private
    directory of this user, else ``jcsaml/locks`` in the user cache directory
    (``$XDG_CACHE_HOME``, else ``~/.cache``)."""
    from pathlib import Path

    runtime = environ.get("XDG_RUNTIME_DIR", "")
    if runtime and os.path.isabs(runtime) and _is_own_private_directory(Path(runtime)):
        return Path(runtime) / "jcsaml"
    cache = environ.get("XDG_CACHE_HOME", "")
    if not (cache and os.path.isabs(cache)):
        cache = os.path.join(environ.get("HOME") or str(Path.home()), ".cache")
    return Path(cache) / "jcsaml" / "locks"


def _is_own_private_directory(path: Path) -> bool:
    try:
        info = os.stat(path)
    except OSError:
        return False
    owner_ok = not hasattr(os, "getuid") or info.st_uid == os.getuid()
    return stat.S_ISDIR(info.st_mode) and owner_ok and not info.st_mode & 0o077


def lock_path_for(path: Path, environ: Mapping[str, str] = os.environ) -> Path:
    """The lock file that serialises edits of ``path``: in :func:`lock_directory`, named after
    the file and keyed by a hash of its real path (so every link to one file shares a lock)."""
    import hashlib

    real = os.path.realpath(path)
    digest = hashlib.sha256(os.fsencode(real)).hexdigest()[:24]
    name = re.sub(r"[^\w.-]", "_", os.path.basename(real))[:40]
    return lock_directory(environ) / f"{name}-{digest}.lock"


class _Locked:
    """Holds the lock file of ``path`` while the ``with`` block runs (see :func:`edit_ini`);
    ``checking`` raises FileBusyError instead of FileLockedError when it is held."""

    def __init__(
        self, path: Path, timeout: float, environ: Mapping[str, str], *, checking: bool = False
    ) -> None:
        self.path = path
        self.timeout = timeout
        self.lock_path = lock_path_for(path, environ)
        self.checking = checking
        self.environ = environ

    def _unusable(self, reason: str) -> Exception:
        from jcsaml.errors import LockFileError

        return LockFileError(
            path=str(self.path),
            lock_path=str(self.lock_path),
            lock_dir=str(self.lock_path.parent),
            reason=reason,
        )

    def __enter__(self) -> None:
        import filelock  # only writers need it; readers stay on the standard library

        from jcsaml.errors import FileBusyError, FileLockedError, JcsamlError
        from jcsaml.safe_directory import open_directory

        directory = self.lock_path.parent
        try:
            # Every directory up to the home directory must be safe, as for the cache.
            os.close(
                open_directory(
                    directory, purpose="jcsaml's lock directory", create=True, environ=self.environ
                )
            )
            info = os.lstat(directory)
            if hasattr(os, "getuid") and info.st_uid != os.getuid():
                raise self._unusable("the directory belongs to another user")
            if stat.S_IMODE(info.st_mode) != 0o700 and os.name == "posix":
                os.chmod(directory, 0o700)
        except JcsamlError:
            raise  # the LockFileError just above: an OSError, but with its own reason
        except OSError as exc:
            raise self._unusable(os_reason(exc)) from None
        self.lock = filelock.FileLock(str(self.lock_path), timeout=self.timeout, mode=0o600)
        try:
            self.lock.acquire()
        except filelock.Timeout:
            busy = FileBusyError if self.checking else FileLockedError
            raise busy(
                path=str(self.path), lock_path=str(self.lock_path), timeout=self.timeout
            ) from None
        except OSError as exc:
            raise self._unusable(os_reason(exc)) from None
        import contextlib

        # filelock sets the mode only on a lock file it creates.
        with contextlib.suppress(OSError):
            os.chmod(self.lock_path, 0o600)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.lock.release()


def check_editable(
    path: Path,
    *,
    inline_comments: bool = False,
    environ: Mapping[str, str] = os.environ,
) -> IniDocument | None:
    """Check, without changing it, that :func:`edit_ini` could rewrite ``path`` now; returns the
    parsed file (None when missing) for further checks of its content.

    Meant for before a long or costly step whose result is to be saved: it raises what
    :func:`edit_ini` would (:class:`IniSyntaxError`, :class:`IniAccessError` for reading the
    file or writing its directory, the unsafe-file errors of :func:`safe_target`,
    :class:`~jcsaml.errors.LockFileError`) and :class:`~jcsaml.errors.FileBusyError` when
    another process holds the lock, after :data:`CHECK_LOCK_TIMEOUT` rather than the long wait
    of an edit.
    """
    target = safe_target(path)
    doc = read_ini(target, inline_comments=inline_comments)
    size = len(doc.render().encode("utf-8")) if doc else 0
    _probe_directory(target, size + 4096)
    with _Locked(path, CHECK_LOCK_TIMEOUT, environ, checking=True):
        pass
    return doc


def _probe_directory(target: Path, size: int) -> None:
    """Write (then remove) a temporary file of ``size`` bytes where the new file would go: a
    read-only or full file system shows up now rather than at the end."""
    directory = target.parent
    # A missing directory is created by the edit: probe the one it will be created in.
    while not directory.exists() and directory != directory.parent:
        directory = directory.parent
    probe = directory / temp_name(target).name
    try:
        write_new_file(probe, bytes(size), sync=False)
    except OSError as exc:
        raise IniAccessError("write", directory, os_reason(exc)) from None
    finally:
        import contextlib

        with contextlib.suppress(OSError):
            os.unlink(probe)


def edit_ini(
    path: Path,
    edit: Callable[[IniDocument], None],
    *,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    inline_comments: bool = False,
    environ: Mapping[str, str] = os.environ,
) -> None:
    """Apply ``edit`` to the file at ``path`` safely.

    - Concurrent editors are serialised by a lock file (mode 0600, left in place as lock files
      are) in :func:`lock_directory` (``environ`` says where that is), keyed by the file's real
      path; waiting longer than ``lock_timeout`` seconds raises
      :class:`~jcsaml.errors.FileLockedError`, a lock file that cannot be used
      :class:`~jcsaml.errors.LockFileError`.
    - The file is re-read under the lock, so no other editor's change is lost. A file that
      cannot be parsed raises :class:`IniSyntaxError`; an exception from ``edit`` propagates.
      Either way the file is not touched.
    - The new text is written to a temporary file in the same directory, created 0600 (never
      readable by others, even for a moment), fsynced, then renamed over the file, and the
      directory is fsynced: a crash at any moment leaves the old or the new file, complete.
      The result is mode 0600 whatever the old mode was. Temporary files left by an editor
      that was killed are removed by the next edit.
    - A missing parent directory is created with mode 0700; a missing file is created unless
      the edit leaves it empty. When the text does not change and the mode is already 0600,
      nothing is written.
    - A symlink at ``path`` is followed to an existing regular file of this user (its target is
      replaced, the link stays); no directory is ever created for a link's target. A file or
      directory that other users can write is refused (see :func:`safe_target`).

    Raises :class:`IniAccessError` (an OSError whose ``operation`` is ``"read"`` or
    ``"write"``) when the file cannot be read or written.
    """
    if not os.path.islink(path):
        _make_parent(path)
    target = safe_target(path)
    with _Locked(path, lock_timeout, environ):
        try:
            # Holding the lock, no other editor is writing: any temporary file is a leftover.
            remove_temp_files(target)
        except OSError as exc:
            raise IniAccessError("write", target.parent, os_reason(exc)) from None
        try:
            data: bytes | None = target.read_bytes()
        except FileNotFoundError:
            data = None
        except OSError as exc:
            raise IniAccessError("read", target, os_reason(exc)) from None
        old_text = "" if data is None else decode(data)
        doc = IniDocument.parse(old_text, inline_comments=inline_comments)
        edit(doc)
        new_text = doc.render()
        if data is None and not new_text:
            return
        if data is not None and new_text == old_text and _mode(target) == 0o600:
            return
        try:
            write_private_file(target, new_text.encode("utf-8"))
        except OSError as exc:
            raise IniAccessError("write", target, os_reason(exc)) from None


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o7777
