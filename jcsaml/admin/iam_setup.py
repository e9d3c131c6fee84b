"""The IAM side of SAML federation: one SAML identity provider and the roles it may assume.

:func:`plan_setup` reads what IAM holds (Get*/List* calls only) and returns a :class:`SetupPlan`
of the changes that would make it match the request; :func:`apply_setup` makes them. Running the
same request again plans nothing. The AWS account and partition come from the credentials in use
(``sts:GetCallerIdentity``), so an administrator runs this under a profile of the target account;
boto3 honours the SDK's endpoint variables (``AWS_ENDPOINT_URL_IAM`` ...). boto3 is imported
inside :func:`open_aws`.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from jcsaml import partitions
from jcsaml.admin import partition as policies
from jcsaml.admin.metadata import IdpMetadata, read_idp_metadata
from jcsaml.admin.trust import judge_trust, load_policy, saml_trust_policy, with_provider_trusted
from jcsaml.errors import (
    AwsSessionError,
    IamError,
    IamUnavailableError,
    InvalidSettingError,
    ManagedPolicyNotFoundError,
)

MIN_MAX_SESSION = 3600
MAX_MAX_SESSION = 43200
DEFAULT_MAX_SESSION = 3600
_ROLE_NAME = re.compile(r"^[\w+=,.@-]{1,64}$")
_PROVIDER_NAME = re.compile(r"^[\w.-]{1,128}$")
_ARN = re.compile(r"^arn:([\w-]+):[\w-]+::(\d{12}):")
_HINTS = {
    "AccessDenied": "; the credentials in use lack that IAM permission: run with --profile "
    "naming an IAM administrator of this account",
    "InvalidClientTokenId": "; the access key is not valid in this partition or account",
    "ExpiredToken": "; the credentials have expired: refresh them (jcsaml login) and try again",
}
_log = logging.getLogger(__name__)
_OVERRIDE_HINT = (
    "; this endpoint comes from AWS_ENDPOINT_URL_IAM, AWS_ENDPOINT_URL or ~/.aws/config"
)


@dataclass(frozen=True)
class RoleSpec:
    """One ``--role NAME=POLICY[,POLICY]``: the role name and its managed policies as given."""

    name: str
    policies: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> RoleSpec:
        name, sep, policies = text.partition("=")
        items = tuple(p.strip() for p in policies.split(",") if p.strip())
        if not sep or not items:
            raise InvalidSettingError(
                setting=f"--role {text!r}",
                reason="expected NAME=POLICY[,POLICY...], e.g. AcmeJumpCloudAdminRO=readonly",
            )
        if not _ROLE_NAME.match(name.strip()):
            raise InvalidSettingError(
                setting=f"--role {text!r}",
                reason="a role name is 1 to 64 letters, digits and +=,.@_- characters",
            )
        return cls(name=name.strip(), policies=items)


@dataclass(frozen=True)
class SetupRequest:
    """What the administrator asked for; ``max_session_duration=None`` keeps existing roles'."""

    provider_name: str
    metadata: IdpMetadata
    roles: tuple[RoleSpec, ...]
    max_session_duration: int | None = None
    #: ``--saml-endpoint`` values: ``global`` or region names, whose sign-in SAML endpoints the
    #: roles must trust (besides those they already trust).
    saml_endpoints: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not _PROVIDER_NAME.match(self.provider_name):
            raise InvalidSettingError(
                setting="--provider-name",
                reason="1 to 128 letters, digits and ._- characters",
            )
        if not self.roles:
            raise InvalidSettingError(setting="--role", reason="give at least one role")
        names = [role.name.lower() for role in self.roles]
        if len(set(names)) != len(names):
            raise InvalidSettingError(setting="--role", reason="a role name is given twice")
        duration = self.max_session_duration
        if duration is not None and not MIN_MAX_SESSION <= duration <= MAX_MAX_SESSION:
            raise InvalidSettingError(
                setting="--max-session-duration",
                reason=f"{duration} is not from {MIN_MAX_SESSION} to {MAX_MAX_SESSION} seconds",
            )


@dataclass(frozen=True)
class Change:
    """One call that changes IAM. ``value`` is what it sets (a policy ARN, a duration, a policy
    or metadata document); ``summary`` says it in words."""

    action: str
    target: str
    value: str
    summary: str

    def to_json(self) -> dict[str, Any]:
        shown: Any = self.value
        if self.action in ("create-role", "update-trust-policy"):
            shown = json.loads(self.value)
        elif self.action in ("create-saml-provider", "update-saml-provider"):
            shown = None  # the metadata document is long and its certificate is in the summary
        return {"action": self.action, "target": self.target, "value": shown}


@dataclass(frozen=True)
class RolePlan:
    """A role as it is after the plan is applied."""

    name: str
    arn: str
    max_session_duration: int
    policy_arns: tuple[str, ...]
    exists: bool


@dataclass(frozen=True)
class SetupPlan:
    partition: str
    account: str
    provider_arn: str
    provider_exists: bool
    roles: tuple[RolePlan, ...]
    changes: tuple[Change, ...]
    #: The sign-in SAML endpoints the roles trust after the changes: JumpCloud's ACS URL must
    #: be one of them.
    endpoints: tuple[str, ...] = ()

    @property
    def session_duration(self) -> int:
        """The longest SessionDuration every role allows: what JumpCloud's attribute should be."""
        return min(role.max_session_duration for role in self.roles)

    def role_attribute_values(self) -> list[str]:
        """The values of JumpCloud's ``https://aws.amazon.com/SAML/Attributes/Role``."""
        return [f"{role.arn},{self.provider_arn}" for role in self.roles]

    def to_json(self) -> dict[str, Any]:
        return {
            "partition": self.partition,
            "account": self.account,
            "saml_provider": self.provider_arn,
            "roles": [
                {
                    "name": role.name,
                    "arn": role.arn,
                    "max_session_duration": role.max_session_duration,
                    "policies": list(role.policy_arns),
                }
                for role in self.roles
            ],
            "changes": [change.to_json() for change in self.changes],
            "jumpcloud": {
                "Role": self.role_attribute_values(),
                "SessionDuration": self.session_duration,
                "ACS URL": list(self.endpoints),
            },
        }


@dataclass
class AwsAdmin:
    """IAM and STS clients of one credential set; ``read_only`` refuses every changing call."""

    iam: Any
    sts: Any
    read_only: bool = False

    def call(self, operation: str, **params: Any) -> dict[str, Any]:
        """``iam.<operation>(**params)`` with AWS errors turned into jcsaml's."""
        return _call(self.iam, "iam", operation, params)

    def identity(self) -> tuple[str, str]:
        """``(partition, account)`` of the credentials in use."""
        answer = _call(self.sts, "sts", "get_caller_identity", {})
        match = _ARN.match(str(answer.get("Arn", "")))
        if match is None:
            raise IamError(
                operation="sts:GetCallerIdentity",
                code="UnexpectedAnswer",
                message=f"no ARN in the answer ({answer.get('Arn')!r})",
                hint="",
            )
        return match.group(1), str(answer.get("Account") or match.group(2))


def open_aws(
    *,
    profile: str | None = None,
    region: str | None = None,
    read_only: bool = False,
    session_factory: Callable[..., Any] | None = None,
) -> AwsAdmin:
    """Clients from the normal boto3 credential chain (``profile``, else AWS_PROFILE ...).

    With ``read_only`` the IAM client refuses, before sending, any call but Get*/List*: a dry
    run cannot change AWS even through a bug here.
    """
    import boto3
    from botocore.exceptions import BotoCoreError

    try:
        session = (session_factory or boto3.Session)(profile_name=profile)
        region_name = region or session.region_name or "us-east-1"
        iam = session.client("iam", region_name=region_name)
        sts = session.client("sts", region_name=region_name)
    except BotoCoreError as exc:
        raise AwsSessionError(reason=str(exc)) from None
    if read_only:
        iam.meta.events.register("before-call.iam", _refuse_changes)
    return AwsAdmin(iam=iam, sts=sts, read_only=read_only)


def _refuse_changes(model: Any, **_: Any) -> None:
    if not str(model.name).startswith(("Get", "List")):
        raise RuntimeError(f"a dry run must not call iam:{model.name}")


def _call(client: Any, service: str, operation: str, params: Mapping[str, Any]) -> dict[str, Any]:
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        PartialCredentialsError,
    )

    label = f"{service}:{_camel(operation)}"
    # Names only: documents are long, and nothing else in these calls says more.
    _log.debug("%s %s", label, params.get("RoleName") or params.get("SAMLProviderArn") or "")
    try:
        answer: dict[str, Any] = getattr(client, operation)(**params)
        return answer
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "Unknown"))
        raise IamError(
            operation=label,
            code=code,
            message=str(error.get("Message", "no message")).rstrip("."),
            hint=_HINTS.get(code, ""),
        ) from None
    except (NoCredentialsError, PartialCredentialsError):
        raise AwsSessionError(reason="no AWS credentials were found") from None
    except EndpointConnectionError:
        raise _unreachable(client, label, "the connection failed") from None
    except BotoCoreError as exc:
        raise _unreachable(client, label, type(exc).__name__) from None


def _unreachable(client: Any, label: str, reason: str) -> IamUnavailableError:
    endpoint = str(getattr(getattr(client, "meta", None), "endpoint_url", "") or "AWS")
    host = urlsplit(endpoint).hostname or ""
    standard = partitions.is_service_host(host)
    return IamUnavailableError(
        operation=label,
        code="",
        message="",
        hint="",
        endpoint=endpoint,
        reason=reason,
        override="" if standard else _OVERRIDE_HINT,
    )


def _camel(operation: str) -> str:
    special = {"saml": "SAML"}
    return "".join(special.get(part, part.capitalize()) for part in operation.split("_"))


def is_missing(exc: IamError) -> bool:
    return str(exc.code) in ("NoSuchEntity", "NoSuchEntityException", "NotFoundException")


# --- planning ---------------------------------------------------------------------------------


def resolve_policies(spec: RoleSpec, partition: str) -> tuple[str, ...]:
    arns: list[str] = []
    for policy in spec.policies:
        arn = policies.policy_arn(policy, partition)
        if arn is None:
            raise InvalidSettingError(
                setting=f"--role {spec.name}",
                reason=f"{policy!r} is not a policy shortcut (readonly, admin, billing, ec2), an "
                f"AWS managed policy name or a policy ARN in partition {partition}",
            )
        if arn not in arns:
            arns.append(arn)
    return tuple(arns)


def plan_setup(request: SetupRequest, aws: AwsAdmin, *, partition: str, account: str) -> SetupPlan:
    """The changes that make IAM match ``request``; reads IAM, changes nothing.

    Raises ManagedPolicyNotFoundError for a policy that does not exist, IamError for any other
    refusal, before anything could have been changed.
    """
    if partition not in partitions.SAML_SIGNIN_URLS:
        raise AwsSessionError(
            reason=f"the credentials are in partition {partition!r}, which has "
            "no SAML sign-in jcsaml knows"
        )
    try:
        endpoints = tuple(
            dict.fromkeys(
                partitions.saml_endpoint(partition, where) for where in request.saml_endpoints
            )
        )
    except ValueError as exc:
        raise InvalidSettingError(setting="--saml-endpoint", reason=str(exc)) from None
    changes: list[Change] = []
    provider_arn = partitions.provider_arn(partition, account, request.provider_name)
    wanted_certs = ", ".join(_fingerprints(request.metadata.certificates))
    provider_exists = True
    try:
        found = aws.call("get_saml_provider", SAMLProviderArn=provider_arn)
    except IamError as exc:
        if not is_missing(exc):
            raise
        provider_exists = False
        changes.append(
            Change(
                "create-saml-provider",
                provider_arn,
                request.metadata.xml,
                f"create SAML provider {request.provider_name} (entity ID "
                f"{request.metadata.entity_id}, certificate SHA-256 {wanted_certs})",
            )
        )
    else:
        if not _same_metadata(str(found.get("SAMLMetadataDocument") or ""), request.metadata):
            changes.append(
                Change(
                    "update-saml-provider",
                    provider_arn,
                    request.metadata.xml,
                    f"update SAML provider {request.provider_name} to entity ID "
                    f"{request.metadata.entity_id}, certificate SHA-256 {wanted_certs}",
                )
            )

    roles = []
    trusted: list[str] = []
    for spec in request.roles:
        policy_arns = resolve_policies(spec, partition)
        role, role_changes, role_endpoints = _plan_role(
            spec, policy_arns, request, aws, partition, account, provider_arn, endpoints
        )
        roles.append(role)
        changes.extend(role_changes)
        trusted.extend(role_endpoints)
    return SetupPlan(
        partition=partition,
        account=account,
        provider_arn=provider_arn,
        provider_exists=provider_exists,
        roles=tuple(roles),
        changes=tuple(changes),
        endpoints=tuple(dict.fromkeys(trusted)),
    )


def _plan_role(
    spec: RoleSpec,
    policy_arns: Sequence[str],
    request: SetupRequest,
    aws: AwsAdmin,
    partition: str,
    account: str,
    provider_arn: str,
    endpoints: Sequence[str] = (),
) -> tuple[RolePlan, list[Change], list[str]]:
    """The role's plan, its changes, and the sign-in SAML endpoints it trusts after them."""
    changes: list[Change] = []
    try:
        role = aws.call("get_role", RoleName=spec.name)["Role"]
    except IamError as exc:
        if not is_missing(exc):
            raise
        role = None
    if role is None:
        arn = partitions.role_arn(partition, account, spec.name)
        duration = request.max_session_duration or DEFAULT_MAX_SESSION
        trust = saml_trust_policy(provider_arn, partition, endpoints)
        document = json.dumps(trust)
        trusted = judge_trust(trust, provider_arn, partition).endpoints
        changes.append(
            Change(
                "create-role",
                arn,
                document,
                f"create role {spec.name} trusting {request.provider_name} "
                f"(MaxSessionDuration {duration} s)",
            )
        )
        attached: list[str] = []
    else:
        arn = str(role["Arn"])
        duration = int(role.get("MaxSessionDuration") or DEFAULT_MAX_SESSION)
        if request.max_session_duration and request.max_session_duration != duration:
            changes.append(
                Change(
                    "set-max-session-duration",
                    arn,
                    str(request.max_session_duration),
                    f"set MaxSessionDuration of {spec.name} from {duration} to "
                    f"{request.max_session_duration} s",
                )
            )
            duration = request.max_session_duration
        policy = load_policy(role.get("AssumeRolePolicyDocument"))
        verdict = judge_trust(policy, provider_arn, partition)
        trusted = verdict.endpoints
        if not verdict.allowed or any(url not in verdict.endpoints for url in endpoints):
            repaired = with_provider_trusted(policy, provider_arn, partition, endpoints)
            trusted = judge_trust(repaired, provider_arn, partition).endpoints
            changes.append(
                Change(
                    "update-trust-policy",
                    arn,
                    json.dumps(repaired),
                    f"update the trust policy of {spec.name} to trust {request.provider_name} "
                    f"with SAML:aud {', '.join(trusted)}",
                )
            )
        attached = _attached_policies(aws, spec.name)
    for policy_arn in policy_arns:
        if policy_arn in attached:
            continue
        try:
            aws.call("get_policy", PolicyArn=policy_arn)
        except IamError as exc:
            if is_missing(exc):
                raise ManagedPolicyNotFoundError(
                    operation="iam:GetPolicy",
                    code=str(exc.code),
                    message=str(exc.message),
                    hint="",
                    policy_arn=policy_arn,
                    partition=partition,
                ) from None
            raise
        changes.append(
            Change("attach-policy", arn, policy_arn, f"attach {policy_arn} to {spec.name}")
        )
    for policy_arn in attached:
        if policy_arn not in policy_arns:
            changes.append(
                Change("detach-policy", arn, policy_arn, f"detach {policy_arn} from {spec.name}")
            )
    plan = RolePlan(
        name=spec.name,
        arn=arn,
        max_session_duration=duration,
        policy_arns=tuple(policy_arns),
        exists=role is not None,
    )
    return plan, changes, list(trusted)


def _attached_policies(aws: AwsAdmin, role_name: str) -> list[str]:
    arns: list[str] = []
    marker: str | None = None
    while True:
        params: dict[str, Any] = {"RoleName": role_name}
        if marker:
            params["Marker"] = marker
        page = aws.call("list_attached_role_policies", **params)
        arns.extend(str(p["PolicyArn"]) for p in page.get("AttachedPolicies", []))
        marker = page.get("Marker") if page.get("IsTruncated") else None
        if not marker:
            return arns


def _same_metadata(document: str, wanted: IdpMetadata) -> bool:
    try:
        held = read_idp_metadata(document)
    except ValueError:
        return False
    return held.entity_id == wanted.entity_id and set(held.certificates) == set(wanted.certificates)


def _fingerprints(certificates: Sequence[str]) -> list[str]:
    from jcsaml.admin.metadata import short_fingerprint

    return [short_fingerprint(pem) for pem in certificates]


# --- applying ---------------------------------------------------------------------------------


def apply_setup(plan: SetupPlan, aws: AwsAdmin) -> None:
    """Make each change of ``plan``, in order: provider, then each role and its policies."""
    if aws.read_only:
        raise RuntimeError("apply_setup needs an AwsAdmin that is not read-only")
    names = {role.arn: role.name for role in plan.roles}
    durations = {role.arn: role.max_session_duration for role in plan.roles}
    for change in plan.changes:
        name = names.get(change.target, "")
        if change.action == "create-saml-provider":
            aws.call(
                "create_saml_provider",
                Name=change.target.rsplit("/", 1)[-1],
                SAMLMetadataDocument=change.value,
            )
        elif change.action == "update-saml-provider":
            aws.call(
                "update_saml_provider",
                SAMLProviderArn=change.target,
                SAMLMetadataDocument=change.value,
            )
        elif change.action == "create-role":
            aws.call(
                "create_role",
                RoleName=name,
                AssumeRolePolicyDocument=change.value,
                MaxSessionDuration=durations[change.target],
                Description="Federated through the SAML provider "
                + plan.provider_arn.rsplit("/", 1)[-1],
            )
        elif change.action == "set-max-session-duration":
            aws.call("update_role", RoleName=name, MaxSessionDuration=int(change.value))
        elif change.action == "update-trust-policy":
            aws.call("update_assume_role_policy", RoleName=name, PolicyDocument=change.value)
        elif change.action == "attach-policy":
            aws.call("attach_role_policy", RoleName=name, PolicyArn=change.value)
        elif change.action == "detach-policy":
            aws.call("detach_role_policy", RoleName=name, PolicyArn=change.value)
        else:  # pragma: no cover - the planner makes only the actions above
            raise ValueError(f"unknown change {change.action!r}")
