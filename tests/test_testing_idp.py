"""The test IdP: keys like the runbook's, JumpCloud-shaped Responses, signatures signxml accepts."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml.algorithms import DigestAlgorithm, SignatureMethod
from signxml.exceptions import InvalidInput, InvalidSignature
from signxml.verifier import SignatureConfiguration, VerifyResult, XMLVerifier

from jcsaml.testing.idp import (
    IdpKeyPair,
    build_saml_response,
    make_saml_response_b64,
    sign_saml_response,
)

NS = {
    "samlp": "urn:oasis:names:tc:SAML:2.0:protocol",
    "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
    "md": "urn:oasis:names:tc:SAML:2.0:metadata",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
}
ROLE_A = "arn:aws:iam::012345678987:role/AcmeJumpCloudAdminRO"
ROLE_B = "arn:aws:iam::012345678987:role/AcmeJumpCloudAdmin"
PROVIDER = "arn:aws:iam::012345678987:saml-provider/JumpCloud"
ROLE_ATTR = "https://aws.amazon.com/SAML/Attributes/Role"


def _verified(xml: bytes, keys: IdpKeyPair, **kwargs: object) -> etree._Element:
    """What signxml reports as signed by ``keys``' certificate."""
    result = XMLVerifier().verify(xml, x509_cert=keys.cert_pem.decode(), **kwargs)  # type: ignore[arg-type]
    assert isinstance(result, VerifyResult) and result.signed_xml is not None
    signed: etree._Element = result.signed_xml
    return signed


def _attr(root: etree._Element, name: str) -> list[str]:
    return [
        v.text or ""
        for v in root.iterfind(
            f".//saml:Attribute[@Name='{name}']/saml:AttributeValue", namespaces=NS
        )
    ]


def test_key_pair_is_like_the_runbooks(keys: IdpKeyPair) -> None:
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    cert = x509.load_pem_x509_certificate(keys.cert_pem)
    key = load_pem_private_key(keys.key_pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 2048
    public = cert.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    assert public.public_numbers() == key.public_key().public_numbers()
    assert cert.subject == cert.issuer
    assert isinstance(cert.signature_hash_algorithm, hashes.SHA256)
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == timedelta(days=1095)
    oids = [a.oid for a in cert.subject]
    for oid in (
        NameOID.COUNTRY_NAME,
        NameOID.STATE_OR_PROVINCE_NAME,
        NameOID.LOCALITY_NAME,
        NameOID.ORGANIZATION_NAME,
        NameOID.ORGANIZATIONAL_UNIT_NAME,
        NameOID.COMMON_NAME,
    ):
        assert oid in oids
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "JumpCloud"


def test_generate_can_make_an_expired_certificate() -> None:
    past = datetime(2020, 1, 1, tzinfo=UTC)
    pair = IdpKeyPair.generate(common_name="Old", days=30, not_before=past)
    cert = x509.load_pem_x509_certificate(pair.cert_pem)
    assert cert.not_valid_before_utc == past
    assert cert.not_valid_after_utc == past + timedelta(days=30)


def test_metadata_names_the_signing_certificate(keys: IdpKeyPair) -> None:
    xml = keys.metadata_xml(entity_id="JumpCloud-acme", sso_url="https://sso.example/saml2/x")
    root = etree.fromstring(xml.encode())
    assert root.tag == f"{{{NS['md']}}}EntityDescriptor"
    assert root.get("entityID") == "JumpCloud-acme"
    b64 = root.findtext(
        "md:IDPSSODescriptor/md:KeyDescriptor[@use='signing']/ds:KeyInfo/ds:X509Data/"
        "ds:X509Certificate",
        namespaces=NS,
    )
    assert b64 is not None
    from_metadata = x509.load_der_x509_certificate(base64.b64decode(b64))
    assert from_metadata == x509.load_pem_x509_certificate(keys.cert_pem)
    locations = root.xpath("//md:SingleSignOnService/@Location", namespaces=NS)
    assert isinstance(locations, list) and {str(x) for x in locations} == {
        "https://sso.example/saml2/x"
    }


def test_response_has_jumpclouds_shape() -> None:
    now = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
    xml = build_saml_response(
        roles=[(ROLE_A, PROVIDER), (ROLE_B, PROVIDER)], now=now, session_duration=7200
    )
    root = etree.fromstring(xml)
    assert root.tag == f"{{{NS['samlp']}}}Response"
    assert root.get("Version") == "2.0" and root.get("ID")
    assert root.get("Destination") == "https://signin.aws.amazon.com/saml"
    assert root.get("IssueInstant") == "2025-03-01T12:00:00Z"
    assert root.findtext("saml:Issuer", namespaces=NS) == "JumpCloud"
    status = root.find("samlp:Status/samlp:StatusCode", namespaces=NS)
    assert status is not None and status.get("Value", "").endswith(":Success")
    assertions = root.findall("saml:Assertion", namespaces=NS)
    assert len(assertions) == 1
    assertion = assertions[0]
    assert assertion.findtext("saml:Subject/saml:NameID", namespaces=NS) == "alice@acme.example"
    data = assertion.find("saml:Subject/saml:SubjectConfirmation/saml:SubjectConfirmationData", NS)
    assert data is not None
    assert data.get("NotOnOrAfter") == "2025-03-01T12:05:00Z"
    assert data.get("Recipient") == "https://signin.aws.amazon.com/saml"
    conditions = assertion.find("saml:Conditions", NS)
    assert conditions is not None
    assert conditions.get("NotBefore") == "2025-03-01T12:00:00Z"
    assert conditions.get("NotOnOrAfter") == "2025-03-01T12:05:00Z"
    assert (
        conditions.findtext("saml:AudienceRestriction/saml:Audience", namespaces=NS)
        == "urn:amazon:webservices"
    )
    assert assertion.find("saml:AuthnStatement", NS) is not None
    assert _attr(root, ROLE_ATTR) == [f"{ROLE_A},{PROVIDER}", f"{ROLE_B},{PROVIDER}"]
    assert _attr(root, "https://aws.amazon.com/SAML/Attributes/RoleSessionName") == [
        "alice@acme.example"
    ]
    assert _attr(root, "https://aws.amazon.com/SAML/Attributes/SessionDuration") == ["7200"]


def test_response_options() -> None:
    xml = build_saml_response(
        roles=[(ROLE_A, PROVIDER)],
        principal_first=True,
        session_duration=None,
        role_session_name="alice",
        audience="urn:example:other",
        destination="https://signin.amazonaws.cn/saml",
        lifetime=timedelta(seconds=30),
        now=datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC),
    )
    root = etree.fromstring(xml)
    assert _attr(root, ROLE_ATTR) == [f"{PROVIDER},{ROLE_A}"]
    assert _attr(root, "https://aws.amazon.com/SAML/Attributes/SessionDuration") == []
    assert _attr(root, "https://aws.amazon.com/SAML/Attributes/RoleSessionName") == ["alice"]
    assert root.findtext(".//saml:Audience", namespaces=NS) == "urn:example:other"
    assert root.get("Destination") == "https://signin.amazonaws.cn/saml"
    conditions = root.find(".//saml:Conditions", NS)
    assert conditions is not None and conditions.get("NotOnOrAfter") == "2025-03-01T12:00:30Z"


def test_special_characters_are_escaped() -> None:
    xml = build_saml_response(roles=[(ROLE_A, PROVIDER)], subject='o"brien&<co>@acme.example')
    root = etree.fromstring(xml)
    assert root.findtext(".//saml:NameID", namespaces=NS) == 'o"brien&<co>@acme.example'


@pytest.mark.parametrize(
    ("mode", "signed_tag", "signed_parents"),
    [
        ("assertion", "Assertion", ["Assertion"]),
        ("response", "Response", ["Response"]),
        ("both", "Response", ["Response", "Assertion"]),
    ],
)
def test_signxml_accepts_each_signing_mode(
    keys: IdpKeyPair, mode: str, signed_tag: str, signed_parents: list[str]
) -> None:
    xml = build_saml_response(roles=[(ROLE_A, PROVIDER)])
    signed = sign_saml_response(xml, keys, sign=mode)  # type: ignore[arg-type]
    assert _verified(signed, keys).tag.endswith("}" + signed_tag)
    root = etree.fromstring(signed)
    signatures = root.findall(".//ds:Signature", NS)
    assert [etree.QName(s.getparent()).localname for s in signatures] == signed_parents
    for sig in signatures:
        # Where the SAML schema wants it: right after the signed element's Issuer.
        previous = sig.getprevious()
        assert previous is not None and previous.tag == f"{{{NS['saml']}}}Issuer"
        c14n = sig.find("ds:SignedInfo/ds:CanonicalizationMethod", NS)
        assert c14n is not None
        assert c14n.get("Algorithm") == "http://www.w3.org/2001/10/xml-exc-c14n#"
    if mode == "both":
        assertion = root.find("saml:Assertion", NS)
        assert assertion is not None
        assert _verified(etree.tostring(assertion), keys).tag.endswith("}Assertion")


def test_another_certificate_does_not_verify(keys: IdpKeyPair) -> None:
    other = IdpKeyPair.generate()
    signed = sign_saml_response(build_saml_response(roles=[(ROLE_A, PROVIDER)]), keys)
    with pytest.raises(InvalidSignature):
        XMLVerifier().verify(signed, x509_cert=other.cert_pem.decode())


def test_tampering_after_signing_is_detected(keys: IdpKeyPair) -> None:
    signed = sign_saml_response(build_saml_response(roles=[(ROLE_A, PROVIDER)]), keys)
    tampered = signed.replace(b"AcmeJumpCloudAdminRO", b"AcmeJumpCloudAdminXX")
    with pytest.raises(InvalidSignature):
        XMLVerifier().verify(tampered, x509_cert=keys.cert_pem.decode())


def test_sha1_signatures_can_be_made(keys: IdpKeyPair) -> None:
    signed = sign_saml_response(
        build_saml_response(roles=[(ROLE_A, PROVIDER)]),
        keys,
        signature_algorithm="rsa-sha1",
        digest_algorithm="sha1",
    )
    with pytest.raises(InvalidInput, match="forbidden"):
        _verified(signed, keys)
    config = SignatureConfiguration(
        signature_methods=frozenset({SignatureMethod.RSA_SHA1}),
        digest_algorithms=frozenset({DigestAlgorithm.SHA1}),
    )
    assert _verified(signed, keys, expect_config=config).tag.endswith("}Assertion")


def test_unknown_signing_mode_is_refused(keys: IdpKeyPair) -> None:
    with pytest.raises(ValueError, match="sign must be"):
        sign_saml_response(build_saml_response(roles=[]), keys, sign="document")  # type: ignore[arg-type]


def test_make_saml_response_b64_is_a_signed_form_value(keys: IdpKeyPair) -> None:
    b64 = make_saml_response_b64(keys, roles=[(ROLE_A, PROVIDER)], subject="bob@acme.example")
    xml = base64.b64decode(b64, validate=True)
    signed = _verified(xml, keys)
    assert signed.findtext(".//saml:NameID", namespaces=NS) == "bob@acme.example"
    assert _attr(signed, ROLE_ATTR) == [f"{ROLE_A},{PROVIDER}"]


def test_key_pair_from_files(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization

    keys = IdpKeyPair.generate()
    key = serialization.load_pem_private_key(keys.key_pem, password=None)
    # A PKCS#1 key, as older openssl genrsa writes it, is kept as PKCS#8.
    (tmp_path / "old.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    (tmp_path / "idp.crt").write_bytes(keys.cert_pem)
    assert IdpKeyPair.from_files(tmp_path / "old.key", tmp_path / "idp.crt") == keys
    (tmp_path / "other.crt").write_bytes(IdpKeyPair.generate().cert_pem)
    with pytest.raises(ValueError, match="is not the certificate of the key"):
        IdpKeyPair.from_files(tmp_path / "old.key", tmp_path / "other.crt")
