"""An identity provider's keys and SAML Responses, made the way JumpCloud makes them, for tests.

:class:`IdpKeyPair` is the signing key and self-signed certificate an administrator creates with
``openssl`` in the runbook; :func:`build_saml_response` writes the ``samlp:Response`` JumpCloud
posts to AWS; :func:`sign_saml_response` signs it with signxml. Tests (and library users testing
their own tooling) get real, verifiable assertions without a JumpCloud tenant.

cryptography, lxml and signxml are imported inside the functions that need them.
"""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from xml.sax.saxutils import escape, quoteattr

from jcsaml.admin.certificate import build_key_and_certificate
from jcsaml.admin.metadata import build_idp_metadata
from jcsaml.admin.openssl_config import CertificateRequest
from jcsaml.saml import (
    AWS_AUDIENCE,
    ROLE_ATTRIBUTE,
    ROLE_SESSION_NAME_ATTRIBUTE,
    SESSION_DURATION_ATTRIBUTE,
)
from jcsaml.saml_xml import DS_NS as DS_NS  # the namespaces of what this module writes
from jcsaml.saml_xml import MD_NS as MD_NS
from jcsaml.saml_xml import SAML_NS as SAML_NS
from jcsaml.saml_xml import SAMLP_NS as SAMLP_NS

_EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
# The distinguished name of the runbook's ``[req_distinguished_name]``, before its CN.
_RUNBOOK_SUBJECT = (
    ("countryName", "US"),
    ("stateOrProvinceName", "Colorado"),
    ("localityName", "Boulder"),
    ("organizationName", "Acme"),
    ("organizationalUnitName", "Operations"),
)


@dataclass(frozen=True)
class IdpKeyPair:
    """An IdP signing key (PKCS#8 PEM, unencrypted) and its self-signed X.509 certificate (PEM)."""

    key_pem: bytes
    cert_pem: bytes

    @classmethod
    def generate(
        cls,
        *,
        common_name: str = "JumpCloud",
        days: int = 1095,
        not_before: datetime | None = None,
    ) -> IdpKeyPair:
        """A fresh RSA-2048 key and a SHA-256 self-signed certificate valid for ``days`` days.

        Mirrors the runbook's ``openssl genrsa 2048`` + ``openssl req -new -x509 -days 1095``: the
        subject and issuer carry C, ST, L, O, OU and CN as a ``[req_distinguished_name]`` section
        gives them. ``not_before`` (default: now) lets tests make expired or future certificates.
        """
        request = CertificateRequest(
            subject=(*_RUNBOOK_SUBJECT, ("commonName", common_name)), days=days
        )
        key_pem, cert_pem = build_key_and_certificate(request, now=not_before)
        return cls(key_pem=key_pem, cert_pem=cert_pem)

    @classmethod
    def from_files(
        cls, key_path: str | os.PathLike[str], cert_path: str | os.PathLike[str]
    ) -> IdpKeyPair:
        """The key and certificate an administrator made (``jcsaml setup cert``, openssl).

        The key may be PKCS#1 or PKCS#8 PEM, unencrypted; it is kept as PKCS#8. Raises
        ValueError when the files do not hold a key and a certificate that belong together.
        """
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization

        key = serialization.load_pem_private_key(Path(key_path).read_bytes(), password=None)
        cert = x509.load_pem_x509_certificate(Path(cert_path).read_bytes())
        public = serialization.PublicFormat.SubjectPublicKeyInfo
        if key.public_key().public_bytes(
            serialization.Encoding.PEM, public
        ) != cert.public_key().public_bytes(serialization.Encoding.PEM, public):
            raise ValueError(f"{cert_path} is not the certificate of the key in {key_path}")
        return cls(
            key_pem=key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
            cert_pem=cert.public_bytes(serialization.Encoding.PEM),
        )

    def cert_base64(self) -> str:
        """The certificate's DER as one base64 line, as ``ds:X509Certificate`` holds it."""
        body = b"".join(
            line for line in self.cert_pem.strip().splitlines() if not line.startswith(b"-----")
        )
        return body.decode("ascii")

    def metadata_xml(
        self,
        *,
        entity_id: str = "JumpCloud",
        sso_url: str = "https://sso.jumpcloud.com/saml2/aws",
    ) -> str:
        """SAML 2.0 IdP metadata naming this certificate as the signing key.

        This is the document an administrator downloads from JumpCloud and uploads to IAM when
        creating the SAML identity provider.
        """
        return build_idp_metadata(
            self.cert_pem.decode("ascii"), entity_id=entity_id, sso_url=sso_url
        ).xml


def _instant(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _new_id() -> str:
    # XML IDs must not start with a digit; the leading underscore is what most IdPs use.
    return "_" + uuid.uuid4().hex


def _attribute(name: str, values: Sequence[str]) -> str:
    items = "".join(
        f'<saml:AttributeValue xmlns:xs="http://www.w3.org/2001/XMLSchema" '
        f'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="xs:string">'
        f"{escape(value)}</saml:AttributeValue>"
        for value in values
    )
    return (
        f"<saml:Attribute Name={quoteattr(name)} "
        'NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:uri">'
        f"{items}</saml:Attribute>"
    )


def build_saml_response(
    *,
    roles: Sequence[tuple[str, str]],
    subject: str = "alice@acme.example",
    session_duration: int | None = 3600,
    role_session_name: str | None = None,
    destination: str = "https://signin.aws.amazon.com/saml",
    audience: str = AWS_AUDIENCE,
    issuer: str = "JumpCloud",
    now: datetime | None = None,
    lifetime: timedelta = timedelta(minutes=5),
    principal_first: bool = False,
) -> bytes:
    """An unsigned ``samlp:Response`` (UTF-8 XML) shaped like the one JumpCloud posts to AWS.

    ``roles`` are ``(role_arn, principal_arn)`` pairs; each becomes one value of the AWS Role
    attribute, written ``role_arn,principal_arn`` (or ``principal_arn,role_arn`` when
    ``principal_first``). The assertion is valid from ``now`` (default: the current time) for
    ``lifetime``. ``role_session_name`` defaults to ``subject``; ``session_duration=None`` leaves
    the SessionDuration attribute out.
    """
    issued = (now or datetime.now(UTC)).replace(microsecond=0)
    expires = issued + lifetime
    response_id, assertion_id = _new_id(), _new_id()
    role_values = [
        f"{principal},{role}" if principal_first else f"{role},{principal}"
        for role, principal in roles
    ]
    # Without roles the Role attribute is left out, as for an application other than AWS.
    attributes = [_attribute(ROLE_ATTRIBUTE, role_values)] if role_values else []
    attributes.append(_attribute(ROLE_SESSION_NAME_ATTRIBUTE, [role_session_name or subject]))
    if session_duration is not None:
        attributes.append(_attribute(SESSION_DURATION_ATTRIBUTE, [str(session_duration)]))
    xml = (
        f'<samlp:Response xmlns:samlp="{SAMLP_NS}" xmlns:saml="{SAML_NS}" '
        f'ID="{response_id}" Version="2.0" IssueInstant="{_instant(issued)}" '
        f"Destination={quoteattr(destination)}>"
        f"<saml:Issuer>{escape(issuer)}</saml:Issuer>"
        "<samlp:Status>"
        '<samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/>'
        "</samlp:Status>"
        f'<saml:Assertion ID="{assertion_id}" Version="2.0" IssueInstant="{_instant(issued)}">'
        f"<saml:Issuer>{escape(issuer)}</saml:Issuer>"
        "<saml:Subject>"
        '<saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">'
        f"{escape(subject)}</saml:NameID>"
        '<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">'
        f'<saml:SubjectConfirmationData NotOnOrAfter="{_instant(expires)}" '
        f"Recipient={quoteattr(destination)}/>"
        "</saml:SubjectConfirmation>"
        "</saml:Subject>"
        f'<saml:Conditions NotBefore="{_instant(issued)}" NotOnOrAfter="{_instant(expires)}">'
        f"<saml:AudienceRestriction><saml:Audience>{escape(audience)}</saml:Audience>"
        "</saml:AudienceRestriction>"
        "</saml:Conditions>"
        f'<saml:AuthnStatement AuthnInstant="{_instant(issued)}" SessionIndex="{assertion_id}">'
        "<saml:AuthnContext><saml:AuthnContextClassRef>"
        "urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified"
        "</saml:AuthnContextClassRef></saml:AuthnContext>"
        "</saml:AuthnStatement>"
        f"<saml:AttributeStatement>{''.join(attributes)}</saml:AttributeStatement>"
        "</saml:Assertion>"
        "</samlp:Response>"
    )
    return xml.encode("utf-8")


def _signer(signature_algorithm: str, digest_algorithm: str) -> Any:
    from signxml.algorithms import SignatureConstructionMethod
    from signxml.signer import XMLSigner

    class _Signer(XMLSigner):
        # signxml refuses SHA-1 outright; tests need SHA-1 signatures to prove they are refused
        # (or accepted only on opt-in), so this signer allows every algorithm it is asked for.
        def check_deprecated_methods(self) -> None:
            return None

    return _Signer(
        method=SignatureConstructionMethod.enveloped,
        signature_algorithm=signature_algorithm,
        digest_algorithm=digest_algorithm,
        c14n_algorithm=_EXC_C14N,
    )


def _sign_element(
    root: Any, element: Any, keys: IdpKeyPair, signature_algorithm: str, digest_algorithm: str
) -> Any:
    """Sign ``element`` (inside ``root``) and return the new root with the signature in place."""
    from lxml import etree

    # The SAML schema puts ds:Signature right after the signed element's Issuer; a placeholder
    # there tells signxml where to write it (otherwise it appends it as the last child).
    issuer = element.find(f"{{{SAML_NS}}}Issuer")
    placeholder = etree.Element(f"{{{DS_NS}}}Signature", Id="placeholder", nsmap={"ds": DS_NS})
    issuer.addnext(placeholder)
    signer = _signer(signature_algorithm, digest_algorithm)
    return signer.sign(
        root,
        key=keys.key_pem,
        cert=keys.cert_pem.decode("ascii"),
        reference_uri="#" + element.get("ID"),
    )


def sign_saml_response(
    xml: bytes,
    keys: IdpKeyPair,
    *,
    sign: Literal["assertion", "response", "both"] = "assertion",
    signature_algorithm: str = "rsa-sha256",
    digest_algorithm: str = "sha256",
    embed_certificate: bool = True,
) -> bytes:
    """Sign a SAML Response with ``keys``: its Assertion, the Response itself, or both.

    Enveloped signatures with exclusive canonicalization, the certificate in ``ds:KeyInfo``, as
    JumpCloud sends them; ``embed_certificate=False`` leaves ``ds:KeyInfo`` out, as some IdPs do
    (the signature stays valid: KeyInfo is not part of what is signed). Algorithms are signxml
    fragment names (``rsa-sha256``, ``rsa-sha1``, ``sha256``, ``sha1`` ...). With ``both``, the
    Assertion is signed first so the Response signature covers it. Returns UTF-8 XML.
    """
    from lxml import etree

    if sign not in ("assertion", "response", "both"):
        raise ValueError(f"sign must be 'assertion', 'response' or 'both', not {sign!r}")
    root = etree.fromstring(xml, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    if sign in ("assertion", "both"):
        assertion = root.find(f"{{{SAML_NS}}}Assertion")
        if assertion is None:
            raise ValueError("the SAML Response has no saml:Assertion to sign")
        root = _sign_element(root, assertion, keys, signature_algorithm, digest_algorithm)
    if sign in ("response", "both"):
        root = _sign_element(root, root, keys, signature_algorithm, digest_algorithm)
    if not embed_certificate:
        for key_info in list(root.iter(f"{{{DS_NS}}}KeyInfo")):
            key_info.getparent().remove(key_info)
    signed: bytes = etree.tostring(root, encoding="utf-8")
    return signed


def make_saml_response_b64(keys: IdpKeyPair, **build_kwargs: Any) -> str:
    """:func:`build_saml_response` (``build_kwargs``), signed on the Assertion, base64-encoded.

    The result is what the ``SAMLResponse`` form field carries and what STS expects.
    """
    signed = sign_saml_response(build_saml_response(**build_kwargs), keys)
    return base64.b64encode(signed).decode("ascii")
