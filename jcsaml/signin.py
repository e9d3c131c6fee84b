"""The login flow: JumpCloud sign-in → SAML assertion → role → STS → credentials.

Library code: it never prints (the prompter's ``notify`` is the only voice), never exits, and takes
every side effect as a keyword argument with a real default.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from jcsaml.config import Account, expand_home, load_account
from jcsaml.credentials import AwsCredentials, same_role
from jcsaml.credentials_file import CredentialsFile, CredentialsStore
from jcsaml.errors import (
    AmbiguousRoleError,
    AuthenticationFailedError,
    NothingTypedError,
    SavedPasswordRejectedError,
    UnknownRoleError,
)
from jcsaml.prompter import NonInteractivePrompter, Prompter
from jcsaml.saml import AwsRole, SamlAssertion
from jcsaml.secret_store import NullStore, SecretStore
from jcsaml.sts import StsClient

if TYPE_CHECKING:
    from jcsaml.jumpcloud import Authenticator
    from jcsaml.webauthn import WebAuthnDevice

log = logging.getLogger(__name__)

#: Cached credentials are reused only while they stay valid this much longer.
REFRESH_MARGIN_SECONDS = 300
#: Every IAM role allows sessions of at least this long (MaxSessionDuration is 3600-43200).
ROLE_MINIMUM_MAX_SESSION = 3600
#: Passwords tried per sign-in when a person can be asked again, as for TOTP codes.
PASSWORD_ATTEMPTS = 3

# What a person would pass instead of answering a question: library keyword arguments. The
# ``jcsaml`` command renders these as its own flags and variables.
HOW_USERNAME = "pass username=..."
HOW_PASSWORD = "pass password=..."
HOW_ROLE = "pass role=..."


def password_key(account: Account, username: str) -> str:
    """The keyring entry for a password: per JumpCloud user and console."""
    return f"{username}@{account.console_url}"


def resolve_account(account: Account | str, *, environ: Mapping[str, str] = os.environ) -> Account:
    return account if isinstance(account, Account) else load_account(account, environ=environ)


def credentials_path(account: Account, *, environ: Mapping[str, str] = os.environ) -> Path:
    """The account's ``credentials_file``, else the SDK default (AWS_SHARED_CREDENTIALS_FILE...)."""
    if account.credentials_file:
        return expand_home(account.credentials_file, environ)
    return CredentialsFile.default_path(environ)


def region_of(account: Account, environ: Mapping[str, str]) -> str | None:
    return account.region or environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or None


def choose_role(
    assertion: SamlAssertion,
    wanted: str | None,
    prompter: Prompter,
    *,
    preferred: str | None = None,
) -> AwsRole:
    """``wanted`` as a role ARN or a role name; else the only role; else ask, offering
    ``preferred`` (an ARN or name, e.g. the role chosen last time) as the default."""
    roles = assertion.roles
    if wanted:
        matches = [r for r in roles if same_role(r.role_arn, wanted) or r.role_arn == wanted]
        if not matches:
            matches = [r for r in roles if r.role_name == wanted]
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
    choices = [(r, f"{r.account_id}  {r.role_name}") for r in ordered]
    default = next((r for r in ordered if preferred and _is_role(r, preferred)), None)
    available = ", ".join(r.role_arn for r in ordered)
    return prompter.choose(
        "Role to assume",
        choices,
        how=f"{HOW_ROLE} (one of: {available})",
        default=default,
    )


def _is_role(role: AwsRole, wanted: str) -> bool:
    return same_role(role.role_arn, wanted) or role.role_arn == wanted or role.role_name == wanted


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
) -> SamlAssertion:
    """Sign in to JumpCloud and return the parsed, checked assertion.

    A console session saved by an earlier sign-in is reused while JumpCloud keeps it alive (no
    password, no MFA) unless ``force``. After a fresh sign-in the session is saved (replacing
    the old one only then), and so is the password when the person typed it. A rejected
    password is asked for again when a person can answer, PASSWORD_ATTEMPTS tries in all.
    """
    from jcsaml.jumpcloud import Credentials, JumpCloudAuthenticator

    user = username or account.username or prompter.text("JumpCloud username", how=HOW_USERNAME)
    auth = authenticator or JumpCloudAuthenticator(
        app_url=account.url,
        console_url=account.console_url,
        prompter=prompter,
        http_timeout=account.http_timeout,
        push_timeout=account.push_timeout,
        webauthn_device=webauthn_device,
    )
    session_entry = session_key(account, user)
    saved_session = None if force else secrets.get(session_entry)
    page = auth.resume(saved_session) if saved_session else None
    log.debug("saved JumpCloud session: %s", _session_state(saved_session, page))
    if page is None:
        if saved_session:  # a dead session; with force a live one stays until a new one works
            secrets.delete(session_entry)
        key = password_key(account, user)
        saved = None if password else secrets.get(key)
        can_ask = not password and not isinstance(prompter, NonInteractivePrompter)
        secret = password or (_ask_or_reuse(prompter, saved) if saved else _ask_password(prompter))
        for attempt in range(1, PASSWORD_ATTEMPTS + 1):
            try:
                page = auth.authenticate(
                    Credentials(
                        username=user, password=secret, mfa=account.mfa, mfa_token=mfa_token
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
    return read_assertion(account, page.saml_response, prompter)


def _session_state(saved: str | None, page: object) -> str:
    if saved is None:
        return "none"
    return "alive, reused" if page is not None else "expired"


def read_assertion(account: Account, saml_response: str, prompter: Prompter) -> SamlAssertion:
    """Parse and check the SAML response, verifying it when the account has ``idp_cert``."""
    from jcsaml.saml import parse_saml_response

    idp_cert = _read_cert(account.idp_cert) if account.idp_cert else None
    assertion = parse_saml_response(
        saml_response, idp_cert=idp_cert, allow_sha1=account.allow_sha1, warn=prompter.notify
    )
    log.debug(
        "SAML assertion: %d role(s), signature %s, SessionDuration %s",
        len(assertion.roles),
        "verified" if idp_cert else "not checked (no idp_cert)",
        assertion.session_duration,
    )
    return assertion


def session_key(account: Account, username: str) -> str:
    """The keyring entry for a JumpCloud console session: per user and console."""
    return f"session:{username}@{account.console_url}"


def forget_session(account: Account, username: str, secrets: SecretStore) -> None:
    secrets.delete(session_key(account, username))


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


def _read_cert(path: str) -> bytes:
    """The file's bytes: PEM, metadata XML or DER, as ``jcsaml configure --idp-cert`` accepts."""
    from jcsaml.errors import InvalidSettingError

    try:
        return expand_home(path).read_bytes()
    except OSError as exc:
        raise InvalidSettingError(
            setting="idp_cert", reason=f"cannot read {path}: {exc.strerror or exc}"
        ) from None


def login(
    account: Account | str,
    *,
    role: str | None = None,
    username: str | None = None,
    password: str | None = None,
    mfa_token: str | None = None,
    session_duration: int | None = None,
    force: bool = False,
    preferred_role: str | None = None,
    prompter: Prompter | None = None,
    secrets: SecretStore | None = None,
    authenticator: Authenticator | None = None,
    webauthn_device: WebAuthnDevice | None = None,
    sts_client: StsClient | None = None,
    environ: Mapping[str, str] = os.environ,
) -> AwsCredentials:
    """Sign in to JumpCloud and assume an AWS role; returns fresh credentials.

    ``account`` is an :class:`Account` or the name of one in the config file. No file is
    written; the password the person types and the JumpCloud console session go to ``secrets``
    (the OS keyring in the CLI). ``force`` ignores a saved console session. When several roles
    are offered and none is wanted, the prompter's role picker preselects ``preferred_role``.
    Without a ``prompter`` nothing is asked: a missing answer raises InputRequiredError. Raises
    JcsamlError subclasses (IdpError, SamlError, UnknownRoleError, StsError ...).
    """
    resolved = resolve_account(account, environ=environ)
    asker = prompter or NonInteractivePrompter()
    assertion = sign_in(
        resolved,
        username=username,
        password=password,
        mfa_token=mfa_token,
        force=force,
        prompter=asker,
        secrets=secrets or NullStore(),
        authenticator=authenticator,
        webauthn_device=webauthn_device,
    )
    chosen = choose_role(
        assertion, role or resolved.role_arn or None, asker, preferred=preferred_role
    )
    credentials = assume_role(
        chosen,
        assertion,
        duration=session_duration or resolved.session_duration,
        region=region_of(resolved, environ),
        prompter=asker,
        sts_client=sts_client,
    )
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
) -> AwsCredentials:
    """AssumeRoleWithSAML for the longest session that is allowed.

    Without a requested duration, the assertion's SessionDuration is asked for. A request above
    the assertion's SessionDuration is lowered to it; when STS refuses the duration because of
    the role's MaxSessionDuration, the call is retried once with 3600 s (the smallest maximum a
    role can have, so always allowed), and the person is told.
    """
    from jcsaml.errors import StsError
    from jcsaml.sts import assume_role_with_saml

    limit = assertion.session_duration
    wanted = duration or limit
    if wanted and limit and wanted > limit:
        prompter.notify(
            f"JumpCloud allows sessions of at most {limit} s for this app; asking for {limit} s"
        )
        wanted = limit
    log.debug("AssumeRoleWithSAML %s for %s s", role.role_arn, wanted or "the default")
    try:
        return assume_role_with_saml(
            role, assertion.raw, duration=wanted, region=region, client=sts_client
        )
    except StsError as exc:
        if not (wanted and wanted > ROLE_MINIMUM_MAX_SESSION and _above_role_maximum(exc)):
            raise
    prompter.notify(
        f"{role.role_name} allows sessions shorter than {wanted} s; using "
        f"{ROLE_MINIMUM_MAX_SESSION} s (an AWS admin can raise the role's MaxSessionDuration)"
    )
    return assume_role_with_saml(
        role, assertion.raw, duration=ROLE_MINIMUM_MAX_SESSION, region=region, client=sts_client
    )


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
    if role and not (same_role(found.role_arn, role) or found.role_arn.endswith("/" + role)):
        return None
    return found
