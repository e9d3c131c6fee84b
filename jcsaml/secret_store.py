"""Where jcsaml keeps secrets between runs: the OS keyring, or nowhere.

Nothing here ever writes a secret to a plain file. ``keyring`` is imported only when used.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from jcsaml.config import Account

SERVICE = "jcsaml"
_SESSION_PREFIX = "session:"

log = logging.getLogger(__name__)


# The names of the entries, in one place: every reader and writer of the store uses these.


def password_key(account: Account, username: str) -> str:
    """The entry for a JumpCloud password: per user and console."""
    return f"{username}@{account.console_url}"


def session_key(account: Account, username: str) -> str:
    """The entry for a saved JumpCloud console session: per user and console (accounts of one
    console and user share it)."""
    return f"{_SESSION_PREFIX}{username}@{account.console_url}"


def is_session_key(key: str) -> bool:
    """Whether ``key`` names a console session (else a password)."""
    return key.startswith(_SESSION_PREFIX)


class SecretStore(Protocol):
    """A small key/value store for secrets. ``get`` of a missing key is None."""

    def get(self, key: str) -> str | None: ...

    def set(self, key: str, value: str) -> None: ...

    def delete(self, key: str) -> None: ...


class NullStore:
    """Keeps nothing: used when there is no usable keyring."""

    def get(self, key: str) -> str | None:
        return None

    def set(self, key: str, value: str) -> None:
        return None

    def delete(self, key: str) -> None:
        return None


class MemoryStore:
    """Keeps secrets in this process only (tests, and library users who manage their own)."""

    def __init__(self) -> None:
        self._values: dict[str, str] = {}

    def get(self, key: str) -> str | None:
        return self._values.get(key)

    def set(self, key: str, value: str) -> None:
        self._values[key] = value

    def delete(self, key: str) -> None:
        self._values.pop(key, None)


class KeyringStore:
    """The OS keyring (macOS Keychain, Windows Credential Locker, Secret Service...)."""

    def __init__(self, service: str = SERVICE) -> None:
        self.service = service

    def get(self, key: str) -> str | None:
        import keyring

        value: str | None = keyring.get_password(self.service, key)
        return value

    def set(self, key: str, value: str) -> None:
        import keyring

        keyring.set_password(self.service, key, value)

    def delete(self, key: str) -> None:
        import keyring
        import keyring.errors

        with contextlib.suppress(keyring.errors.PasswordDeleteError):  # already absent
            keyring.delete_password(self.service, key)


def library_store(secrets: SecretStore | None) -> SecretStore:
    """``secrets``, else the library's default: the OS keyring (where ``jcsaml login`` keeps
    the JumpCloud session and the password), its problems logged as warnings. Every library
    entry point (:func:`jcsaml.login`, :func:`jcsaml.login_many`, :func:`jcsaml.credentials`,
    :func:`jcsaml.session` ...) defaults the same way; pass :class:`NullStore` to keep nothing."""
    if secrets is not None:
        return secrets
    return default_store(warn=lambda message: log.warning("%s", message))


def default_store(
    *, warn: Callable[[str], None], warn_unavailable: Callable[[str], None] | None = None
) -> SecretStore:
    """The OS keyring when one is usable; else a store that keeps nothing and, the first time
    something should be saved, says why it wasn't through ``warn_unavailable`` (default
    ``warn``; the CLI gives that warning once per machine). ``warn`` also reports a keyring
    that fails when used."""
    warn_unavailable = warn_unavailable or warn
    try:
        import keyring

        backend = keyring.get_keyring()
    except Exception as exc:  # a broken keyring configuration must not stop a login
        return UnavailableStore(
            warn_unavailable, f"the OS keyring is unusable ({type(exc).__name__})"
        )
    if _only_null(backend):
        return UnavailableStore(warn_unavailable, "no OS keyring is available")
    return _GuardedStore(KeyringStore(), warn)


class DeferredStore:
    """A store made on first use by ``make`` (e.g. :func:`default_store`), or ahead of that by
    :meth:`prepare` in another thread.

    Loading keyring and finding its backend costs tens of milliseconds, more with a desktop
    keyring; a sign-in that has nothing to look up before its first request (``--force``, a
    password given) needs the store only once JumpCloud has answered, so a sign-in prepares it
    while it waits (:class:`jcsaml.signin.SignInWarmup`).
    """

    def __init__(self, make: Callable[[], SecretStore]) -> None:
        self._make = make
        self._store: SecretStore | None = None
        self._lock = threading.Lock()

    def _inner(self) -> SecretStore:
        with self._lock:
            if self._store is None:
                self._store = self._make()
            return self._store

    def prepare(self) -> None:
        """Make the store now; a failure is left for the first use to meet again."""
        with contextlib.suppress(Exception):
            self._inner()

    def get(self, key: str) -> str | None:
        return self._inner().get(key)

    def set(self, key: str, value: str) -> None:
        self._inner().set(key, value)

    def delete(self, key: str) -> None:
        self._inner().delete(key)


class UnavailableStore(NullStore):
    """Keeps nothing; warns once, when asked to keep something."""

    def __init__(self, warn: Callable[[str], None], reason: str) -> None:
        self._warn = warn
        self._reason = reason
        self._warned = False

    def set(self, key: str, value: str) -> None:
        if not self._warned:
            self._warned = True
            message = (
                f"{self._reason}, so jcsaml cannot remember the password or the JumpCloud "
                "session (MFA is asked at every sign-in); install a keyring backend such as "
                "Secret Service to have them remembered"
            )
            log.debug("%s", message)  # every time, even when the warning was given before
            self._warn(message)


def _only_null(backend: object) -> bool:
    from keyring.backends import chainer, fail, null

    useless = (fail.Keyring, null.Keyring)
    if isinstance(backend, useless):
        return True
    if isinstance(backend, chainer.ChainerBackend):
        return all(isinstance(inner, useless) for inner in backend.backends)
    return False


class _GuardedStore:
    """A keyring that fails at use time (locked, D-Bus gone) warns once and then acts empty."""

    def __init__(self, inner: SecretStore, warn: Callable[[str], None]) -> None:
        self._inner = inner
        self._warn = warn
        self._broken = False

    def _fail(self, exc: Exception) -> None:
        if not self._broken:
            self._broken = True
            self._warn(f"the OS keyring failed ({type(exc).__name__}); continuing without it")

    def get(self, key: str) -> str | None:
        if self._broken:
            return None
        try:
            return self._inner.get(key)
        except Exception as exc:
            self._fail(exc)
            return None

    def set(self, key: str, value: str) -> None:
        if self._broken:
            return
        try:
            self._inner.set(key, value)
        except Exception as exc:
            self._fail(exc)

    def delete(self, key: str) -> None:
        if self._broken:
            return
        try:
            self._inner.delete(key)
        except Exception as exc:
            self._fail(exc)
