"""Many accounts and roles from one JumpCloud sign-in.

Accounts that share a JumpCloud user and console are signed in to once (one password, one MFA):
the first account's sign-in opens the console session and every other account's SAML page is
fetched with it. Each selected role is then assumed in parallel (a bounded thread pool), and the
answer is one :class:`RoleResult` per role, holding the credentials or the error: one failing
app or role never stops the others. Nothing is written here; the caller saves the profiles
(the CLI in one write per credentials file, see :meth:`CredentialsStore.save_many`).

Library code: the prompter is the only voice, side effects are keyword arguments.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import logging
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import TYPE_CHECKING, Unpack

from jcsaml import remembered
from jcsaml.aws_credentials import AwsCredentials
from jcsaml.config import Account, parse_profile_template
from jcsaml.errors import (
    JcsamlError,
    NoRoleMatchedError,
    ProfileCollisionError,
)
from jcsaml.prompter import Prompter
from jcsaml.saml import AwsRole, SamlAssertion
from jcsaml.signin import (
    AuthenticatorFactory,
    CertificatePinner,
    SignInOptions,
    SignInPipeline,
    app_name,
    assume_role,
    choose_role,
    credentials_path,
    region_of,
    save_pinned_certificate,
    session_duration_for,
)
from jcsaml.sts import make_client, region_for

if TYPE_CHECKING:
    from jcsaml.signin import AppAuthenticator
    from jcsaml.sts import StsClient

log = logging.getLogger(__name__)

#: Roles assumed at once; STS answers each call on its own, so waiting overlaps.
MAX_PARALLEL_ROLES = 16
#: How profiles are named when several roles come from one account.
DEFAULT_PROFILE_TEMPLATE = "{account}-{role}"


@dataclasses.dataclass(frozen=True)
class RoleResult:
    """One role of a :func:`login_many`: its credentials, or the error that stopped it.

    ``profile`` is the AWS profile the credentials belong in and ``credentials_file`` the file
    (both "" when the account failed before any role was known, and then ``role_arn`` is ""
    too). ``signed_in_as`` names the JumpCloud sign-in that served the account
    (``user at console``).
    """

    idp_account: str
    profile: str
    role_arn: str
    credentials_file: str
    signed_in_as: str
    credentials: AwsCredentials | None = None
    error: JcsamlError | None = None

    @property
    def ok(self) -> bool:
        return self.credentials is not None


@dataclasses.dataclass(frozen=True)
class _Target:
    account: Account
    role: AwsRole
    assertion: SamlAssertion
    profile: str
    path: Path
    signed_in_as: str


def select_roles(
    assertion: SamlAssertion,
    account: Account,
    *,
    patterns: Sequence[str] = (),
    all_roles: bool = False,
    prompter: Prompter,
    environ: Mapping[str, str] = os.environ,
) -> list[AwsRole]:
    """The roles to assume from ``assertion``: all of them; those whose name or ARN matches a
    glob pattern; else, as a single login chooses, the account's ``role_arn``, the only role, or
    the person's choice. Raises NoRoleMatchedError or what :func:`choose_role` raises."""
    roles = _unique(assertion.roles)
    if all_roles:
        return roles
    if patterns:
        chosen = [
            r
            for r in roles
            if any(
                fnmatch.fnmatchcase(r.role_name, p) or fnmatch.fnmatchcase(r.role_arn, p)
                for p in patterns
            )
        ]
        if not chosen:
            raise NoRoleMatchedError(
                account=account.name,
                patterns=", ".join(repr(p) for p in patterns),
                available=", ".join(r.role_arn for r in roles) or "none",
            )
        return chosen

    # As a single login: the role chosen last time for this account is preselected.
    picked = choose_role(
        assertion,
        account.role_arn or None,
        prompter,
        preferred=remembered.last_role(account.name, environ),
        account=account,
    )
    if not account.role_arn:
        remembered.remember_role(account.name, picked.role_arn, environ)
    return [picked]


def _unique(roles: Iterable[AwsRole]) -> list[AwsRole]:
    seen: dict[str, AwsRole] = {}
    for role in roles:
        seen.setdefault(role.role_arn, role)
    return sorted(seen.values(), key=lambda r: (r.account_id, r.role_name))


def profile_name(template: str, account: Account, role: AwsRole) -> str:
    """``template`` filled in: ``{account}`` is the AWS account's alias (``account_aliases``)
    or its id, ``{account_id}`` the id, ``{role}`` the role name, ``{idp_account}`` the jcsaml
    account."""
    aliases = dict(account.account_aliases)
    return template.format(
        account=aliases.get(role.account_id, role.account_id),
        account_id=role.account_id,
        role=role.role_name,
        idp_account=account.name,
    )


def login_many(
    accounts: Sequence[Account | str],
    *,
    roles: Sequence[str] = (),
    all_roles: bool = False,
    profile_template: str | None = None,
    session_duration: int | None = None,
    authenticator_factory: AuthenticatorFactory | None = None,
    sts_client: StsClient | None = None,
    trust_new_cert: bool = False,
    pin_certificate: CertificatePinner | None = save_pinned_certificate,
    max_workers: int = MAX_PARALLEL_ROLES,
    check_profiles: Callable[[Sequence[tuple[Path, str]]], None] | None = None,
    **options: Unpack[SignInOptions],
) -> list[RoleResult]:
    """Sign in once per JumpCloud user and console, and assume the selected roles of every
    account; one :class:`RoleResult` per role (or per account that failed before its roles were
    known), in the order of ``accounts``.

    ``roles`` are glob patterns on the role name or ARN (``*ReadOnly*``,
    ``arn:aws:iam::0123*``); ``all_roles`` takes every role. Without either, each account gives
    one role, chosen as :func:`jcsaml.login` chooses it. One role from an account goes to the
    account's profile; several go to profiles named by ``profile_template`` (else the account's
    ``profile_template``, else ``{account}-{role}``; see :func:`profile_name`). The sign-in
    keywords (``username``, ``password``, ``mfa_token``, ``force``, ``prompter``, ``secrets``,
    ``webauthn_device``, ``environ``) are :class:`~jcsaml.signin.SignInOptions`.

    Raises ProfileCollisionError, before any role is assumed, when two roles would be written
    to one profile of one credentials file; config errors for unusable accounts; and what
    ``check_profiles`` raises, called with every (credentials file, profile) before any role is
    assumed (the CLI checks there that the profiles can be written). Every other failure is
    kept in its result.
    """
    if profile_template is not None:
        parse_profile_template(profile_template)
    pipeline = SignInPipeline(
        "login_many",
        options,
        authenticator_factory=authenticator_factory,
        sts_client=sts_client,
        trust_new_cert=trust_new_cert,
        pin_certificate=pin_certificate,
    )
    asker = pipeline.prompter
    environ = pipeline.environ
    unique: dict[str, Account] = {}
    for given in accounts:
        account = pipeline.account(given)
        unique.setdefault(account.name, account)  # an account named twice is signed in to once
    resolved = list(unique.values())
    # Found from the config alone: nothing is asked or sent for a login that cannot be saved.
    check_planned_profiles(resolved, roles=roles, all_roles=all_roles, environ=environ)
    results: dict[str, list[RoleResult]] = {a.name: [] for a in resolved}
    # As a single login does: imports and an STS client are prepared while JumpCloud is waited
    # for (the client for the first account's region, sized for the parallel calls).
    with pipeline.warm_up(
        resolved[0] if resolved else None,
        imports=("concurrent.futures",),
        max_pool_connections=max_workers,
    ):
        assertions: dict[str, tuple[SamlAssertion, str]] = {}
        fetched = 0
        for group in sign_in_groups(resolved, pipeline.username):
            for account, outcome, who in _fetch_assertions(group, pipeline):
                fetched += 1
                asker.progress(f"Fetched {fetched}/{len(resolved)} JumpCloud app(s)")
                if isinstance(outcome, JcsamlError):
                    results[account.name].append(_failed(account, outcome, who))
                else:
                    assertions[account.name] = (outcome, who)

        targets: list[_Target] = []
        for account in resolved:
            if account.name not in assertions:
                continue
            assertion, who = assertions[account.name]
            try:
                selected = select_roles(
                    assertion,
                    account,
                    patterns=roles,
                    all_roles=all_roles,
                    prompter=asker,
                    environ=environ,
                )
            except JcsamlError as exc:
                results[account.name].append(_failed(account, exc, who))
                continue
            template = profile_template or account.profile_template or DEFAULT_PROFILE_TEMPLATE
            path = credentials_path(account, environ=environ)
            for role in selected:
                profile = (
                    account.profile if len(selected) == 1 else profile_name(template, account, role)
                )
                targets.append(_Target(account, role, assertion, profile, path, who))
        try:
            _check_collisions(targets)
            if check_profiles is not None and targets:
                check_profiles(sorted({(t.path, t.profile) for t in targets}))
        except JcsamlError:
            asker.progress(None)  # the error line starts on a line of its own
            raise

        outcomes = _assume_all(
            targets, pipeline, session_duration=session_duration, max_workers=max_workers
        )
        trusted: set[str] = set()
        for target, assumed in zip(targets, outcomes, strict=True):
            name = target.account.name
            if isinstance(assumed, JcsamlError):
                results[name].append(_result(target, error=assumed))
                continue
            if name not in trusted:
                # As for one login: the certificate is pinned once AWS has accepted the assertion.
                trusted.add(name)
                pipeline.trust(target.account, target.assertion)
            credentials = dataclasses.replace(assumed, region=target.account.region or None)
            results[name].append(_result(target, credentials=credentials))
        asker.progress(None)
        return [result for account in resolved for result in results[account.name]]


def sign_in_groups(accounts: Sequence[Account], username: str | None) -> list[list[Account]]:
    """Accounts that one sign-in serves: the same JumpCloud console and user."""
    groups: dict[tuple[str, str], list[Account]] = {}
    for account in accounts:
        key = (account.console_url.rstrip("/").lower(), (username or account.username).lower())
        groups.setdefault(key, []).append(account)
    return list(groups.values())


def _fetch_assertions(
    group: Sequence[Account], pipeline: SignInPipeline
) -> Iterable[tuple[Account, SamlAssertion | JcsamlError, str]]:
    """Each account's checked assertion (or the error) from one sign-in for the whole group."""
    first = group[0]
    user = pipeline.username_for(first)
    who = f"{user} at {first.console_url}"
    auth = pipeline.authenticator(first)
    session_open = False
    for account in group:
        try:
            if session_open:
                log.debug(
                    "fetching the SAML page of %s with the open console session", account.name
                )
                page = auth.fetch_saml_page(account.url)
                assertion = pipeline.read_assertion(account, page.saml_response, username=user)
            else:
                assertion = pipeline.sign_in(account, username=user, authenticator=auth)
                session_open = True
        except JcsamlError as exc:
            if not session_open and not _still_signed_in(auth):
                # The sign-in itself failed: no account of this user can go on.
                for rest in group[group.index(account) :]:
                    yield rest, exc, who
                return
            session_open = True
            yield account, exc, who
            continue
        yield account, assertion, who


def _still_signed_in(auth: AppAuthenticator) -> bool:
    """Whether the failure came after JumpCloud accepted the sign-in (an app's own problem)."""
    try:
        return auth.signed_in()
    except JcsamlError:
        return False


def check_planned_profiles(
    accounts: Sequence[Account],
    *,
    roles: Sequence[str] = (),
    all_roles: bool = False,
    environ: Mapping[str, str] = os.environ,
) -> None:
    """Raise ProfileCollisionError when accounts that each give one role (no ``roles``
    patterns, no ``all_roles``) would write it to the same profile of one credentials file:
    known from the config before any prompt or request."""
    if roles or all_roles:
        return  # the profiles depend on the roles JumpCloud offers: checked once they are known
    claimed: dict[tuple[Path, str], list[str]] = {}
    for account in accounts:
        path = credentials_path(account, environ=environ)
        claimed.setdefault((path, account.profile), []).append(account.name)
    clashes = [
        f"profile {profile!r} of {path} for accounts {', '.join(names)}"
        for (path, profile), names in claimed.items()
        if len(names) > 1
    ]
    if clashes:
        raise ProfileCollisionError(collisions="; ".join(clashes))


def _check_collisions(targets: Sequence[_Target]) -> None:
    claimed: dict[tuple[Path, str], list[_Target]] = {}
    for target in targets:
        claimed.setdefault((target.path, target.profile), []).append(target)
    clashes = [
        f"profile {profile!r}: "
        + ", ".join(f"account {t.account.name} ({t.role.role_arn})" for t in found)
        for (_, profile), found in claimed.items()
        if len(found) > 1
    ]
    if clashes:
        raise ProfileCollisionError(collisions="; ".join(clashes))


def _assume_all(
    targets: Sequence[_Target],
    pipeline: SignInPipeline,
    *,
    session_duration: int | None,
    max_workers: int,
) -> list[AwsCredentials | JcsamlError]:
    """AssumeRoleWithSAML for every target at once (at most ``max_workers`` in flight)."""
    if not targets:
        return []
    prompter = pipeline.prompter
    workers = max(1, min(max_workers, len(targets)))
    # One client per STS region, shared by the threads (botocore clients are thread-safe);
    # making a client costs far more than a call.
    clients: dict[tuple[str, float], StsClient] = {}
    regions = [region_of(t.account, pipeline.environ) for t in targets]
    for target, region in zip(targets, regions, strict=True):
        key = (region_for(target.role, region), target.account.sts_timeout)
        if key not in clients:
            clients[key] = pipeline.sts_client(*key) or make_client(
                key[0], timeout=key[1], max_pool_connections=workers
            )

    # The session-duration note once per app, before the parallel calls (not once per role).
    durations: dict[int, int | None] = {}
    for target in targets:
        if id(target.assertion) not in durations:
            durations[id(target.assertion)] = session_duration_for(
                target.assertion,
                session_duration or target.account.session_duration,
                prompter,
                app=app_name(target.account),
            )

    def assume(target: _Target, region: str | None) -> AwsCredentials:
        key = (region_for(target.role, region), target.account.sts_timeout)
        return assume_role(
            target.role,
            target.assertion,
            duration=durations[id(target.assertion)],
            region=region,
            prompter=prompter,
            sts_client=clients[key],
            sts_timeout=target.account.sts_timeout,
        )

    outcomes: list[AwsCredentials | JcsamlError | None] = [None] * len(targets)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="jcsaml-sts") as pool:
        futures: dict[Future[AwsCredentials], int] = {
            pool.submit(assume, target, region): index
            for index, (target, region) in enumerate(zip(targets, regions, strict=True))
        }
        for done, future in enumerate(as_completed(futures), 1):
            index = futures[future]
            try:
                outcomes[index] = future.result()
            except JcsamlError as exc:
                outcomes[index] = exc
            prompter.progress(f"Assumed {done}/{len(targets)} role(s)")
    return [outcome for outcome in outcomes if outcome is not None]


def _result(
    target: _Target,
    *,
    credentials: AwsCredentials | None = None,
    error: JcsamlError | None = None,
) -> RoleResult:
    return RoleResult(
        idp_account=target.account.name,
        profile=target.profile,
        role_arn=target.role.role_arn,
        credentials_file=str(target.path),
        signed_in_as=target.signed_in_as,
        credentials=credentials,
        error=error,
    )


def _failed(account: Account, error: JcsamlError, who: str) -> RoleResult:
    """An account that failed before any role was known: no profile, role or file."""
    return RoleResult(account.name, "", "", "", who, error=error)
