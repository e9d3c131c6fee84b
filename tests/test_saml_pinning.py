"""Trust on first use at the parser: pinned fingerprints, embedded certificates, what is quoted,
what ``signed`` covers, the role cap and the NameID; every document signed for real."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from lxml import etree

from jcsaml.errors import (
    SamlCertificateChangedError,
    SamlDestinationError,
    SamlNoCertificateError,
    SamlSignatureInvalidError,
    SamlSignatureMissingError,
    SamlStatusError,
    SamlTooManyRolesError,
)
from jcsaml.saml import MAX_ROLES, certificate_sha256, parse_saml_response, show_fingerprint
from jcsaml.testing.idp import DS_NS, SAML_NS, SAMLP_NS, IdpKeyPair, build_saml_response
from jcsaml.testing.idp import sign_saml_response as sign

NOW = datetime(2025, 6, 2, 9, 30, tzinfo=UTC)
PROVIDER = "arn:aws:iam::012345678987:saml-provider/JumpCloud"
ROLE = "arn:aws:iam::012345678987:role/AcmeJumpCloudAdminRO"


@pytest.fixture(scope="module")
def keys() -> IdpKeyPair:
    return IdpKeyPair.generate(not_before=NOW - timedelta(days=30))


@pytest.fixture(scope="module")
def forger() -> IdpKeyPair:
    return IdpKeyPair.generate(not_before=NOW - timedelta(days=30))


def doc(**kwargs: Any) -> bytes:
    kwargs.setdefault("roles", [(ROLE, PROVIDER)])
    return build_saml_response(now=NOW, **kwargs)


def parse(xml: bytes, **kwargs: Any) -> Any:
    if not {"idp_cert", "idp_cert_sha256", "trust_embedded_cert"} & kwargs.keys():
        kwargs["verify"] = False  # these read what a response says
    return parse_saml_response(base64.b64encode(xml).decode("ascii"), now=NOW, **kwargs)


def fingerprint(keys: IdpKeyPair) -> str:
    return certificate_sha256(keys.cert_pem)


def test_fingerprint_is_the_certificates_sha256_in_both_forms(keys: IdpKeyPair) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    expected = x509.load_pem_x509_certificate(keys.cert_pem).fingerprint(hashes.SHA256()).hex()
    assert fingerprint(keys) == expected
    assert certificate_sha256(keys.metadata_xml()) == expected
    shown = show_fingerprint(expected)
    assert shown.replace(":", "").lower() == expected and len(shown) == 95
    assert show_fingerprint(shown) == shown


def test_first_use_verifies_with_the_embedded_certificate_and_names_it(keys: IdpKeyPair) -> None:
    result = parse(sign(doc(), keys), trust_embedded_cert=True)
    assert result.signed and result.signer_sha256 == fingerprint(keys)


@pytest.mark.parametrize("what", ["response", "both"])
def test_first_use_with_a_signed_response(keys: IdpKeyPair, what: str) -> None:
    result = parse(sign(doc(), keys, sign=what), trust_embedded_cert=True)  # type: ignore[arg-type]
    assert result.signer_sha256 == fingerprint(keys)


def test_first_use_refuses_a_signature_that_does_not_verify(keys: IdpKeyPair) -> None:
    tampered = sign(doc(), keys).replace(b"AcmeJumpCloudAdminRO", b"AcmeJumpCloudAdminRW")
    with pytest.raises(SamlSignatureInvalidError):
        parse(tampered, trust_embedded_cert=True)


def test_first_use_reads_an_unsigned_or_certificate_less_response_unverified(
    keys: IdpKeyPair,
) -> None:
    for xml in (doc(), sign(doc(), keys, embed_certificate=False)):
        result = parse(xml, trust_embedded_cert=True)
        assert not result.signed and result.signer_sha256 is None


def test_pinned_certificate_is_accepted_in_either_fingerprint_form(keys: IdpKeyPair) -> None:
    xml = sign(doc(), keys)
    for pin in (fingerprint(keys), show_fingerprint(fingerprint(keys))):
        assert parse(xml, idp_cert_sha256=pin).signer_sha256 == fingerprint(keys)


def test_another_certificate_than_the_pinned_one_is_refused_with_both_fingerprints(
    keys: IdpKeyPair, forger: IdpKeyPair
) -> None:
    forged = sign(doc(roles=[("arn:aws:iam::012345678987:role/Evil", PROVIDER)]), forger)
    with pytest.raises(SamlCertificateChangedError) as caught:
        parse(forged, idp_cert_sha256=fingerprint(keys))
    message = str(caught.value)
    assert show_fingerprint(fingerprint(keys)) in message
    assert show_fingerprint(fingerprint(forger)) in message
    assert "--trust-new-cert" in message and "--idp-cert NEW.pem" in message
    assert "Evil" not in message


def test_pinned_certificate_inside_a_forged_signature_is_still_refused(
    keys: IdpKeyPair, forger: IdpKeyPair
) -> None:
    # Signed by the forger, but KeyInfo claims the genuine certificate.
    forged = sign(doc(), forger)
    genuine_b64 = keys.cert_base64().encode()
    root = etree.fromstring(forged)
    for element in root.iter(f"{{{DS_NS}}}X509Certificate"):
        element.text = genuine_b64.decode()
    with pytest.raises(SamlSignatureInvalidError):
        parse(etree.tostring(root), idp_cert_sha256=fingerprint(keys))


def test_pinned_but_unsigned_or_without_certificate_is_refused(keys: IdpKeyPair) -> None:
    with pytest.raises(SamlSignatureMissingError):
        parse(doc(), idp_cert_sha256=fingerprint(keys))
    with pytest.raises(SamlNoCertificateError) as caught:
        parse(sign(doc(), keys, embed_certificate=False), idp_cert_sha256=fingerprint(keys))
    assert show_fingerprint(fingerprint(keys)) in str(caught.value)


def failure_status(value: str) -> bytes:
    return doc().replace(b"urn:oasis:names:tc:SAML:2.0:status:Success", value.encode())


def test_unsigned_status_is_never_quoted_when_a_signature_is_expected(keys: IdpKeyPair) -> None:
    spoof = "urn:oasis:names:tc:SAML:2.0:status:Responder CALL-THE-HELPDESK-555-0100"
    for kwargs in ({"idp_cert": keys.cert_pem}, {"idp_cert_sha256": fingerprint(keys)}):
        with pytest.raises(SamlStatusError) as caught:
            parse(failure_status(spoof), **kwargs)
        assert "HELPDESK" not in str(caught.value) and "not shown" in str(caught.value)
    with pytest.raises(SamlStatusError, match="HELPDESK"):
        parse(failure_status(spoof))


def swap_destination(xml: bytes, destination: str) -> bytes:
    root = etree.fromstring(xml)
    assert root.tag == f"{{{SAMLP_NS}}}Response"
    root.set("Destination", destination)
    return etree.tostring(root)


def test_signed_covers_no_value_from_the_unsigned_response(keys: IdpKeyPair) -> None:
    # Only the Assertion is signed: the Response's Destination can be anything.
    xml = swap_destination(sign(doc(), keys), "https://evil.example/saml")
    result = parse(xml, idp_cert=keys.cert_pem)
    assert result.signed
    assert result.destination == "https://signin.aws.amazon.com/saml"  # the signed Recipient
    with pytest.raises(SamlDestinationError, match=r"evil\.example"):
        parse(xml)  # unverified: the Response's own Destination, checked and quoted


def test_a_signed_response_destination_is_read_from_the_signed_copy(keys: IdpKeyPair) -> None:
    xml = sign(doc(destination="https://us-east-2.signin.aws.amazon.com/saml"), keys, sign="both")
    result = parse(xml, idp_cert=keys.cert_pem)
    assert result.destination == "https://us-east-2.signin.aws.amazon.com/saml"


def test_name_id_is_read_from_the_signed_assertion(keys: IdpKeyPair) -> None:
    result = parse(sign(doc(subject="Bob@Acme.Example"), keys), idp_cert=keys.cert_pem)
    assert result.name_id == "Bob@Acme.Example"


def many_roles(
    count: int, *, distinct: int | None = None, provider: str = PROVIDER
) -> list[tuple[str, str]]:
    return [
        (f"arn:aws:iam::012345678987:role/Role{i % (distinct or count)}", provider)
        for i in range(count)
    ]


def compact_doc(roles: list[tuple[str, str]]) -> bytes:
    """The builder's document with the Role attribute's values written tersely, so 6000 of them
    stay under the 1 MiB size limit."""
    values = "".join(f"<saml:AttributeValue>{r},{p}</saml:AttributeValue>" for r, p in roles)
    root = etree.fromstring(doc())
    attribute = next(
        a for a in root.iter(f"{{{SAML_NS}}}Attribute") if a.get("Name", "").endswith("/Role")
    )
    marker = "ROLE-VALUES-GO-HERE"
    for child in list(attribute):
        attribute.remove(child)
    attribute.text = marker
    return etree.tostring(root).replace(marker.encode(), values.encode())


def test_six_thousand_roles_are_refused_with_the_cap() -> None:
    xml = compact_doc(many_roles(6000, provider="arn:aws:iam::012345678987:saml-provider/J"))
    assert len(base64.b64encode(xml)) < 1024 * 1024
    with pytest.raises(SamlTooManyRolesError) as caught:
        parse(xml)
    assert "6000" in str(caught.value) and str(MAX_ROLES) in str(caught.value)


def test_the_largest_allowed_number_of_roles_is_read_in_order_without_duplicates(
    keys: IdpKeyPair,
) -> None:
    result = parse(sign(doc(roles=many_roles(MAX_ROLES)), keys), idp_cert=keys.cert_pem)
    assert len(result.roles) == MAX_ROLES
    assert [r.role_name for r in result.roles[:3]] == ["Role0", "Role1", "Role2"]
    repeated = parse(doc(roles=many_roles(MAX_ROLES, distinct=7)))
    assert [r.role_name for r in repeated.roles] == [f"Role{i}" for i in range(7)]


def test_assertion_text_reaches_messages_escaped() -> None:
    from jcsaml.errors import SamlAudienceError

    evil = "urn:evil\u202e\u009b2K\nlater"
    with pytest.raises(SamlAudienceError) as caught:
        parse(doc(audience=evil))
    message = str(caught.value)
    assert all(c not in message for c in ("\u202e", "\u009b", "\n"))
    assert "\\u202e" in message and "\\x9b" in message
    assert caught.value.audience.startswith("urn:evil\u202e")  # the field keeps the raw value


def test_issuer_and_subject_namespaces_are_saml() -> None:
    # A guard for the paths used above: the builder writes saml:Subject/saml:NameID.
    root = etree.fromstring(doc())
    assert root.find(f".//{{{SAML_NS}}}Subject/{{{SAML_NS}}}NameID") is not None
