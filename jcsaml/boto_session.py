"""A boto3 session whose credentials renew themselves: :func:`jcsaml.session`.

botocore's ``RefreshableCredentials`` asks for new credentials when fewer than 15 minutes remain
(under its own lock, so threads share one refresh); they come from a
:class:`~jcsaml.credential_source.CredentialSource`: the cache, then the saved JumpCloud
session, then the prompter if one was given.

    import jcsaml
    s3 = jcsaml.session("production").client("s3")
    s3.list_buckets()  # still works hours later, while the JumpCloud session lives
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Unpack

from jcsaml.credential_source import SourceOptions, source_for

if TYPE_CHECKING:
    from jcsaml.config import Account

__all__ = ["session"]

METHOD = "jcsaml"


def session(
    account: Account | str,
    *,
    region_name: str | None = None,
    **options: Unpack[SourceOptions],
) -> Any:
    """A ``boto3.Session`` for ``account`` whose credentials renew themselves.

    The first credentials are fetched now (errors are raised here); later ones when botocore
    asks. Without a ``prompter`` nobody is ever asked: when the JumpCloud session has ended,
    the AWS call that needed new credentials raises SignInRequiredError (run ``jcsaml login``).
    ``region_name`` defaults to the account's region, else the SDK's own configuration.
    Other arguments as :func:`jcsaml.credential_source.default_source`
    (:class:`~jcsaml.credential_source.SourceOptions`); ``clock`` is also botocore's
    (timezone-aware datetimes).
    """
    import boto3
    import botocore.session
    from botocore.credentials import CredentialProvider, CredentialResolver, RefreshableCredentials

    from jcsaml.signin import check_keywords, resolve_account

    check_keywords("session", options, SourceOptions.__optional_keys__)  # before the config
    resolved = resolve_account(account, environ=options.get("environ", os.environ))
    source = source_for(resolved, options, function="session")

    def metadata() -> dict[str, str]:
        current = source.get()
        return {
            "access_key": current.access_key_id,
            "secret_key": current.secret_access_key,
            "token": current.session_token,
            "expiry_time": current.expiration_rfc3339(),
        }

    first = source.get()
    refreshable = RefreshableCredentials(
        first.access_key_id,
        first.secret_access_key,
        first.session_token,
        first.expiration,
        metadata,
        METHOD,
        time_fetcher=source.clock,
    )

    class Provider(CredentialProvider):  # type: ignore[misc]
        METHOD = METHOD

        def load(self) -> RefreshableCredentials:
            return refreshable

    core = botocore.session.Session()
    # Only these credentials: never a profile, variable or instance role of the machine.
    core.register_component("credential_provider", CredentialResolver([Provider()]))
    return boto3.Session(botocore_session=core, region_name=region_name or resolved.region or None)
