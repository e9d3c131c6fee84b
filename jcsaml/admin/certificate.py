"""The IdP signing key and its self-signed certificate, as ``jcsaml setup cert`` writes them.

The result matches ``openssl genrsa -out NAME.key 2048`` followed by ``openssl req -new -x509
-key NAME.key -out NAME.crt -config NAME.cnf``: an RSA key (PKCS#8 PEM, unencrypted, what
JumpCloud takes) and an X.509 v3 certificate whose subject and issuer are the config's
distinguished name, signed with the config's digest, carrying the extensions the config's
``x509_extensions`` section names (or, when it names none, the usual v3 set of a self-signed
certificate: basicConstraints CA:true, subject and authority key identifiers; openssl 3.0 would
write a v1 certificate without extensions then). cryptography is imported inside the functions.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from jcsaml.admin.openssl_config import (
    DIGESTS,
    EXTENDED_KEY_USAGES,
    KEY_SIZES,
    KEY_USAGES,
    MAX_DAYS,
    CertificateRequest,
    Extension,
)
from jcsaml.errors import InvalidSettingError, OutputExistsError, OutputWriteError
from jcsaml.private_file import temp_name, write_new_file

if TYPE_CHECKING:
    from cryptography import x509

_NAME_OIDS = {
    "countryName": "COUNTRY_NAME",
    "stateOrProvinceName": "STATE_OR_PROVINCE_NAME",
    "localityName": "LOCALITY_NAME",
    "organizationName": "ORGANIZATION_NAME",
    "organizationalUnitName": "ORGANIZATIONAL_UNIT_NAME",
    "commonName": "COMMON_NAME",
    "emailAddress": "EMAIL_ADDRESS",
}


@dataclass(frozen=True)
class IdpCertificateFiles:
    """What :func:`write_idp_certificate` wrote."""

    key_path: Path
    cert_path: Path
    subject: str
    not_before: datetime
    not_after: datetime
    bits: int
    sha256_fingerprint: str


def build_key_and_certificate(
    request: CertificateRequest, *, now: datetime | None = None, key_pem: bytes | None = None
) -> tuple[bytes, bytes]:
    """A new RSA key (PKCS#8 PEM) and the self-signed certificate (PEM) ``request`` describes.

    The certificate is valid from ``now`` (default: the current time) for ``request.days``.
    With ``key_pem`` (an unencrypted RSA key), that key signs instead of a new one, as
    ``openssl req -new -x509 -key KEY`` does.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    if request.bits not in KEY_SIZES:
        raise InvalidSettingError(setting="key size", reason=f"{request.bits} is not supported")
    if request.digest not in DIGESTS:
        raise InvalidSettingError(setting="digest", reason=f"{request.digest} is not supported")
    if not 1 <= request.days <= MAX_DAYS:
        raise InvalidSettingError(setting="days", reason=f"{request.days} is out of range")
    if key_pem is None:
        key = rsa.generate_private_key(public_exponent=65537, key_size=request.bits)
    else:
        loaded = serialization.load_pem_private_key(key_pem, password=None)
        if not isinstance(loaded, rsa.RSAPrivateKey):
            raise InvalidSettingError(setting="key", reason="not an RSA private key")
        key = loaded
    name = x509.Name(
        [
            x509.NameAttribute(getattr(NameOID, _NAME_OIDS[field]), value)
            for field, value in request.subject
        ]
    )
    start = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    public_key = key.public_key()
    subject_key_id = x509.SubjectKeyIdentifier.from_public_key(public_key)
    digests: dict[str, hashes.SHA256 | hashes.SHA384 | hashes.SHA512] = {
        "sha256": hashes.SHA256(),
        "sha384": hashes.SHA384(),
        "sha512": hashes.SHA512(),
    }
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=request.days))
    )
    if request.extensions is None:
        # No extensions section: the usual v3 set of a self-signed certificate.
        builder = (
            builder.add_extension(subject_key_id, critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(subject_key_id),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        )
    else:
        for extension in request.extensions:
            value = _extension_value(extension, subject_key_id, name)
            if value is not None:
                builder = builder.add_extension(value, critical=extension.critical)
    certificate = builder.sign(key, digests[request.digest])
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return key_pem, certificate.public_bytes(serialization.Encoding.PEM)


def _extension_value(
    extension: Extension, subject_key_id: x509.SubjectKeyIdentifier, issuer: x509.Name
) -> x509.ExtensionType | None:
    """The cryptography object for one line of the config's extensions section, as openssl
    makes it for a self-signed certificate (None: openssl writes nothing for it)."""
    import ipaddress

    from cryptography import x509
    from cryptography.x509.oid import ObjectIdentifier

    values = extension.values
    if extension.name == "basicConstraints":
        options = dict(part.partition(":")[::2] for part in values)
        ca = options.get("CA", "false").lower() == "true"
        pathlen = options.get("pathlen")
        return x509.BasicConstraints(ca=ca, path_length=int(pathlen) if pathlen and ca else None)
    if extension.name == "keyUsage":
        flags = {flag: False for flag in KEY_USAGES.values()}
        flags.update({KEY_USAGES[part]: True for part in values})
        return x509.KeyUsage(**flags)
    if extension.name == "extendedKeyUsage":
        return x509.ExtendedKeyUsage(
            [ObjectIdentifier(EXTENDED_KEY_USAGES.get(part, part)) for part in values]
        )
    if extension.name == "subjectKeyIdentifier":
        return None if values == ("none",) else subject_key_id
    if extension.name == "authorityKeyIdentifier":
        if "none" in values:
            return None
        # Self-signed: the key identifier is the certificate's own, which openssl writes for
        # keyid and keyid:always alike; issuer and serial only with issuer:always.
        keyid = any(part.startswith("keyid") for part in values)
        return x509.AuthorityKeyIdentifier(
            key_identifier=subject_key_id.digest if keyid else None,
            authority_cert_issuer=[x509.DirectoryName(issuer)]
            if "issuer:always" in values
            else None,
            authority_cert_serial_number=None,
        )
    names: list[x509.GeneralName] = []
    for part in values:  # subjectAltName
        kind, _, value = part.partition(":")
        if kind == "DNS":
            names.append(x509.DNSName(value))
        elif kind == "email":
            names.append(x509.RFC822Name(value))
        elif kind == "URI":
            names.append(x509.UniformResourceIdentifier(value))
        else:
            names.append(x509.IPAddress(ipaddress.ip_address(value)))
    return x509.SubjectAlternativeName(names)


def write_idp_certificate(
    request: CertificateRequest,
    *,
    out_dir: Path,
    name: str,
    force: bool = False,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> IdpCertificateFiles:
    """Write ``NAME.key`` (mode 0600) and ``NAME.crt`` into ``out_dir``.

    Raises OutputExistsError when either file exists and ``force`` is false (then nothing is
    written), OutputWriteError when the directory cannot be written. Each file is written to a
    temporary file first and renamed into place, so neither is ever left half-written.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    key_path = out_dir / f"{name}.key"
    cert_path = out_dir / f"{name}.crt"
    if not force:
        for path in (key_path, cert_path):
            if path.exists() or path.is_symlink():
                raise OutputExistsError(path=str(path))
    key_pem, cert_pem = build_key_and_certificate(request, now=now())
    staged: list[tuple[Path, Path]] = []
    writing = key_path  # the error names the file asked for, never the temporary one
    try:
        staged.append((_stage(key_path, key_pem, 0o600), key_path))
        writing = cert_path
        staged.append((_stage(cert_path, cert_pem, 0o644), cert_path))
        for temporary, final in staged:
            writing = final
            os.replace(temporary, final)
    except OSError as exc:
        for temporary, _ in staged:
            with contextlib.suppress(OSError):
                temporary.unlink()
        raise OutputWriteError(path=str(writing), reason=exc.strerror or str(exc)) from None
    certificate = x509.load_pem_x509_certificate(cert_pem)
    return IdpCertificateFiles(
        key_path=key_path,
        cert_path=cert_path,
        subject=request.subject_text(),
        not_before=certificate.not_valid_before_utc,
        not_after=certificate.not_valid_after_utc,
        bits=request.bits,
        sha256_fingerprint=certificate.fingerprint(hashes.SHA256()).hex(":").upper(),
    )


def _stage(final: Path, data: bytes, mode: int) -> Path:
    """``data`` in a new file next to ``final``, created with ``mode`` and flushed to disk."""
    temporary = temp_name(final)
    write_new_file(temporary, data, mode=mode)
    return temporary
