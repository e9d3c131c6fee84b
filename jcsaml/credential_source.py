"""Credentials that stay valid for a long run: the cache, then the saved JumpCloud session, then
the person.

:class:`CredentialSource` is what ``jcsaml exec --server`` and :func:`jcsaml.session` refresh
through. Each refresh looks, in order, at

1. the credentials it holds, while they stay valid longer than the SDKs' refresh window;
2. the cache (by default the one ``jcsaml credential-process`` keeps, :mod:`jcsaml.process_cache`),
   likewise;
3. a sign-in with the saved JumpCloud console session only: no password, no MFA, nobody asked;
4. a sign-in with the prompter, when there is one (password, MFA, as ``jcsaml login``);

and raises :class:`~jcsaml.errors.SignInRequiredError` when only a person could go on and there
is no prompter. New credentials are written back to the cache. Refreshes are serialized by one
lock, so threads that ask at the same moment share one sign-in.

Standard library only at import: the sign-in machinery is imported when a sign-in happens.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol, TypedDict, Unpack

from jcsaml import process_cache
from jcsaml.arn import role_matches
from jcsaml.aws_credentials import AwsCredentials
from jcsaml.display import printable
from jcsaml.errors import (
    InputRequiredError,
    JcsamlError,
    SignInPendingError,
    SignInRequiredError,
)
from jcsaml.light_lookup import PROCESS_REFRESH_MARGIN_SECONDS
from jcsaml.process_cache import write_problem
from jcsaml.prompter import NonInteractivePrompter
from jcsaml.secret_store import is_session_key, library_store
from jcsaml.sign_in_lock import lock_for
from jcsaml.signin import check_keywords, login, resolve_account

if TYPE_CHECKING:
    from jcsaml.config import Account
    from jcsaml.credentials_file import CredentialsStore
    from jcsaml.jumpcloud import Authenticator
    from jcsaml.prompter import Prompter
    from jcsaml.secret_store import SecretStore
    from jcsaml.sts import StsClient

__all__ = [
    "SDK_REFRESH_WINDOW",
    "CredentialSource",
    "CredentialsCache",
    "ProcessCache",
    "ProfileCache",
    "SignIn",
    "SourceOptions",
    "credentials",
    "default_source",
    "login_sign_in",
]

log = logging.getLogger(__name__)

#: The AWS SDKs ask for new credentials when fewer than this many seconds remain (botocore: 15
#: minutes advisory, 10 mandatory); credentials handed out must outlast it, or every AWS call
#: would ask again.
SDK_REFRESH_WINDOW = PROCESS_REFRESH_MARGIN_SECONDS

#: New credentials are kept at least this long (or half their life, if shorter), even when
#: they live no longer than the margin: at most one sign-in per this many seconds.
SHORTEST_KEEP = 5 * 60

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class CredentialsCache(Protocol):
    """Where credentials for one account and role are kept between runs."""

    def load(self) -> AwsCredentials | None: ...

    def save(self, credentials: AwsCredentials) -> None: ...


class ProcessCache:
    """The cache ``jcsaml credential-process`` keeps: one 0600 file per IdP account and requested
    role (``""``: the account's or the only one), see :mod:`jcsaml.process_cache`."""

    def __init__(
        self, account: str, role: str = "", *, environ: Mapping[str, str] = os.environ
    ) -> None:
        self.account = account
        self.role = role
        self.environ = environ

    def load(self) -> AwsCredentials | None:

        return process_cache.load(self.account, self.role, environ=self.environ)

    def save(self, credentials: AwsCredentials) -> None:

        process_cache.save(self.account, self.role, credentials, environ=self.environ)


class ProfileCache:
    """An AWS profile of a credentials file, the cache ``jcsaml login`` and ``jcsaml exec`` use."""

    def __init__(self, store: CredentialsStore, profile: str) -> None:
        self.store = store
        self.profile = profile

    def load(self) -> AwsCredentials | None:
        return self.store.load(self.profile)

    def save(self, credentials: AwsCredentials) -> None:
        self.store.save(self.profile, credentials)


Lock = Callable[[], AbstractContextManager[object]]


def refresh_once(
    *,
    load: Callable[[], AwsCredentials | None],
    usable: Callable[[AwsCredentials | None], bool],
    sign_in: Callable[[], AwsCredentials],
    save: Callable[[AwsCredentials], object],
    warn: Callable[[str], None],
    lock: Lock | None = None,
    reread: bool = True,
) -> tuple[AwsCredentials, bool]:
    """The one way every refresher signs in: under ``lock`` (one sign-in per account and role
    across processes, :mod:`jcsaml.sign_in_lock`), look at the cache again (``reread``) and use
    what another process has just put there; else sign in and save. Returns the credentials and
    whether they are new.

    A cache that cannot be written never costs the sign-in: ``warn`` hears one line, worded for
    the errno, and the credentials are returned. UnsafeDirectoryError is raised, not warned.
    """
    with lock() if lock is not None else contextlib.nullcontext():
        if reread:
            found = load()
            if usable(found):
                assert found is not None
                log.debug("credentials from the cache, refreshed by another process")
                return found, False
        fresh = sign_in()
        try:
            save(fresh)
        except JcsamlError:
            raise  # jcsaml's own (a lock that timed out, an unsafe directory), not a write fault
        except OSError as exc:  # the run goes on with them; the next refresh signs in again
            where = f" in {exc.filename}" if getattr(exc, "filename", None) else ""
            warn(
                f"could not cache the new credentials{where}: {write_problem(exc)}; they are "
                "used anyway, and the next run signs in again"
            )
        return fresh, True


class SignIn(Protocol):
    """Signs in and assumes ``role`` (None: the account's, else the only one, else ask).

    With ``prompter`` None only the saved JumpCloud session may be used: when it is gone the
    call raises InputRequiredError instead of asking, sending a password or starting an MFA.
    """

    def __call__(self, prompter: Prompter | None, role: str | None) -> AwsCredentials: ...


class CredentialSource:
    """Valid credentials for one account, refreshed through the cache, the saved JumpCloud
    session and, last, ``prompter``. Thread-safe.

    ``margin`` (seconds): credentials closer to their end than this are renewed; the default is
    the SDKs' refresh window. ``clock`` returns the current time (timezone-aware). ``warn``
    hears about a cache that could not be written (default: the log). ``lock`` makes the lock
    held across processes while signing in (see :func:`refresh_once`; default: none).
    """

    def __init__(
        self,
        account: str,
        *,
        cache: CredentialsCache,
        sign_in: SignIn,
        role: str | None = None,
        prompter: Prompter | None = None,
        clock: Clock = utc_now,
        margin: float = SDK_REFRESH_WINDOW,
        warn: Callable[[str], None] | None = None,
        lock: Lock | None = None,
    ) -> None:
        self.account = account
        self._lock_across = lock
        self._warn = warn or _log_notice
        self.cache = cache
        self.prompter = prompter
        self.margin = margin
        self._sign_in = sign_in
        self._role = role or None
        self._clock = clock
        self._lock = threading.Lock()
        self._held: AwsCredentials | None = None
        self._renew_at: datetime | None = None
        self._asking = False

    @property
    def clock(self) -> Clock:
        """Where this source takes the current time from."""
        return self._clock

    @property
    def held(self) -> AwsCredentials | None:
        """The credentials handed out last (None before the first :meth:`get`)."""
        return self._held

    def renew_at(self, margin: float | None = None) -> datetime | None:
        """When the held credentials are due for renewal with ``margin``."""
        held = self._held
        if held is None:
            return None
        due = held.expiration - timedelta(seconds=self.margin if margin is None else margin)
        # Credentials that live no longer than the margin (a role capped at 15 minutes) would
        # otherwise be renewed on every call: new ones are kept a while whatever the margin.
        return max(due, self._renew_at) if self._renew_at is not None else due

    def get(
        self, *, margin: float | None = None, ask: bool = True, wait_for_person: bool = True
    ) -> AwsCredentials:
        """Credentials that stay valid longer than ``margin`` (default: :attr:`margin`).

        ``ask`` False never uses the prompter. Raises SignInRequiredError when a person is
        needed and cannot be asked, and the sign-in's own errors (IdpError, StsError ...).

        While another thread waits for the person to answer the prompter, ``wait_for_person``
        False returns the held credentials if they have not expired yet, else raises
        SignInPendingError, instead of waiting.
        """
        wanted = self.margin if margin is None else margin
        while not self._lock.acquire(timeout=0.05):
            if self._asking and not wait_for_person:
                held = self._held
                if held is not None and not held.expires_within(0, now=self._clock()):
                    return held
                raise SignInPendingError(account=self.account)
        with contextlib.ExitStack() as locked:
            locked.callback(self._lock.release)
            now = self._clock()
            due = self.renew_at(wanted)
            if self._held is not None and due is not None and now < due:
                return self._held
            cached = self.cache.load()
            if self._usable(cached, wanted, now):
                assert cached is not None
                log.debug("credentials for %s from the cache", self.account)
                return self._hold(cached, None)
            got, fresh = refresh_once(
                load=self.cache.load,
                usable=lambda found: self._usable(found, wanted, self._clock()),
                sign_in=lambda: self._sign_in_now(ask),
                save=self.cache.save,
                warn=self._warn,
                lock=self._lock_across,
            )
            if not fresh:
                return self._hold(got, None)
            keep = min((got.expiration - now) / 2, timedelta(seconds=SHORTEST_KEEP))
            return self._hold(got, now + keep)

    def _usable(self, found: AwsCredentials | None, margin: float, now: datetime) -> bool:
        if found is None or found.expires_within(margin, now=now):
            return False
        role = self._role
        return not role or role_matches(found.role_arn, role)

    def _hold(self, credentials: AwsCredentials, keep_until: datetime | None) -> AwsCredentials:
        self._held = credentials
        self._renew_at = keep_until
        # A refresh must not switch roles under the command: keep the one first obtained.
        self._role = self._role or credentials.role_arn or None
        return credentials

    def _sign_in_now(self, ask: bool) -> AwsCredentials:
        try:
            fresh = self._sign_in(None, self._role)
            log.debug("credentials for %s from the saved JumpCloud session", self.account)
            return fresh
        except InputRequiredError:
            if not ask or self.prompter is None:
                raise SignInRequiredError(account=self.account) from None
        log.debug("the saved JumpCloud session for %s has ended: asking", self.account)
        self._asking = True
        try:
            return self._sign_in(self.prompter, self._role)
        finally:
            self._asking = False


class _SessionOnly:
    """A view of the secret store without saved passwords: an unattended refresh may reuse the
    JumpCloud session but must never sign in with a password (that would start an MFA)."""

    def __init__(self, inner: SecretStore) -> None:
        self._inner = inner

    def get(self, key: str) -> str | None:
        return self._inner.get(key) if is_session_key(key) else None

    def set(self, key: str, value: str) -> None:
        self._inner.set(key, value)

    def delete(self, key: str) -> None:
        self._inner.delete(key)


def login_sign_in(
    account: Account,
    *,
    secrets: SecretStore,
    username: str | None = None,
    password: str | None = None,
    mfa_token: str | None = None,
    session_duration: int | None = None,
    notify: Callable[[str], None] | None = None,
    environ: Mapping[str, str] = os.environ,
    authenticator_factory: Callable[[Account], Authenticator] | None = None,
    sts_client: StsClient | None = None,
) -> SignIn:
    """A :class:`SignIn` through :func:`jcsaml.signin.login`.

    ``password`` and ``mfa_token`` are used only when a person is asked (``mfa_token`` once:
    a code is good for one sign-in). ``notify`` receives what an unattended sign-in has to say
    (default: the log). ``authenticator_factory(account)`` makes one JumpCloud client per
    sign-in, as for :func:`jcsaml.login_many` and :func:`jcsaml.discover_applications`.
    """
    tokens = [mfa_token] if mfa_token else []

    def sign_in(prompter: Prompter | None, role: str | None) -> AwsCredentials:

        unattended = prompter is None
        asker = prompter or _Unattended(notify or _log_notice)
        return login(
            account,
            role=role,
            username=username,
            password=None if unattended else password,
            mfa_token=None if unattended or not tokens else tokens.pop(),
            session_duration=session_duration,
            prompter=asker,
            secrets=_SessionOnly(secrets) if unattended else secrets,
            authenticator=authenticator_factory(account) if authenticator_factory else None,
            sts_client=sts_client,
            environ=environ,
        )

    return sign_in


def _log_notice(message: str) -> None:
    log.warning("%s", message)


class _Unattended(NonInteractivePrompter):
    """Asks nothing (every question raises InputRequiredError); notices go to ``notify``."""

    def __init__(self, notify: Callable[[str], None]) -> None:
        super().__init__()
        self._notify = notify

    def notify(self, message: str) -> None:
        self._notify(printable(message))


class SourceOptions(TypedDict, total=False):
    """The keyword arguments of :func:`default_source`, :func:`credentials` and
    :func:`jcsaml.session`; each may be left out.

    - ``role``: the role to assume (default: the account's, else the only one).
    - ``prompter``: who is asked when the saved JumpCloud session has ended. Without one a person
      is never asked: SignInRequiredError instead.
    - ``secrets``: where the JumpCloud session is kept (default: the OS keyring, where ``jcsaml
      login`` keeps it).
    - ``cache``: where credentials are kept between runs (default: the one ``jcsaml
      credential-process`` keeps, :class:`ProcessCache`).
    - ``session_duration``: the seconds asked of STS (default: as :func:`jcsaml.login`).
    - ``clock``: returns the current time, timezone-aware (default: :func:`utc_now`).
    - ``environ``: the environment the account is read from (default: os.environ).
    - ``authenticator_factory``: makes one JumpCloud client per sign-in (see
      :func:`login_sign_in`).
    - ``sts_client``: the STS client to call (default: one made per sign-in).
    """

    role: str | None
    prompter: Prompter | None
    secrets: SecretStore | None
    cache: CredentialsCache | None
    session_duration: int | None
    clock: Clock
    environ: Mapping[str, str]
    authenticator_factory: Callable[[Account], Authenticator] | None
    sts_client: StsClient | None


def default_source(account: Account | str, **options: Unpack[SourceOptions]) -> CredentialSource:
    """A :class:`CredentialSource` for ``account`` (an Account or a name in the config file),
    with :class:`SourceOptions`."""
    return source_for(account, options, function="default_source")


def source_for(
    account: Account | str, options: SourceOptions, *, function: str
) -> CredentialSource:
    """:func:`default_source` for the library function named ``function`` (which a keyword it
    does not take is reported against)."""

    check_keywords(function, options, SourceOptions.__optional_keys__)
    environ = options.get("environ", os.environ)
    resolved = resolve_account(account, environ=environ)
    secrets = library_store(options.get("secrets"))
    wanted = options.get("role") or resolved.role_arn or None
    cache = options.get("cache")
    if cache is None:
        cache = ProcessCache(resolved.name, wanted or "", environ=environ)
    sign_in = login_sign_in(
        resolved,
        secrets=secrets,
        session_duration=options.get("session_duration"),
        environ=environ,
        authenticator_factory=options.get("authenticator_factory"),
        sts_client=options.get("sts_client"),
    )
    return CredentialSource(
        resolved.name,
        cache=cache,
        sign_in=sign_in,
        role=wanted,
        prompter=options.get("prompter"),
        clock=options.get("clock", utc_now),
        lock=lock_for(resolved, wanted or "", environ=environ, warn=_log_notice),
    )


def credentials(account: Account | str, **options: Unpack[SourceOptions]) -> AwsCredentials:
    """Valid credentials for ``account``: the cached ones while they outlast the SDKs' refresh
    window, else new ones from the saved JumpCloud session, else from a sign-in through
    ``prompter`` (written to the cache).

    Without a prompter nobody is asked: SignInRequiredError says to run ``jcsaml login``.
    Arguments as :func:`default_source` (:class:`SourceOptions`).
    """
    return source_for(account, options, function="credentials").get()
