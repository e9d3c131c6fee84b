"""Signature verification: genuine responses pass, forged and wrapped ones never do.

Every document here is signed for real with signxml by :mod:`jcsaml.testing.idp`.
"""

from __future__ import annotations

import base64
import copy
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree

from jcsaml.errors import (
    IdpCertificateError,
    IdpCertificateExpiredError,
    IdpCertificateNotYetValidError,
    JcsamlError,
    SamlMultipleAssertionsError,
    SamlSignatureInvalidError,
    SamlSignatureMissingError,
    SamlSignatureWrappingError,
    SamlWeakAlgorithmError,
    SamlWrongCertificateError,
)
from jcsaml.saml import AwsRole, SamlAssertion, load_idp_certificate, parse_saml_response
from jcsaml.testing.idp import (
    DS_NS,
    SAML_NS,
    SAMLP_NS,
    IdpKeyPair,
    build_saml_response,
    sign_saml_response,
)

NOW = datetime(2025, 6, 2, 9, 30, tzinfo=UTC)
PROVIDER = "arn:aws:iam::012345678987:saml-provider/JumpCloud"
GENUINE_ROLE = "arn:aws:iam::012345678987:role/AcmeJumpCloudAdminRO"
EVIL_ROLE = "arn:aws:iam::012345678987:role/EvilFullAdmin"

A = f"{{{SAML_NS}}}"
P = f"{{{SAMLP_NS}}}"
DS = f"{{{DS_NS}}}"


@pytest.fixture(scope="module")
def keys() -> IdpKeyPair:
    return IdpKeyPair.generate(not_before=NOW - timedelta(days=30))


@pytest.fixture(scope="module")
def other_keys() -> IdpKeyPair:
    return IdpKeyPair.generate(not_before=NOW - timedelta(days=30))


def b64(xml: bytes) -> str:
    return base64.b64encode(xml).decode("ascii")


def unsigned(role: str = GENUINE_ROLE, **kwargs: Any) -> bytes:
    return build_saml_response(roles=[(role, PROVIDER)], now=NOW, **kwargs)


def signed(keys: IdpKeyPair, sign: str = "assertion", **kwargs: Any) -> bytes:
    return sign_saml_response(unsigned(**kwargs), keys, sign=sign)  # type: ignore[arg-type]


def verify(xml: bytes, cert: str | bytes, **kwargs: Any) -> SamlAssertion:
    kwargs.setdefault("now", NOW)
    return parse_saml_response(b64(xml), idp_cert=cert, **kwargs)


def tree(xml: bytes) -> etree._Element:
    return etree.fromstring(xml)


def dump(root: etree._Element) -> bytes:
    return etree.tostring(root)


# --- genuine documents ----------------------------------------------------------------------


def reprefix_custom(xml: bytes) -> bytes:
    return (
        xml.replace(b"<samlp:", b"<proto:")
        .replace(b"</samlp:", b"</proto:")
        .replace(b"xmlns:samlp=", b"xmlns:proto=")
        .replace(b"<saml:", b"<as:")
        .replace(b"</saml:", b"</as:")
        .replace(b"xmlns:saml=", b"xmlns:as=")
    )


def reprefix_default(xml: bytes) -> bytes:
    return (
        xml.replace(b"<saml:", b"<").replace(b"</saml:", b"</").replace(b"xmlns:saml=", b"xmlns=")
    )


@pytest.mark.parametrize("sign", ["assertion", "response", "both"])
@pytest.mark.parametrize(
    "reprefix",
    [lambda xml: xml, reprefix_custom, reprefix_default],
    ids=["saml-samlp", "custom-prefixes", "default-namespace"],
)
def test_genuine_response_is_accepted(
    keys: IdpKeyPair, sign: str, reprefix: Callable[[bytes], bytes]
) -> None:
    xml = sign_saml_response(reprefix(unsigned()), keys, sign=sign)  # type: ignore[arg-type]
    result = verify(xml, keys.cert_pem)
    assert result.signed is True
    assert result.roles == [AwsRole(GENUINE_ROLE, PROVIDER)]
    assert result.session_duration == 3600
    assert result.not_on_or_after == NOW + timedelta(minutes=5)
    assert result.destination == "https://signin.aws.amazon.com/saml"


def test_idp_metadata_works_as_the_certificate(keys: IdpKeyPair) -> None:
    xml = signed(keys)
    assert verify(xml, keys.metadata_xml()).signed
    assert verify(xml, keys.metadata_xml().encode()).signed
    assert verify(xml, keys.cert_pem.decode()).signed


def test_without_a_certificate_nothing_is_verified(keys: IdpKeyPair) -> None:
    result = parse_saml_response(b64(signed(keys)), now=NOW, verify=False)
    assert result.signed is False
    assert result.roles == [AwsRole(GENUINE_ROLE, PROVIDER)]


# --- forged and wrapped documents -----------------------------------------------------------


def evil_assertion(**kwargs: Any) -> etree._Element:
    assertion = tree(unsigned(EVIL_ROLE, **kwargs)).find(f"{A}Assertion")
    assert assertion is not None
    return assertion


def genuine(keys: IdpKeyPair, sign: str = "assertion") -> tuple[etree._Element, etree._Element]:
    root = tree(signed(keys, sign))
    assertion = root.find(f"{A}Assertion")
    assert assertion is not None
    return root, assertion


def evil_before(keys: IdpKeyPair) -> bytes:
    root, assertion = genuine(keys)
    assertion.addprevious(evil_assertion())
    return dump(root)


def evil_after(keys: IdpKeyPair) -> bytes:
    root, assertion = genuine(keys)
    assertion.addnext(evil_assertion())
    return dump(root)


def signed_moved_into_extensions(keys: IdpKeyPair) -> bytes:
    root, assertion = genuine(keys)
    assertion.addprevious(evil_assertion())
    extensions = etree.Element(f"{P}Extensions")
    extensions.append(assertion)
    root.insert(1, extensions)
    return dump(root)


def signed_nested_in_advice(keys: IdpKeyPair) -> bytes:
    root, assertion = genuine(keys)
    evil = evil_assertion()
    assertion.addprevious(evil)
    advice = etree.SubElement(evil, f"{A}Advice")
    advice.append(assertion)
    return dump(root)


def signed_hidden_in_ds_object(keys: IdpKeyPair) -> bytes:
    # The classic wrap: the signature moves onto the forged assertion and carries the genuine
    # one in a ds:Object, where its digest still matches.
    root, assertion = genuine(keys)
    signature = assertion.find(f"{DS}Signature")
    assert signature is not None
    evil = evil_assertion()
    assertion.addprevious(evil)
    evil.insert(1, signature)
    etree.SubElement(signature, f"{DS}Object").append(assertion)
    return dump(root)


def duplicate_id(keys: IdpKeyPair) -> bytes:
    root, assertion = genuine(keys)
    evil = evil_assertion()
    evil.set("ID", str(assertion.get("ID")))
    assertion.addprevious(evil)
    return dump(root)


def the_signature(element: etree._Element) -> etree._Element:
    signature = element.find(f"{DS}Signature")
    assert signature is not None
    return signature


def copied_signature_same_id(keys: IdpKeyPair) -> bytes:
    root, assertion = genuine(keys)
    evil = evil_assertion()
    evil.set("ID", str(assertion.get("ID")))
    evil.insert(1, copy.deepcopy(the_signature(assertion)))
    assertion.getparent().replace(assertion, evil)  # type: ignore[union-attr]
    return dump(root)


def copied_signature_own_id(keys: IdpKeyPair) -> bytes:
    root, assertion = genuine(keys)
    evil = evil_assertion()
    evil.insert(1, copy.deepcopy(the_signature(assertion)))
    assertion.getparent().replace(assertion, evil)  # type: ignore[union-attr]
    return dump(root)


def assertion_swapped_in_signed_response(keys: IdpKeyPair) -> bytes:
    root, assertion = genuine(keys, "response")
    root.replace(assertion, evil_assertion())
    return dump(root)


def signed_assertion_removed_from_both_signed(keys: IdpKeyPair) -> bytes:
    root, assertion = genuine(keys, "both")
    root.remove(assertion)
    root.append(evil_assertion())
    return dump(root)


def signature_stripped(keys: IdpKeyPair) -> bytes:
    root, assertion = genuine(keys)
    signature = assertion.find(f"{DS}Signature")
    assert signature is not None
    assertion.remove(signature)
    root.replace(assertion, evil_assertion())
    return dump(root)


def signed_response_wrapped_in_evil_response(keys: IdpKeyPair) -> bytes:
    inner, _ = genuine(keys, "response")
    outer = tree(unsigned(EVIL_ROLE))
    extensions = etree.Element(f"{P}Extensions")
    extensions.append(inner)
    outer.insert(1, extensions)
    outer.insert(2, the_signature(inner))  # signature moved to where it is looked for
    return dump(outer)


def role_edited_after_signing(keys: IdpKeyPair) -> bytes:
    return signed(keys).replace(GENUINE_ROLE.encode(), EVIL_ROLE.encode())


def response_signature_moved_into_extensions(keys: IdpKeyPair) -> bytes:
    root, assertion = genuine(keys, "response")
    root.replace(assertion, evil_assertion())
    extensions = etree.Element(f"{P}Extensions")
    extensions.append(the_signature(root))
    root.insert(1, extensions)
    return dump(root)


# (attack, what stops it, does signxml alone accept it when told to look anywhere)
WRAPPING_ATTACKS: list[tuple[Callable[[IdpKeyPair], bytes], type[JcsamlError], bool]] = [
    (evil_before, SamlMultipleAssertionsError, True),
    (evil_after, SamlMultipleAssertionsError, True),
    (signed_moved_into_extensions, SamlMultipleAssertionsError, True),
    (signed_nested_in_advice, SamlMultipleAssertionsError, True),
    (signed_hidden_in_ds_object, SamlMultipleAssertionsError, True),
    (duplicate_id, SamlMultipleAssertionsError, False),
    (copied_signature_same_id, SamlSignatureInvalidError, False),
    (copied_signature_own_id, SamlSignatureInvalidError, False),
    (assertion_swapped_in_signed_response, SamlSignatureInvalidError, False),
    (signed_assertion_removed_from_both_signed, SamlSignatureInvalidError, False),
    (signature_stripped, SamlSignatureMissingError, False),
    (signed_response_wrapped_in_evil_response, SamlMultipleAssertionsError, True),
    (role_edited_after_signing, SamlSignatureInvalidError, False),
    (response_signature_moved_into_extensions, SamlSignatureWrappingError, False),
]


@pytest.mark.parametrize(
    ("attack", "error", "fools_signxml"),
    WRAPPING_ATTACKS,
    ids=[attack.__name__ for attack, _, _ in WRAPPING_ATTACKS],
)
def test_signature_wrapping_is_refused(
    keys: IdpKeyPair,
    attack: Callable[[IdpKeyPair], bytes],
    error: type[JcsamlError],
    fools_signxml: bool,
) -> None:
    xml = attack(keys)
    with pytest.raises(error) as caught:
        verify(xml, keys.cert_pem)
    assert "EvilFullAdmin" not in str(caught.value)
    # The forged role is really in the document (this is an attack, not a broken file) ...
    assert EVIL_ROLE.encode() in xml
    if error is not SamlMultipleAssertionsError:
        # ... it is what an unverified read would hand to STS ...
        unverified = parse_saml_response(b64(xml), now=NOW, verify=False)
        assert unverified.roles == [AwsRole(EVIL_ROLE, PROVIDER)]
    if fools_signxml:
        # ... and a verifier that looks for the signature anywhere calls it valid.
        from signxml.verifier import SignatureConfiguration, XMLVerifier

        XMLVerifier().verify(
            xml,
            x509_cert=keys.cert_pem.decode(),
            expect_config=SignatureConfiguration(
                location=".//", verification_time=NOW + timedelta(minutes=1)
            ),
        )


def test_unsigned_response_is_refused_when_a_certificate_is_configured(keys: IdpKeyPair) -> None:
    with pytest.raises(SamlSignatureMissingError, match="not signed"):
        verify(unsigned(), keys.cert_pem)


def test_wrong_certificate(keys: IdpKeyPair, other_keys: IdpKeyPair) -> None:
    with pytest.raises(
        SamlWrongCertificateError, match="jcsaml configure -a NAME --idp-cert"
    ) as caught:
        verify(signed(other_keys), keys.cert_pem)
    assert caught.value.signer != caught.value.configured


def test_wrong_certificate_without_key_info(keys: IdpKeyPair, other_keys: IdpKeyPair) -> None:
    root = tree(signed(other_keys))
    for key_info in root.iter(f"{DS}KeyInfo"):
        key_info.getparent().remove(key_info)  # type: ignore[union-attr]
    with pytest.raises(SamlSignatureInvalidError, match="configured IdP certificate"):
        verify(dump(root), keys.cert_pem)


def test_expired_idp_certificate_says_where_to_get_a_new_one() -> None:
    old = IdpKeyPair.generate(not_before=NOW - timedelta(days=1200), days=1095)
    with pytest.raises(IdpCertificateExpiredError) as caught:
        verify(signed(old), old.cert_pem)
    expired_on = (NOW - timedelta(days=1200) + timedelta(days=1095)).date().isoformat()
    assert f"expired on {expired_on}" in str(caught.value)
    assert "jcsaml configure -a NAME --idp-cert" in str(caught.value)


def test_idp_certificate_not_yet_valid() -> None:
    future = IdpKeyPair.generate(not_before=NOW + timedelta(days=2))
    with pytest.raises(IdpCertificateNotYetValidError, match="clock"):
        verify(signed(future), future.cert_pem)


def sha1_signed(keys: IdpKeyPair, signature: str = "rsa-sha1", digest: str = "sha1") -> bytes:
    return sign_saml_response(
        unsigned(), keys, signature_algorithm=signature, digest_algorithm=digest
    )


@pytest.mark.parametrize(
    ("signature", "digest"), [("rsa-sha1", "sha1"), ("rsa-sha1", "sha256"), ("rsa-sha256", "sha1")]
)
def test_sha1_is_refused_without_opt_in(keys: IdpKeyPair, signature: str, digest: str) -> None:
    with pytest.raises(SamlWeakAlgorithmError, match="allow_sha1") as caught:
        verify(sha1_signed(keys, signature, digest), keys.cert_pem)
    assert "sha1" in caught.value.algorithm


def test_sha1_with_opt_in_is_accepted_and_warns_every_time(keys: IdpKeyPair) -> None:
    warnings: list[str] = []
    xml = sha1_signed(keys)
    for _ in range(2):
        result = verify(xml, keys.cert_pem, allow_sha1=True, warn=warnings.append)
        assert result.signed and result.roles == [AwsRole(GENUINE_ROLE, PROVIDER)]
    assert len(warnings) == 2
    assert all("SHA-1" in warning for warning in warnings)


def test_sha1_warning_goes_to_the_log_without_a_callback(
    keys: IdpKeyPair, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="jcsaml.saml"):
        verify(sha1_signed(keys), keys.cert_pem, allow_sha1=True)
    assert "SHA-1" in caplog.text


def test_sha256_signature_does_not_warn(keys: IdpKeyPair) -> None:
    warnings: list[str] = []
    verify(signed(keys), keys.cert_pem, allow_sha1=True, warn=warnings.append)
    assert warnings == []


def test_stronger_algorithms_are_accepted(keys: IdpKeyPair) -> None:
    xml = sign_saml_response(
        unsigned(), keys, signature_algorithm="rsa-sha512", digest_algorithm="sha384"
    )
    assert verify(xml, keys.cert_pem).signed


def test_assertion_checks_apply_to_signed_responses(keys: IdpKeyPair) -> None:
    from jcsaml.errors import SamlAudienceError, SamlExpiredError

    with pytest.raises(SamlAudienceError):
        verify(signed(keys, audience="https://sso.jumpcloud.com/saml2/other"), keys.cert_pem)
    with pytest.raises(SamlExpiredError):
        verify(signed(keys), keys.cert_pem, now=NOW + timedelta(hours=1))


# --- the certificate file -------------------------------------------------------------------


def der(keys: IdpKeyPair) -> bytes:
    return x509.load_pem_x509_certificate(keys.cert_pem).public_bytes(Encoding.DER)


def test_load_idp_certificate_accepts_pem_metadata_and_der(keys: IdpKeyPair) -> None:
    expected = keys.cert_pem.decode()
    assert load_idp_certificate(keys.cert_pem) == expected
    assert load_idp_certificate("\n" + expected + "\n") == expected
    assert load_idp_certificate(keys.metadata_xml()) == expected
    assert load_idp_certificate(der(keys)) == expected
    assert load_idp_certificate(keys.cert_base64()) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("not a certificate", "neither a PEM certificate nor"),
        ("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "cannot be read"),
        ("<html><body>Sign in</body></html>", "not SAML IdP metadata"),
        ("<md:EntityDescriptor", "not well-formed"),
    ],
)
def test_load_idp_certificate_refuses_other_files(text: str, reason: str) -> None:
    with pytest.raises(IdpCertificateError, match=reason):
        load_idp_certificate(text)


def test_metadata_whose_certificate_is_not_ascii_is_refused(keys: IdpKeyPair) -> None:
    body = keys.cert_base64()
    metadata = keys.metadata_xml().replace(body, body[:10] + "\u00e9" + body[10:])
    with pytest.raises(IdpCertificateError, match="characters base64 does not have"):
        load_idp_certificate(metadata)


def test_metadata_without_a_signing_certificate(keys: IdpKeyPair) -> None:
    metadata = keys.metadata_xml().replace('use="signing"', 'use="encryption"')
    with pytest.raises(IdpCertificateError, match="no signing certificate"):
        load_idp_certificate(metadata)


def test_metadata_with_two_signing_certificates(keys: IdpKeyPair, other_keys: IdpKeyPair) -> None:
    first = keys.metadata_xml()
    start = first.index("<md:KeyDescriptor")
    end = first.index("</md:KeyDescriptor>") + len("</md:KeyDescriptor>")
    second_key = other_keys.metadata_xml()[start : start + 10_000]
    second_key = second_key[: second_key.index("</md:KeyDescriptor>") + len("</md:KeyDescriptor>")]
    both = first[:end] + second_key + first[end:]
    with pytest.raises(IdpCertificateError, match="2 signing certificates"):
        load_idp_certificate(both)


def test_pem_with_two_certificates(keys: IdpKeyPair, other_keys: IdpKeyPair) -> None:
    with pytest.raises(IdpCertificateError, match="2 certificates"):
        load_idp_certificate(keys.cert_pem + other_keys.cert_pem)


def test_metadata_with_a_dtd_is_refused(keys: IdpKeyPair) -> None:
    metadata = keys.metadata_xml().replace(
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<?xml version="1.0"?><!DOCTYPE md [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
    )
    with pytest.raises(IdpCertificateError, match="DTD"):
        load_idp_certificate(metadata)


def test_der_certificates_ending_in_whitespace_bytes_are_read_whole() -> None:
    # The last DER byte is part of the signature: about one certificate in forty ends in a byte
    # that is ASCII whitespace, which must not be trimmed away. Re-sign until one does.
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import Encoding

    from jcsaml.saml import load_idp_certificate

    template = x509.load_pem_x509_certificate(IdpKeyPair.generate().cert_pem)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    for serial in range(1, 2000):
        certificate = (
            x509.CertificateBuilder()
            .subject_name(template.subject)
            .issuer_name(template.issuer)
            .public_key(key.public_key())
            .serial_number(serial)
            .not_valid_before(template.not_valid_before_utc)
            .not_valid_after(template.not_valid_after_utc)
            .sign(key, hashes.SHA256())
        )
        der = certificate.public_bytes(Encoding.DER)
        if der[-1:].isspace():
            break
    else:
        raise AssertionError("no certificate ending in a whitespace byte was made")
    expected = certificate.public_bytes(serialization.Encoding.PEM).decode()
    assert load_idp_certificate(der) == expected
