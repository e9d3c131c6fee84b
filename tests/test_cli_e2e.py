"""End to end through the real CLI: the fake JumpCloud, moto's STS made strict, the AWS CLI."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from jcsaml.testing.idp import IdpKeyPair
from jcsaml.testing.sts import MisbehavingSts
from tests.world import (
    ACCOUNT,
    EMAIL,
    PASSWORD,
    SAML_PAGE,
    CliResult,
    World,
    WorldFactory,
    assert_one_line_error,
)


def test_configure_login_aws_cli_exec_and_cached_second_login(world: World) -> None:
    ro = world.roles["AcmeJumpCloudAdminRO"]
    world.configure()
    assert stat.S_IMODE(world.config.stat().st_mode) == 0o600

    first = world.login("--role", ro)
    assert first.status == 0, first.stderr
    assert f"Logged in as {ro}" in first.stdout
    assert "expire at" in first.stdout
    assert stat.S_IMODE(world.credentials.stat().st_mode) == 0o600
    assert world.aws.calls[-1].role_arn == ro

    aws_cli = shutil.which("aws", path=os.path.dirname(sys.executable))
    assert aws_cli, "the AWS CLI is part of the test dependencies"
    done = subprocess.run(
        [aws_cli, "--profile", "production", "sts", "get-caller-identity"],
        env=world.env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(done.stdout)["Arn"].startswith(
        f"arn:aws:sts::{ACCOUNT}:assumed-role/AcmeJumpCloudAdminRO/"
    )

    script = (
        "import os, sys; print(os.environ['AWS_ACCESS_KEY_ID'], "
        "os.environ.get('AWS_PROFILE')); sys.exit(7)"
    )
    ran = world.exec_command(
        sys.executable, "-c", script, options=("--role", ro), AWS_PROFILE="somewhere-else"
    )
    assert ran.status == 7, ran.stderr
    key_id, profile = ran.stdout.split()
    assert key_id.startswith(("ASIA", "AKIA", "FSIA")) and profile == "None"

    world.jumpcloud.clear_requests()
    again = world.login("--role", ro)
    assert again.status == 0, again.stderr
    assert "already holds credentials" in again.stdout
    assert world.jumpcloud.count() == 0


def test_exec_runs_the_aws_cli_with_the_credentials(world: World) -> None:
    world.configure("--role", world.roles["AcmeJumpCloudAdmin"])
    assert world.login().status == 0
    aws_cli = shutil.which("aws", path=os.path.dirname(sys.executable))
    assert aws_cli
    ran = world.exec_command(
        aws_cli, "sts", "get-caller-identity", "--query", "Arn", "--output", "text"
    )
    assert ran.status == 0, ran.stderr
    assert ran.stdout.strip().startswith(f"arn:aws:sts::{ACCOUNT}:assumed-role/AcmeJumpCloudAdmin/")


def test_exec_logs_in_first_when_nothing_is_cached(world: World) -> None:
    world.configure("--role", world.roles["AcmeJumpCloudAdminRO"])
    ran = world.exec_command(
        sys.executable,
        "-c",
        "import os; print(os.environ['AWS_CREDENTIAL_EXPIRATION'])",
        options=("--skip-prompt",),
        **world.sign_in_env(),
    )
    assert ran.status == 0, ran.stderr
    assert ran.stdout.strip().endswith("Z")
    assert world.credentials.exists()


def test_exec_hands_none_of_jcsamls_inputs_to_the_command(world: World) -> None:
    world.configure("--role", world.roles["AcmeJumpCloudAdminRO"])
    code = world.code()
    ran = world.exec_command(
        "env",
        options=("--skip-prompt",),
        JCSAML_PASSWORD=PASSWORD,
        JCSAML_MFA_TOKEN=code,
        JCSAML_USERNAME=EMAIL,
        JCSAML_IDP_ACCOUNT="production",
    )
    assert ran.status == 0, ran.stderr
    child = dict(line.split("=", 1) for line in ran.stdout.splitlines() if "=" in line)
    assert [key for key in child if key.startswith("JCSAML_")] == ["JCSAML_EXEC_ACCOUNT"]
    assert PASSWORD not in ran.stdout
    assert code not in ran.stdout
    assert child["AWS_ACCESS_KEY_ID"]


def test_force_signs_in_again(world: World) -> None:
    world.configure("--role", world.roles["AcmeJumpCloudAdminRO"])
    assert world.login().status == 0
    world.jumpcloud.clear_requests()
    forced = world.login("--force", code=world.code(steps=1))
    assert forced.status == 0, forced.stderr
    assert world.jumpcloud.count(path_prefix="/userconsole/auth") >= 1


def test_other_profiles_and_comments_survive_a_login(world: World) -> None:
    world.credentials.parent.mkdir(parents=True)
    world.credentials.write_text(
        "# my keys\n[personal]\naws_access_key_id = AKIAPERSONAL\naws_secret_access_key = keep-me\n"
    )
    world.configure("--role", world.roles["AcmeJumpCloudAdminRO"])
    assert world.login().status == 0
    text = world.credentials.read_text()
    assert text.startswith(
        "# my keys\n[personal]\naws_access_key_id = AKIAPERSONAL\naws_secret_access_key = keep-me\n"
    )
    assert "[production]" in text and "x_security_token_expires" in text


# --- bad input: one clear line, exit 1, files untouched ---------------------------------------


def snapshot(world: World) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in (world.config, world.credentials) if p.exists()}


def test_wrong_password(world: World) -> None:
    world.configure("--role", world.roles["AcmeJumpCloudAdminRO"])
    before = snapshot(world)
    result = world.login(JCSAML_PASSWORD="wrong")
    assert_one_line_error(result, "Authentication failed", "password")
    assert PASSWORD not in result.stderr and "wrong" not in result.stderr.replace("wrong?", "")
    assert snapshot(world) == before


def test_wrong_totp(world: World) -> None:
    world.configure("--role", world.roles["AcmeJumpCloudAdminRO"])
    result = world.login(code="000000" if world.code() != "000000" else "111111")
    assert_one_line_error(result, "MFA code")
    assert not world.credentials.exists()


@pytest.mark.parametrize(("kind", "needle"), [("html", "expected JSON"), ("500", "HTTP 500")])
def test_idp_faults(world: World, kind: str, needle: str) -> None:
    world.configure("--role", world.roles["AcmeJumpCloudAdminRO"])
    world.jumpcloud.inject_fault("/userconsole/auth", kind, times=5)  # type: ignore[arg-type]
    result = world.login()
    assert_one_line_error(result, needle)
    assert not world.credentials.exists()


def test_no_saml_response_mentions_conditional_access(world_with: WorldFactory) -> None:
    world = world_with(app={"conditional_access_denied": True})
    world.configure()
    assert_one_line_error(world.login(), "conditional-access")


def test_unknown_role(world: World) -> None:
    world.configure()
    result = world.login("--role", "NoSuchRole")
    assert_one_line_error(result, "NoSuchRole", "AcmeJumpCloudAdminRO")
    assert not world.credentials.exists()


def test_malformed_config(world: World) -> None:
    world.config.write_text("[production\nurl = nope\n")
    before = snapshot(world)
    assert_one_line_error(world.login(), str(world.config), "line 1")
    assert snapshot(world) == before


def test_corrupt_credentials_file(world: World) -> None:
    world.configure("--role", world.roles["AcmeJumpCloudAdminRO"])
    world.credentials.parent.mkdir(parents=True)
    world.credentials.write_text("[personal]\naws_access_key_id = AKIA\ngarbage line\n")
    before = snapshot(world)
    result = world.login()
    assert_one_line_error(result, str(world.credentials), "line 3")
    assert snapshot(world) == before


def test_skip_prompt_names_the_missing_input(world: World) -> None:
    world.configure("--role", world.roles["AcmeJumpCloudAdminRO"])
    result = world.run("login", "-a", "production", "--skip-prompt")
    assert_one_line_error(result, "--password", "JCSAML_PASSWORD")


def test_unknown_account(world: World) -> None:
    assert_one_line_error(
        world.run("login", "-a", "nope", "--skip-prompt"), "jcsaml configure -a nope"
    )


def test_usage_error_exits_2(world: World) -> None:
    result = world.run("login", "--no-such-flag")
    assert result.status == 2
    assert "usage:" in result.stderr


def test_exec_of_a_missing_command(world: World) -> None:
    world.configure("--role", world.roles["AcmeJumpCloudAdminRO"])
    assert world.login().status == 0
    assert_one_line_error(
        world.run("exec", "-a", "production", "--", "no-such-command-xyz"),
        "command not found: no-such-command-xyz",
        status=127,  # as a shell
    )


def test_configure_asks_for_what_is_missing_and_offers_current_values(world: World) -> None:
    answers = "\n".join([world.app_url, EMAIL, "totp", "prod"]) + "\n"
    first = world.run(
        "configure", "-a", "production", "--console-url", world.jumpcloud.url, stdin=answers
    )
    assert first.status == 0, first.stderr
    text = world.config.read_text()
    assert "mfa = TOTP" in text and "aws_profile = prod" in text and f"username = {EMAIL}" in text
    # The account exists and lacks nothing: no question, only the flag changes something.
    second = world.run("configure", "-a", "production", "--region", "eu-west-1", stdin="")
    assert second.status == 0, second.stderr
    assert second.stderr == ""
    text = world.config.read_text()
    assert "aws_profile = prod" in text and "region = eu-west-1" in text


def test_configure_refuses_plain_http_to_a_remote_host(world: World) -> None:
    result = world.run(
        "configure", "-a", "x", "--url", "http://sso.jumpcloud.com/saml2/a", "--skip-prompt"
    )
    assert_one_line_error(result, "https")
    assert not world.config.exists()


# --- signature verification ---------------------------------------------------------------


def fingerprint_of(keys: IdpKeyPair) -> str:
    from jcsaml.saml import certificate_sha256

    return certificate_sha256(keys.cert_pem)


def shown(keys: IdpKeyPair) -> str:
    from jcsaml.saml import show_fingerprint

    return show_fingerprint(fingerprint_of(keys))


@contextlib.contextmanager
def trusting_also(world: World, new_keys: IdpKeyPair) -> Iterator[None]:
    """While inside: IAM's SAML provider lists the renewed certificate next to the old one (as
    an administrator's rotation does), so AWS accepts assertions signed with either."""
    old = world.keys.metadata_xml()
    descriptor = (
        '<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">'
        f"<ds:X509Data><ds:X509Certificate>{new_keys.cert_base64()}</ds:X509Certificate>"
        "</ds:X509Data></ds:KeyInfo></md:KeyDescriptor>\n    "
    )
    both = old.replace("<md:NameIDFormat>", descriptor + "<md:NameIDFormat>", 1)
    iam = world.aws.iam_client(ACCOUNT)
    principal = world.roles["principal"]
    iam.update_saml_provider(SAMLMetadataDocument=both, SAMLProviderArn=principal)
    try:
        yield
    finally:
        iam.update_saml_provider(SAMLMetadataDocument=old, SAMLProviderArn=principal)


NO_MFA = {"totp_secret": None}  # users who sign in more often than TOTP windows allow


def test_first_login_pins_the_certificate_and_a_forged_one_is_refused(
    world_with: WorldFactory, keys: IdpKeyPair
) -> None:
    world = world_with(user=NO_MFA)
    world.configure("--role", world.roles["AcmeJumpCloudAdminRO"])
    world.config.write_text("# team accounts\n" + world.config.read_text())
    first = world.login(code="")
    assert first.status == 0, first.stderr
    notes = [line for line in first.stderr.splitlines() if "IdP certificate" in line]
    assert len(notes) == 1 and shown(keys) in notes[0] and "JumpCloud admin console" in notes[0]
    config = world.config.read_text()
    assert f"idp_cert_sha256 = {fingerprint_of(keys)}" in config
    assert config.startswith("# team accounts\n")

    again = world.login("--force", code="")
    assert again.status == 0, again.stderr
    assert "IdP certificate" not in again.stderr

    saved = world.credentials.read_text()
    forger = IdpKeyPair.generate()
    world.jumpcloud.keys = forger  # a forged JumpCloud, signing with its own certificate
    for _ in range(2):  # refused every time: nothing re-pins by itself
        forged = world.login("--force", code="")
        assert_one_line_error(
            forged,
            "HAS CHANGED",
            shown(keys),
            shown(forger),
            "jcsaml login -a production --trust-new-cert",
            "jcsaml configure -a production --idp-cert NEW.pem",
        )
    assert world.credentials.read_text() == saved
    assert f"idp_cert_sha256 = {fingerprint_of(keys)}" in world.config.read_text()


def test_a_renewed_certificate_is_accepted_with_trust_new_cert(
    world_with: WorldFactory, keys: IdpKeyPair
) -> None:
    world = world_with(user=NO_MFA)
    world.configure("--role", world.roles["AcmeJumpCloudAdminRO"])
    assert world.login(code="").status == 0
    renewed = IdpKeyPair.generate()
    world.jumpcloud.keys = renewed
    with trusting_also(world, renewed):
        refused = world.login("--force", code="")
        assert_one_line_error(refused, "HAS CHANGED")
        accepted = world.login("--trust-new-cert", code="")
        assert accepted.status == 0, accepted.stderr
        assert shown(renewed) in accepted.stderr and shown(keys) in accepted.stderr
        assert f"idp_cert_sha256 = {fingerprint_of(renewed)}" in world.config.read_text()
        later = world.login("--force", code="")
        assert later.status == 0, later.stderr
        assert "IdP certificate" not in later.stderr


def test_a_renewed_certificate_is_accepted_with_configure_idp_cert(
    world: World, keys: IdpKeyPair
) -> None:
    world.configure("--role", world.roles["AcmeJumpCloudAdminRO"])
    assert world.login().status == 0
    renewed = IdpKeyPair.generate()
    world.jumpcloud.keys = renewed
    cert = world.home / "new.pem"
    cert.write_bytes(renewed.cert_pem)
    cert.chmod(0o644)
    with trusting_also(world, renewed):
        world.configure("--idp-cert", str(cert))
        config = world.config.read_text()
        assert f"idp_cert = {cert}" in config
        assert f"idp_cert_sha256 = {fingerprint_of(renewed)}" in config
        result = world.login("--force", code=world.code(steps=1))
        assert result.status == 0, result.stderr


def test_trust_new_cert_does_not_apply_to_an_idp_cert_file(world: World, keys: IdpKeyPair) -> None:
    cert = world.home / "jumpcloud.pem"
    cert.write_bytes(keys.cert_pem)
    cert.chmod(0o644)
    world.configure("--idp-cert", str(cert))
    result = world.login("--trust-new-cert")
    assert_one_line_error(result, "--trust-new-cert", "jcsaml configure -a production --idp-cert")


def test_an_idp_cert_file_others_can_write_or_that_changed_is_refused(
    world: World, keys: IdpKeyPair
) -> None:
    cert = world.home / "jumpcloud.pem"
    cert.write_bytes(keys.cert_pem)
    cert.chmod(0o666)
    refused = world.run(
        "configure", "-a", "production", "--url", world.app_url,
        "--idp-cert", str(cert), "--skip-prompt",
    )  # fmt: skip
    assert_one_line_error(refused, "group and world-writable", f"chmod go-w {cert}")
    cert.chmod(0o644)
    world.configure("--role", world.roles["AcmeJumpCloudAdminRO"], "--idp-cert", str(cert))
    assert f"idp_cert_sha256 = {fingerprint_of(keys)}" in world.config.read_text()

    cert.chmod(0o664)
    assert_one_line_error(world.login(), "group-writable")
    cert.chmod(0o644)
    cert.write_bytes(IdpKeyPair.generate().cert_pem)
    assert_one_line_error(
        world.login(), "has changed since it was configured", shown(keys), "--idp-cert"
    )
    assert not world.credentials.exists()
    assert world.jumpcloud.count("POST", "/userconsole/auth") == 0  # refused before signing in


@pytest.mark.parametrize("sign", ["none", "assertion"])
def test_unverifiable_responses_are_refused_unless_allow_unsigned_which_warns_every_time(
    world_with: WorldFactory, sign: str
) -> None:
    # "none": unsigned (STS refuses it, as AWS does); "assertion": signed, certificate left out
    # of KeyInfo (AWS verifies it with the provider's metadata, jcsaml has nothing to check with).
    world = world_with(app={"sign": sign, "embed_certificate": False}, user=NO_MFA)
    world.configure("--role", world.roles["AcmeJumpCloudAdminRO"])
    refused = world.login(code="")
    assert_one_line_error(refused, "'production' is not signed", "allow_unsigned = true")
    assert not world.credentials.exists()
    world.config.write_text(world.config.read_text() + "allow_unsigned = true\n")
    if sign == "none":
        result = world.login(code="")
        assert_one_line_error(result, "InvalidIdentityToken")
        return
    for _ in range(2):
        result = world.login("--force", code="")
        assert result.status == 0, result.stderr
        assert "warning: JumpCloud's SAML response for account 'production'" in result.stderr
        assert "allow_unsigned = true" in result.stderr
    assert "idp_cert_sha256" not in world.config.read_text()
    done = world.run(
        "exec", "-a", "production", "--force", "--skip-prompt", "--", sys.executable, "-c", "pass",
        JCSAML_PASSWORD=PASSWORD,
    )  # fmt: skip
    assert done.status == 0, done.stderr
    assert "warning: JumpCloud's SAML response" in done.stderr


def test_an_assertion_issued_to_another_user_is_refused(world_with: WorldFactory) -> None:
    world = world_with(user={"name_id": "mallory@evil.example"})
    world.configure("--role", world.roles["AcmeJumpCloudAdminRO"])
    result = world.login()
    assert_one_line_error(
        result,
        "issued to mallory@evil.example, not to alice@acme.example",
        "jcsaml configure -a production --saml-nameid mallory@evil.example",
    )
    assert not world.credentials.exists()
    world.configure("--saml-nameid", "mallory@evil.example")
    accepted = world.login(code=world.code(steps=1))
    assert accepted.status == 0, accepted.stderr


def test_too_many_roles_is_one_clear_error(world_with: WorldFactory) -> None:
    provider = f"arn:aws:iam::{ACCOUNT}:saml-provider/J"
    roles = [(f"arn:aws:iam::{ACCOUNT}:role/R{i}", provider) for i in range(1001)]
    world = world_with(app={"roles": roles})
    world.configure()
    assert_one_line_error(world.login(), "1001 values", "more than the 1000")


RAW = ("\x1b", "\x07", "\x9b", "\u202e", "\r")


def test_escape_sequences_from_jumpcloud_or_the_assertion_never_reach_the_terminal(
    world_with: WorldFactory,
) -> None:
    hostile = "Authentication failed.\x1b]0;owned\x07\x1b[2K\r\u202eevil"
    world = world_with(
        user={"auth_failure_message": hostile, "name_id": "mallory\u202e\x9b2K@evil.example"}
    )
    world.configure("--role", world.roles["AcmeJumpCloudAdminRO"])
    wrong = world.login(JCSAML_PASSWORD="wrong password")
    assert_one_line_error(wrong, "JumpCloud rejected the sign-in", "\\x1b]0;owned\\x07")
    assert not any(raw in wrong.stderr for raw in RAW)
    other = world.login("--debug", code=world.code(steps=1))
    assert other.status == 1
    assert "jcsaml: error: the SAML assertion was issued to mallory\\u202e\\x9b2K" in other.stderr
    assert not any(raw in other.stderr for raw in RAW)


@pytest.mark.parametrize("form", ["pem", "metadata"])
def test_login_verifies_the_signature_with_the_configured_certificate(
    world: World, keys: IdpKeyPair, form: str
) -> None:
    cert = world.home / f"jumpcloud.{form}"
    cert.write_bytes(keys.cert_pem if form == "pem" else keys.metadata_xml().encode())
    world.configure("--role", world.roles["AcmeJumpCloudAdminRO"], "--idp-cert", str(cert))
    assert f"idp_cert = {cert}" in world.config.read_text()
    result = world.login()
    assert result.status == 0, result.stderr
    assert "not verified" not in result.stderr


def test_login_with_another_certificate_is_refused_and_writes_nothing(world: World) -> None:
    other = world.home / "other.pem"
    other.write_bytes(IdpKeyPair.generate().cert_pem)
    world.configure("--role", world.roles["AcmeJumpCloudAdminRO"], "--idp-cert", str(other))
    result = world.login()
    assert_one_line_error(
        result,
        "signed by a certificate",
        "other than the configured",
        "jcsaml configure -a production --idp-cert PATH",  # the account the user works on
    )
    assert not world.credentials.exists()


def test_configure_refuses_a_file_that_is_no_certificate(world: World) -> None:
    junk = world.home / "junk.txt"
    junk.write_text("hello")
    result = world.run(
        "configure",
        "-a",
        "production",
        "--url",
        world.app_url,
        "--idp-cert",
        str(junk),
        "--skip-prompt",
    )
    assert_one_line_error(result)
    assert not world.config.exists()


# --- secrets stay secret ----------------------------------------------------------------------


def test_debug_output_shows_the_steps_and_no_secret(world: World) -> None:
    world.configure("--role", world.roles["AcmeJumpCloudAdminRO"])
    code = world.code()
    result = world.login("--debug", code=code)
    assert result.status == 0, result.stderr
    assert "jcsaml: debug:" in result.stderr and "/userconsole/auth" in result.stderr
    written = world.credentials.read_text()
    secret_key = written.split("aws_secret_access_key = ")[1].split()[0]
    token = written.split("aws_session_token = ")[1].split()[0]
    output = result.stdout + result.stderr
    for secret in (PASSWORD, code, secret_key, token, "SAMLResponse", "PHNhbWxw"):
        assert secret not in output

    failed = world.login("--debug", "--force", JCSAML_PASSWORD="a-wrong-password")
    assert failed.status == 1
    assert "a-wrong-password" not in failed.stdout + failed.stderr


def test_exec_without_a_command_is_a_usage_error(world: World) -> None:
    result = world.run("exec", "-a", "production")
    assert result.status == 2
    assert "no command given" in result.stderr


def test_exec_inside_exec_is_refused(world: World) -> None:
    world.configure("--role", world.roles["AcmeJumpCloudAdminRO"])
    assert world.login().status == 0
    inner = f"{sys.executable} -m jcsaml exec -a production -- true"
    result = world.run("exec", "-a", "production", "--", "sh", "-c", inner)
    assert result.status == 1
    assert "already running inside jcsaml exec for account 'production'" in result.stderr


def test_login_verifies_with_a_der_certificate(world: World, keys: IdpKeyPair) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    der = world.home / "jumpcloud.cer"
    der.write_bytes(x509.load_pem_x509_certificate(keys.cert_pem).public_bytes(Encoding.DER))
    world.configure("--role", world.roles["AcmeJumpCloudAdminRO"], "--idp-cert", str(der))
    result = world.login()
    assert result.status == 0, result.stderr


def test_empty_passwords_are_never_sent(world: World) -> None:
    world.configure("--role", world.roles["AcmeJumpCloudAdminRO"])
    result = world.run("login", "-a", "production", stdin="\n\n\n")
    assert result.status == 1
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("Signing in to JumpCloud for account 'production' as " + EMAIL)
    assert lines[1:4] == ["JumpCloud password: "] * 3  # asked again, the answer never echoed
    assert lines[4] == (
        "jcsaml: error: no JumpCloud password was typed (three empty answers), so nothing was "
        "sent to JumpCloud; run the command again and type it"
    )
    assert world.jumpcloud.count("POST") == 0


# --- servers that misbehave -----------------------------------------------------------------

MARGIN = 4.0  # only an upper bound on giving up is asserted, never a speed


def add_setting(world: World, line: str) -> None:
    # configure wrote the one section: the line lands in it.
    world.config.write_text(world.config.read_text().rstrip("\n") + f"\n{line}\n")


def test_a_redirect_off_jumpcloud_never_gets_the_session_cookie(world: World) -> None:
    from tests.test_answer_limits import OtherHost

    world.configure("--role", world.roles["AcmeJumpCloudAdminRO"])
    with OtherHost() as elsewhere:
        world.jumpcloud.inject_fault(SAML_PAGE, "redirect", location=elsewhere.url)
        result = world.login()
    assert_one_line_error(result, f"redirected to {elsewhere.url}", "did not follow it")
    assert elsewhere.hits == 0
    assert not world.credentials.exists()


# Runs a command and prints, last on stdout, the peak RSS (KiB) of that command alone: the test
# process's own children include every earlier test's, some of them large.
PEAK_RSS = (
    "import resource, subprocess, sys\n"
    "done = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
    "sys.stdout.write(done.stdout)\n"
    "sys.stderr.write(done.stderr)\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    "sys.exit(done.returncode)\n"
)


def test_a_gzip_bomb_from_jumpcloud_is_refused_under_a_memory_bound(world: World) -> None:
    world.configure("--role", world.roles["AcmeJumpCloudAdminRO"])
    world.jumpcloud.inject_fault("/userconsole/xsrf", "bomb")
    login = [sys.executable, "-m", "jcsaml", "login", "-a", "production", "--skip-prompt"]
    done = subprocess.run(
        [sys.executable, "-c", PEAK_RSS, *login],
        env={
            **world.env,
            "JCSAML_PASSWORD": PASSWORD,
            "JCSAML_MFA_TOKEN": world.code(),
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    *output, peak = done.stdout.splitlines()
    result = CliResult(done.returncode, "".join(line + "\n" for line in output), done.stderr)
    assert_one_line_error(result, "/userconsole/xsrf is larger than 4 MiB")
    assert not world.credentials.exists()
    # The answer decodes to 400 MiB; a sign-in alone needs well under 200.
    assert int(peak) < 200 * 1024


def test_a_dripping_jumpcloud_gives_up_at_http_timeout(world: World) -> None:
    world.configure("--role", world.roles["AcmeJumpCloudAdminRO"])
    add_setting(world, "http_timeout = 1")
    world.jumpcloud.inject_fault("/userconsole/xsrf", "drip", delay=0.05)
    started = time.monotonic()
    result = world.login()
    elapsed = time.monotonic() - started
    assert_one_line_error(result, "no answer within 1 s")
    assert elapsed < 1 + MARGIN + 3  # plus the CLI's own start-up


def test_a_silent_sts_gives_up_at_sts_timeout(world: World) -> None:
    world.configure("--role", world.roles["AcmeJumpCloudAdminRO"])
    add_setting(world, "sts_timeout = 1")
    with MisbehavingSts("silent") as sts:
        started = time.monotonic()
        result = world.login(AWS_ENDPOINT_URL_STS=sts.endpoint_url)
        elapsed = time.monotonic() - started
    assert_one_line_error(result, "no complete answer within 1 s", "sts_timeout")
    assert elapsed < 1 + MARGIN + 3  # plus the CLI's own start-up and the sign-in
    assert not world.credentials.exists()


def test_a_maintenance_page_instead_of_sts_is_named(world: World) -> None:
    world.configure("--role", world.roles["AcmeJumpCloudAdminRO"])
    with MisbehavingSts("html", status=200) as sts:
        endpoint = sts.endpoint_url
        result = world.login(AWS_ENDPOINT_URL_STS=endpoint)
    assert_one_line_error(
        result,
        f"STS at {endpoint} answered something that is not an STS response (HTTP 200)",
    )


def test_the_readmes_library_example_reaches_aws_as_the_role(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``jcsaml.login(...)`` then ``creds.boto3_session().client(...)``, as the README shows."""
    import jcsaml

    world.configure()
    for key, value in world.env.items():
        monkeypatch.setenv(key, value)  # the config and the local STS, as the user's shell has
    creds = jcsaml.login(
        "production",
        role="AcmeJumpCloudAdminRO",
        password=PASSWORD,
        mfa_token=world.code(),
    )
    session = creds.boto3_session(region_name="us-east-2")
    assert session.region_name == "us-east-2"
    identity = session.client("sts").get_caller_identity()
    assert identity["Arn"].startswith(f"arn:aws:sts::{ACCOUNT}:assumed-role/AcmeJumpCloudAdminRO/")
    assert session.get_credentials().access_key == creds.access_key_id


def test_the_library_keeps_secrets_in_the_os_keyring_by_default_as_the_cli_does(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """login() saves the JumpCloud session where credentials() and session() look for it: a
    second library call signs in with no password or code."""
    import keyring

    import jcsaml
    from jcsaml.testing.keyring_backend import ENVIRONMENT_VARIABLE, FileKeyring

    world.configure("--role", world.roles["AcmeJumpCloudAdminRO"])
    for key, value in world.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv(ENVIRONMENT_VARIABLE, str(tmp_path / "keyring.json"))
    previous = keyring.get_keyring()
    keyring.set_keyring(FileKeyring())  # type: ignore[no-untyped-call]
    try:
        jcsaml.login("production", password=PASSWORD, mfa_token=world.code())
        saved = json.loads((tmp_path / "keyring.json").read_text())
        assert any("session:" in key for key in saved)
        again = jcsaml.credentials("production")  # no password, no code: the saved session
    finally:
        keyring.set_keyring(previous)
    assert again.role_arn == world.roles["AcmeJumpCloudAdminRO"]
