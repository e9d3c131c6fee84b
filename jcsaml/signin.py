"""The login flow: JumpCloud sign-in → SAML assertion → role → STS → credentials.

Library code: it never prints (the prompter's ``notify`` is the only voice), never exits, and takes
every side effect as a keyword argument with a real default.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import os
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from jcsaml.config import Account, expand_home, load_account
from jcsaml.credentials import AwsCredentials, same_role
from jcsaml.credentials_file import CredentialsFile, CredentialsStore
from jcsaml.errors import AmbiguousRoleError, PromptAbortedError, UnknownRoleError
from jcsaml.prompter import NonInteractivePrompter, Prompter
from jcsaml.saml import AwsRole, SamlAssertion
from jcsaml.secret_store import NullStore, SecretStore
from jcsaml.sts import DEFAULT_REGIONS, StsClient, make_client, region_for

if TYPE_CHECKING:
    from jcsaml.jumpcloud import Authenticator
    from jcsaml.webauthn import WebAuthnDevice

log = logging.getLogger(__name__)

#: Cached credentials are reused only while they stay valid this much longer.
REFRESH_MARGIN_SECONDS = 300
#: Every IAM role allows sessions of at least this long (MaxSessionDuration is 3600-43200).
ROLE_MINIMUM_MAX_SESSION = 3600


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


def choose_role(assertion: SamlAssertion, wanted: str | None, prompter: Prompter) -> AwsRole:
    """``wanted`` as a role ARN or a role name; else the only role; else ask."""
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
    choices = [(r, f"{r.account_id}  {r.role_name}") for r in sorted(roles, key=_role_order)]
    return prompter.choose("Role to assume", choices, how="pass --role or set JCSAML_ROLE")


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
    on_wait: Callable[[], object] | None = None,
) -> SamlAssertion:
    """Sign in to JumpCloud and return the parsed, checked assertion.

    A console session saved by an earlier sign-in is reused while JumpCloud keeps it alive (no
    password, no MFA) unless ``force``. After a fresh sign-in the session is saved, and so is
    the password when the person typed it. ``on_wait`` is called once, just before the first
    wait for JumpCloud or for the person (see :class:`SignInWarmup`).
    """
    from jcsaml.jumpcloud import Credentials, JumpCloudAuthenticator

    user = (
        username
        or account.username
        or prompter.text("JumpCloud username", how="pass --username or set JCSAML_USERNAME")
    )
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
    if on_wait is not None:
        on_wait()
    page = auth.resume(saved_session) if saved_session else None
    log.debug("saved JumpCloud session: %s", _session_state(saved_session, page))
    if page is None:
        if saved_session or force:
            secrets.delete(session_entry)
        key = password_key(account, user)
        saved = None if password else secrets.get(key)
        secret = password or (_ask_or_reuse(prompter, saved) if saved else _ask_password(prompter))
        page = auth.authenticate(
            Credentials(username=user, password=secret, mfa=account.mfa, mfa_token=mfa_token)
        )
        # Only a password the person typed is remembered: one given by flag or variable is not.
        if not password and secret != saved:
            secrets.set(key, secret)
        secrets.set(session_entry, auth.export_session())
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


def _ask_password(prompter: Prompter) -> str:
    """Ask until something is typed (an empty password is never sent), three times at most."""
    how = "pass --password or set JCSAML_PASSWORD"
    for _ in range(3):
        typed = prompter.secret("JumpCloud password", how=how)
        if typed:
            return typed
    raise PromptAbortedError(what="JumpCloud password")


def _ask_or_reuse(prompter: Prompter, saved: str) -> str:
    if isinstance(prompter, NonInteractivePrompter):
        return saved
    typed = prompter.secret(
        "JumpCloud password (Enter reuses the saved one)",
        how="pass --password or set JCSAML_PASSWORD",
    )
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


class SignInWarmup:
    """What a sign-in needs once JumpCloud has answered, prepared while it waits.

    A sign-in mostly waits: for JumpCloud's answers and for the person typing a password or a
    code. What comes after the waits costs several hundred milliseconds of CPU: bs4 (reading
    the SAML page), lxml (the assertion), filelock (writing the credentials), botocore and an
    STS client. :meth:`start` does these in a daemon thread, so they overlap the waits instead of
    following them. Nothing here changes behaviour: an import that fails is left for the real
    import to report, and an error making the STS client is raised where the client is used.

    ``make_sts_client`` None means the caller brings its own client.
    """

    BASE_IMPORTS = ("bs4", "lxml.etree", "filelock")

    def __init__(
        self,
        *,
        region: str,
        imports: tuple[str, ...] = (),
        make_sts_client: Callable[[str], StsClient] | None = make_client,
    ) -> None:
        self.region = region
        self.imports = self.BASE_IMPORTS + imports
        self._make = make_sts_client
        self._thread: threading.Thread | None = None
        self._client: StsClient | None = None
        self._error: BaseException | None = None

    def start(self) -> None:
        """Start preparing (once); returns at once."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="jcsaml-warmup", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        for name in self.imports:
            try:
                importlib.import_module(name)
            except Exception:  # noqa: S112 - reported by the import that needs it, if it is needed
                continue
        if self._make is not None:
            try:
                self._client = self._make(self.region)
            except Exception as exc:
                self._error = exc

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


def login(
    account: Account | str,
    *,
    role: str | None = None,
    username: str | None = None,
    password: str | None = None,
    mfa_token: str | None = None,
    session_duration: int | None = None,
    force: bool = False,
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
    (the OS keyring in the CLI). ``force`` ignores a saved console session.
    Without a ``prompter`` nothing is asked: a missing answer raises InputRequiredError. Raises
    JcsamlError subclasses (IdpError, SamlError, UnknownRoleError, StsError ...).
    """
    resolved = resolve_account(account, environ=environ)
    asker = prompter or NonInteractivePrompter()
    warmup = SignInWarmup(
        # The region of roles in the aws partition: the one nearly every role is in.
        region=region_of(resolved, environ) or DEFAULT_REGIONS["aws"],
        imports=("signxml", "cryptography.x509") if resolved.idp_cert else (),
        make_sts_client=None if sts_client is not None else make_client,
    )
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
        on_wait=warmup.start,
    )
    chosen = choose_role(assertion, role or resolved.role_arn or None, asker)
    region = region_of(resolved, environ)
    credentials = assume_role(
        chosen,
        assertion,
        duration=session_duration or resolved.session_duration,
        region=region,
        prompter=asker,
        sts_client=sts_client or warmup.sts_client(region_for(chosen, region)),
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
