"""SAML's XML as jcsaml reads it: the namespaces, and a parser that never loads a DTD, expands
an entity or touches the network, for SAML responses and IdP metadata alike.

lxml is imported inside the functions that use it, so importing this module stays cheap.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from jcsaml.errors import SamlForbiddenXmlError, SamlNotXmlError

if TYPE_CHECKING:
    from lxml import etree

#: Larger input is refused before it is decoded or parsed.
MAX_RESPONSE_BYTES = 1024 * 1024

SAMLP_NS = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML_NS = "urn:oasis:names:tc:SAML:2.0:assertion"
DS_NS = "http://www.w3.org/2000/09/xmldsig#"
MD_NS = "urn:oasis:names:tc:SAML:2.0:metadata"

ASSERTION = f"{{{SAML_NS}}}Assertion"
SIGNATURE = f"{{{DS_NS}}}Signature"
#: Where a signature's KeyInfo, and an IdP metadata KeyDescriptor, hold the certificate.
X509_CERTIFICATE = f"{{{DS_NS}}}KeyInfo/{{{DS_NS}}}X509Data/{{{DS_NS}}}X509Certificate"

ASCII_WHITESPACE = re.compile(r"[ \t\r\n\f\v]+")
# Checked on the raw bytes with NULs dropped, so UTF-16/32 encodings of these are caught too.
_MARKUP_DECLARATION = re.compile(rb"<!\s*(DOCTYPE|ENTITY|ELEMENT|ATTLIST|NOTATION)", re.IGNORECASE)


def safe_parser() -> etree.XMLParser:
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


def parse_xml(data: bytes) -> etree._Element:
    """Parse ``data`` safely; DTDs and entities raise SamlForbiddenXmlError, bad XML NotXml."""
    from lxml import etree

    found = _MARKUP_DECLARATION.search(data.replace(b"\x00", b""))
    if found:
        kind = found.group(1).decode("ascii").upper()
        raise SamlForbiddenXmlError(reason=f"it contains a <!{kind} declaration")
    try:
        root = etree.fromstring(data, parser=safe_parser())
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


def idp_descriptors(root: etree._Element) -> list[etree._Element]:
    """The ``IDPSSODescriptor`` elements of IdP metadata (none: it is not IdP metadata)."""
    return list(root.iter(f"{{{MD_NS}}}IDPSSODescriptor"))


def signing_certificates(descriptors: list[etree._Element]) -> list[str]:
    """The base64 bodies, whitespace removed and each once, of the certificates the
    ``descriptors`` name for signing (a KeyDescriptor with no ``use`` is for both uses)."""
    bodies: list[str] = []
    for descriptor in descriptors:
        for key in descriptor.iterfind(f"{{{MD_NS}}}KeyDescriptor"):
            if key.get("use", "signing") != "signing":
                continue
            for element in key.iterfind(X509_CERTIFICATE):
                body = ASCII_WHITESPACE.sub("", element.text or "")
                if body and body not in bodies:
                    bodies.append(body)
    return bodies


def show_time(moment: datetime) -> str:
    """A SAML or certificate time as errors show it."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
