"""SAML 2.0 IdP metadata: what an IAM SAML identity provider is created from.

:func:`build_idp_metadata` writes the smallest document IAM accepts for JumpCloud (an
``EntityDescriptor`` with one signing ``KeyDescriptor`` and the SSO endpoints);
:func:`read_idp_metadata` reads the entity ID and every signing certificate from a document,
whether JumpCloud exported it or IAM hands it back. lxml and cryptography are imported inside.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import quoteattr

from jcsaml.errors import (
    IdpCertificateError,
    IdpMetadataError,
    SamlDecodeError,
    SamlForbiddenXmlError,
)
from jcsaml.saml import load_idp_certificate
from jcsaml.saml_xml import (
    DS_NS,
    MAX_RESPONSE_BYTES,
    MD_NS,
    idp_descriptors,
    parse_xml,
    signing_certificates,
)

#: Where JumpCloud serves its SAML applications; only named in the metadata, IAM never calls it.
DEFAULT_SSO_URL = "https://sso.jumpcloud.com/saml2/aws"
_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class IdpMetadata:
    """A metadata document and what matters to AssumeRoleWithSAML in it."""

    xml: str
    entity_id: str
    #: PEM certificates of the signing KeyDescriptors, in document order, without duplicates.
    certificates: tuple[str, ...]


def build_idp_metadata(
    cert_pem: str, *, entity_id: str, sso_url: str = DEFAULT_SSO_URL
) -> IdpMetadata:
    """IdP metadata naming ``cert_pem`` as the signing certificate of ``entity_id``."""
    body = "".join(
        line for line in cert_pem.strip().splitlines() if line and not line.startswith("-----")
    )
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<md:EntityDescriptor xmlns:md="{MD_NS}" entityID={quoteattr(entity_id)}>\n'
        '  <md:IDPSSODescriptor WantAuthnRequestsSigned="false" '
        'protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">\n'
        '    <md:KeyDescriptor use="signing">\n'
        f'      <ds:KeyInfo xmlns:ds="{DS_NS}">\n'
        "        <ds:X509Data>\n"
        f"          <ds:X509Certificate>{body}</ds:X509Certificate>\n"
        "        </ds:X509Data>\n"
        "      </ds:KeyInfo>\n"
        "    </md:KeyDescriptor>\n"
        "    <md:NameIDFormat>"
        "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>\n"
        '    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" '
        f"Location={quoteattr(sso_url)}/>\n"
        '    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" '
        f"Location={quoteattr(sso_url)}/>\n"
        "  </md:IDPSSODescriptor>\n"
        "</md:EntityDescriptor>\n"
    )
    return IdpMetadata(xml=xml, entity_id=entity_id, certificates=(_normalized_pem(cert_pem),))


def read_idp_metadata(xml: str) -> IdpMetadata:
    """Entity ID and signing certificates of ``xml``; raises ValueError when it is not IdP
    metadata (read with the parser SAML responses are read with: no DTD, no entity)."""
    data = xml.encode("utf-8")
    if len(data) > MAX_RESPONSE_BYTES:
        raise ValueError("the document is larger than 1 MiB")
    try:
        root = parse_xml(data)
    except SamlForbiddenXmlError:
        raise ValueError("the document declares a DTD or entities") from None
    except SamlDecodeError as exc:
        raise ValueError(f"not well-formed XML ({exc.reason})") from None
    descriptors = idp_descriptors(root)
    if not descriptors:
        raise ValueError("not SAML IdP metadata (no IDPSSODescriptor)")
    entity = root if root.tag == f"{{{MD_NS}}}EntityDescriptor" else descriptors[0].getparent()
    certificates: list[str] = []
    for body in signing_certificates(descriptors):
        pem = _pem_from_base64(body)
        if pem is not None and pem not in certificates:
            certificates.append(pem)
    entity_id = str(entity.get("entityID") or "") if entity is not None else ""
    return IdpMetadata(xml=xml, entity_id=entity_id, certificates=tuple(certificates))


def load_metadata_file(path: Path) -> IdpMetadata:
    """The IdP metadata file an administrator exported; exactly one signing certificate."""

    text = _read_text(path, "metadata")
    try:
        load_idp_certificate(text)  # exactly one usable signing certificate, or why not
        metadata = read_idp_metadata(text)
    except IdpCertificateError as exc:
        raise IdpMetadataError(path=str(path), what="metadata", reason=exc.reason) from None
    except ValueError as exc:
        raise IdpMetadataError(path=str(path), what="metadata", reason=str(exc)) from None
    if not metadata.entity_id:
        raise IdpMetadataError(
            path=str(path), what="metadata", reason="its EntityDescriptor has no entityID"
        )
    return metadata


def load_certificate_file(path: Path) -> str:
    """The IdP certificate in ``path`` (PEM, DER, or metadata naming one), as PEM."""

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise IdpMetadataError(
            path=str(path), what="certificate", reason=exc.strerror or str(exc)
        ) from None
    if b"PRIVATE KEY-----" in data:
        # A common slip: the .key instead of the .crt. Its content is never shown.
        raise IdpMetadataError(
            path=str(path),
            what="certificate",
            reason="it holds a private key, not a certificate (use the .crt file)",
        )
    try:
        return _normalized_pem(load_idp_certificate(data))
    except IdpCertificateError as exc:
        raise IdpMetadataError(path=str(path), what="certificate", reason=exc.reason) from None


def fingerprint(cert_pem: str) -> str:
    """The certificate's SHA-256 fingerprint, ``AB:CD:...``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    certificate = x509.load_pem_x509_certificate(cert_pem.encode("ascii"))
    return certificate.fingerprint(hashes.SHA256()).hex(":").upper()


def short_fingerprint(cert_pem: str) -> str:
    """The first eight bytes of :func:`fingerprint`: enough to tell certificates apart."""
    return fingerprint(cert_pem)[:23]


def _read_text(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise IdpMetadataError(path=str(path), what=what, reason=exc.strerror or str(exc)) from None
    except UnicodeDecodeError:
        raise IdpMetadataError(path=str(path), what=what, reason="not UTF-8 text") from None


def _pem_from_base64(text: str) -> str | None:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    try:
        der = base64.b64decode(_WHITESPACE.sub("", text), validate=True)
        certificate = x509.load_der_x509_certificate(der)
    except (binascii.Error, ValueError):
        return None
    return certificate.public_bytes(Encoding.PEM).decode("ascii")


def _normalized_pem(cert_pem: str) -> str:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    certificate = x509.load_pem_x509_certificate(cert_pem.encode("ascii"))
    return certificate.public_bytes(Encoding.PEM).decode("ascii")
