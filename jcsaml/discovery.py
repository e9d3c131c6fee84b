"""Finding the user's AWS applications in JumpCloud, to configure one jcsaml account per app.

After one sign-in, JumpCloud's user console lists the user's applications
(``GET /userconsole/api/applications``); each SAML application's page is fetched with the same
console session, and those whose assertion offers AWS roles are kept. Bookmarks and SAML
applications for other services (no AWS audience, no Role attribute) are left out, with the
reason. Library code: nothing is printed or written here.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Collection
from typing import TYPE_CHECKING, Unpack

from jcsaml.config import Account
from jcsaml.errors import JcsamlError, NoAwsApplicationsError
from jcsaml.saml import AwsRole, parse_saml_response
from jcsaml.signin import SignInOptions, SignInPipeline

if TYPE_CHECKING:
    from jcsaml.signin import AuthenticatorFactory

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class AwsApplication:
    """A JumpCloud application whose assertion offers AWS roles.

    ``name`` is a proposed jcsaml account name, made from ``display_label``; ``signer_sha256``
    is the SHA-256 of the certificate that signed its assertion (None when unsigned), which the
    account created for it trusts from then on.
    """

    name: str
    display_label: str
    url: str
    roles: tuple[AwsRole, ...]
    signer_sha256: str | None


@dataclasses.dataclass(frozen=True)
class SkippedApplication:
    display_label: str
    reason: str


@dataclasses.dataclass(frozen=True)
class Discovery:
    """What :func:`discover_applications` found: the AWS apps, and every other app with why it
    was left out. ``username`` is who signed in."""

    username: str
    applications: list[AwsApplication]
    skipped: list[SkippedApplication]
    #: The certificate that signed the sign-in's own assertion (the signing account's pin).
    signin_signer_sha256: str | None = None

    def accounts(self, base: Account) -> list[Account]:
        """One account per AWS application, with ``base``'s JumpCloud user, console and MFA
        settings (and its region, credentials file and account aliases)."""
        return [
            dataclasses.replace(
                base,
                name=app.name,
                url=app.url,
                username=base.username or self.username,
                role_arn="",
                aws_profile="",
                idp_cert="",
                idp_cert_sha256=app.signer_sha256 or "",
                saml_nameid=base.saml_nameid,
                source=None,
            )
            for app in self.applications
        ]


def account_name_for(label: str, taken: Collection[str] = ()) -> str:
    """A config-friendly account name from a display label (``AWS Production`` ->
    ``aws-production``), made unique against ``taken`` with ``-2``, ``-3`` ..."""
    base = re.sub(r"[^a-z0-9]+", "-", label.casefold()).strip("-") or "aws"
    name, number = base, 2
    while name in taken:
        name, number = f"{base}-{number}", number + 1
    return name


def discover_applications(
    account: Account | str,
    *,
    authenticator_factory: AuthenticatorFactory | None = None,
    taken_names: Collection[str] = (),
    **options: Unpack[SignInOptions],
) -> Discovery:
    """Sign in to JumpCloud through ``account`` (reusing a saved console session unless
    ``force``), list the user's applications, and read each SAML application's assertion. The
    sign-in keywords are :class:`~jcsaml.signin.SignInOptions`.

    Proposed names avoid ``taken_names`` and each other. Raises what
    :func:`jcsaml.signin.sign_in` raises, IdpError subclasses when the list cannot be read, and
    NoAwsApplicationsError when no application offers AWS roles.
    """
    pipeline = SignInPipeline(
        "discover_applications", options, authenticator_factory=authenticator_factory
    )
    resolved = pipeline.account(account)
    user = pipeline.username_for(resolved)
    auth = pipeline.authenticator(resolved)
    with pipeline.warm_up(None):
        own = pipeline.sign_in(resolved, username=user, authenticator=auth)
    listed = auth.list_applications()
    found: list[AwsApplication] = []
    skipped: list[SkippedApplication] = []
    taken = set(taken_names)
    own_host = _host(resolved.url)
    for app in listed:
        label = app.display_label or app.name
        if app.sso_type != "saml" or not app.sso_url:
            skipped.append(SkippedApplication(label, f"not a SAML application ({app.sso_type})"))
            continue
        host = _host(app.sso_url)
        if not host or host != own_host:
            # The list comes from a server: it must not send the console session, or a new
            # account's url, anywhere but the tenant's own SSO host.
            skipped.append(
                SkippedApplication(
                    label, f"its SSO URL is on {host or 'no host'}, not {own_host}: not fetched"
                )
            )
            continue
        try:
            if _same_url(app.sso_url, resolved.url):
                assertion = own  # already read, and checked, while signing in
            else:
                page = auth.fetch_saml_page(app.sso_url)
                # Trust on first use, as a first login does: the new account pins this signer,
                # whose fingerprint configure shows before saving.
                assertion = parse_saml_response(page.saml_response, trust_embedded_cert=True)
                if assertion.signer_sha256 is None and not resolved.allow_unsigned:
                    from jcsaml.errors import SamlUnsignedError

                    raise SamlUnsignedError(account=label)
        except JcsamlError as exc:
            log.debug("application %r left out: %s", label, exc)
            skipped.append(SkippedApplication(label, _short_reason(exc)))
            continue
        name = account_name_for(label, taken)
        taken.add(name)
        found.append(
            AwsApplication(
                name=name,
                display_label=label,
                url=app.sso_url,
                roles=tuple(assertion.roles),
                signer_sha256=assertion.signer_sha256,
            )
        )
    if not found:
        raise NoAwsApplicationsError(checked=len(listed))
    return Discovery(
        username=user,
        applications=found,
        skipped=skipped,
        signin_signer_sha256=own.signer_sha256,
    )


def _host(url: str) -> str:
    """``scheme://host[:port]`` of ``url``, lowercase; empty when it has no host or names a
    user (``https://sso.jumpcloud.com@elsewhere/`` is elsewhere)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return ""
    if not parts.hostname or parts.username is not None or parts.password is not None:
        return ""
    return f"{parts.scheme.lower()}://{parts.hostname}" + (f":{port}" if port else "")


def _same_url(a: str, b: str) -> bool:
    return a.rstrip("/").casefold() == b.rstrip("/").casefold()


def _short_reason(error: JcsamlError) -> str:
    from jcsaml.errors import SamlAudienceError, SamlError, SamlNoRolesError, SamlUnsignedError

    if isinstance(error, SamlNoRolesError | SamlAudienceError):
        return "not an AWS application (its assertion offers no AWS role)"
    if isinstance(error, SamlUnsignedError):
        return "its SAML response is not signed, so it cannot be trusted"
    if isinstance(error, SamlError):
        return f"its assertion is not usable for AWS: {error}"
    return str(error)
