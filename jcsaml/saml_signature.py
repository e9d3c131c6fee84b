"""Verifying a SAML response's signature, and the IdP certificates it is verified with: one
loaded from PEM, DER or IdP metadata, or the one a response names, checked against the SHA-256
fingerprint jcsaml pinned.

signxml, lxml and cryptography are imported inside the functions that use them, so importing
this module stays cheap.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import dataclasses
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from jcsaml.errors import (
    IdpCertificateError,
    IdpCertificateExpiredError,
    IdpCertificateNotYetValidError,
    SamlCertificateChangedError,
    SamlDecodeError,
    SamlForbiddenXmlError,
    SamlNoCertificateError,
    SamlSignatureInvalidError,
    SamlSignatureMissingError,
    SamlSignatureWrappingError,
    SamlWeakAlgorithmError,
    SamlWrongCertificateError,
)
from jcsaml.saml_xml import (
    ASCII_WHITESPACE,
    ASSERTION,
    DS_NS,
    MAX_RESPONSE_BYTES,
    SIGNATURE,
    X509_CERTIFICATE,
    idp_descriptors,
    parse_xml,
    safe_parser,
    show_time,
    signing_certificates,
)

if TYPE_CHECKING:
    from cryptography import x509
    from lxml import etree


def certificate_sha256(certificate: x509.Certificate | str | bytes) -> str:
    """The SHA-256 fingerprint of a certificate (object, or anything :func:`load_idp_certificate`
    reads), as 64 lowercase hex digits."""
    from cryptography.hazmat.primitives import hashes

    if isinstance(certificate, (str, bytes)):
        certificate = load_certificate(load_idp_certificate(certificate))
    return certificate.fingerprint(hashes.SHA256()).hex()


def show_fingerprint(sha256_hex: str) -> str:
    """``AB:CD:...``, the form ``openssl x509 -fingerprint -sha256`` prints, to compare by eye."""
    digits = normalized_fingerprint(sha256_hex).upper()
    return ":".join(digits[i : i + 2] for i in range(0, len(digits), 2))


def normalized_fingerprint(text: str) -> str:
    """A SHA-256 fingerprint as lowercase hex digits, without openssl's colons."""
    return text.replace(":", "").strip().lower()


def load_idp_certificate(text: str | bytes) -> str:
    """Return the IdP signing certificate in ``text`` as a PEM string.

    ``text`` may be a PEM certificate, JumpCloud's IdP metadata XML (the ``ds:X509Certificate``
    of its signing ``KeyDescriptor`` is taken), a DER certificate or its bare base64. Raises
    :class:`jcsaml.errors.IdpCertificateError` when it is none of these, or is ambiguous.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
    if len(data) > MAX_RESPONSE_BYTES:
        raise IdpCertificateError(reason="the file is larger than 1 MiB")
    raw = data.removeprefix(b"\xef\xbb\xbf")
    # Whitespace is only trimmed from the text forms: a DER file may end in a byte that looks
    # like whitespace.
    data = raw.strip()
    if not data:
        raise IdpCertificateError(reason="the file is empty")
    if b"-----BEGIN" in data:
        try:
            certificates = x509.load_pem_x509_certificates(data)
        except ValueError:
            raise IdpCertificateError(reason="the PEM certificate cannot be read") from None
        if len(certificates) != 1:
            raise IdpCertificateError(
                reason=f"it holds {len(certificates)} certificates, keep only the signing one"
            )
        certificate = certificates[0]
    elif data.startswith(b"<"):
        certificate = _certificate_from_metadata(data)
    else:
        certificate = _certificate_from_der(raw, data)
    return certificate.public_bytes(Encoding.PEM).decode("ascii")


# --- signatures ----------------------------------------------------------------------------

# signxml enum member names; resolved lazily so signxml is imported only when verifying.
_STRONGSIGNATURE_METHODS = (
    "RSA_SHA256",
    "RSA_SHA384",
    "RSA_SHA512",
    "SHA256_RSA_MGF1",
    "SHA384_RSA_MGF1",
    "SHA512_RSA_MGF1",
    "SHA3_256_RSA_MGF1",
    "SHA3_384_RSA_MGF1",
    "SHA3_512_RSA_MGF1",
    "ECDSA_SHA256",
    "ECDSA_SHA384",
    "ECDSA_SHA512",
    "ECDSA_SHA3_256",
    "ECDSA_SHA3_384",
    "ECDSA_SHA3_512",
)
_STRONG_DIGESTS = ("SHA256", "SHA384", "SHA512", "SHA3_256", "SHA3_384", "SHA3_512")
_EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
_ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
# Transforms that only strip the signature or canonicalize; anything else (base64, XPath ...)
# could make the signed bytes differ from the element they sit in.
_ALLOWED_TRANSFORMS = frozenset(
    {
        _ENVELOPED,
        _EXC_C14N,
        "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
        "http://www.w3.org/2006/12/xml-c14n11",
    }
)


def load_certificate(pem: str) -> x509.Certificate:
    """The certificate in PEM text (as :func:`load_idp_certificate` returns it)."""
    from cryptography import x509

    return x509.load_pem_x509_certificate(pem.encode("ascii"))


def _fingerprint(certificate: x509.Certificate) -> str:
    return show_fingerprint(certificate_sha256(certificate))


def embedded_signer(
    root: etree._Element, assertion: etree._Element, pinned: str | None
) -> x509.Certificate | None:
    """The certificate in the KeyInfo of the Response's (else the Assertion's) signature.

    With ``pinned``, it must exist and have that fingerprint. Without, None when the response is
    not signed or names no certificate (the caller reads it unverified).
    """
    signatures = [s for s in (root.find(SIGNATURE), assertion.find(SIGNATURE)) if s is not None]
    if not signatures:
        if pinned is not None:
            raise SamlSignatureMissingError()
        return None
    certificate = _embedded_certificate(signatures[0])
    if certificate is None:
        if pinned is not None:
            raise SamlNoCertificateError(pinned=show_fingerprint(pinned))
        return None
    if pinned is not None and certificate_sha256(certificate) != pinned:
        raise SamlCertificateChangedError(
            signer=_fingerprint(certificate), pinned=show_fingerprint(pinned)
        )
    return certificate


def verify_signatures(
    root: etree._Element,
    assertion: etree._Element,
    certificate: x509.Certificate,
    *,
    allow_sha1: bool,
    now: datetime,
    clock_skew: timedelta,
    warn: Callable[[str], None],
) -> tuple[etree._Element | None, etree._Element]:
    """Verify the signatures on ``root`` and return (Response, Assertion) as they were signed;
    the Response is None when only the Assertion is signed."""
    from signxml.algorithms import DigestAlgorithm, SignatureMethod
    from signxml.verifier import SignatureConfiguration

    if now - clock_skew > certificate.not_valid_after_utc:
        raise IdpCertificateExpiredError(
            expired_on=certificate.not_valid_after_utc.date().isoformat()
        )
    if now + clock_skew < certificate.not_valid_before_utc:
        raise IdpCertificateNotYetValidError(valid_from=show_time(certificate.not_valid_before_utc))
    _check_signature_placement(root, assertion)
    response_signature = root.find(SIGNATURE)
    assertion_signature = assertion.find(SIGNATURE)
    signatures = [s for s in (response_signature, assertion_signature) if s is not None]
    if not signatures:
        raise SamlSignatureMissingError()

    methods = {SignatureMethod[name] for name in _STRONGSIGNATURE_METHODS}
    digests = {DigestAlgorithm[name] for name in _STRONG_DIGESTS}
    weak: set[str] = set()
    if allow_sha1:
        weak = {SignatureMethod.RSA_SHA1.value, DigestAlgorithm.SHA1.value}
        methods.add(SignatureMethod.RSA_SHA1)
        digests.add(DigestAlgorithm.SHA1)
    strong = {m.value for m in methods} | {d.value for d in digests}
    used_weak = sorted({a for s in signatures for a in _check_algorithms(s, strong)} & weak)
    if used_weak:
        names = ", ".join(uri.rsplit("#", 1)[-1] for uri in used_weak)
        warn(
            f"the SAML response is signed with SHA-1 ({names}), which is weak; accepted only "
            "because allow_sha1 is set: have the JumpCloud AWS application sign with SHA-256"
        )

    # signxml re-checks the certificate's dates without any skew; the decision was made above,
    # so hand it a time inside the validity window.
    check_time = min(max(now, certificate.not_valid_before_utc), certificate.not_valid_after_utc)
    config = SignatureConfiguration(
        signature_methods=frozenset(methods),
        digest_algorithms=frozenset(digests),
        expect_references=1,
        verification_time=check_time,
    )
    signed_response = signed_assertion = None
    if response_signature is not None:
        signed_response = _verify_signature(
            root,
            certificate,
            response_signature,
            dataclasses.replace(config, location="./"),
            expected=root,
        )
        inner = list(signed_response.iter(ASSERTION))
        if len(inner) != 1 or inner[0].getparent() is not signed_response:
            raise SamlSignatureWrappingError(
                reason="the signed Response does not hold exactly one assertion"
            )
        signed_assertion = inner[0]
    if assertion_signature is not None:
        own = _verify_signature(
            root,
            certificate,
            assertion_signature,
            dataclasses.replace(config, location=f"./{ASSERTION}/"),
            expected=assertion,
        )
        # When the Response is signed too, its copy covers the same assertion; either will do.
        signed_assertion = signed_assertion if signed_assertion is not None else own
    assert signed_assertion is not None
    return signed_response, signed_assertion


def _check_signature_placement(root: etree._Element, assertion: etree._Element) -> None:
    """Signatures may only sit directly on the Response or its Assertion, one each; IDs unique."""
    from lxml import etree

    holders: list[etree._Element] = []
    for signature in root.iter(SIGNATURE):
        parent = signature.getparent()
        if parent is not root and parent is not assertion:
            raise SamlSignatureWrappingError(
                reason="a signature sits somewhere other than on the Response or its assertion"
            )
        if any(parent is seen for seen in holders):
            raise SamlSignatureWrappingError(reason="an element carries more than one signature")
        holders.append(parent)
    ids: set[str] = set()
    for element in root.iter(etree.Element):
        for name, value in element.attrib.items():
            if str(name).rpartition("}")[2] in ("ID", "Id", "id"):
                if value in ids:
                    raise SamlSignatureWrappingError(reason="two elements share one ID")
                ids.add(str(value))


def _check_algorithms(signature: etree._Element, allowed: set[str]) -> list[str]:
    """Refuse algorithms outside ``allowed`` or unexpected transforms; return those used."""
    signed_info = f"{{{DS_NS}}}SignedInfo"
    used = [
        str(method.get("Algorithm"))
        for method in signature.iterfind(f"{signed_info}/{{{DS_NS}}}SignatureMethod")
    ]
    used += [
        str(method.get("Algorithm"))
        for method in signature.iterfind(
            f"{signed_info}/{{{DS_NS}}}Reference/{{{DS_NS}}}DigestMethod"
        )
    ]
    for algorithm in used:
        if algorithm not in allowed:
            raise SamlWeakAlgorithmError(algorithm=algorithm.rsplit("#", 1)[-1][:80])
    for transform in signature.iterfind(
        f"{signed_info}/{{{DS_NS}}}Reference/{{{DS_NS}}}Transforms/{{{DS_NS}}}Transform"
    ):
        if transform.get("Algorithm") not in _ALLOWED_TRANSFORMS:
            raise SamlSignatureWrappingError(reason="the signature uses an unexpected transform")
    return used


def _verify_signature(
    root: etree._Element,
    certificate: x509.Certificate,
    signature: etree._Element,
    config: Any,
    *,
    expected: etree._Element,
) -> etree._Element:
    """Verify one signature with signxml and return the element it covers, as signed.

    The returned element must be ``expected`` (same tag and ID); reading from it rather than from
    the document is what defeats signature wrapping.
    """
    from signxml.exceptions import InvalidDigest, InvalidSignature
    from signxml.verifier import XMLVerifier

    try:
        result = XMLVerifier().verify(
            root, x509_cert=certificate, parser=safe_parser(), expect_config=config
        )
    except InvalidDigest:
        raise SamlSignatureInvalidError(
            reason="the signed content was changed after signing"
        ) from None
    except InvalidSignature:
        signer = _embedded_certificate(signature)
        if signer is not None and signer != certificate:
            raise SamlWrongCertificateError(
                signer=_fingerprint(signer), configured=_fingerprint(certificate)
            ) from None
        raise SamlSignatureInvalidError(
            reason="the signature value does not match the configured IdP certificate"
        ) from None
    except Exception:  # whatever stops verification, the response is not trusted
        raise SamlSignatureInvalidError(
            reason="the signature is malformed or refers to something that is not there"
        ) from None
    signed = result.signed_xml if not isinstance(result, list) else None
    element_id = expected.get("ID")
    if signed is None or not element_id or signed.tag != expected.tag:
        raise SamlSignatureWrappingError(
            reason="the signature does not cover the element it sits in"
        )
    if signed.get("ID") != element_id:
        raise SamlSignatureWrappingError(
            reason="the signature does not cover the element it sits in"
        )
    return signed


def _embedded_certificate(signature: etree._Element) -> x509.Certificate | None:
    from cryptography import x509

    text = signature.findtext(X509_CERTIFICATE)
    if not text:
        return None
    try:
        return x509.load_der_x509_certificate(
            base64.b64decode(ASCII_WHITESPACE.sub("", text), validate=True)
        )
    except (ValueError, binascii.Error):
        return None


# --- IdP certificate files --------------------------------------------------------------------


def _certificate_from_metadata(data: bytes) -> x509.Certificate:
    try:
        root = parse_xml(data)
    except SamlForbiddenXmlError:
        raise IdpCertificateError(
            reason="the metadata XML declares a DTD or entities, which are never accepted"
        ) from None
    except SamlDecodeError as exc:
        raise IdpCertificateError(reason=f"the metadata is not well-formed XML ({exc})") from None
    descriptors = idp_descriptors(root)
    if not descriptors:
        raise IdpCertificateError(reason="the XML is not SAML IdP metadata (no IDPSSODescriptor)")
    bodies = signing_certificates(descriptors)
    if not bodies:
        raise IdpCertificateError(reason="the metadata names no signing certificate")
    if len(bodies) > 1:
        raise IdpCertificateError(
            reason=f"the metadata names {len(bodies)} signing certificates; "
            "save the one JumpCloud signs with as PEM and use that"
        )
    try:
        encoded = bodies[0].encode("ascii")
    except UnicodeEncodeError:
        raise IdpCertificateError(
            reason="the metadata's signing certificate holds characters base64 does not have"
        ) from None
    return _certificate_from_der(encoded, encoded)


def _certificate_from_der(raw: bytes, data: bytes) -> x509.Certificate:
    """DER as the file holds it (``raw``), else the bare base64 of DER (``data``, trimmed)."""
    from cryptography import x509

    candidates = [raw]
    with contextlib.suppress(UnicodeDecodeError, ValueError, binascii.Error):
        candidates.append(base64.b64decode(ASCII_WHITESPACE.sub("", data.decode("ascii"))))
    for candidate in candidates:
        try:
            return x509.load_der_x509_certificate(candidate)
        except ValueError:
            continue
    raise IdpCertificateError(
        reason="it is neither a PEM certificate nor JumpCloud's IdP metadata XML"
    )
