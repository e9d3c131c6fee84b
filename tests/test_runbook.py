"""The team's runbook, verbatim (fixtures/runbook/), with ``saml2aws`` replaced by jcsaml and the
openssl pair by ``jcsaml setup cert production.cnf``: every step works.

The runbook's commands run through bash, from the directory the runbook works in, against the
fake JumpCloud and LocalAws. The one change the test makes is where JumpCloud is and who signs in:
after the runbook's ``configure``, the account is pointed at the fake JumpCloud (its app URL and
console URL), as no test can reach sso.jumpcloud.com, and its username becomes a real address:
the copy of the runbook has ``[email protected]`` where the web page it came from hid the
team's address, and AWS refuses that text as a RoleSessionName.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from jcsaml.inifile import read_ini
from tests.conftest import REPO
from tests.world import SLUG, WorldFactory

RUNBOOK = REPO / "fixtures" / "runbook"
#: The username as the runbook spells it.
RUNBOOK_USER = "[email protected]"
#: The address the fake JumpCloud signs in (see the module docstring).
USER = "ops@acme.example"
RUNBOOK_PASSWORD = "correct horse battery staple"
RUNBOOK_ROLE = "arn:aws:iam::012345678987:role/AcmeJumpCloudAdminRO"
BIN = str(Path(sys.executable).parent)  # jcsaml and aws, as installed


def runbook_commands() -> list[str]:
    """The runbook's commands, continuation lines joined."""
    text = (RUNBOOK / "commands.sh").read_text()
    return [line for line in text.replace("\\\n", "").splitlines() if line.strip()]


def as_jcsaml(commands: list[str]) -> list[str]:
    """``saml2aws`` replaced by jcsaml, the openssl pair by ``jcsaml setup cert production.cnf``
    (terraform is not installed here: its two lines are left out)."""
    out: list[str] = []
    for command in commands:
        if command.startswith("openssl req"):
            continue
        if command.startswith("openssl genrsa"):
            out.append("jcsaml setup cert production.cnf")
            continue
        if "terraform" in command:
            continue
        out.append(re.sub(r"^saml2aws ", "jcsaml ", command))
    return out


def config_section(path: Path, name: str = "production") -> dict[str, str]:
    document = read_ini(path, inline_comments=True)
    assert document is not None, f"{path} was not written"
    return dict(document.section(name) or {})


def bash(command: str, *, cwd: Path, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    bash_path = shutil.which("bash")
    assert bash_path is not None
    return subprocess.run(
        [bash_path, "-c", command],
        cwd=cwd,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_runbook_is_kept_verbatim() -> None:
    runbook = Path("/work/shared/reference/runbook.txt")
    if runbook.exists():  # the copy the team gave; the fixtures must stay byte for byte
        text = runbook.read_text()
        assert (RUNBOOK / "production.cnf").read_text() in text
        assert (RUNBOOK / "aws-config").read_text() in text
        assert (RUNBOOK / "commands.sh").read_text().replace("\\\n", "\n") in (
            text.replace("\\\n", "\n") + "\n"
        ) or all(line in text for line in (RUNBOOK / "commands.sh").read_text().splitlines())
    assert as_jcsaml(runbook_commands()) == [
        "jcsaml setup cert production.cnf",
        "jcsaml configure --idp-account='production' --idp-provider='JumpCloud' --mfa='Auto' "
        "--url='https://sso.jumpcloud.com/saml2/acme-prod-aws-admin' "
        f"--username='{RUNBOOK_USER}' --role='{RUNBOOK_ROLE}' --skip-prompt",
        "jcsaml login -a production",
        "aws --profile production s3 ls",
        "jcsaml exec -a production -- aws s3 ls",
        "jcsaml exec -a production -- env | grep AWS",
    ]


def test_every_step_of_the_runbook_works(
    world_with: WorldFactory,
    tmp_path: Path,
) -> None:
    world = world_with(user={"email": USER, "password": RUNBOOK_PASSWORD})
    commands = as_jcsaml(runbook_commands())
    workdir = tmp_path / "keybase-team-repo"
    workdir.mkdir()
    shutil.copy(RUNBOOK / "production.cnf", workdir / "production.cnf")
    aws_config = world.home / ".aws" / "config"
    aws_config.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(RUNBOOK / "aws-config", aws_config)
    # A person's shell: jcsaml and aws on PATH, no region of its own (the profile's counts).
    env = {k: v for k, v in world.env.items() if k not in ("AWS_REGION", "AWS_DEFAULT_REGION")}
    env["PATH"] = BIN + os.pathsep + env.get("PATH", os.defpath)

    # The certificate, from the runbook's directory.
    cert = bash(commands[0], cwd=workdir, env=env)
    assert cert.returncode == 0, cert.stderr
    certificate = x509.load_pem_x509_certificate((workdir / "production.crt").read_bytes())
    assert certificate.not_valid_after_utc - certificate.not_valid_before_utc == timedelta(
        days=1095
    )
    assert "30-day" in cert.stdout  # what openssl would have made from this file is said

    # configure, exactly as written.
    configured = bash(commands[1], cwd=workdir, env=env)
    assert configured.returncode == 0, configured.stderr
    section = config_section(world.config)
    assert section["url"] == "https://sso.jumpcloud.com/saml2/acme-prod-aws-admin"
    assert section["username"] == RUNBOOK_USER
    assert section["role_arn"] == RUNBOOK_ROLE
    assert section.get("mfa", "Auto") == "Auto"
    # The test's one change: JumpCloud is the fake one.
    pointed = bash(
        f"jcsaml configure -a production --url {world.jumpcloud.app_url(SLUG)} "
        f"--console-url {world.jumpcloud.url} --username {USER} --skip-prompt",
        cwd=workdir,
        env=env,
    )
    assert pointed.returncode == 0, pointed.stderr

    # login -a production, the password and the code from saml2aws's variables.
    login_env = {
        **env,
        "SAML2AWS_PASSWORD": RUNBOOK_PASSWORD,
        "SAML2AWS_MFA_TOKEN": world.jumpcloud.totp_code(USER),
    }
    logged_in = bash(commands[2], cwd=workdir, env=login_env)
    assert logged_in.returncode == 0, logged_in.stderr
    assert f"Logged in as {RUNBOOK_ROLE}" in logged_in.stdout
    assert RUNBOOK_PASSWORD not in logged_in.stdout + logged_in.stderr
    credentials = world.home / ".aws" / "credentials"
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600

    # aws --profile production s3 ls, and the same through exec.
    for command in commands[3:5]:
        listed = bash(command, cwd=workdir, env=env)
        assert listed.returncode == 0, (command, listed.stderr)

    # exec ... -- env | grep AWS: the keys, and the profile's region us-east-2.
    shown = bash(commands[5], cwd=workdir, env=env)
    assert shown.returncode == 0, shown.stderr
    names = dict(line.split("=", 1) for line in shown.stdout.splitlines())
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        assert names.get(name), f"{name} missing from: {sorted(names)}"
    assert names["AWS_REGION"] == names["AWS_DEFAULT_REGION"] == "us-east-2"


def test_setup_cert_on_the_runbooks_file_from_its_directory(tmp_path: Path) -> None:
    shutil.copy(RUNBOOK / "production.cnf", tmp_path / "production.cnf")
    env = {**os.environ, "PATH": BIN + os.pathsep + os.environ.get("PATH", os.defpath)}
    done = bash("umask 000 && jcsaml setup cert production.cnf", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert (
        lines[0]
        == "Read production.cnf: [ req ], [ req_distinguished_name ], [ ca ], [ CA_default ]"
    )
    assert any("1095 days, from [ CA_default ] default_days" in line for line in lines)
    assert any(re.search(r"notBefore \d{4}-\d\d-\d\d", line) for line in lines)
    assert any(re.search(r"notAfter +\d{4}-\d\d-\d\d", line) for line in lines)
    cert = x509.load_pem_x509_certificate((tmp_path / "production.crt").read_bytes())
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == timedelta(days=1095)
    fingerprint = cert.fingerprint(cert.signature_hash_algorithm).hex(":").upper()  # type: ignore[arg-type]
    assert fingerprint in done.stdout
    subject = {attr.oid: attr.value for attr in cert.subject}
    assert subject == {
        NameOID.COUNTRY_NAME: "US",
        NameOID.STATE_OR_PROVINCE_NAME: "New Jersey",
        NameOID.LOCALITY_NAME: "Fairfield",
        NameOID.ORGANIZATION_NAME: "Acme Corporation",
        NameOID.ORGANIZATIONAL_UNIT_NAME: "Acme Rocket-Powered Products, Inc.",
        NameOID.COMMON_NAME: "production",
    }
    # Even with umask 000 the key is the owner's alone.
    assert stat.S_IMODE((tmp_path / "production.key").stat().st_mode) == 0o600
    for check in (
        ["openssl", "x509", "-noout", "-text", "-in", "production.crt"],
        ["openssl", "rsa", "-check", "-noout", "-in", "production.key"],
    ):
        ran = subprocess.run(check, cwd=tmp_path, capture_output=True, text=True, check=False)
        assert ran.returncode == 0, ran.stderr


@pytest.mark.parametrize("spelling", ["JumpCloud", "jumpcloud", "JUMPCLOUD", "jumpCloud"])
def test_idp_provider_jumpcloud_in_any_case_changes_nothing(spelling: str, tmp_path: Path) -> None:
    from tests.conftest import cli_environment, run_cli

    env = cli_environment(tmp_path)
    given = run_cli(
        "configure", "-a", "production", f"--idp-provider={spelling}",
        "--url", "https://sso.jumpcloud.com/saml2/acme-prod-aws-admin", "--skip-prompt",
        env=env,
    )  # fmt: skip
    assert given.status == 0, given.stderr
    section = config_section(tmp_path / ".jcsaml")
    assert "idp_provider" not in section and "provider" not in section
    assert section["url"] == "https://sso.jumpcloud.com/saml2/acme-prod-aws-admin"


def test_idp_provider_other_than_jumpcloud_is_refused_in_one_line(tmp_path: Path) -> None:
    from tests.conftest import cli_environment, run_cli

    env = cli_environment(tmp_path)
    refused = run_cli(
        "configure", "-a", "production", "--idp-provider", "Okta",
        "--url", "https://sso.jumpcloud.com/saml2/acme-prod-aws-admin", "--skip-prompt",
        env=env,
    )  # fmt: skip
    assert refused.status == 2
    assert refused.stderr.splitlines() == [
        "jcsaml: error: --idp-provider Okta is not supported: jcsaml speaks JumpCloud only "
        "(use JumpCloud or drop it)"
    ]
    assert not (tmp_path / ".jcsaml").exists()
    from_variable = run_cli(
        "list-roles", "-a", "production", env={**env, "SAML2AWS_IDP_PROVIDER": "Okta"}
    )
    assert from_variable.status == 2
    assert from_variable.stderr.splitlines() == [
        "jcsaml: error: SAML2AWS_IDP_PROVIDER Okta is not supported: jcsaml speaks JumpCloud "
        "only (use JumpCloud or drop it)"
    ]
