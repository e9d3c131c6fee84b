"""The login flow: JumpCloud sign-in → SAML assertion → role → STS → credentials.

Library code: it never prints (the prompter's ``notify`` is the only voice), never exits, and takes
every side effect as a keyword argument with a real default.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import importlib
import logging
import os
import re
import stat
import threading
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypedDict, Unpack

from jcsaml.arn import role_matches
from jcsaml.aws_credentials import AwsCredentials
from jcsaml.config import (
    DEFAULT_STS_TIMEOUT,
    Account,
    expand_home,
    load_account,
    update_account_keys,
    validate_region,
)
from jcsaml.credentials_file import CredentialsFile, CredentialsStore
from jcsaml.errors import (
    AmbiguousRoleError,
    AuthenticationFailedError,
    ConfigError,
    IdpCertificateChangedError,
    IdpCertificateWritableError,
    InvalidSettingError,
    NothingTypedError,
    SamlNameIdError,
    SamlSignatureMissingError,
    SamlUnsignedError,
    SavedPasswordRejectedError,
    StsClockError,
    StsError,
    TrustNewCertificateError,
    UnknownRoleError,
)
from jcsaml.jumpcloud import JumpCloudAuthenticator, PasswordCredentials
from jcsaml.light_lookup import REFRESH_MARGIN_SECONDS
from jcsaml.prompter import NonInteractivePrompter, Prompter
from jcsaml.saml import (
    AwsRole,
    SamlAssertion,
    certificate_sha256,
    parse_saml_response,
    show_fingerprint,
)
from jcsaml.secret_command import mfa_source, secret_from_command
from jcsaml.secret_store import (
    DeferredStore,
    SecretStore,
    library_store,
    password_key,
    session_key,
)
from jcsaml.sts import DEFAULT_REGIONS, StsClient, assume_role_with_saml, make_client, region_for

if TYPE_CHECKING:
    from jcsaml.jumpcloud import Application, Authenticator, SamlPage
    from jcsaml.webauthn import WebAuthnDevice

    class AppAuthenticator(Authenticator, Protocol):
        """An authenticator that can fetch any application's page with its console session."""

        def fetch_saml_page(self, app_url: str | None = None) -> SamlPage: ...

        def signed_in(self) -> bool: ...

        def list_applications(self) -> list[Application]: ...


log = logging.getLogger(__name__)

#: Every IAM role allows sessions of at least this long (MaxSessionDuration is 3600-43200).
ROLE_MINIMUM_MAX_SESSION = 3600
#: Passwords tried per sign-in when a person can be asked again, as for TOTP codes.
PASSWORD_ATTEMPTS = 3

# What a person would pass instead of answering a question: library keyword arguments. The
# ``jcsaml`` command renders these as its own flags and variables.
HOW_USERNAME = "pass username=..."
HOW_PASSWORD = "pass password=..."
HOW_ROLE = "pass role=..."

#: Records the SHA-256 fingerprint (hex) of the IdP certificate an account now trusts.
CertificatePinner = Callable[[Account, str], None]
#: Builds the JumpCloud client for an account (tests pass their own).
AuthenticatorFactory = Callable[[Account], "AppAuthenticator"]

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def save_pinned_certificate(account: Account, sha256: str) -> None:
    """Write ``idp_cert_sha256`` into the config file the account was read from (only that key
    changes); an Account built in code has no file, and nothing is written."""
    if account.source is not None:
        update_account_keys(account.name, {"idp_cert_sha256": sha256}, path=account.source)


def resolve_account(account: Account | str, *, environ: Mapping[str, str] = os.environ) -> Account:
    return account if isinstance(account, Account) else load_account(account, environ=environ)


def credentials_path(account: Account, *, environ: Mapping[str, str] = os.environ) -> Path:
    """The account's ``credentials_file``, else the SDK default (AWS_SHARED_CREDENTIALS_FILE...)."""
    if account.credentials_file:
        return expand_home(account.credentials_file, environ)
    return CredentialsFile.default_path(environ)


def region_of(account: Account, environ: Mapping[str, str]) -> str | None:
    """The account's region, else the shell's; one from the shell must have AWS's region
    syntax too (it builds URLs), and the error names the variable."""
    if account.region:
        return account.region

    for variable in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        if environ.get(variable):
            return validate_region(environ[variable], source=variable)
    return None


def choose_role(
    assertion: SamlAssertion,
    wanted: str | None,
    prompter: Prompter,
    *,
    preferred: str | None = None,
    account: Account | None = None,
) -> AwsRole:
    """``wanted`` as a role ARN or a role name; else the only role; else ask, offering
    ``preferred`` (an ARN or name, e.g. the role chosen last time) as the default. With
    ``account``, the question names it (and its app), and AWS accounts by their aliases."""
    roles = assertion.roles
    if wanted:
        matches = [r for r in roles if role_matches(r.role_arn, wanted)]
        if len(matches) == 1:
            return matches[0]
        if matches:  # one role name in several AWS accounts
            raise AmbiguousRoleError(role=wanted, matches=", ".join(r.role_arn for r in matches))
        raise UnknownRoleError(
            role=wanted,
            available=", ".join(r.role_arn for r in roles) or "none",
        )
    if len(roles) == 1:
        return roles[0]
    ordered = sorted(roles, key=_role_order)
    aliases = dict(account.account_aliases) if account else {}
    choices = [(r, f"{aliases.get(r.account_id, r.account_id)}  {r.role_name}") for r in ordered]
    default = next((r for r in ordered if preferred and role_matches(r.role_arn, preferred)), None)
    available = ", ".join(r.role_arn for r in ordered)
    return prompter.choose(
        picker_heading(account, ordered),
        choices,
        how=f"{HOW_ROLE} (one of: {available})",
        default=default,
    )


def picker_heading(account: Account | None, roles: Sequence[AwsRole]) -> str:
    """``Role to assume for account 'staging' (app acme-staging; AWS acme-stg)``: which
    account the roles are for, when several accounts ask in one login."""
    if account is None:
        return "Role to assume"
    from urllib.parse import urlsplit

    aliases = dict(account.account_aliases)
    aws = ", ".join(dict.fromkeys(aliases.get(r.account_id, r.account_id) for r in roles))
    app = urlsplit(account.url).path.rsplit("/saml2/", 1)[-1].strip("/") or account.url
    return f"Role to assume for account {account.name!r} (app {app}; AWS {aws})"


def _role_order(role: AwsRole) -> tuple[str, str]:
    return (role.account_id, role.role_name)


def sign_in(
    account: Account,
    *,
    username: str | None = None,
    password: str | None = None,
    mfa_token: str | None = None,
    force: bool = False,
    prompter: Prompter,
    secrets: SecretStore,
    authenticator: Authenticator | None = None,
    webauthn_device: WebAuthnDevice | None = None,
    trust_new_cert: bool = False,
    on_wait: Callable[[], object] | None = None,
    environ: Mapping[str, str] = os.environ,
) -> SamlAssertion:
    """Sign in to JumpCloud and return the parsed, checked assertion.

    A console session saved by an earlier sign-in is reused while JumpCloud keeps it alive (no
    password, no MFA) unless ``force``. After a fresh sign-in the session is saved (replacing
    the old one only then), and so is the password when the person typed it. A rejected
    password is asked for again when a person can answer, PASSWORD_ATTEMPTS tries in all. The
    assertion is verified as :func:`read_assertion` says. ``on_wait`` is called once, just
    before the first wait for JumpCloud or for the person (see :class:`SignInWarmup`).

    The password comes from ``password``, else the account's ``password_command`` (or
    ``JCSAML_PASSWORD_COMMAND`` in ``environ``), else the keyring, else the prompter; a TOTP
    code from ``mfa_token``, else ``mfa_command``, else the prompter.
    """

    # A certificate file that can't be trusted is refused before anything is asked or sent.
    idp_cert = _checked_idp_cert(account, trust_new_cert)
    user = username_for(account, username, prompter)
    auth = authenticator or jumpcloud_authenticators(prompter, webauthn_device)(account)
    session_entry = session_key(account, user)
    saved_session = None if force else secrets.get(session_entry)
    if on_wait is not None:
        on_wait()
    page = auth.resume(saved_session) if saved_session else None
    log.debug("saved JumpCloud session: %s", _session_state(saved_session, page))
    if page is None:
        if saved_session:  # a dead session; with force a live one stays until a new one works
            secrets.delete(session_entry)
        key = password_key(account, user)
        if password:
            log.debug("password: from --password or JCSAML_PASSWORD")
        else:
            password = secret_from_command(account, "password_command", environ=environ)
        saved = None if password else secrets.get(key)
        can_ask = not password and not isinstance(prompter, NonInteractivePrompter)
        secret = password or (_ask_or_reuse(prompter, saved) if saved else _ask_password(prompter))
        if not password:
            reused = saved is not None and secret == saved
            log.debug("password: %s", "from the OS keyring" if reused else "typed")
        for attempt in range(1, PASSWORD_ATTEMPTS + 1):
            try:
                page = auth.authenticate(
                    PasswordCredentials(
                        username=user,
                        password=secret,
                        mfa=account.mfa,
                        mfa_token=mfa_token,
                        mfa_source=None if mfa_token else mfa_source(account, environ),
                    )
                )
                break
            except AuthenticationFailedError as exc:
                from_keyring = saved is not None and secret == saved
                if not can_ask or attempt == PASSWORD_ATTEMPTS:
                    if from_keyring:
                        raise SavedPasswordRejectedError(
                            username=user, message=exc.message
                        ) from None
                    raise
                left = PASSWORD_ATTEMPTS - attempt
                origin = "the password saved in the OS keyring" if from_keyring else "the password"
                prompter.notify(
                    f"JumpCloud rejected {origin} for {user}: {exc.message}; try again "
                    f"({left} attempt{'s' if left > 1 else ''} left)"
                )
                secret = _ask_password(prompter, f"JumpCloud password for {user}")
        # Only a password the person typed is remembered: one given by flag or variable is not.
        if not password and secret != saved:
            secrets.set(key, secret)
        secrets.set(session_entry, auth.export_session())
    assert page is not None  # the loop either signed in or raised
    _check_clock(auth, prompter)
    return read_assertion(
        account,
        page.saml_response,
        prompter,
        username=user,
        trust_new_cert=trust_new_cert,
        idp_cert=idp_cert,
    )


def username_for(account: Account, username: str | None, prompter: Prompter) -> str:
    """Who signs in: ``username``, else the account's, else the person's answer."""
    return username or account.username or prompter.text("JumpCloud username", how=HOW_USERNAME)


def jumpcloud_authenticators(
    prompter: Prompter, webauthn_device: WebAuthnDevice | None
) -> AuthenticatorFactory:
    """The real factory: a :class:`~jcsaml.jumpcloud.JumpCloudAuthenticator` per sign-in."""

    def build(account: Account) -> AppAuthenticator:

        return JumpCloudAuthenticator(
            app_url=account.url,
            console_url=account.console_url,
            prompter=prompter,
            http_timeout=account.http_timeout,
            push_timeout=account.push_timeout,
            webauthn_device=webauthn_device,
        )

    return build


#: How far this computer's clock may be from JumpCloud's before the person is told.
CLOCK_TOLERANCE_SECONDS = 120


def _check_clock(auth: object, prompter: Prompter) -> None:
    """Tell the person when this computer's clock is more than 2 minutes from JumpCloud's
    (its Date header), with both times: the sign-in goes on, since STS judges the assertion
    with AWS's clock, but credentials' expiry times will look wrong."""
    found = getattr(auth, "server_time", None)
    if not found:
        return
    server, local = found
    apart = (local - server).total_seconds()
    if abs(apart) <= CLOCK_TOLERANCE_SECONDS:
        return
    prompter.notify(
        f"This computer's clock says {_utc(local)} but JumpCloud's says {_utc(server)} "
        f"({abs(apart) / 60:.0f} minutes {'ahead' if apart > 0 else 'behind'}); jcsaml goes "
        "on, since AWS STS checks the assertion with its own clock, but set the clock right"
    )


def _utc(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


def _session_state(saved: str | None, page: object) -> str:
    if saved is None:
        return "none"
    return "alive, reused" if page is not None else "expired"


def read_assertion(
    account: Account,
    saml_response: str,
    prompter: Prompter,
    *,
    username: str | None = None,
    trust_new_cert: bool = False,
    idp_cert: bytes | None = None,
) -> SamlAssertion:
    """Parse, verify and check the SAML response for ``account``.

    ``idp_cert`` is the content of the account's ``idp_cert`` file when the caller has read and
    checked it already.

    - With ``idp_cert``, the signature must verify with that file's certificate; the file must
      not be writable by other users and, when ``idp_cert_sha256`` is set, must still have that
      fingerprint.
    - Else, with ``idp_cert_sha256`` (pinned), the signature must verify with the certificate in
      its KeyInfo, which must have that fingerprint. ``trust_new_cert`` accepts another
      certificate (still verified, never none at all).
    - Else (first use), a signature is verified with the certificate in its KeyInfo. An
      unsigned response is refused (SamlUnsignedError) unless the account sets
      ``allow_unsigned``; it is then read unverified (``signed`` False).

    :func:`trust_signer` then pins, or warns, once the sign-in has succeeded.

    ``username`` is who signed in: an assertion issued to another e-mail address is refused
    unless it is the account's ``saml_nameid``.
    """

    if account.idp_cert:
        idp_cert = idp_cert or _checked_idp_cert(account, trust_new_cert)
        assertion = parse_saml_response(
            saml_response,
            idp_cert=idp_cert,
            allow_sha1=account.allow_sha1,
            warn=prompter.notify,
            check_times=False,  # STS judges them with AWS's clock
        )
        how = "verified with idp_cert"
    else:
        pinned = account.idp_cert_sha256 or None
        assertion = parse_saml_response(
            saml_response,
            idp_cert_sha256=None if trust_new_cert else pinned,
            trust_embedded_cert=True,
            allow_sha1=account.allow_sha1,
            warn=prompter.notify,
            check_times=False,  # STS judges them with AWS's clock
        )
        signer = assertion.signer_sha256
        if signer is None and pinned is not None:
            # --trust-new-cert accepts another certificate, never no certificate at all.

            raise SamlSignatureMissingError()
        if signer is None and not account.allow_unsigned:
            # Verified or refused, on the first sign-in too: an unsigned response proves nothing.

            raise SamlUnsignedError(account=account.name)
        if signer is None:
            how = "NOT verified (unsigned, accepted because allow_unsigned is set)"
        elif signer != pinned:
            how = "verified with the certificate it carries (not pinned yet)"
        else:
            how = "verified with the pinned certificate"
    _check_name_id(assertion.name_id, username or account.username, account)
    log.debug(
        "SAML assertion: %d role(s), signature %s (signer SHA-256 %s), SessionDuration %s",
        len(assertion.roles),
        how,
        show_fingerprint(assertion.signer_sha256) if assertion.signer_sha256 else "none",
        assertion.session_duration,
    )
    return assertion


def _checked_idp_cert(account: Account, trust_new_cert: bool) -> bytes | None:
    if not account.idp_cert:
        return None
    if trust_new_cert:
        raise TrustNewCertificateError(path=account.idp_cert)
    return read_idp_certificate_file(account.idp_cert, sha256=account.idp_cert_sha256)[0]


def trust_signer(
    account: Account,
    assertion: SamlAssertion,
    *,
    prompter: Prompter,
    pin_certificate: CertificatePinner | None = save_pinned_certificate,
) -> None:
    """After a successful sign-in: pin the certificate that signed ``assertion`` when the account
    trusts none yet (or another, after ``trust_new_cert``), and say so with its fingerprint; or,
    for an unsigned assertion, warn (every time). Nothing to do with ``idp_cert``.
    """

    signer = assertion.signer_sha256
    pinned = account.idp_cert_sha256 or None
    if account.idp_cert or (signer is not None and signer == pinned):
        return
    if signer is None:
        prompter.notify(
            f"jcsaml: warning: JumpCloud's SAML response for account {account.name!r} is NOT "
            "signed, and was accepted only because the account sets allow_unsigned = true: "
            "anyone who can answer for JumpCloud could have written it. Have the JumpCloud AWS "
            "application sign it and remove allow_unsigned (see: jcsaml help saml-verification)"
        )
        return
    if pin_certificate is None:
        return
    try:
        pin_certificate(account, signer)
    except ConfigError as exc:
        prompter.notify(
            f"jcsaml: warning: could not pin JumpCloud's IdP certificate for account "
            f"{account.name!r} ({exc}); it will be trusted on first use again next time"
        )
        return
    compare = (
        "compare it with the IdP certificate of the AWS application in the JumpCloud admin "
        "console (see: jcsaml help saml-verification)"
    )
    if pinned is None:
        prompter.notify(
            f"jcsaml: note: trusting JumpCloud's IdP certificate for account {account.name!r} "
            f"from now on (first use): SHA-256 {show_fingerprint(signer)}; {compare}"
        )
    else:
        prompter.notify(
            f"jcsaml: note: trusting JumpCloud's new IdP certificate for account "
            f"{account.name!r}: SHA-256 {show_fingerprint(signer)} (was "
            f"{show_fingerprint(pinned)}); {compare}"
        )


def _check_name_id(name_id: str | None, username: str, account: Account) -> None:
    """Refuse an assertion issued to someone else than the user who signed in (or the
    account's ``saml_nameid``), ignoring case. An e-mail NameID is compared when the username is
    an e-mail; any other NameID (a JumpCloud username) with the username and with the username's
    part before the ``@``. Only an e-mail NameID given a username that is not one cannot be
    compared."""
    if name_id and username:
        accepted = {username.casefold(), account.saml_nameid.casefold()} - {""}
        if _EMAIL.fullmatch(name_id):
            refused = bool(_EMAIL.fullmatch(username)) and name_id.casefold() not in accepted
        else:
            accepted.add(username.partition("@")[0].casefold())
            refused = name_id.casefold() not in accepted
        if refused:
            raise SamlNameIdError(name_id=name_id, username=username)
    log.debug("SAML NameID %r, signed in as %r", name_id, username)


def _ask_password(prompter: Prompter, message: str = "JumpCloud password") -> str:
    """Ask until something is typed (an empty password is never sent), three times at most."""
    for _ in range(3):
        typed = prompter.secret(message, how=HOW_PASSWORD)
        if typed:
            return typed
    raise NothingTypedError(what="JumpCloud password")


def _ask_or_reuse(prompter: Prompter, saved: str) -> str:
    if isinstance(prompter, NonInteractivePrompter):
        return saved
    typed = prompter.secret("JumpCloud password (Enter reuses the saved one)", how=HOW_PASSWORD)
    return typed or saved


def read_idp_certificate_file(path: str, *, sha256: str = "") -> tuple[bytes, str]:
    """The IdP certificate file's bytes (PEM, metadata XML or DER) and its certificate's SHA-256.

    Refuses a file other users can write (IdpCertificateWritableError) and, when ``sha256`` is
    given, one whose certificate no longer has that fingerprint (IdpCertificateChangedError).
    """

    file = expand_home(path)
    try:
        with file.open("rb") as handle:
            mode = os.fstat(handle.fileno()).st_mode
            data = handle.read()
    except OSError as exc:
        raise InvalidSettingError(
            setting="idp_cert", reason=f"cannot read {path}: {exc.strerror or exc}"
        ) from None
    writers = [who for who, bit in (("group", stat.S_IWGRP), ("world", stat.S_IWOTH)) if mode & bit]
    if writers:
        raise IdpCertificateWritableError(path=path, who=" and ".join(writers))
    found = certificate_sha256(data)
    if sha256 and found != sha256.replace(":", "").lower():
        raise IdpCertificateChangedError(
            path=path, configured=show_fingerprint(sha256), found=show_fingerprint(found)
        )
    return data, found


class SignInWarmup:
    """What a sign-in needs once JumpCloud has answered, prepared while it waits.

        A sign-in mostly waits: for JumpCloud's answers and for the person typing a password or a
        code. What comes after the waits costs several hundred milliseconds of CPU: bs4 (reading
        the SAML page), lxml, signxml and cryptography (verifying the assertion), filelock (writing
        the credentials), botocore and an STS client, and the OS keyring when the store is a
    :class:`~jcsaml.secret_store.DeferredStore`. :meth:`start` does these in a daemon thread,
        so they overlap the waits instead of following them. Nothing here changes behaviour: an
        import that fails is left for the real import to report, and an error making the STS client
        is raised where the client is used.

        ``make_sts_client`` None means the caller brings its own client.
    """

    BASE_IMPORTS = ("bs4", "lxml.etree", "signxml", "cryptography.x509", "filelock")

    def __init__(
        self,
        *,
        region: str,
        imports: tuple[str, ...] = (),
        make_sts_client: Callable[[str], StsClient] | None = make_client,
        secrets: SecretStore | None = None,
    ) -> None:
        self.region = region
        self.imports = self.BASE_IMPORTS + imports
        self._make = make_sts_client
        # A store made on first use (the CLI's keyring) is made here, after bs4 (needed first).
        self._prepare_secrets = secrets.prepare if isinstance(secrets, DeferredStore) else None
        self._thread: threading.Thread | None = None
        self._client: StsClient | None = None
        self._error: BaseException | None = None

    def start(self) -> None:
        """Start preparing (once); returns at once."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._prepare, name="jcsaml-warmup", daemon=True)
            self._thread.start()

    def _prepare(self) -> None:
        for index, name in enumerate(self.imports):
            if index == 1 and self._prepare_secrets is not None:
                self._prepare_secrets()
            try:
                importlib.import_module(name)
            except Exception:  # noqa: S112 - reported by the import that needs it, if it is needed
                continue
        if self._make is not None:
            try:
                self._client = self._make(self.region)
            except Exception as exc:
                self._error = exc

    def finish(self) -> None:
        """Wait for the preparation to end. Called on every way out of a sign-in: a daemon
        thread still inside an extension module's import when the interpreter exits can abort
        the process ("FATAL: exception not rethrown") instead of letting it report the error."""
        if self._thread is not None:
            self._thread.join()

    def sts_client(self, region: str) -> StsClient | None:
        """The STS client for ``region``: the prepared one when it was made for that region,
        else None (the caller makes one). Waits for the preparation to finish."""
        if self._make is None or region != self.region:
            return None
        if self._thread is None:
            return None
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._client


class SignInOptions(TypedDict, total=False):
    """The keyword arguments every sign-in takes (:func:`login`, :func:`jcsaml.login_many`,
    :func:`jcsaml.roles.list_roles`, :func:`jcsaml.discover_applications`); each may be left out.

    - ``username``, ``password``, ``mfa_token``: answers given up front; else the account's
      settings, its ``password_command`` and ``mfa_command``, the keyring, and last the prompter
      (see :func:`sign_in`).
    - ``force``: ignore a saved JumpCloud console session (default False).
    - ``prompter``: who is asked. Without one nothing is asked: a missing answer raises
      InputRequiredError.
    - ``secrets``: where the password the person types and the console session are kept
      (default: the OS keyring, :func:`jcsaml.secret_store.library_store`).
    - ``webauthn_device``: the security key for WebAuthn MFA.
    - ``environ``: the environment the account and region are read from (default os.environ).
    """

    username: str | None
    password: str | None
    mfa_token: str | None
    force: bool
    prompter: Prompter | None
    secrets: SecretStore | None
    webauthn_device: WebAuthnDevice | None
    environ: Mapping[str, str]


def check_keywords(function: str, given: Mapping[str, object], allowed: Collection[str]) -> None:
    """Raise TypeError for a keyword ``function`` does not take, as Python does for a
    function that lists its keywords (``**options`` would otherwise take any name)."""
    for name in given:
        if name not in allowed:
            raise TypeError(f"{function}() got an unexpected keyword argument {name!r}")


class SignInPipeline:
    """One JumpCloud sign-in, set up the same way for :func:`login`, :func:`jcsaml.login_many`,
    :func:`jcsaml.roles.list_roles` and :func:`jcsaml.discover_applications` (and, through
    :func:`login`, for the refresher and the boto3 session).

    It holds the answers given up front, the prompter (nobody is asked without one) and the
    secret store (the OS keyring unless given); it makes the authenticator, signs in
    (:func:`sign_in` restores and saves the console session), decides trust once AWS has accepted
    the assertion (:func:`trust_signer`), and hands out the STS client: the caller's, else the one
    :meth:`warm_up` prepared while JumpCloud was waited for.
    """

    def __init__(
        self,
        function: str,
        options: SignInOptions,
        *,
        authenticator: Authenticator | None = None,
        authenticator_factory: AuthenticatorFactory | None = None,
        sts_client: StsClient | None = None,
        trust_new_cert: bool = False,
        pin_certificate: CertificatePinner | None = None,
    ) -> None:
        check_keywords(function, options, SignInOptions.__optional_keys__)
        self.environ = options.get("environ", os.environ)
        self.prompter = options.get("prompter") or NonInteractivePrompter()
        self.username = options.get("username")
        self._options = options
        self._authenticator = authenticator
        self._factory = authenticator_factory
        self._sts_client = sts_client
        self.trust_new_cert = trust_new_cert
        self._pin = pin_certificate
        self._warmup: SignInWarmup | None = None
        self._warm_timeout: float | None = None

    @functools.cached_property
    def secrets(self) -> SecretStore:
        # Made at the first sign-in, not before: the OS keyring costs time to open.
        return library_store(self._options.get("secrets"))

    def account(self, account: Account | str) -> Account:
        return resolve_account(account, environ=self.environ)

    @contextlib.contextmanager
    def warm_up(
        self,
        account: Account | None,
        *,
        imports: tuple[str, ...] = (),
        max_pool_connections: int | None = None,
    ) -> Iterator[None]:
        """Prepare what follows the sign-in while it waits (:class:`SignInWarmup`): the imports,
        and an STS client for ``account``'s region unless the caller brought one. The
        preparation is waited for on every way out of the block."""
        make: Callable[[str], StsClient] | None = None
        if account is not None and self._sts_client is None:
            make = functools.partial(make_client, timeout=account.sts_timeout)
            if max_pool_connections is not None:
                make = functools.partial(make, max_pool_connections=max_pool_connections)
            self._warm_timeout = account.sts_timeout
        warmup = SignInWarmup(
            # The region of roles in the aws partition: the one nearly every role is in.
            region=(region_of(account, self.environ) if account else None)
            or DEFAULT_REGIONS["aws"],
            imports=imports,
            make_sts_client=make,
            secrets=self._options.get("secrets"),
        )
        self._warmup = warmup
        try:
            yield
        finally:
            warmup.finish()

    def authenticator(self, account: Account) -> AppAuthenticator:
        """A JumpCloud client for a sign-in through ``account``."""
        build = self._factory or jumpcloud_authenticators(
            self.prompter, self._options.get("webauthn_device")
        )
        return build(account)

    def username_for(self, account: Account) -> str:
        return username_for(account, self.username, self.prompter)

    def sign_in(
        self,
        account: Account,
        *,
        username: str | None = None,
        authenticator: Authenticator | None = None,
    ) -> SamlAssertion:
        """:func:`sign_in` with this pipeline's answers, stores and warm-up."""
        options = self._options
        return sign_in(
            account,
            username=username or self.username,
            password=options.get("password"),
            mfa_token=options.get("mfa_token"),
            force=options.get("force", False),
            prompter=self.prompter,
            secrets=self.secrets,
            authenticator=authenticator or self._authenticator,
            webauthn_device=options.get("webauthn_device"),
            trust_new_cert=self.trust_new_cert,
            on_wait=self._warmup.start if self._warmup is not None else None,
            environ=self.environ,
        )

    def read_assertion(
        self, account: Account, saml_response: str, *, username: str
    ) -> SamlAssertion:
        """Another application's assertion, fetched with the open console session."""
        return read_assertion(
            account,
            saml_response,
            self.prompter,
            username=username,
            trust_new_cert=self.trust_new_cert,
        )

    def trust(self, account: Account, assertion: SamlAssertion) -> None:
        """:func:`trust_signer`, once AWS (or the caller) has accepted the assertion."""
        trust_signer(account, assertion, prompter=self.prompter, pin_certificate=self._pin)

    def sts_client(self, region: str, timeout: float) -> StsClient | None:
        """The caller's STS client; else the prepared one when it suits ``region`` and
        ``timeout``; else None (the caller makes one)."""
        if self._sts_client is not None:
            return self._sts_client
        if self._warmup is None or timeout != self._warm_timeout:
            return None
        return self._warmup.sts_client(region)


def login(
    account: Account | str,
    *,
    role: str | None = None,
    session_duration: int | None = None,
    preferred_role: str | None = None,
    authenticator: Authenticator | None = None,
    sts_client: StsClient | None = None,
    trust_new_cert: bool = False,
    pin_certificate: CertificatePinner | None = save_pinned_certificate,
    **options: Unpack[SignInOptions],
) -> AwsCredentials:
    """Sign in to JumpCloud and assume an AWS role; returns fresh credentials.

    ``account`` is an :class:`Account` or the name of one in the config file. No credentials
    are written anywhere (the caller decides where they go); the one file that may change is
    the account's config file, when the first signed assertion's certificate is pinned (see
    ``pin_certificate`` below). The password the person types and the JumpCloud console session
    go to ``secrets``: by default the OS keyring, as for :func:`jcsaml.credentials` and
    :func:`jcsaml.session` (:func:`jcsaml.secret_store.library_store`). ``force`` ignores a
    saved console session. When several roles are offered and none is wanted, the prompter's
    role picker preselects ``preferred_role``. The other keywords (``username``, ``password``,
    ``mfa_token``, ``prompter``, ``webauthn_device``, ``environ``) are :class:`SignInOptions`.
    Without a ``prompter`` nothing is asked: a missing answer raises InputRequiredError. Raises
    JcsamlError subclasses (IdpError, SamlError, UnknownRoleError, StsError ...).

    The assertion's signature is verified as :func:`read_assertion` says: with the account's
    ``idp_cert``, else with the certificate pinned in ``idp_cert_sha256``, else the first signed
    assertion's certificate is pinned by ``pin_certificate`` (default: written into the config
    file the account was loaded from; None pins nothing). ``trust_new_cert`` accepts and pins a
    new certificate after JumpCloud renewed it.
    """
    pipeline = SignInPipeline(
        "login",
        options,
        authenticator=authenticator,
        sts_client=sts_client,
        trust_new_cert=trust_new_cert,
        pin_certificate=pin_certificate,
    )
    resolved = pipeline.account(account)
    # A policy file that cannot be used fails before anything is asked or sent.
    policy = read_session_policy(resolved)
    asker = pipeline.prompter
    with pipeline.warm_up(resolved):
        assertion = pipeline.sign_in(resolved)
        chosen = choose_role(
            assertion,
            role or resolved.role_arn or None,
            asker,
            preferred=preferred_role,
            account=resolved,
        )
        region = region_of(resolved, pipeline.environ)
        credentials = assume_role(
            chosen,
            assertion,
            duration=session_duration or resolved.session_duration,
            region=region,
            prompter=asker,
            sts_client=pipeline.sts_client(region_for(chosen, region), resolved.sts_timeout),
            sts_timeout=resolved.sts_timeout,
            app=app_name(resolved),
            policy_arns=resolved.policy_arns,
            policy=policy,
        )
    # Only now: AWS has accepted the assertion too, and a failed login ends in one error.
    pipeline.trust(resolved, assertion)
    # The credentials carry only the account's own region: one from the shell's environment
    # belongs to the shell, not in the profile jcsaml writes.
    return dataclasses.replace(credentials, region=resolved.region or None)


def assume_role(
    role: AwsRole,
    assertion: SamlAssertion,
    *,
    duration: int | None,
    region: str | None,
    prompter: Prompter,
    sts_client: StsClient | None = None,
    sts_timeout: float = DEFAULT_STS_TIMEOUT,
    app: str = "",
    policy_arns: Sequence[str] = (),
    policy: str | None = None,
) -> AwsCredentials:
    """AssumeRoleWithSAML for the longest session that is allowed, restricted by the session
    policies ``policy_arns`` and ``policy`` when given; each call to STS takes at
    most ``sts_timeout`` seconds. ``app`` names the JumpCloud app in notices.

    Without a requested duration, the assertion's SessionDuration is asked for. A request above
    the assertion's SessionDuration is lowered to it; when STS refuses the duration because of
    the role's MaxSessionDuration, the call is retried once with 3600 s (the smallest maximum a
    role can have, so always allowed), and the person is told.
    """

    wanted = session_duration_for(assertion, duration, prompter, app=app)
    log.debug("AssumeRoleWithSAML %s for %s s", role.role_arn, wanted or "the default")
    call = functools.partial(
        assume_role_with_saml,
        role,
        assertion.raw,
        region=region,
        client=sts_client,
        timeout=sts_timeout,
        policy_arns=policy_arns,
        policy=policy,
    )
    try:
        return call(duration=wanted)
    except StsError as exc:
        if _refused_for_time(exc):
            raise _clock_error(exc, assertion) from None
        if not (wanted and wanted > ROLE_MINIMUM_MAX_SESSION and _above_role_maximum(exc)):
            raise
    prompter.notify(
        f"{role.role_name} allows sessions shorter than {wanted} s; using "
        f"{ROLE_MINIMUM_MAX_SESSION} s (an AWS admin can raise the role's MaxSessionDuration)"
    )
    return call(duration=ROLE_MINIMUM_MAX_SESSION)


def session_duration_for(
    assertion: SamlAssertion, duration: int | None, prompter: Prompter, *, app: str = ""
) -> int | None:
    """The duration to ask STS for: ``duration``, else the assertion's SessionDuration, never
    above the latter (the person is told, naming the app)."""
    limit = assertion.session_duration
    wanted = duration or limit
    if wanted and limit and wanted > limit:
        named = f"app {app}" if app else "this app"
        prompter.notify(
            f"JumpCloud allows sessions of at most {limit} s for {named}; asking for {limit} s"
        )
        wanted = limit
    return wanted


def app_name(account: Account) -> str:
    """The JumpCloud app of an account, as its URL names it (``acme-prod-aws-admin``)."""
    from urllib.parse import urlsplit

    return urlsplit(account.url).path.rsplit("/saml2/", 1)[-1].strip("/") or account.url


def _refused_for_time(error: Exception) -> bool:
    """Whether STS refused the assertion as expired or not yet valid (on AWS's clock)."""
    code = str(getattr(error, "code", ""))
    message = str(getattr(error, "message", "")).lower()
    return code == "ExpiredTokenException" or (
        code in ("InvalidIdentityToken", "ValidationError", "AccessDenied")
        and any(word in message for word in ("expired", "not yet valid", "notbefore", "clock"))
    )


def _clock_error(error: Exception, assertion: SamlAssertion) -> Exception:

    def shown(moment: datetime | None) -> str:
        return _utc(moment) if moment else "(not stated)"

    return StsClockError(
        role_arn=str(getattr(error, "role_arn", "")),
        code=str(getattr(error, "code", "")),
        message=str(getattr(error, "message", "")),
        hint="",
        not_before=shown(getattr(assertion, "not_before", None)),
        not_on_or_after=shown(assertion.not_on_or_after),
        now=_utc(datetime.now(UTC)),
    )


def read_session_policy(account: Account) -> str | None:
    """The JSON session policy in the account's ``policy_file`` (None without one), checked
    to be a JSON object. Raises InvalidSettingError naming the file."""
    if not account.policy_file:
        return None
    return read_policy_file(account.policy_file)


def read_policy_file(value: str) -> str:
    """The JSON session policy in the file ``value`` names, without its indentation; raises
    InvalidSettingError for ``policy_file`` when it cannot be read or is not a JSON object."""
    import json

    path = expand_home(value)
    try:
        text = path.read_text(encoding="utf-8")
        document = json.loads(text)
    except OSError as exc:
        raise InvalidSettingError(
            setting="policy_file", reason=f"cannot read {path}: {exc.strerror or exc}"
        ) from None
    except (UnicodeDecodeError, ValueError):
        raise InvalidSettingError(
            setting="policy_file", reason=f"{path} is not a JSON policy document"
        ) from None
    if not isinstance(document, dict):
        raise InvalidSettingError(
            setting="policy_file", reason=f"{path} is not a JSON policy document"
        )
    # STS counts the policy's characters: send it without the file's indentation.
    return json.dumps(document, separators=(",", ":"))


def _above_role_maximum(error: Exception) -> bool:
    return getattr(error, "code", "") == "ValidationError" and "MaxSessionDuration" in str(
        getattr(error, "message", "")
    )


def cached_credentials(
    store: CredentialsStore,
    profile: str,
    *,
    role: str | None,
    now: datetime | None = None,
) -> AwsCredentials | None:
    """The profile's credentials if they stay valid past the margin and match ``role``."""
    found = store.load(profile)
    if found is None or found.expires_within(REFRESH_MARGIN_SECONDS, now=now or datetime.now(UTC)):
        return None
    if role and not role_matches(found.role_arn, role):
        return None
    return found
