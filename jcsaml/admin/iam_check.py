"""Reading IAM back: what would make AssumeRoleWithSAML fail for JumpCloud's assertions.

:func:`check_setup` compares the IdP certificate with what each IAM SAML provider's metadata
holds, and reads each role's trust policy (Federated principal, action, ``SAML:aud``). It
returns one :class:`CheckRow` per finding; it only reads (Get*/List* calls).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from jcsaml import partitions
from jcsaml.admin.iam_setup import AwsAdmin, is_missing
from jcsaml.admin.metadata import read_idp_metadata, short_fingerprint
from jcsaml.admin.trust import ACTION, judge_trust, load_policy, trusted_saml_providers
from jcsaml.errors import IamError

Status = Literal["OK", "WARN", "FAIL"]
#: A certificate closer than this to its end gets a warning.
EXPIRY_WARNING = timedelta(days=30)


@dataclass(frozen=True)
class CheckRow:
    """One finding: ``FAIL`` rows would make AssumeRoleWithSAML fail, ``WARN`` rows might."""

    status: Status
    subject: str
    message: str

    def __str__(self) -> str:
        return f"{self.status:<4}  {self.subject}: {self.message}"


@dataclass(frozen=True)
class CheckReport:
    rows: tuple[CheckRow, ...]

    @property
    def failures(self) -> int:
        return sum(1 for row in self.rows if row.status == "FAIL")


def check_setup(
    cert_pem: str,
    aws: AwsAdmin,
    *,
    partition: str,
    account: str,
    roles: Sequence[str] = (),
    provider_name: str | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> CheckReport:
    """Check the IAM side against the IdP certificate ``cert_pem``.

    ``roles`` are role names or ARNs (default: every role whose trust policy names a SAML
    provider); ``provider_name`` the provider the roles must trust (default: any provider that
    holds the certificate). Raises IamError when IAM cannot be read at all.
    """
    rows: list[CheckRow] = [_certificate_row(cert_pem, now())]
    fingerprint = short_fingerprint(cert_pem)

    role_docs: dict[str, dict[str, Any] | None] = {}
    names = list(roles) or _saml_roles(aws)
    for given in names:
        arn_account, name = _role_name(given)
        subject = f"role {given if given.startswith('arn:') else name}"
        if arn_account and arn_account != account:
            rows.append(
                CheckRow(
                    "FAIL",
                    subject,
                    f"is in account {arn_account}, but the credentials in use are of account "
                    f"{account}; run the check with --profile for that account",
                )
            )
            continue
        try:
            role_docs[name] = aws.call("get_role", RoleName=name)["Role"]
        except IamError as exc:
            if not is_missing(exc):
                raise
            role_docs[name] = None

    wanted = partitions.provider_arn(partition, account, provider_name) if provider_name else None
    provider_arns: list[str] = [wanted] if wanted else []
    for role in role_docs.values():
        if role is not None:
            for arn in trusted_saml_providers(load_policy(role.get("AssumeRolePolicyDocument"))):
                if arn not in provider_arns:
                    provider_arns.append(arn)
    if not provider_arns:
        listed = aws.call("list_saml_providers").get("SAMLProviderList", [])
        provider_arns = [str(p["Arn"]) for p in listed]
        if not provider_arns:
            rows.append(
                CheckRow(
                    "FAIL",
                    f"account {account}",
                    "holds no IAM SAML provider; create one with jcsaml setup aws",
                )
            )

    holding: list[str] = []
    for arn in provider_arns:
        row = _provider_row(aws, arn, cert_pem, fingerprint, account)
        rows.append(row)
        if row.status == "OK":
            holding.append(arn)

    candidates = [wanted] if wanted else holding
    for name, role in role_docs.items():
        rows.extend(_role_rows(name, role, candidates, partition))
    return CheckReport(rows=tuple(rows))


def _certificate_row(cert_pem: str, now: datetime) -> CheckRow:
    from cryptography import x509

    certificate = x509.load_pem_x509_certificate(cert_pem.encode("ascii"))
    ends = certificate.not_valid_after_utc
    subject = f"IdP certificate SHA-256 {short_fingerprint(cert_pem)}"
    if ends <= now:
        return CheckRow(
            "WARN",
            subject,
            f"expired on {ends:%Y-%m-%d}; jcsaml refuses it where idp_cert is configured: make a "
            "new one (jcsaml setup cert), upload it to JumpCloud and run jcsaml setup aws",
        )
    if ends - now < EXPIRY_WARNING:
        return CheckRow("WARN", subject, f"expires on {ends:%Y-%m-%d}; plan its renewal")
    return CheckRow("OK", subject, f"valid until {ends:%Y-%m-%d}")


def _provider_row(
    aws: AwsAdmin, arn: str, cert_pem: str, fingerprint: str, account: str
) -> CheckRow:
    subject = f"provider {arn}"
    if f":{account}:" not in arn:
        return CheckRow("WARN", subject, f"is in another account than {account}; not checked")
    try:
        found = aws.call("get_saml_provider", SAMLProviderArn=arn)
    except IamError as exc:
        if not is_missing(exc):
            raise
        return CheckRow(
            "FAIL", subject, "does not exist; create it with jcsaml setup aws --provider-name"
        )
    try:
        metadata = read_idp_metadata(str(found.get("SAMLMetadataDocument") or ""))
    except ValueError as exc:
        return CheckRow("FAIL", subject, f"holds metadata IAM cannot use: {exc}")
    if cert_pem in metadata.certificates:
        return CheckRow(
            "OK", subject, f"holds the IdP certificate (entity ID {metadata.entity_id})"
        )
    held = ", ".join(short_fingerprint(pem) for pem in metadata.certificates) or "none"
    return CheckRow(
        "FAIL",
        subject,
        f"holds another certificate (SHA-256 {held}) than the IdP's (SHA-256 {fingerprint}), "
        "so AWS refuses JumpCloud's signature (InvalidIdentityToken); replace it with: "
        f"jcsaml setup aws --provider-name {arn.rsplit('/', 1)[-1]} --idp-cert CRT ...",
    )


def _role_rows(
    name: str,
    role: dict[str, Any] | None,
    candidates: Sequence[str],
    partition: str,
) -> list[CheckRow]:
    if role is None:
        return [CheckRow("FAIL", f"role {name}", "does not exist; create it with jcsaml setup aws")]
    subject = f"role {role['Arn']}"
    policy = load_policy(role.get("AssumeRolePolicyDocument"))
    trusted = trusted_saml_providers(policy)
    verdicts = {arn: judge_trust(policy, arn, partition) for arn in candidates}
    allowed = [arn for arn, verdict in verdicts.items() if verdict.allowed]
    if allowed:
        duration = role.get("MaxSessionDuration") or 3600
        endpoints = ", ".join(verdicts[allowed[0]].endpoints)
        rows = [
            CheckRow(
                "OK",
                subject,
                f"trusts {allowed[0]} for {ACTION} at {endpoints} "
                f"(MaxSessionDuration {duration} s)",
            )
        ]
        rows.extend(CheckRow("WARN", subject, note) for note in verdicts[allowed[0]].notes)
        return rows
    problems = [
        problem
        for arn, verdict in verdicts.items()
        if arn in trusted
        for problem in verdict.problems
    ]
    if problems:
        return [CheckRow("FAIL", subject, p) for p in dict.fromkeys(problems)]
    if not trusted:
        return [CheckRow("FAIL", subject, f"its trust policy lets no SAML provider call {ACTION}")]
    others = ", ".join(trusted)
    if candidates:
        reason = f"it trusts {others}, not {', '.join(candidates)}"
    else:
        reason = f"it trusts {others}, which does not hold the IdP certificate"
    return [CheckRow("FAIL", subject, reason + "; AWS answers AccessDenied")]


def _saml_roles(aws: AwsAdmin) -> list[str]:
    """Names of every role whose trust policy names a SAML provider."""
    names: list[str] = []
    marker: str | None = None
    while True:
        params: dict[str, Any] = {"Marker": marker} if marker else {}
        page = aws.call("list_roles", **params)
        for role in page.get("Roles", []):
            if trusted_saml_providers(load_policy(role.get("AssumeRolePolicyDocument"))):
                names.append(str(role["RoleName"]))
        marker = page.get("Marker") if page.get("IsTruncated") else None
        if not marker:
            return names


def _role_name(given: str) -> tuple[str | None, str]:
    """``(account or None, role name)`` of a role name or ARN (the path is not part of the name)."""
    if given.startswith("arn:"):
        parts = given.split(":", 5)
        account = parts[4] if len(parts) == 6 else None
        return account, given.rsplit("/", 1)[-1]
    return None, given
