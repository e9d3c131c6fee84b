"""Reading, and optionally verifying, the SAML Response JumpCloud issues for AWS.

:func:`parse_saml_response` decodes the base64 ``SAMLResponse`` form field, refuses anything that
could make the XML parser do harm (DTDs, entities, oversized input), checks the document's shape,
verifies its signature against a pinned IdP certificate when one is given, reads the AWS attributes
from the signed element only, and checks audience, validity window and destination.

Verification and the IdP certificates are :mod:`jcsaml.saml_signature`'s, the safe XML parser
:mod:`jcsaml.saml_xml`'s; their public names are importable from here too. lxml, signxml and
cryptography are imported inside the functions that use them, so importing this module stays
cheap.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import logging
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from jcsaml.config_keys import MAX_SESSION_DURATION, MIN_SESSION_DURATION
from jcsaml.errors import (
    SamlAudienceError,
    SamlBase64Error,
    SamlContentError,
    SamlDestinationError,
    SamlEmptyError,
    SamlEncryptedAssertionError,
    SamlExpiredError,
    SamlMultipleAssertionsError,
    SamlNoAssertionError,
    SamlNoRolesError,
    SamlNotAResponseError,
    SamlNotYetValidError,
    SamlRoleValueError,
    SamlSessionDurationError,
    SamlStatusError,
    SamlTimestampError,
    SamlTooLargeError,
    SamlTooManyRolesError,
)
from jcsaml.partitions import AWS_AUDIENCE, AWS_AUDIENCES, PARTITION, SIGNIN_HOSTS
from jcsaml.saml_signature import (
    certificate_sha256,
    embedded_signer,
    load_certificate,
    load_idp_certificate,
    normalized_fingerprint,
    show_fingerprint,
    verify_signatures,
)
from jcsaml.saml_xml import (
    ASCII_WHITESPACE,
    ASSERTION,
    DS_NS,
    MAX_RESPONSE_BYTES,
    MD_NS,
    SAML_NS,
    SAMLP_NS,
    parse_xml,
    show_time,
)

if TYPE_CHECKING:
    from cryptography import x509
    from lxml import etree

__all__ = [
    "AWS_AUDIENCE",
    "AWS_AUDIENCES",
    "DS_NS",
    "MAX_RESPONSE_BYTES",
    "MAX_ROLES",
    "MD_NS",
    "ROLE_ATTRIBUTE",
    "ROLE_SESSION_NAME_ATTRIBUTE",
    "SAMLP_NS",
    "SAML_NS",
    "SESSION_DURATION_ATTRIBUTE",
    "AwsRole",
    "SamlAssertion",
    "certificate_sha256",
    "load_idp_certificate",
    "parse_saml_response",
    "show_fingerprint",
]

ROLE_ATTRIBUTE = "https://aws.amazon.com/SAML/Attributes/Role"
ROLE_SESSION_NAME_ATTRIBUTE = "https://aws.amazon.com/SAML/Attributes/RoleSessionName"
SESSION_DURATION_ATTRIBUTE = "https://aws.amazon.com/SAML/Attributes/SessionDuration"

#: More values of the AWS Role attribute than this are refused: no person picks from more, and
#: it bounds the work an assertion can make jcsaml do.
MAX_ROLES = 1000

_RESPONSE = f"{{{SAMLP_NS}}}Response"
_STATUS_CODE = f"{{{SAMLP_NS}}}Status/{{{SAMLP_NS}}}StatusCode"
_SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"
_ENCRYPTEDASSERTION = f"{{{SAML_NS}}}EncryptedAssertion"
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

_ROLE_ARN = re.compile(rf"arn:(?P<partition>{PARTITION}):iam::\d{{12}}:role/[\w+=.@/-]+", re.ASCII)
_PROVIDER_ARN = re.compile(
    rf"arn:(?P<partition>{PARTITION}):iam::\d{{12}}:saml-provider/[\w.-]+", re.ASCII
)
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}", re.ASCII)
# xs:dateTime as SAML writes it; datetime.fromisoformat alone would accept far looser forms.
_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})?", re.ASCII
)

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
    pinned = normalized_fingerprint(idp_cert_sha256) if idp_cert_sha256 else None
    strict = idp_cert is not None or pinned is not None
    compact = _compact_base64(saml_response_b64)
    root = parse_xml(_decode_base64(compact))
    assertion = _the_assertion(root, quote=not strict)
    certificate: x509.Certificate | None = None
    if idp_cert is not None:
        certificate = load_certificate(load_idp_certificate(idp_cert))
    elif pinned is not None or trust_embedded_cert:
        certificate = embedded_signer(root, assertion, pinned)
    if certificate is None:
        result = _read(root.get("Destination"), assertion, raw=compact)
    else:
        signed_response, signed_assertion = verify_signatures(
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


# --- decoding and hardening -------------------------------------------------------------------


def _compact_base64(text: str) -> str:
    if len(text) > MAX_RESPONSE_BYTES:
        raise SamlTooLargeError(size=len(text), limit=MAX_RESPONSE_BYTES)
    # The form field is often wrapped at 76 columns; line breaks are not part of the data.
    compact = ASCII_WHITESPACE.sub("", text)
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
    if next(root.iter(_ENCRYPTEDASSERTION), None) is not None:
        raise SamlEncryptedAssertionError()
    assertions = list(root.iter(ASSERTION))
    if not assertions:
        raise SamlNoAssertionError()
    if len(assertions) > 1:
        raise SamlMultipleAssertionsError(count=len(assertions))
    assertion = assertions[0]
    if assertion.getparent() is not root:
        raise SamlContentError(reason="its assertion is not directly inside the Response")
    return assertion


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
        raise SamlNotYetValidError(not_before=show_time(result.not_before), now=show_time(now))
    elif result.not_on_or_after is not None and now - clock_skew >= result.not_on_or_after:
        raise SamlExpiredError(
            not_on_or_after=show_time(result.not_on_or_after), now=show_time(now)
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
