"""The AWS partitions jcsaml signs in to, and everything that differs between them: ARN
patterns, sign-in and console hosts, SAML endpoints and audiences, STS hosts, usual regions.

jcsaml knows the partitions with SAML sign-in: ``aws``, ``aws-cn`` and ``aws-us-gov``. A role,
SAML provider or policy ARN in any other partition is refused wherever one is read (config file,
SAML assertion, ``jcsaml setup``).

Standard library only (``re``, and patterns compiled on first use): the light lookup
(:mod:`jcsaml.light_lookup`) checks ARNs with it.
"""

from __future__ import annotations

import re

#: The sign-in host of each partition: where JumpCloud posts the assertion (the SAML
#: Destination) and where the console federation endpoint is. Regional hosts are subdomains.
SIGNIN_HOSTS = {
    "aws": "signin.aws.amazon.com",
    "aws-cn": "signin.amazonaws.cn",
    "aws-us-gov": "signin.amazonaws-us-gov.com",
}
#: The partitions jcsaml knows, commercial first.
PARTITIONS = tuple(SIGNIN_HOSTS)
#: The web console's host in each partition; regional hosts are subdomains.
CONSOLE_HOSTS = {
    "aws": "console.aws.amazon.com",
    "aws-cn": "console.amazonaws.cn",
    "aws-us-gov": "console.amazonaws-us-gov.com",
}
#: The partition's first region: its usual STS region, and the one region whose sign-in and
#: console hosts are the partition's own, without a region label (AWS's sign-in endpoint table).
DEFAULT_REGIONS = {"aws": "us-east-1", "aws-cn": "cn-north-1", "aws-us-gov": "us-gov-west-1"}
#: How the names of a partition's regions begin; the commercial partition's regions are the
#: ones that begin with none of these.
REGION_PREFIXES = {"aws-cn": "cn-", "aws-us-gov": "us-gov-"}
#: The sign-in SAML endpoint of each partition: where JumpCloud posts the assertion, and the
#: value AWS gives the ``SAML:aud`` condition key.
SAML_SIGNIN_URLS = {partition: f"https://{host}/saml" for partition, host in SIGNIN_HOSTS.items()}
#: The SAML audience (SP entity ID) of AWS sign-in.
AWS_AUDIENCE = "urn:amazon:webservices"
#: Every audience AWS sign-in documents for its SAML service provider, in all partitions.
AWS_AUDIENCES = frozenset(
    {
        AWS_AUDIENCE,
        "urn:amazon:webservices:cn-north-1",
        "urn:amazon:webservices:cn-northwest-1",
        "urn:amazon:webservices:govcloud",
        *SAML_SIGNIN_URLS.values(),
    }
)
#: The domain of AWS's own service endpoints (STS, IAM) in each partition.
SERVICE_DOMAINS = {
    "aws": "amazonaws.com",
    "aws-cn": "amazonaws.com.cn",
    "aws-us-gov": "amazonaws.com",
}

#: A partition in an ARN, as a regular expression.
PARTITION = "aws(?:-cn|-us-gov)?"
#: An IAM role ARN as a config file or ``--role`` gives it (whole text).
ROLE_ARN = rf"arn:{PARTITION}:iam::\d{{12}}:role/[\w+=,.@/-]{{1,512}}"
#: An IAM managed policy ARN, AWS's own (account ``aws``) or an account's (whole text).
POLICY_ARN = rf"arn:(?P<partition>{PARTITION}):iam::(?:\d{{12}}|aws):policy/[\w+=,.@/-]{{1,512}}"
#: The names of regions with a regional sign-in SAML endpoint (``eu-west-1``, ``us-gov-west-1``).
_SAML_REGION = r"[a-z]{2}(?:-[a-z]+)+-\d{1,2}"
GLOBAL = "global"


def is_role_arn(text: str) -> bool:
    """Whether ``text`` is an IAM role ARN in a partition jcsaml knows."""
    return re.fullmatch(ROLE_ARN, text) is not None


def policy_partition(text: str) -> str | None:
    """The partition of an IAM managed policy ARN, or None when ``text`` is none."""
    match = re.fullmatch(POLICY_ARN, text)
    return match["partition"] if match else None


def partition_of(arn: str) -> str:
    """``arn:aws-us-gov:iam::...`` -> ``aws-us-gov``; anything unknown is the commercial one."""
    parts = arn.split(":")
    return parts[1] if len(parts) > 1 and parts[1] in SIGNIN_HOSTS else "aws"


def is_service_host(host: str) -> bool:
    """Whether ``host`` is one of AWS's own service hosts (not an endpoint override)."""
    return host.endswith(tuple("." + domain for domain in SERVICE_DOMAINS.values()))


def region_partition(region: str) -> str:
    """The partition of the region named ``region`` (by its name alone)."""
    return next(p for p in PARTITIONS if in_partition(region, p))


def sts_url(region: str) -> str:
    """AWS's own STS endpoint in ``region``."""
    return f"https://sts.{region}.{SERVICE_DOMAINS[region_partition(region)]}"


def signin_url(partition: str) -> str:
    """The partition's sign-in SAML URL; KeyError for a partition without SAML sign-in."""
    return SAML_SIGNIN_URLS[partition]


def in_partition(region: str, partition: str) -> bool:
    """Whether the region named ``region`` belongs to ``partition`` (by its name alone)."""
    prefix = REGION_PREFIXES.get(partition)
    if prefix is None:
        return not region.startswith(tuple(REGION_PREFIXES.values()))
    return region.startswith(prefix)


def saml_endpoint(partition: str, where: str) -> str:
    """The sign-in SAML endpoint ``where`` (``global`` or a region) of ``partition``, as AWS
    documents it: ``https://signin.aws.amazon.com/saml`` or
    ``https://eu-west-1.signin.aws.amazon.com/saml``. Raises ValueError for a name that is not a
    region of that partition."""
    url = signin_url(partition)
    if where == GLOBAL:
        return url
    if not re.fullmatch(_SAML_REGION, where) or not in_partition(where, partition):
        raise ValueError(f"{where!r} is not a region of partition {partition}, nor 'global'")
    return url.replace("https://", f"https://{where}.", 1)


def is_saml_endpoint(url: str, partition: str) -> bool:
    """Whether ``url`` is one of the partition's sign-in SAML endpoints, global or regional."""
    host = SIGNIN_HOSTS[partition]
    match = re.fullmatch(rf"https://(?:([a-z0-9-]+)\.)?{re.escape(host)}/saml", url)
    if match is None:
        return False
    return match.group(1) is None or re.fullmatch(_SAML_REGION, match.group(1)) is not None


def endpoint_name(url: str) -> str:
    """``global`` or the region of a sign-in SAML endpoint URL."""
    host = url.removeprefix("https://").split("/", 1)[0]
    first = host.split(".", 1)[0]
    return first if re.fullmatch(_SAML_REGION, first) else GLOBAL


def provider_arn(partition: str, account: str, name: str) -> str:
    return f"arn:{partition}:iam::{account}:saml-provider/{name}"


def role_arn(partition: str, account: str, name: str, path: str = "/") -> str:
    return f"arn:{partition}:iam::{account}:role{path}{name}"
