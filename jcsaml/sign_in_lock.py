"""One sign-in at a time for an IdP account and role, across every jcsaml process.

A terraform run with parallel providers, or a shell loop over ``aws`` calls, starts many
``jcsaml credential-process`` at once when the cached credentials run out. Each command that must
sign in first takes this lock (a ``filelock`` file in :func:`jcsaml.ini_edit.lock_directory`, named
for the account and role), then looks at its cache again: the process that got the lock first
signed in and wrote its result there, and the others use it. So N processes make one sign-in.

A lock held longer than a sign-in can take (its deadlines plus ``push_timeout``,
:func:`hold_bound`) belongs to a process that is stuck: it is broken, with a warning.

The lock directory is checked as :mod:`jcsaml.safe_directory` says, and the lock file is opened
through the directory's open descriptor where the system allows it (Linux's ``/proc/self/fd``).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

from jcsaml.errors import SignInLockError
from jcsaml.ini_edit import lock_directory
from jcsaml.safe_directory import open_directory

if TYPE_CHECKING:
    from jcsaml.config import Account

__all__ = ["PURPOSE", "hold_bound", "lock_for", "lock_name", "sign_in_lock"]

log = logging.getLogger(__name__)

PURPOSE = "jcsaml's lock directory"
#: JumpCloud requests in a sign-in (xsrf, password, MFA code or push start and login, the
#: application page, a redirect or two), each allowed ``http_timeout``.
_REQUESTS_PER_SIGN_IN = 8


def hold_bound(account: Account) -> float:
    """How long a sign-in may hold the lock: its deadlines (every JumpCloud request, two STS
    calls) plus ``push_timeout``."""
    return (
        _REQUESTS_PER_SIGN_IN * account.http_timeout
        + account.push_timeout
        + 2 * account.sts_timeout
    )


def lock_name(account: str, role: str) -> str:
    digest = hashlib.sha256(f"{account}\0{role}".encode()).hexdigest()[:24]
    return f"sign-in-{digest}.lock"


@contextlib.contextmanager
def sign_in_lock(
    account: str,
    role: str,
    *,
    bound: float,
    environ: Mapping[str, str] = os.environ,
    waiting: Callable[[str], None] | None = None,
    warn: Callable[[str], None] | None = None,
) -> Iterator[None]:
    """Hold the sign-in lock of ``account`` and ``role`` (``""``: the account's own).

    ``waiting`` hears one line when another process holds it (give it only when a person sees
    it: a terminal). After ``bound`` seconds the lock is broken and ``warn`` hears why.
    Raises UnsafeDirectoryError and SignInLockError.
    """
    import filelock

    directory = lock_directory(environ)
    name = lock_name(account, role)
    shown = str(directory / name)
    try:
        fd = open_directory(directory, purpose=PURPOSE, create=True, environ=environ)
    except OSError as exc:
        raise SignInLockError(
            lock_path=shown, lock_dir=str(directory), reason=exc.strerror or str(exc)
        ) from None
    try:
        # Through the open directory: a directory swapped in since the check is not used.
        via_fd = f"/proc/self/fd/{fd}"
        path = f"{via_fd}/{name}" if os.path.isdir(via_fd) else shown
        lock = filelock.FileLock(path, mode=0o600)
        try:
            if not _acquire(lock, 0):
                if waiting is not None:
                    waiting(
                        f"jcsaml: waiting for another jcsaml process to finish signing in to "
                        f"JumpCloud for account {account!r}..."
                    )
                if not _acquire(lock, bound):
                    _warn = warn or log.warning
                    _warn(
                        f"another process has held the sign-in lock {shown} for more than "
                        f"{bound:g} s; breaking it"
                    )
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(name, dir_fd=fd)
                    lock = filelock.FileLock(path, mode=0o600)
                    _acquire(lock, 0)  # another waiter may have broken it first: go on anyway
        except OSError as exc:
            raise SignInLockError(
                lock_path=shown, lock_dir=str(directory), reason=exc.strerror or str(exc)
            ) from None
        try:
            yield
        finally:
            if lock.is_locked:
                lock.release()
    finally:
        os.close(fd)


def lock_for(
    account: Account,
    role: str,
    *,
    environ: Mapping[str, str] = os.environ,
    waiting: Callable[[str], None] | None = None,
    warn: Callable[[str], None] | None = None,
) -> Callable[[], AbstractContextManager[None]]:
    """:func:`sign_in_lock` for ``account`` and ``role``, bound by :func:`hold_bound`, to take
    when needed."""
    return functools.partial(
        sign_in_lock,
        account.name,
        role,
        bound=hold_bound(account),
        environ=environ,
        waiting=waiting,
        warn=warn,
    )


def _acquire(lock: filelock.BaseFileLock, timeout: float) -> bool:
    import filelock

    try:
        lock.acquire(timeout=timeout, poll_interval=0.02)
    except filelock.Timeout:
        return False
    return True


if TYPE_CHECKING:
    import filelock
