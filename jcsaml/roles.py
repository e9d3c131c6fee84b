"""The AWS roles JumpCloud offers a user, read from one sign-in (no AWS call, no web scraping).

Account names come from the account's ``account_aliases`` setting, never from AWS's web pages.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Unpack

from jcsaml.config import Account
from jcsaml.saml import AwsRole
from jcsaml.signin import (
    CertificatePinner,
    SignInOptions,
    SignInPipeline,
    save_pinned_certificate,
)

if TYPE_CHECKING:
    from jcsaml.jumpcloud import Authenticator


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
    authenticator: Authenticator | None = None,
    pin_certificate: CertificatePinner | None = save_pinned_certificate,
    **options: Unpack[SignInOptions],
) -> list[RoleListing]:
    """Sign in to JumpCloud once (reusing a saved console session unless ``force``) and list the
    roles the SAML assertion offers. The sign-in keywords are
    :class:`~jcsaml.signin.SignInOptions`. Raises what :func:`jcsaml.signin.sign_in` raises.

    The signature is checked, and on first use pinned by ``pin_certificate`` (default: into the
    config file; None pins nothing), as :func:`jcsaml.signin.login` does; an unsigned assertion
    is warned about through the prompter.
    """
    pipeline = SignInPipeline(
        "list_roles", options, authenticator=authenticator, pin_certificate=pin_certificate
    )
    resolved = pipeline.account(account)
    with pipeline.warm_up(None):
        assertion = pipeline.sign_in(resolved)
    pipeline.trust(resolved, assertion)
    return role_listings(assertion.roles, dict(resolved.account_aliases))
