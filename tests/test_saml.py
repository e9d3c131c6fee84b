"""Reading the SAML Response: roles, duration, expiry, destination, and the assertion checks."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest

from jcsaml import errors
from jcsaml.saml import AwsRole, SamlAssertion, parse_saml_response
from jcsaml.testing.idp import build_saml_response

NOW = datetime(2025, 6, 2, 9, 30, tzinfo=UTC)

RO = "arn:aws:iam::012345678987:role/AcmeJumpCloudAdminRO"
ADMIN = "arn:aws:iam::012345678987:role/AcmeJumpCloudAdmin"
PROVIDER = "arn:aws:iam::012345678987:saml-provider/JumpCloud"
CN_ROLE = "arn:aws-cn:iam::210987654321:role/Developers"
CN_PROVIDER = "arn:aws-cn:iam::210987654321:saml-provider/JumpCloud"
GOV_ROLE = "arn:aws-us-gov:iam::111122223333:role/path/to/Billing"
GOV_PROVIDER = "arn:aws-us-gov:iam::111122223333:saml-provider/JumpCloud-Gov"


def b64(xml: bytes) -> str:
    return base64.b64encode(xml).decode("ascii")


def parse(xml: bytes, **kwargs: object) -> SamlAssertion:
    kwargs.setdefault("now", NOW)
    if not {"idp_cert", "idp_cert_sha256", "trust_embedded_cert"} & kwargs.keys():
        kwargs["verify"] = False  # these tests read what a response says
    return parse_saml_response(b64(xml), **kwargs)  # type: ignore[arg-type]


def response(**kwargs: object) -> bytes:
    kwargs.setdefault("roles", [(RO, PROVIDER)])
    kwargs.setdefault("now", NOW)
    return build_saml_response(**kwargs)  # type: ignore[arg-type]


def role_value_doc(*values: str, attribute_xml: str | None = None) -> bytes:
    """A JumpCloud-shaped response whose Role attribute holds exactly ``values``."""
    items = "".join(f"<saml:AttributeValue>{v}</saml:AttributeValue>" for v in values)
    attribute = attribute_xml or (
        f'<saml:Attribute Name="https://aws.amazon.com/SAML/Attributes/Role">{items}'
        "</saml:Attribute>"
    )
    return (
        '<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
        'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r" Version="2.0">'
        '<saml:Assertion ID="_a" Version="2.0">'
        "<saml:Issuer>JumpCloud</saml:Issuer>"
        "<saml:Conditions><saml:AudienceRestriction><saml:Audience>urn:amazon:webservices"
        "</saml:Audience></saml:AudienceRestriction></saml:Conditions>"
        f"<saml:AttributeStatement>{attribute}</saml:AttributeStatement>"
        "</saml:Assertion></samlp:Response>"
    ).encode()


# --- reading ---------------------------------------------------------------------------------


def test_reads_roles_duration_expiry_destination_and_session_name() -> None:
    result = parse(
        response(
            roles=[(RO, PROVIDER), (ADMIN, PROVIDER)],
            session_duration=7200,
            role_session_name="alice",
            lifetime=timedelta(minutes=5),
        )
    )
    assert result.roles == [AwsRole(RO, PROVIDER), AwsRole(ADMIN, PROVIDER)]
    assert result.session_duration == 7200
    assert result.role_session_name == "alice"
    assert result.not_on_or_after == NOW + timedelta(minutes=5)
    assert result.not_before == NOW
    assert result.destination == "https://signin.aws.amazon.com/saml"
    assert result.audience == "urn:amazon:webservices"
    assert result.issuer == "JumpCloud"
    assert result.signed is False


def test_raw_is_the_base64_sts_needs() -> None:
    xml = response()
    encoded = b64(xml)
    wrapped = "\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76))
    assert parse_saml_response(encoded, now=NOW, verify=False).raw == encoded
    # A form field wrapped at 76 columns still decodes, and STS gets it without line breaks.
    assert parse_saml_response(wrapped + "\n", now=NOW, verify=False).raw == encoded


def test_principal_first_order_gives_the_same_roles() -> None:
    role_first = parse(response(roles=[(RO, PROVIDER)]))
    principal_first = parse(response(roles=[(RO, PROVIDER)], principal_first=True))
    assert principal_first.roles == role_first.roles == [AwsRole(RO, PROVIDER)]


@pytest.mark.parametrize(
    ("role", "provider", "destination", "partition"),
    [
        (CN_ROLE, CN_PROVIDER, "https://signin.amazonaws.cn/saml", "aws-cn"),
        (GOV_ROLE, GOV_PROVIDER, "https://signin.amazonaws-us-gov.com/saml", "aws-us-gov"),
    ],
)
@pytest.mark.parametrize("principal_first", [False, True])
def test_other_partitions(
    role: str, provider: str, destination: str, partition: str, principal_first: bool
) -> None:
    result = parse(
        response(roles=[(role, provider)], destination=destination, principal_first=principal_first)
    )
    assert result.roles == [AwsRole(role, provider)]
    assert result.roles[0].partition == partition
    assert result.destination == destination


def test_role_properties() -> None:
    role = AwsRole(GOV_ROLE, GOV_PROVIDER)
    assert (role.partition, role.account_id, role.role_name) == (
        "aws-us-gov",
        "111122223333",
        "Billing",
    )


def test_whitespace_around_role_values_is_ignored() -> None:
    result = parse(role_value_doc(f"\n   {RO} ,\t{PROVIDER}  \n", f"{PROVIDER},{ADMIN}"))
    assert result.roles == [AwsRole(RO, PROVIDER), AwsRole(ADMIN, PROVIDER)]


def test_duplicate_role_values_are_offered_once() -> None:
    result = parse(role_value_doc(f"{RO},{PROVIDER}", f"{PROVIDER},{RO}"))
    assert result.roles == [AwsRole(RO, PROVIDER)]


def test_prefixes_other_than_saml_and_samlp() -> None:
    xml = (
        response(roles=[(RO, PROVIDER)], role_session_name="bob")
        .replace(b"<samlp:", b"<p2:")
        .replace(b"</samlp:", b"</p2:")
        .replace(b"xmlns:samlp=", b"xmlns:p2=")
        .replace(b"<saml:", b"<a:")
        .replace(b"</saml:", b"</a:")
        .replace(b"xmlns:saml=", b"xmlns:a=")
    )
    assert b"saml:" not in xml
    result = parse(xml)
    assert result.roles == [AwsRole(RO, PROVIDER)]
    assert result.role_session_name == "bob"
    assert result.session_duration == 3600


def test_assertion_in_the_default_namespace() -> None:
    xml = (
        response()
        .replace(b"<saml:", b"<")
        .replace(b"</saml:", b"</")
        .replace(b"xmlns:saml=", b"xmlns=")
    )
    assert parse(xml).roles == [AwsRole(RO, PROVIDER)]


def test_element_names_alone_are_not_enough() -> None:
    # Right prefixes, wrong namespace URIs: it is not a SAML Response at all.
    xml = response().replace(b"urn:oasis:names:tc:SAML:2.0:protocol", b"urn:example:not-saml")
    with pytest.raises(errors.SamlNotAResponseError, match=r"not a SAML 2\.0 samlp:Response"):
        parse(xml)


def test_missing_optional_attributes() -> None:
    result = parse(response(session_duration=None))
    assert result.session_duration is None
    xml = role_value_doc(f"{RO},{PROVIDER}")
    bare = parse(xml)
    assert (bare.session_duration, bare.not_on_or_after, bare.destination) == (None, None, None)
    assert bare.role_session_name is None


# --- what is refused ------------------------------------------------------------------------


def test_no_role_attribute_says_the_app_sends_none() -> None:
    other = (
        '<saml:Attribute Name="https://aws.amazon.com/SAML/Attributes/RoleSessionName">'
        "<saml:AttributeValue>alice</saml:AttributeValue></saml:Attribute>"
    )
    with pytest.raises(errors.SamlNoRolesError, match="no Role attribute"):
        parse(role_value_doc(attribute_xml=other))
    with pytest.raises(errors.SamlNoRolesError):
        parse(response(roles=[]))


@pytest.mark.parametrize(
    "bad",
    [
        RO,  # no provider
        f"{RO},{ADMIN}",  # two roles
        f"{PROVIDER},{PROVIDER}",  # two providers
        f"{RO},{PROVIDER},{ADMIN}",  # three parts
        f"{RO},{CN_PROVIDER}",  # partitions differ
        # a partition without SAML sign-in, refused as in the config file
        "arn:aws-iso:iam::111122223333:role/R,arn:aws-iso:iam::111122223333:saml-provider/P",
        "arn:aws:iam::12345:role/Short,arn:aws:iam::12345:saml-provider/Short",  # bad account
        "",
    ],
)
def test_role_values_that_are_not_a_pair(bad: str) -> None:
    with pytest.raises(errors.SamlRoleValueError) as caught:
        parse(role_value_doc(f"{RO},{PROVIDER}", bad))
    assert caught.value.count == 1
    assert "1 value(s)" in str(caught.value)


@pytest.mark.parametrize("duration", ["899", "43201", "3600s", "", "-900", "1e3", "36 00"])
def test_session_duration_out_of_range_or_not_a_number(duration: str) -> None:
    xml = response(session_duration=3600).replace(b">3600<", f">{duration}<".encode())
    with pytest.raises(errors.SamlSessionDurationError, match="900 to 43200"):
        parse(xml)


@pytest.mark.parametrize("duration", [900, 43200])
def test_session_duration_limits_are_accepted(duration: int) -> None:
    assert parse(response(session_duration=duration)).session_duration == duration


def test_no_assertion() -> None:
    xml = response()
    start, end = xml.index(b"<saml:Assertion"), xml.index(b"</saml:Assertion>")
    with pytest.raises(errors.SamlNoAssertionError):
        parse(xml[:start] + xml[end + len(b"</saml:Assertion>") :])


def test_two_assertions() -> None:
    xml = response()
    start, end = xml.index(b"<saml:Assertion"), xml.index(b"</samlp:Response>")
    doubled = xml[:end] + xml[start:end] + xml[end:]
    with pytest.raises(errors.SamlMultipleAssertionsError) as caught:
        parse(doubled)
    assert caught.value.count == 2


def test_encrypted_assertion_says_to_turn_encryption_off() -> None:
    xml = (
        b'<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
        b'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">'
        b"<saml:EncryptedAssertion><xenc:EncryptedData "
        b'xmlns:xenc="http://www.w3.org/2001/04/xmlenc#"/></saml:EncryptedAssertion>'
        b"</samlp:Response>"
    )
    with pytest.raises(errors.SamlEncryptedAssertionError, match="turn off assertion encryption"):
        parse(xml)


def test_assertion_not_directly_in_the_response() -> None:
    xml = response().replace(b"<saml:Assertion ", b"<samlp:Extensions><saml:Assertion ")
    xml = xml.replace(b"</saml:Assertion>", b"</saml:Assertion></samlp:Extensions>")
    with pytest.raises(errors.SamlContentError, match="not directly inside"):
        parse(xml)


def test_failure_status_is_reported() -> None:
    xml = response().replace(b"status:Success", b"status:Responder")
    with pytest.raises(errors.SamlStatusError, match="status:Responder"):
        parse(xml)


def test_other_root_element() -> None:
    with pytest.raises(errors.SamlNotAResponseError, match="html"):
        parse(b"<html><body>Sign in to JumpCloud</body></html>")


def test_bad_timestamp() -> None:
    xml = response().replace(b'NotOnOrAfter="', b'NotOnOrAfter="tomorrow', 2)
    with pytest.raises(errors.SamlTimestampError, match="NotOnOrAfter"):
        parse(xml)


# --- assertion checks -----------------------------------------------------------------------


def test_expired_assertion_mentions_the_clock() -> None:
    xml = response(now=NOW - timedelta(minutes=20), lifetime=timedelta(minutes=5))
    with pytest.raises(errors.SamlExpiredError, match="clock") as caught:
        parse(xml)
    assert "2025-06-02 09:15:00 UTC" in str(caught.value)


def test_not_yet_valid_assertion_mentions_the_clock() -> None:
    with pytest.raises(errors.SamlNotYetValidError, match="check the computer's clock"):
        parse(response(now=NOW + timedelta(minutes=10)))


def test_clock_skew_allowance() -> None:
    early = response(now=NOW + timedelta(seconds=90))
    late = response(now=NOW - timedelta(minutes=6), lifetime=timedelta(minutes=5))
    assert parse(early).roles
    assert parse(late).roles
    with pytest.raises(errors.SamlNotYetValidError):
        parse(early, clock_skew=timedelta(seconds=30))
    with pytest.raises(errors.SamlExpiredError):
        parse(late, clock_skew=timedelta(0))


def test_default_now_is_the_current_time() -> None:
    assert parse_saml_response(b64(build_saml_response(roles=[(RO, PROVIDER)])), verify=False).roles
    with pytest.raises(errors.SamlExpiredError):
        parse_saml_response(b64(response()), verify=False)


@pytest.mark.parametrize(
    "audience",
    [
        "urn:amazon:webservices",
        "https://signin.aws.amazon.com/saml",
        "https://us-east-2.signin.aws.amazon.com/saml",
        "urn:amazon:webservices:govcloud",
        "urn:amazon:webservices:cn-north-1",
    ],
)
def test_aws_audiences_are_accepted(audience: str) -> None:
    assert parse(response(audience=audience)).roles


@pytest.mark.parametrize(
    "audience", ["https://sso.jumpcloud.com/saml2/acme", "urn:amazon:webservices:evil", ""]
)
def test_other_audience_says_to_fix_the_app(audience: str) -> None:
    with pytest.raises(errors.SamlAudienceError, match="SP Entity ID"):
        parse(response(audience=audience))


def test_missing_audience_is_refused() -> None:
    xml = response()
    start = xml.index(b"<saml:AudienceRestriction>")
    end = xml.index(b"</saml:AudienceRestriction>") + len(b"</saml:AudienceRestriction>")
    with pytest.raises(errors.SamlAudienceError, match="no audience at all"):
        parse(xml[:start] + xml[end:])


@pytest.mark.parametrize(
    ("role", "provider", "destination"),
    [
        (RO, PROVIDER, "https://signin.amazonaws.cn/saml"),
        (CN_ROLE, CN_PROVIDER, "https://signin.aws.amazon.com/saml"),
        (GOV_ROLE, GOV_PROVIDER, "https://signin.aws.amazon.com/saml"),
        (RO, PROVIDER, "https://evil.example/saml"),
        (RO, PROVIDER, "http://signin.aws.amazon.com/saml"),
    ],
)
def test_destination_must_match_the_partition(role: str, provider: str, destination: str) -> None:
    with pytest.raises(errors.SamlDestinationError, match="ACS URL") as caught:
        parse(response(roles=[(role, provider)], destination=destination))
    assert caught.value.partition == role.split(":")[1]


def test_regional_destination_is_accepted() -> None:
    destination = "https://eu-west-1.signin.aws.amazon.com/saml"
    assert parse(response(destination=destination)).destination == destination


def test_every_error_is_a_saml_error_and_a_value_error() -> None:
    with pytest.raises(errors.SamlError) as caught:
        parse(response(audience="urn:other"))
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"verify": True}, {"verify": False, "trust_embedded_cert": True}],
    ids=["nothing said", "verify alone", "both"],
)
def test_a_trust_decision_is_required(kwargs: dict[str, object]) -> None:
    """Leaving the certificate out never reads an assertion unverified by accident."""
    with pytest.raises(TypeError, match="needs one trust decision"):
        parse_saml_response(b64(response()), now=NOW, **kwargs)  # type: ignore[arg-type]
