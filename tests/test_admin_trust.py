"""Trust policies, partitions and IdP metadata as jcsaml setup reads and writes them."""

from __future__ import annotations

import pytest

from jcsaml.admin.iam_setup import RoleSpec, SetupRequest
from jcsaml.admin.metadata import build_idp_metadata, read_idp_metadata
from jcsaml.admin.partition import policy_arn
from jcsaml.admin.trust import judge_trust, saml_trust_policy, with_provider_trusted
from jcsaml.errors import InvalidSettingError
from jcsaml.partitions import endpoint_name, is_saml_endpoint, saml_endpoint, signin_url
from jcsaml.testing.idp import IdpKeyPair
from jcsaml.testing.sts import trust_policy_allows

GOV = "arn:aws-us-gov:iam::123456789012:saml-provider/JumpCloud"
OTHER = "arn:aws-us-gov:iam::123456789012:saml-provider/Other"


@pytest.mark.parametrize(
    ("partition", "url"),
    [
        ("aws", "https://signin.aws.amazon.com/saml"),
        ("aws-cn", "https://signin.amazonaws.cn/saml"),
        ("aws-us-gov", "https://signin.amazonaws-us-gov.com/saml"),
    ],
)
def test_each_partition_has_its_audience_and_policy_arns(partition: str, url: str) -> None:
    assert signin_url(partition) == url
    assert policy_arn("readonly", partition) == f"arn:{partition}:iam::aws:policy/ReadOnlyAccess"
    assert (
        policy_arn("billing", partition) == f"arn:{partition}:iam::aws:policy/job-function/Billing"
    )
    assert policy_arn("ec2", partition) == f"arn:{partition}:iam::aws:policy/AmazonEC2FullAccess"
    assert policy_arn("ADMIN", partition) == f"arn:{partition}:iam::aws:policy/AdministratorAccess"
    own = f"arn:{partition}:iam::123456789012:policy/acme/Deploy"
    assert policy_arn(own, partition) == own
    assert policy_arn("arn:aws-xx:iam::aws:policy/ReadOnlyAccess", partition) is None
    assert policy_arn("not a name", partition) is None


def test_the_written_policy_is_what_the_strict_sts_accepts() -> None:
    policy = saml_trust_policy(GOV, "aws-us-gov")
    assert judge_trust(policy, GOV, "aws-us-gov").allowed
    context = {"saml:aud": signin_url("aws-us-gov")}
    assert trust_policy_allows(str(policy).replace("'", '"'), GOV, context)
    assert not trust_policy_allows(str(policy).replace("'", '"'), OTHER, context)


def test_findings() -> None:
    wrong = saml_trust_policy(GOV, "aws")  # SAML:aud of the commercial partition
    verdict = judge_trust(wrong, GOV, "aws-us-gov")
    assert not verdict.allowed
    assert verdict.problems == (
        "its SAML:aud condition expects https://signin.aws.amazon.com/saml, but AWS sets "
        "SAML:aud to https://signin.amazonaws-us-gov.com/saml (or a regional endpoint such as "
        "https://REGION.signin.amazonaws-us-gov.com/saml)",
    )
    other = judge_trust(saml_trust_policy(OTHER, "aws-us-gov"), GOV, "aws-us-gov")
    assert other.problems == (f"it trusts {OTHER}, not {GOV}",)
    assert judge_trust({"Statement": []}, GOV, "aws-us-gov").problems == (
        "it trusts no SAML provider with sts:AssumeRoleWithSAML",
    )
    denied = saml_trust_policy(GOV, "aws-us-gov")
    denied["Statement"].append(
        {"Effect": "Deny", "Principal": {"Federated": GOV}, "Action": "sts:*"}
    )
    assert not judge_trust(denied, GOV, "aws-us-gov").allowed
    noted = saml_trust_policy(GOV, "aws-us-gov")
    noted["Statement"][0]["Condition"]["StringLike"] = {"SAML:sub": "*@acme.example"}
    verdict = judge_trust(noted, GOV, "aws-us-gov")
    assert verdict.allowed and verdict.notes == ("conditions on SAML:sub are not checked here",)


def test_repair_keeps_other_principals() -> None:
    service = {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "*"}
    broken = {
        "Version": "2012-10-17",
        "Statement": [service, *saml_trust_policy(GOV, "aws")["Statement"]],
    }
    repaired = with_provider_trusted(broken, GOV, "aws-us-gov")
    assert repaired["Statement"][0] == service
    assert judge_trust(repaired, GOV, "aws-us-gov").allowed
    assert len(repaired["Statement"]) == 2


def test_metadata_round_trip() -> None:
    keys = IdpKeyPair.generate()
    built = build_idp_metadata(keys.cert_pem.decode(), entity_id="JumpCloud")
    read = read_idp_metadata(built.xml)
    assert (read.entity_id, read.certificates) == ("JumpCloud", (keys.cert_pem.decode(),))
    assert read_idp_metadata(keys.metadata_xml()).certificates == read.certificates
    with pytest.raises(ValueError, match="IDPSSODescriptor"):
        read_idp_metadata("<md:EntityDescriptor xmlns:md='urn:oasis:names:tc:SAML:2.0:metadata'/>")
    with pytest.raises(ValueError, match="DTD"):
        read_idp_metadata('<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>')


def test_request_validation() -> None:
    keys = IdpKeyPair.generate()
    metadata = build_idp_metadata(keys.cert_pem.decode(), entity_id="JumpCloud")
    role = RoleSpec.parse("Ops=readonly, billing")
    assert role == RoleSpec("Ops", ("readonly", "billing"))
    with pytest.raises(InvalidSettingError, match="role name"):
        RoleSpec.parse("no spaces=readonly")
    with pytest.raises(InvalidSettingError, match="3600 to 43200"):
        SetupRequest("JumpCloud", metadata, (role,), max_session_duration=900)
    with pytest.raises(InvalidSettingError, match="given twice"):
        SetupRequest("JumpCloud", metadata, (role, RoleSpec("ops", ("admin",))))
    with pytest.raises(InvalidSettingError, match="--provider-name"):
        SetupRequest("Jump Cloud", metadata, (role,))


REGIONAL = "https://eu-west-1.signin.aws.amazon.com/saml"
AWS_PROVIDER = "arn:aws:iam::123456789012:saml-provider/JumpCloud"


@pytest.mark.parametrize(
    ("partition", "where", "url"),
    [
        ("aws", "global", "https://signin.aws.amazon.com/saml"),
        ("aws", "eu-west-1", REGIONAL),
        ("aws-us-gov", "us-gov-west-1", "https://us-gov-west-1.signin.amazonaws-us-gov.com/saml"),
        ("aws-cn", "cn-north-1", "https://cn-north-1.signin.amazonaws.cn/saml"),
    ],
)
def test_saml_endpoints(partition: str, where: str, url: str) -> None:
    assert saml_endpoint(partition, where) == url
    assert is_saml_endpoint(url, partition)
    assert endpoint_name(url) == where


@pytest.mark.parametrize(
    ("partition", "where"), [("aws", "cn-north-1"), ("aws", "mars"), ("aws-cn", "eu-west-1")]
)
def test_a_region_outside_the_partition_is_refused(partition: str, where: str) -> None:
    with pytest.raises(ValueError, match="not a region of partition"):
        saml_endpoint(partition, where)


def test_a_regional_endpoint_is_trusted_and_kept_on_repair() -> None:
    regional = saml_trust_policy(AWS_PROVIDER, "aws", [REGIONAL])
    verdict = judge_trust(regional, AWS_PROVIDER, "aws")
    assert verdict.allowed and verdict.endpoints == (REGIONAL,)
    assert not is_saml_endpoint("https://evil.example/saml", "aws")
    # A repair that adds the global endpoint keeps the regional one.
    repaired = with_provider_trusted(
        regional, AWS_PROVIDER, "aws", ["https://signin.aws.amazon.com/saml"]
    )
    assert judge_trust(repaired, AWS_PROVIDER, "aws").endpoints == (
        "https://signin.aws.amazon.com/saml",
        REGIONAL,
    )
    assert with_provider_trusted(regional, AWS_PROVIDER, "aws")["Statement"][0]["Condition"] == {
        "StringEquals": {"SAML:aud": REGIONAL}
    }
