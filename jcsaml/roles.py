"""The AWS roles JumpCloud offers a user, read from one sign-in (no AWS call, no web scraping).

Account names come from the account's ``account_aliases`` setting, never from AWS's web pages.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from jcsaml.config import Account
from jcsaml.prompter import NonInteractivePrompter, Prompter
from jcsaml.saml import AwsRole
from jcsaml.secret_store import SecretStore, library_store
from jcsaml.signin import CertificatePinner, save_pinned_certificate

if TYPE_CHECKING:
    from jcsaml.jumpcloud import Authenticator
    from jcsaml.webauthn import WebAuthnDevice


@dataclass(frozen=True)
class RoleListing:
    """One role the assertion offers; ``alias`` is "" when the account id has none."""

    account_id: str
    alias: str
    role_name: str
    role_arn: str
    principal_arn: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def role_listings(roles: Iterable[AwsRole], aliases: Mapping[str, str]) -> list[RoleListing]:
    """The roles with their account aliases, by account id then role name, duplicates dropped."""
    seen = {(r.role_arn, r.principal_arn): r for r in roles}
    listings = [
        RoleListing(
            account_id=r.account_id,
            alias=aliases.get(r.account_id, ""),
            role_name=r.role_name,
            role_arn=r.role_arn,
            principal_arn=r.principal_arn,
        )
        for r in seen.values()
    ]
    return sorted(listings, key=lambda item: (item.account_id, item.role_name, item.role_arn))


def list_roles(
    account: Account | str,
    *,
    username: str | None = None,
    password: str | None = None,
    mfa_token: str | None = None,
    force: bool = False,
    prompter: Prompter | None = None,
    secrets: SecretStore | None = None,
    authenticator: Authenticator | None = None,
    webauthn_device: WebAuthnDevice | None = None,
    environ: Mapping[str, str] = os.environ,
    pin_certificate: CertificatePinner | None = save_pinned_certificate,
) -> list[RoleListing]:
    """Sign in to JumpCloud once (reusing a saved console session unless ``force``) and list the
    roles the SAML assertion offers. Raises what :func:`jcsaml.signin.sign_in` raises.

    The signature is checked, and on first use pinned by ``pin_certificate`` (default: into the
    config file; None pins nothing), as :func:`jcsaml.signin.login` does; an unsigned assertion
    is warned about through the prompter.
    """
    from jcsaml.signin import resolve_account, sign_in, trust_signer

    resolved = resolve_account(account, environ=environ)
    asker = prompter or NonInteractivePrompter()
    assertion = sign_in(
        resolved,
        username=username,
        password=password,
        mfa_token=mfa_token,
        force=force,
        prompter=asker,
        secrets=library_store(secrets),
        authenticator=authenticator,
        webauthn_device=webauthn_device,
    )
    trust_signer(resolved, assertion, prompter=asker, pin_certificate=pin_certificate)
    return role_listings(assertion.roles, dict(resolved.account_aliases))
