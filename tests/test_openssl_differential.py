"""jcsaml setup cert against openssl itself: on the same key and config, ``openssl req -new -x509``
and jcsaml make certificates with the same subject and signature algorithm, and, where the config
names extensions (``x509_extensions``), the same extensions: names, values and criticality.

Where the config names none, openssl 3 writes a v1 certificate without extensions and jcsaml adds
the usual v3 set of a self-signed certificate (basicConstraints, subject and authority key
identifiers), as docs/admin.md says."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtensionOID

from jcsaml.admin.certificate import build_key_and_certificate
from jcsaml.admin.openssl_config import read_openssl_config
from tests.conftest import REPO

DEBIAN_CONFIG = Path("/usr/lib/ssl/openssl.cnf")

EXTENSIONS_CONFIG = """\
# With variables and an extensions section.
org = Acme Corporation
unit_base = Rocket

[ req ]
default_md = sha384
prompt = no
distinguished_name = dn
x509_extensions = idp_ext
[ dn ]
C = US
O = $org
OU = ${unit_base} Products   # trailing comment
CN = ${dn::O} IdP
[ idp_ext ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, nonRepudiation
extendedKeyUsage = serverAuth, clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
subjectAltName = DNS:sso.acme.example, email:ops@acme.example
"""


def configs(tmp_path: Path) -> list[tuple[str, Path]]:
    assert DEBIAN_CONFIG.exists(), "Debian's openssl package provides /usr/lib/ssl/openssl.cnf"
    extensions = tmp_path / "extensions.cnf"
    extensions.write_text(EXTENSIONS_CONFIG)
    return [
        ("runbook", REPO / "fixtures" / "runbook" / "production.cnf"),
        ("debian", DEBIAN_CONFIG),
        ("extensions", extensions),
    ]


def openssl(*args: str, cwd: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    path = shutil.which("openssl")
    assert path is not None, "the openssl command is needed (.ci/run installs it)"
    return subprocess.run(
        [path, *args], cwd=cwd, input=stdin, capture_output=True, text=True, check=False
    )


def extensions_of(cert: x509.Certificate) -> dict[str, tuple[bool, x509.ExtensionType]]:
    return {ext.oid.dotted_string: (ext.critical, ext.value) for ext in cert.extensions}


@pytest.mark.parametrize("name", ["runbook", "debian", "extensions"])
def test_jcsaml_makes_what_openssl_makes(name: str, tmp_path: Path) -> None:
    config = dict(configs(tmp_path))[name]
    made = openssl("genrsa", "-out", "same.key", "2048", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    # Enter at every question of a prompting config takes openssl's defaults, as jcsaml does.
    ran = openssl(
        "req", "-new", "-x509", "-key", "same.key", "-out", "openssl.crt", "-config", str(config),
        cwd=tmp_path, stdin="\n" * 40,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    theirs = x509.load_pem_x509_certificate((tmp_path / "openssl.crt").read_bytes())

    request = read_openssl_config(config)
    _, pem = build_key_and_certificate(request, key_pem=(tmp_path / "same.key").read_bytes())
    ours = x509.load_pem_x509_certificate(pem)

    assert ours.subject.public_bytes() == theirs.subject.public_bytes(), (
        ours.subject.rfc4514_string(),
        theirs.subject.rfc4514_string(),
    )
    assert ours.issuer == ours.subject
    assert ours.signature_algorithm_oid == theirs.signature_algorithm_oid
    assert ours.public_key() == theirs.public_key()
    if request.extensions is None:
        assert theirs.version == x509.Version.v1 and len(theirs.extensions) == 0
        assert {ext.oid for ext in ours.extensions} == {
            ExtensionOID.BASIC_CONSTRAINTS,
            ExtensionOID.SUBJECT_KEY_IDENTIFIER,
            ExtensionOID.AUTHORITY_KEY_IDENTIFIER,
        }
    else:
        assert extensions_of(ours) == extensions_of(theirs)


def test_the_runbook_file_is_read_with_its_three_years() -> None:
    request = read_openssl_config(REPO / "fixtures" / "runbook" / "production.cnf")
    assert request.days == 1095 and request.openssl_would_use_30_days
    assert request.read == ("req", "req_distinguished_name", "ca", "CA_default")
    assert request.digest == "sha256" and request.extensions is None


def test_debians_config_is_read_with_its_extensions(tmp_path: Path) -> None:
    request = read_openssl_config(DEBIAN_CONFIG)
    assert request.days == 365 and request.openssl_would_use_30_days  # [ CA_default ]'s
    assert "v3_ca" in request.read and "policy_match" in request.ignored
    assert request.subject == (
        ("countryName", "AU"),
        ("stateOrProvinceName", "Some-State"),
        ("organizationName", "Internet Widgits Pty Ltd"),
    )
