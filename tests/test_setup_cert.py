"""jcsaml setup cert: the openssl config is read strictly, and openssl accepts what is written."""

from __future__ import annotations

import stat
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from jcsaml.admin.certificate import write_idp_certificate
from jcsaml.admin.openssl_config import CertificateRequest, parse_openssl_config
from jcsaml.errors import (
    OpensslConfigError,
    OpensslConfigFileError,
    OutputExistsError,
    OutputWriteError,
)
from jcsaml.testing.idp import IdpKeyPair
from tests.conftest import cli_environment, run_cli
from tests.world import RUNBOOK_CONFIG

PROMPTING_CONFIG = """\
HOME = .
[req]
distinguished_name = dn
default_days = 730
default_md = sha512
[dn]
countryName = Country Name (2 letter code)
countryName_default = GB
countryName_min = 2
countryName_max = 2
0.organizationName = Organization Name
0.organizationName_default = "Acme Ltd"
commonName = Common Name
commonName_default = acme-idp
commonName_max = 64
emailAddress = Email Address
"""


def test_runbook_config_is_read_field_by_field() -> None:
    request = parse_openssl_config(RUNBOOK_CONFIG)
    assert request == CertificateRequest(
        subject=(
            ("countryName", "US"),
            ("stateOrProvinceName", "Colorado"),
            ("localityName", "Boulder"),
            ("organizationName", "Acme"),
            ("organizationalUnitName", "Operations"),
            ("commonName", "JumpCloud"),
        ),
        days=1095,
        bits=2048,
        digest="sha256",
    )


def test_prompting_config_takes_the_defaults_openssl_offers() -> None:
    request = parse_openssl_config(PROMPTING_CONFIG)
    assert (request.days, request.digest, request.bits) == (730, "sha512", 2048)


@pytest.mark.parametrize(
    ("text", "line", "needle"),
    [
        (RUNBOOK_CONFIG.replace("default_md = sha256", "default_md = sha1"), 4, "sha256"),
        (RUNBOOK_CONFIG.replace("encrypt_key = no", "encrypt_key = yes"), 6, "unencrypted"),
        (RUNBOOK_CONFIG.replace("prompt = no", "prompt = maybe"), 7, "yes or no"),
        (RUNBOOK_CONFIG.replace("default_days = 1095", "default_days = soon"), 5, "whole number"),
        (RUNBOOK_CONFIG.replace("default_bits = 2048", "default_bits = 1024"), 3, "2048"),
        (RUNBOOK_CONFIG.replace("countryName = US", "countryName = USA"), 11, "two-letter"),
        (RUNBOOK_CONFIG.replace("localityName", "cityName"), 13, "unknown distinguished-name"),
        (RUNBOOK_CONFIG.replace("encrypt_key = no", "x509_extensions = v3"), 6, "no [v3] section"),
        (RUNBOOK_CONFIG.replace("prompt = no", "prompt no"), 7, "key = value"),
        (RUNBOOK_CONFIG.replace("commonName = JumpCloud", "commonName = $ENV::CN"), 16, "$"),
        (RUNBOOK_CONFIG.replace("= JumpCloud", "= $nowhere"), 16, "has no value"),
        (RUNBOOK_CONFIG.replace("= JumpCloud", '= "JumpCloud'), 16, "not closed"),
        (RUNBOOK_CONFIG.replace("= JumpCloud", "= a $ b"), 16, "variable"),
        (".include /etc/ssl/more.cnf\n" + RUNBOOK_CONFIG, 1, ".include directive"),
        (
            RUNBOOK_CONFIG.replace("prompt = no", "prompt = no\nx509_extensions = ext")
            + "[ext]\nnsComment = hi\n",
            19,
            "extension 'nsComment'",
        ),
        (
            RUNBOOK_CONFIG.replace("prompt = no", "prompt = no\nx509_extensions = ext")
            + "[ext]\nkeyUsage = critical, signEverything\n",
            19,
            "unknown keyUsage",
        ),
        (RUNBOOK_CONFIG.replace("countryName = US", "countryName_default = US"), 11, "prompt"),
        (RUNBOOK_CONFIG.replace("= JumpCloud", "= " + "x" * 65), 16, "1 to 64"),
    ],
)
def test_a_bad_line_is_named(text: str, line: int, needle: str) -> None:
    with pytest.raises(OpensslConfigError) as caught:
        parse_openssl_config(text, path="production.cnf")
    assert caught.value.line == line
    message = str(caught.value)
    assert message.startswith(f"production.cnf line {line}: ")
    assert needle in message
    assert text.splitlines()[line - 1].strip() in message


def test_a_password_line_is_refused_without_showing_it() -> None:
    text = RUNBOOK_CONFIG.replace("encrypt_key = no", "output_password = hunter2")
    with pytest.raises(OpensslConfigError) as caught:
        parse_openssl_config(text, path="production.cnf")
    assert "unencrypted" in str(caught.value) and "output_password" in str(caught.value)
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[dn]\nCN = x\n", "no [req] section"),
        ("[req]\nprompt = no\n", "distinguished_name"),
        ("[req]\nprompt = no\ndistinguished_name = dn\n[dn]\n", "no subject field"),
    ],
)
def test_a_config_missing_a_part_is_refused(text: str, needle: str) -> None:
    with pytest.raises(OpensslConfigFileError, match=r"no|distinguished") as caught:
        parse_openssl_config(text, path="c.cnf")
    assert needle in str(caught.value)


def test_written_files_load_and_match_the_config(tmp_path: Path) -> None:
    request = parse_openssl_config(RUNBOOK_CONFIG)
    start = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
    written = write_idp_certificate(request, out_dir=tmp_path, name="production", now=lambda: start)
    assert written.key_path == tmp_path / "production.key"
    assert stat.S_IMODE(written.key_path.stat().st_mode) == 0o600
    key = serialization.load_pem_private_key(written.key_path.read_bytes(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 2048
    cert = x509.load_pem_x509_certificate(written.cert_path.read_bytes())
    assert cert.subject == cert.issuer
    expected = {
        NameOID.COUNTRY_NAME: "US",
        NameOID.STATE_OR_PROVINCE_NAME: "Colorado",
        NameOID.LOCALITY_NAME: "Boulder",
        NameOID.ORGANIZATION_NAME: "Acme",
        NameOID.ORGANIZATIONAL_UNIT_NAME: "Operations",
        NameOID.COMMON_NAME: "JumpCloud",
    }
    assert {a.oid: a.value for a in cert.subject} == expected
    assert cert.not_valid_before_utc == start
    assert cert.not_valid_after_utc == start + timedelta(days=1095)
    assert isinstance(cert.signature_hash_algorithm, hashes.SHA256)
    public = cert.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    assert public.public_numbers() == key.public_key().public_numbers()
    basic = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert basic.critical and basic.value.ca
    # The pair works as the fake IdP's signing key.
    keys = IdpKeyPair.from_files(written.key_path, written.cert_path)
    assert keys.cert_pem == written.cert_path.read_bytes()


def test_openssl_accepts_the_key_and_the_certificate(tmp_path: Path) -> None:
    (tmp_path / "production.cnf").write_text(RUNBOOK_CONFIG)
    result = run_cli(
        "setup",
        "cert",
        str(tmp_path / "production.cnf"),
        "--out-dir",
        str(tmp_path),
        "--days",
        "400",
        env=cli_environment(tmp_path),
    )
    assert result.status == 0, result.stderr
    assert "production.key" in result.stdout and "production.crt" in result.stdout
    text = subprocess.run(
        ["openssl", "x509", "-noout", "-text", "-in", str(tmp_path / "production.crt")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "Signature Algorithm: sha256WithRSAEncryption" in text
    assert "Public-Key: (2048 bit)" in text
    assert "C = US, ST = Colorado, L = Boulder, O = Acme, OU = Operations, CN = JumpCloud" in text
    assert "CA:TRUE" in text
    dates = subprocess.run(
        ["openssl", "x509", "-noout", "-startdate", "-enddate"],
        input=(tmp_path / "production.crt").read_text(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    cert = x509.load_pem_x509_certificate((tmp_path / "production.crt").read_bytes())
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == timedelta(days=400)
    assert f"notAfter={cert.not_valid_after_utc:%b %e %H:%M:%S %Y} GMT" in dates
    checked = subprocess.run(
        ["openssl", "rsa", "-check", "-noout", "-in", str(tmp_path / "production.key")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0 and "RSA key ok" in checked.stdout, checked.stderr
    # openssl agrees that the certificate is the key's.
    modulus = [
        subprocess.run(
            ["openssl", kind, "-noout", "-modulus", "-in", str(tmp_path / name)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for kind, name in (("x509", "production.crt"), ("rsa", "production.key"))
    ]
    assert modulus[0] == modulus[1]


def test_bits_and_days_from_the_command_line_win_over_the_config(tmp_path: Path) -> None:
    (tmp_path / "production.cnf").write_text(RUNBOOK_CONFIG)
    result = run_cli(
        "setup", "cert", str(tmp_path / "production.cnf"), "--out-dir", str(tmp_path),
        "--bits", "3072", "--days", "30",
        env=cli_environment(tmp_path),
    )  # fmt: skip
    assert result.status == 0, result.stderr
    assert "RSA 3072" in result.stdout
    key = serialization.load_pem_private_key(
        (tmp_path / "production.key").read_bytes(), password=None
    )
    assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 3072
    cert = x509.load_pem_x509_certificate((tmp_path / "production.crt").read_bytes())
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == timedelta(days=30)
    refused = run_cli(
        "setup", "cert", str(tmp_path / "production.cnf"), "--bits", "1024",
        env=cli_environment(tmp_path),
    )  # fmt: skip
    assert refused.status == 2 and "--bits" in refused.stderr


def test_existing_files_are_kept_without_force(tmp_path: Path) -> None:
    config = tmp_path / "production.cnf"
    config.write_text(RUNBOOK_CONFIG)
    env = cli_environment(tmp_path)
    args = ("setup", "cert", str(config), "--out-dir", str(tmp_path))
    assert run_cli(*args, env=env).status == 0
    before = {p: (tmp_path / p).read_bytes() for p in ("production.key", "production.crt")}

    again = run_cli(*args, env=env)
    assert again.status == 1
    assert again.stderr.strip().splitlines() == [
        f"jcsaml: error: {tmp_path / 'production.key'} already exists, so nothing was written; "
        "pass --force to replace it (IAM then needs the new certificate: run jcsaml setup aws "
        "again)"
    ]
    assert {p: (tmp_path / p).read_bytes() for p in before} == before

    # Only the certificate left: still refused, and the key is not written either.
    (tmp_path / "production.key").unlink()
    assert run_cli(*args, env=env).status == 1
    assert not (tmp_path / "production.key").exists()

    forced = run_cli(*args, "--force", env=env)
    assert forced.status == 0, forced.stderr
    assert (tmp_path / "production.crt").read_bytes() != before["production.crt"]
    assert stat.S_IMODE((tmp_path / "production.key").stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_a_bad_config_line_through_the_cli(tmp_path: Path) -> None:
    config = tmp_path / "production.cnf"
    config.write_text(RUNBOOK_CONFIG.replace("organizationName = Acme", "organisationName = Acme"))
    result = run_cli(
        "setup", "cert", str(config), "--out-dir", str(tmp_path), env=cli_environment(tmp_path)
    )
    assert result.status == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert lines[0].startswith(f"jcsaml: error: {config} line 14: unknown distinguished-name")
    assert "organisationName = Acme" in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "production.cnf"]


def test_missing_config_and_unwritable_directory(tmp_path: Path) -> None:
    missing = run_cli("setup", "cert", str(tmp_path / "nope.cnf"), env=cli_environment(tmp_path))
    assert missing.status == 1
    assert "cannot use" in missing.stderr and "No such file" in missing.stderr

    request = parse_openssl_config(RUNBOOK_CONFIG)
    with pytest.raises(OutputWriteError) as caught:
        write_idp_certificate(request, out_dir=tmp_path / "no" / "such", name="production")
    assert caught.value.path == str(tmp_path / "no" / "such" / "production.key")
    assert not (tmp_path / "no").exists()

    # Through the CLI: one line naming the file asked for, not a temporary one.
    (tmp_path / "production.cnf").write_text(RUNBOOK_CONFIG)
    result = run_cli(
        "setup", "cert", str(tmp_path / "production.cnf"), "--out-dir", str(tmp_path / "keys"),
        env=cli_environment(tmp_path),
    )  # fmt: skip
    assert result.status == 1
    assert result.stderr.strip().splitlines() == [
        f"jcsaml: error: cannot write {tmp_path / 'keys' / 'production.key'}: No such file or "
        "directory; nothing was replaced, check the directory"
    ]


def test_force_is_needed_for_either_file(tmp_path: Path) -> None:
    request = parse_openssl_config(RUNBOOK_CONFIG)
    (tmp_path / "production.crt").write_text("keep me")
    with pytest.raises(OutputExistsError) as caught:
        write_idp_certificate(request, out_dir=tmp_path, name="production")
    assert caught.value.path == str(tmp_path / "production.crt")
    assert (tmp_path / "production.crt").read_text() == "keep me"


OPENSSL_SYNTAX_CONFIG = """\
base = Acme   # the default section, searched by $var
[ ca ]
default_ca = CA_default
[CA_default]
default_days = 730
dir = ./demoCA
[ req ]
prompt = no
distinguished_name = dn
string_mask = utf8only
[ dn ]
C = "US"
O = ${base} "Rocket # Products"
OU = Ops \\# Security
CN = one \\
two
[ policy_anything ]
countryName = optional
"""


@pytest.mark.parametrize(
    ("config", "subject"),
    [
        # The bare fields are questions; without a _default openssl leaves the field out.
        (PROMPTING_CONFIG, (("C", "GB"), ("O", "Acme Ltd"), ("CN", "acme-idp"))),
        (
            OPENSSL_SYNTAX_CONFIG,
            (
                ("C", "US"),
                ("O", "Acme Rocket # Products"),
                ("OU", "Ops # Security"),
                ("CN", "one two"),
            ),
        ),
    ],
    ids=["prompting-defaults", "openssl-syntax"],
)
def test_the_subject_is_the_one_openssl_would_make(
    config: str, subject: tuple[tuple[str, str], ...]
) -> None:
    assert parse_openssl_config(config).subject == tuple(
        (FIELD_NAMES[short], value) for short, value in subject
    )


FIELD_NAMES = {
    "C": "countryName",
    "O": "organizationName",
    "OU": "organizationalUnitName",
    "CN": "commonName",
}


def test_openssl_syntax_is_followed() -> None:
    request = parse_openssl_config(OPENSSL_SYNTAX_CONFIG)
    assert request.days == 730 and request.openssl_would_use_30_days
    assert request.read == ("req", "dn", "ca", "CA_default")
    assert request.ignored == ("policy_anything",)
    assert request.ignored_keys == ("string_mask",)


def test_what_was_read_and_ignored_is_listed(tmp_path: Path) -> None:
    config = tmp_path / "acme.cnf"
    config.write_text(OPENSSL_SYNTAX_CONFIG)
    result = run_cli(
        "setup", "cert", str(config), "--out-dir", str(tmp_path), env=cli_environment(tmp_path)
    )
    assert result.status == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"Read {config}: [ req ], [ dn ], [ ca ], [ CA_default ]"
    assert lines[1] == (
        "  ignored (openssl req -x509 does not use them either): [ policy_anything ], "
        "string_mask in [ req ]"
    )
    assert lines[2] == "  validity: 730 days, from [ CA_default ] default_days"
    assert "would have made a 30-day certificate" in lines[3]
    cert = x509.load_pem_x509_certificate((tmp_path / "acme.crt").read_bytes())
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == timedelta(days=730)
    with_days = run_cli(
        "setup", "cert", str(config), "--out-dir", str(tmp_path), "--days", "90", "--force",
        env=cli_environment(tmp_path),
    )  # fmt: skip
    assert "  validity: 90 days (--days)" in with_days.stdout.splitlines()
    assert "30-day" not in with_days.stdout


def test_without_default_days_anywhere_three_years() -> None:
    text = RUNBOOK_CONFIG.replace("default_days = 1095\n", "")
    request = parse_openssl_config(text)
    assert request.days == 1095 and not request.openssl_would_use_30_days
