"""Reading, and optionally verifying, the SAML Response JumpCloud issues for AWS.

:func:`parse_saml_response` decodes the base64 ``SAMLResponse`` form field, refuses anything that
could make the XML parser do harm (DTDs, entities, oversized input), checks the document's shape,
verifies its signature against a pinned IdP certificate when one is given, reads the AWS attributes
from the signed element only, and checks audience, validity window and destination.

lxml, signxml and cryptography are imported inside the functions that use them, so importing this
module stays cheap.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import dataclasses
import logging
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from jcsaml.config_keys import MAX_SESSION_DURATION, MIN_SESSION_DURATION
from jcsaml.errors import (
    IdpCertificateError,
    IdpCertificateExpiredError,
    IdpCertificateNotYetValidError,
    SamlAudienceError,
    SamlBase64Error,
    SamlCertificateChangedError,
    SamlContentError,
    SamlDecodeError,
    SamlDestinationError,
    SamlEmptyError,
    SamlEncryptedAssertionError,
    SamlExpiredError,
    SamlForbiddenXmlError,
    SamlMultipleAssertionsError,
    SamlNoAssertionError,
    SamlNoCertificateError,
    SamlNoRolesError,
    SamlNotAResponseError,
    SamlNotXmlError,
    SamlNotYetValidError,
    SamlRoleValueError,
    SamlSessionDurationError,
    SamlSignatureInvalidError,
    SamlSignatureMissingError,
    SamlSignatureWrappingError,
    SamlStatusError,
    SamlTimestampError,
    SamlTooLargeError,
    SamlTooManyRolesError,
    SamlWeakAlgorithmError,
    SamlWrongCertificateError,
)
from jcsaml.partitions import AWS_AUDIENCE as AWS_AUDIENCE
from jcsaml.partitions import AWS_AUDIENCES as AWS_AUDIENCES
from jcsaml.partitions import PARTITION, SIGNIN_HOSTS

if TYPE_CHECKING:
    from cryptography import x509
    from lxml import etree

ROLE_ATTRIBUTE = "https://aws.amazon.com/SAML/Attributes/Role"
ROLE_SESSION_NAME_ATTRIBUTE = "https://aws.amazon.com/SAML/Attributes/RoleSessionName"
SESSION_DURATION_ATTRIBUTE = "https://aws.amazon.com/SAML/Attributes/SessionDuration"
#: Larger input is refused before it is decoded or parsed.
MAX_RESPONSE_BYTES = 1024 * 1024

#: More values of the AWS Role attribute than this are refused: no person picks from more, and
#: it bounds the work an assertion can make jcsaml do.
MAX_ROLES = 1000

SAMLP_NS = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML_NS = "urn:oasis:names:tc:SAML:2.0:assertion"
DS_NS = "http://www.w3.org/2000/09/xmldsig#"
MD_NS = "urn:oasis:names:tc:SAML:2.0:metadata"

_RESPONSE = f"{{{SAMLP_NS}}}Response"
_STATUS_CODE = f"{{{SAMLP_NS}}}Status/{{{SAMLP_NS}}}StatusCode"
_SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"
_ASSERTION = f"{{{SAML_NS}}}Assertion"
_ENCRYPTED_ASSERTION = f"{{{SAML_NS}}}EncryptedAssertion"
_ATTRIBUTE = f"{{{SAML_NS}}}AttributeStatement/{{{SAML_NS}}}Attribute"
_ATTRIBUTE_VALUE = f"{{{SAML_NS}}}AttributeValue"
_CONDITIONS = f"{{{SAML_NS}}}Conditions"
_AUDIENCE_RESTRICTION = f"{{{SAML_NS}}}AudienceRestriction"
_AUDIENCE = f"{{{SAML_NS}}}Audience"
_ISSUER = f"{{{SAML_NS}}}Issuer"
_NAME_ID = f"{{{SAML_NS}}}Subject/{{{SAML_NS}}}NameID"
_RECIPIENT = (
    f"{{{SAML_NS}}}Subject/{{{SAML_NS}}}SubjectConfirmation/{{{SAML_NS}}}SubjectConfirmationData"
)
_SIGNATURE = f"{{{DS_NS}}}Signature"

_ROLE_ARN = re.compile(rf"arn:(?P<partition>{PARTITION}):iam::\d{{12}}:role/[\w+=.@/-]+", re.ASCII)
_PROVIDER_ARN = re.compile(
    rf"arn:(?P<partition>{PARTITION}):iam::\d{{12}}:saml-provider/[\w.-]+", re.ASCII
)
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}", re.ASCII)
_ASCII_WHITESPACE = re.compile(r"[ \t\r\n\f\v]+")
# xs:dateTime as SAML writes it; datetime.fromisoformat alone would accept far looser forms.
_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})?", re.ASCII
)
# Checked on the raw bytes with NULs dropped, so UTF-16/32 encodings of these are caught too.
_MARKUP_DECLARATION = re.compile(rb"<!\s*(DOCTYPE|ENTITY|ELEMENT|ATTLIST|NOTATION)", re.IGNORECASE)

_log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class AwsRole:
    """One IAM role the assertion lets the user assume, with the SAML provider that vouches."""

    role_arn: str
    principal_arn: str

    @property
    def partition(self) -> str:
        return self.role_arn.split(":")[1]

    @property
    def account_id(self) -> str:
        return self.role_arn.split(":")[4]

    @property
    def role_name(self) -> str:
        return self.role_arn.rsplit("/", 1)[-1]


@dataclasses.dataclass(frozen=True)
class SamlAssertion:
    """What jcsaml reads from a SAML Response.

    ``raw`` is the base64 text STS needs: the input, with any line breaks removed.

    ``signed`` is True when every value was read from an element whose signature was verified;
    ``signer_sha256`` is then the SHA-256 fingerprint (64 lowercase hex digits) of the
    certificate that verified it. ``not_before`` / ``not_on_or_after`` are the assertion's
    Conditions (UTC); ``destination`` is the Response's Destination (when only the Assertion is
    signed: the Recipient inside it, the unsigned Response's being worth nothing), ``audience``
    the AWS audience it names, ``issuer`` the assertion's Issuer and ``name_id`` its Subject's
    NameID (the user it was issued to).
    """

    roles: list[AwsRole]
    session_duration: int | None
    not_on_or_after: datetime | None
    role_session_name: str | None = None
    destination: str | None = None
    raw: str = dataclasses.field(default="", repr=False)
    not_before: datetime | None = None
    audience: str | None = None
    issuer: str | None = None
    signed: bool = False
    signer_sha256: str | None = None
    name_id: str | None = None


def parse_saml_response(
    saml_response_b64: str,
    *,
    idp_cert: str | bytes | None = None,
    idp_cert_sha256: str | None = None,
    trust_embedded_cert: bool = False,
    verify: bool = True,
    allow_sha1: bool = False,
    now: datetime | None = None,
    clock_skew: timedelta = timedelta(minutes=2),
    warn: Callable[[str], None] | None = None,
    check_times: bool = True,
) -> SamlAssertion:
    """Decode a base64 SAML Response, verify its signature as asked, and read it.

    The caller must say how it is to be trusted: with ``idp_cert``, ``idp_cert_sha256`` or
    ``trust_embedded_cert=True`` (below), or ``verify=False`` to read it without checking any
    signature (to look at a response, never to trust one). Anything else is a TypeError: an
    unverified read is never what a call gets by leaving arguments out.

    ``check_times=False`` leaves the assertion's validity period (NotBefore, NotOnOrAfter) to
    whoever receives it: at sign-in, AWS STS judges it with AWS's clock, so a wrong local
    clock alone never refuses an assertion STS would accept.

    Which certificate the signature must verify with, the first that applies:

    - ``idp_cert``, the IdP signing certificate as PEM or as JumpCloud's IdP metadata XML (see
      :func:`load_idp_certificate`);
    - ``idp_cert_sha256`` (a pinned SHA-256 fingerprint, hex, colons allowed): the certificate
      in the signature's KeyInfo, which must have that fingerprint
      (:class:`~jcsaml.errors.SamlCertificateChangedError` otherwise,
      :class:`~jcsaml.errors.SamlNoCertificateError` when there is none);
    - ``trust_embedded_cert``: the certificate in the signature's KeyInfo, whatever it is (trust
      on first use: the caller pins ``signer_sha256``). A response with no signature, or none
      naming a certificate, is then read unverified, with ``signed`` False;
    - ``verify=False``, and none of these: nothing is verified and ``signed`` is False.

    When verifying, the Response or its Assertion must carry a valid RSA-SHA256-or-stronger
    signature by that certificate (SHA-1 only with ``allow_sha1``, which calls ``warn`` each time
    it is used; without ``warn`` the module logger warns), every value is read from the element
    the signature covers, and nothing outside it is quoted in an error.

    Either way the document must hold exactly one Assertion directly inside a ``samlp:Response``,
    name an AWS audience, be valid at ``now`` (default: the current time) give or take
    ``clock_skew``, and have a Destination (if any) on the roles' partition's sign-in host.

    Raises a :class:`jcsaml.errors.SamlError` subclass for anything that is not a usable,
    trustworthy response; messages never quote the assertion's content.
    """
    trusting = idp_cert is not None or bool(idp_cert_sha256) or trust_embedded_cert
    if trusting == (not verify):
        raise TypeError(
            "parse_saml_response needs one trust decision: idp_cert=, idp_cert_sha256= or "
            "trust_embedded_cert=True to verify the signature, or verify=False (and none of "
            "them) to read the response unverified"
        )
    moment = _as_utc(now) if now is not None else datetime.now(UTC)
    pinned = _normalized_fingerprint(idp_cert_sha256) if idp_cert_sha256 else None
    strict = idp_cert is not None or pinned is not None
    compact = _compact_base64(saml_response_b64)
    root = _parse_xml(_decode_base64(compact))
    assertion = _the_assertion(root, quote=not strict)
    certificate: x509.Certificate | None = None
    if idp_cert is not None:
        certificate = _load_certificate(load_idp_certificate(idp_cert))
    elif pinned is not None or trust_embedded_cert:
        certificate = _embedded_signer(root, assertion, pinned)
    if certificate is None:
        result = _read(root.get("Destination"), assertion, raw=compact)
    else:
        signed_response, signed_assertion = _verify(
            root,
            assertion,
            certificate,
            allow_sha1=allow_sha1,
            now=moment,
            clock_skew=clock_skew,
            warn=warn or _log.warning,
        )
        assertion = signed_assertion
        # Only a signed Response's Destination means anything; else the signed Recipient.
        destination = (
            signed_response.get("Destination")
            if signed_response is not None
            else _recipient(signed_assertion)
        )
        result = _read(
            destination, assertion, raw=compact, signer_sha256=certificate_sha256(certificate)
        )
    _check_conditions(result, assertion, now=moment, clock_skew=clock_skew, check_times=check_times)
    return result


def certificate_sha256(certificate: x509.Certificate | str | bytes) -> str:
    """The SHA-256 fingerprint of a certificate (object, or anything :func:`load_idp_certificate`
    reads), as 64 lowercase hex digits."""
    from cryptography.hazmat.primitives import hashes

    if isinstance(certificate, (str, bytes)):
        certificate = _load_certificate(load_idp_certificate(certificate))
    return certificate.fingerprint(hashes.SHA256()).hex()


def show_fingerprint(sha256_hex: str) -> str:
    """``AB:CD:...``, the form ``openssl x509 -fingerprint -sha256`` prints, to compare by eye."""
    digits = _normalized_fingerprint(sha256_hex).upper()
    return ":".join(digits[i : i + 2] for i in range(0, len(digits), 2))


def _normalized_fingerprint(text: str) -> str:
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


# --- decoding and hardening -------------------------------------------------------------------


def _compact_base64(text: str) -> str:
    if len(text) > MAX_RESPONSE_BYTES:
        raise SamlTooLargeError(size=len(text), limit=MAX_RESPONSE_BYTES)
    # The form field is often wrapped at 76 columns; line breaks are not part of the data.
    compact = _ASCII_WHITESPACE.sub("", text)
    if not compact:
        raise SamlEmptyError()
    return compact


def _decode_base64(compact: str) -> bytes:
    if not _BASE64.fullmatch(compact):
        raise SamlBase64Error(reason="it holds characters outside the base64 alphabet")
    if len(compact) % 4:
        raise SamlBase64Error(reason="its length is not a multiple of 4, it may be truncated")
    try:
        data = base64.b64decode(compact, validate=True)
    except binascii.Error:
        raise SamlBase64Error(reason="its padding is wrong") from None
    if len(data) > MAX_RESPONSE_BYTES:
        raise SamlTooLargeError(size=len(data), limit=MAX_RESPONSE_BYTES)
    if not data.strip():
        raise SamlEmptyError()
    return data


def _safe_parser() -> etree.XMLParser:
    """An lxml parser that never loads a DTD, expands an entity or touches the network."""
    from lxml import etree

    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        dtd_validation=False,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def _parse_xml(data: bytes) -> etree._Element:
    """Parse ``data`` safely; DTDs and entities raise SamlForbiddenXmlError, bad XML NotXml."""
    from lxml import etree

    found = _MARKUP_DECLARATION.search(data.replace(b"\x00", b""))
    if found:
        kind = found.group(1).decode("ascii").upper()
        raise SamlForbiddenXmlError(reason=f"it contains a <!{kind} declaration")
    try:
        root = etree.fromstring(data, parser=_safe_parser())
    except etree.XMLSyntaxError as exc:
        # lxml's message can quote names from the document; the position is enough to debug.
        line, column = exc.position
        raise SamlNotXmlError(reason=f"line {line}, column {column}") from None
    except (ValueError, etree.LxmlError):
        raise SamlNotXmlError(reason="the parser refused it") from None
    if root is None:
        raise SamlNotXmlError(reason="no root element")
    # Second line of defence for encodings the byte scan above cannot see through.
    docinfo = root.getroottree().docinfo
    if docinfo.internalDTD is not None or docinfo.externalDTD is not None or docinfo.doctype:
        raise SamlForbiddenXmlError(reason="it declares a DTD")
    for _ in root.iter(etree.Entity):
        raise SamlForbiddenXmlError(reason="it contains an entity reference")
    return root


def _describe_tag(tag: object) -> str:
    text = str(tag)
    if text.startswith("{"):
        namespace, _, local = text[1:].partition("}")
        text = f"{local} element in namespace {namespace}"
    return text[:160]


def _the_assertion(root: etree._Element, *, quote: bool) -> etree._Element:
    """Check the document's shape and return its one Assertion (a direct child of the root).

    Unless ``quote``, nothing from the document is quoted: when a signature is to be checked,
    everything here is still unverified.
    """
    if root.tag != _RESPONSE:
        shown = _describe_tag(root.tag) if quote else "document of another kind"
        raise SamlNotAResponseError(element=shown)
    status = root.find(_STATUS_CODE)
    if status is not None and status.get("Value") != _SUCCESS:
        value = str(status.get("Value") or "(none)")[:160]
        raise SamlStatusError(status=value if quote else "(not shown: it is not signed)")
    if next(root.iter(_ENCRYPTED_ASSERTION), None) is not None:
        raise SamlEncryptedAssertionError()
    assertions = list(root.iter(_ASSERTION))
    if not assertions:
        raise SamlNoAssertionError()
    if len(assertions) > 1:
        raise SamlMultipleAssertionsError(count=len(assertions))
    assertion = assertions[0]
    if assertion.getparent() is not root:
        raise SamlContentError(reason="its assertion is not directly inside the Response")
    return assertion


# --- signature verification -------------------------------------------------------------------

# signxml enum member names; resolved lazily so signxml is imported only when verifying.
_STRONG_SIGNATURE_METHODS = (
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


def _load_certificate(pem: str) -> x509.Certificate:
    from cryptography import x509

    return x509.load_pem_x509_certificate(pem.encode("ascii"))


def _fingerprint(certificate: x509.Certificate) -> str:
    return show_fingerprint(certificate_sha256(certificate))


def _embedded_signer(
    root: etree._Element, assertion: etree._Element, pinned: str | None
) -> x509.Certificate | None:
    """The certificate in the KeyInfo of the Response's (else the Assertion's) signature.

    With ``pinned``, it must exist and have that fingerprint. Without, None when the response is
    not signed or names no certificate (the caller reads it unverified).
    """
    signatures = [s for s in (root.find(_SIGNATURE), assertion.find(_SIGNATURE)) if s is not None]
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


def _verify(
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
        raise IdpCertificateNotYetValidError(
            valid_from=_show_time(certificate.not_valid_before_utc)
        )
    _check_signature_placement(root, assertion)
    response_signature = root.find(_SIGNATURE)
    assertion_signature = assertion.find(_SIGNATURE)
    signatures = [s for s in (response_signature, assertion_signature) if s is not None]
    if not signatures:
        raise SamlSignatureMissingError()

    methods = {SignatureMethod[name] for name in _STRONG_SIGNATURE_METHODS}
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
        inner = list(signed_response.iter(_ASSERTION))
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
            dataclasses.replace(config, location=f"./{_ASSERTION}/"),
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
    for signature in root.iter(_SIGNATURE):
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
            root, x509_cert=certificate, parser=_safe_parser(), expect_config=config
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

    text = signature.findtext(f"{{{DS_NS}}}KeyInfo/{{{DS_NS}}}X509Data/{{{DS_NS}}}X509Certificate")
    if not text:
        return None
    try:
        return x509.load_der_x509_certificate(
            base64.b64decode(_ASCII_WHITESPACE.sub("", text), validate=True)
        )
    except (ValueError, binascii.Error):
        return None


# --- IdP certificate files --------------------------------------------------------------------


def _certificate_from_metadata(data: bytes) -> x509.Certificate:
    try:
        root = _parse_xml(data)
    except SamlForbiddenXmlError:
        raise IdpCertificateError(
            reason="the metadata XML declares a DTD or entities, which are never accepted"
        ) from None
    except SamlDecodeError as exc:
        raise IdpCertificateError(reason=f"the metadata is not well-formed XML ({exc})") from None
    descriptors = list(root.iter(f"{{{MD_NS}}}IDPSSODescriptor"))
    if not descriptors:
        raise IdpCertificateError(reason="the XML is not SAML IdP metadata (no IDPSSODescriptor)")
    bodies: list[str] = []
    for descriptor in descriptors:
        for key in descriptor.iterfind(f"{{{MD_NS}}}KeyDescriptor"):
            if key.get("use", "signing") != "signing":
                continue
            for element in key.iterfind(
                f"{{{DS_NS}}}KeyInfo/{{{DS_NS}}}X509Data/{{{DS_NS}}}X509Certificate"
            ):
                body = _ASCII_WHITESPACE.sub("", element.text or "")
                if body and body not in bodies:
                    bodies.append(body)
    if not bodies:
        raise IdpCertificateError(reason="the metadata names no signing certificate")
    if len(bodies) > 1:
        raise IdpCertificateError(
            reason=f"the metadata names {len(bodies)} signing certificates; "
            "save the one JumpCloud signs with as PEM and use that"
        )
    encoded = bodies[0].encode("ascii")
    return _certificate_from_der(encoded, encoded)


def _certificate_from_der(raw: bytes, data: bytes) -> x509.Certificate:
    """DER as the file holds it (``raw``), else the bare base64 of DER (``data``, trimmed)."""
    from cryptography import x509

    candidates = [raw]
    with contextlib.suppress(UnicodeDecodeError, ValueError, binascii.Error):
        candidates.append(base64.b64decode(_ASCII_WHITESPACE.sub("", data.decode("ascii"))))
    for candidate in candidates:
        try:
            return x509.load_der_x509_certificate(candidate)
        except ValueError:
            continue
    raise IdpCertificateError(
        reason="it is neither a PEM certificate nor JumpCloud's IdP metadata XML"
    )


# --- reading ----------------------------------------------------------------------------------


def _text(element: etree._Element) -> str:
    return "".join(str(text) for text in element.itertext()).strip()


def _attribute_values(assertion: etree._Element) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for attribute in assertion.iterfind(_ATTRIBUTE):
        name = str(attribute.get("Name") or "")
        values.setdefault(name, []).extend(
            _text(value) for value in attribute.iterfind(_ATTRIBUTE_VALUE)
        )
    return values


def _parse_role(value: str) -> AwsRole | None:
    parts = [part.strip() for part in value.split(",")]
    if len(parts) != 2:
        return None
    for role_arn, principal_arn in (parts, parts[::-1]):
        role = _ROLE_ARN.fullmatch(role_arn)
        provider = _PROVIDER_ARN.fullmatch(principal_arn)
        if role and provider and role["partition"] == provider["partition"]:
            return AwsRole(role_arn=role_arn, principal_arn=principal_arn)
    return None


def _read_roles(values: Sequence[str]) -> list[AwsRole]:
    if len(values) > MAX_ROLES:
        raise SamlTooManyRolesError(count=len(values), limit=MAX_ROLES)
    roles: dict[AwsRole, None] = {}  # insertion-ordered set: linear-time de-duplication
    bad: list[str] = []
    for value in values:
        role = _parse_role(value)
        if role is None:
            bad.append(value)
        else:
            roles.setdefault(role)
    if bad:
        raise SamlRoleValueError(count=len(bad), value=bad[0][:160])
    if not roles:
        raise SamlNoRolesError()
    return list(roles)


def _read_session_duration(values: list[str] | None) -> int | None:
    if not values:
        return None
    text = values[0]
    if len(values) != 1 or not re.fullmatch(r"\d{1,6}", text, re.ASCII):
        raise SamlSessionDurationError(value=", ".join(values)[:40])
    duration = int(text)
    if not MIN_SESSION_DURATION <= duration <= MAX_SESSION_DURATION:
        raise SamlSessionDurationError(value=text)
    return duration


def _read_time(element: etree._Element | None, attribute: str) -> datetime | None:
    if element is None:
        return None
    text = element.get(attribute)
    if text is None:
        return None
    text = text.strip()
    if not _DATETIME.fullmatch(text):
        raise SamlTimestampError(attribute=attribute, value=text[:40])
    # Python keeps microseconds; longer fractions are cut, not rounded.
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise SamlTimestampError(attribute=attribute, value=text[:40]) from None
    return _as_utc(moment)


def _recipient(assertion: etree._Element) -> str | None:
    data = assertion.find(_RECIPIENT)
    return data.get("Recipient") if data is not None else None


def _read(
    destination: str | None,
    assertion: etree._Element,
    *,
    raw: str,
    signer_sha256: str | None = None,
) -> SamlAssertion:
    """Every value from ``assertion`` (the signed copy when ``signer_sha256`` is given)."""
    values = _attribute_values(assertion)
    roles = _read_roles(values.get(ROLE_ATTRIBUTE, []))
    names = [name for name in values.get(ROLE_SESSION_NAME_ATTRIBUTE, []) if name]
    conditions = assertion.find(_CONDITIONS)
    audiences = [_text(a) for a in assertion.iterfind(f"{_CONDITIONS}/*/{_AUDIENCE}")]
    issuer = (assertion.findtext(_ISSUER) or "").strip()
    name_id = (assertion.findtext(_NAME_ID) or "").strip()
    return SamlAssertion(
        roles=roles,
        session_duration=_read_session_duration(values.get(SESSION_DURATION_ATTRIBUTE)),
        not_on_or_after=_read_time(conditions, "NotOnOrAfter"),
        role_session_name=names[0] if names else None,
        destination=(destination or "").strip() or None,
        raw=raw,
        not_before=_read_time(conditions, "NotBefore"),
        audience=next((a for a in audiences if a in AWS_AUDIENCES), None),
        issuer=issuer or None,
        signed=signer_sha256 is not None,
        signer_sha256=signer_sha256,
        name_id=name_id or None,
    )


# --- checks -----------------------------------------------------------------------------------


def _as_utc(moment: datetime) -> datetime:
    # SAML times are UTC; a naive datetime is taken to be UTC too.
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _show_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _is_aws_audience(audience: str) -> bool:
    if audience in AWS_AUDIENCES:
        return True
    # Regional sign-in endpoints, e.g. https://us-east-2.signin.aws.amazon.com/saml.
    try:
        parts = urlsplit(audience)
        host = (parts.hostname or "").lower()
    except ValueError:
        return False
    return (
        parts.scheme == "https"
        and parts.path == "/saml"
        and any(host.endswith("." + signin) for signin in SIGNIN_HOSTS.values())
    )


def _check_conditions(
    result: SamlAssertion,
    assertion: etree._Element,
    *,
    now: datetime,
    clock_skew: timedelta,
    check_times: bool = True,
) -> None:
    restrictions = [
        [_text(audience) for audience in restriction.iterfind(_AUDIENCE)]
        for restriction in assertion.iterfind(f"{_CONDITIONS}/{_AUDIENCE_RESTRICTION}")
    ]
    if not restrictions:
        raise SamlAudienceError(audience="no audience at all")
    # SAML: every AudienceRestriction must name us; within one, any Audience will do.
    for audiences in restrictions:
        if not any(_is_aws_audience(audience) for audience in audiences):
            shown = ", ".join(audiences) or "an empty audience"
            raise SamlAudienceError(audience=shown[:200])
    if not check_times:
        pass
    elif result.not_before is not None and now + clock_skew < result.not_before:
        raise SamlNotYetValidError(not_before=_show_time(result.not_before), now=_show_time(now))
    elif result.not_on_or_after is not None and now - clock_skew >= result.not_on_or_after:
        raise SamlExpiredError(
            not_on_or_after=_show_time(result.not_on_or_after), now=_show_time(now)
        )
    if result.destination is not None:
        _check_destination(result.destination, {role.partition for role in result.roles})


def _check_destination(destination: str, partitions: set[str]) -> None:
    try:
        parts = urlsplit(destination)
        scheme, host = parts.scheme, (parts.hostname or "").lower()
    except ValueError:
        scheme, host = "", ""
    for partition in sorted(partitions):
        signin = SIGNIN_HOSTS[partition]
        if scheme == "https" and (host == signin or host.endswith("." + signin)):
            continue
        raise SamlDestinationError(
            destination=destination[:200], partition=partition, expected=f"https://{signin}/saml"
        )
