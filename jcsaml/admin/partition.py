"""What differs between AWS partitions for SAML federation: sign-in URL, ARNs, policy names."""

from __future__ import annotations

import re

#: The sign-in SAML endpoint of each partition: where JumpCloud posts the assertion, and the
#: value AWS gives the ``SAML:aud`` condition key.
SAML_SIGNIN_URLS = {
    "aws": "https://signin.aws.amazon.com/saml",
    "aws-cn": "https://signin.amazonaws.cn/saml",
    "aws-us-gov": "https://signin.amazonaws-us-gov.com/saml",
}

#: Shortcuts for the AWS managed policies the runbook's roles use.
POLICY_SHORTCUTS = {
    "readonly": "ReadOnlyAccess",
    "admin": "AdministratorAccess",
    "billing": "job-function/Billing",
    "ec2": "AmazonEC2FullAccess",
}

_POLICY_ARN = re.compile(r"^arn:(aws|aws-cn|aws-us-gov):iam::(aws|\d{12}):policy/[\w+=,.@/-]+$")
_POLICY_NAME = re.compile(r"^[\w+=,.@-]+(/[\w+=,.@-]+)*$")


#: Where a region's name may be used as a SAML endpoint: ``eu-west-1``, ``us-gov-west-1`` ...
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
GLOBAL = "global"


def saml_endpoint(partition: str, where: str) -> str:
    """The sign-in SAML endpoint ``where`` (``global`` or a region) of ``partition``, as AWS
    documents it: ``https://signin.aws.amazon.com/saml`` or
    ``https://eu-west-1.signin.aws.amazon.com/saml``. Raises ValueError for a name that is not a
    region of that partition."""
    url = signin_url(partition)
    if where == GLOBAL:
        return url
    in_partition = {"aws-cn": "cn-", "aws-us-gov": "us-gov-"}.get(partition)
    if not _REGION.match(where) or (
        where.startswith(("cn-", "us-gov-"))
        if in_partition is None
        else not where.startswith(in_partition)
    ):
        raise ValueError(f"{where!r} is not a region of partition {partition}, nor 'global'")
    return url.replace("https://", f"https://{where}.", 1)


def is_saml_endpoint(url: str, partition: str) -> bool:
    """Whether ``url`` is one of the partition's sign-in SAML endpoints, global or regional."""
    host = signin_url(partition).removeprefix("https://").removesuffix("/saml")
    match = re.fullmatch(rf"https://(?:([a-z0-9-]+)\.)?{re.escape(host)}/saml", url)
    if match is None:
        return False
    return match.group(1) is None or bool(_REGION.match(match.group(1)))


def endpoint_name(url: str) -> str:
    """``global`` or the region of a sign-in SAML endpoint URL."""
    host = url.removeprefix("https://").split("/", 1)[0]
    first = host.split(".", 1)[0]
    return first if _REGION.match(first) else GLOBAL


def signin_url(partition: str) -> str:
    """The partition's sign-in SAML URL; KeyError for a partition without SAML sign-in."""
    return SAML_SIGNIN_URLS[partition]


def policy_arn(policy: str, partition: str) -> str | None:
    """The ARN a ``--role`` policy stands for, or None when it is none of: a shortcut, an AWS
    managed policy name (``PowerUserAccess``, ``job-function/ViewOnlyAccess``) or a full policy
    ARN in ``partition``."""
    if policy.startswith("arn:"):
        match = _POLICY_ARN.match(policy)
        return policy if match and match.group(1) == partition else None
    name = POLICY_SHORTCUTS.get(policy.lower(), policy)
    if not _POLICY_NAME.match(name):
        return None
    return f"arn:{partition}:iam::aws:policy/{name}"


def provider_arn(partition: str, account: str, name: str) -> str:
    return f"arn:{partition}:iam::{account}:saml-provider/{name}"


def role_arn(partition: str, account: str, name: str, path: str = "/") -> str:
    return f"arn:{partition}:iam::{account}:role{path}{name}"
