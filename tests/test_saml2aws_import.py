"""jcsaml configure --import-saml2aws: JumpCloud sections carried over, the rest reported,
the source never changed, existing accounts replaced only with --force."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from jcsaml.config import Account
from jcsaml.saml2aws import merged, read_saml2aws
from tests.conftest import CliResult, cli_environment, run_cli

#: What saml2aws writes in each of its sections for the keys jcsaml has no use for (and the
#: role and region of these samples).
WRITTEN_BY_SAML2AWS = """\
resource_id             =
subdomain               =
role_arn                = arn:aws:iam::012345678987:role/AcmeJumpCloudAdminRO
region                  = us-east-2
http_attempts_count     =
http_retry_delay        =
credentials_file        =
saml_cache              = false
saml_cache_file         =
target_url              =
disable_remember_device = false
disable_sessions        = false
"""

SAMPLE = (
    """\
[default]
app_id                  =
url                     = https://sso.jumpcloud.com/saml2/acme-prod-aws-admin
username                = alice@acme.example
provider                = JumpCloud
mfa                     = Auto
skip_verify             = false
timeout                 = 0
aws_urn                 = urn:amazon:webservices
aws_session_duration    = 3600
aws_profile             = production
"""
    + WRITTEN_BY_SAML2AWS
    + """\
prompter                =

[staging]
url                  = https://sso.jumpcloud.com/saml2/acme-staging-aws
username             = alice@acme.example
provider             = JumpCloud
mfa                  = PUSH
skip_verify          = true
aws_session_duration = 99
aws_profile          = staging

[okta-dev]
url         = https://acme.okta.com/home/amazon_aws/0oa1/272
username    = alice@acme.example
provider    = Okta
mfa         = Auto
aws_profile = dev

[broken]
url      = https://sso.jumpcloud.com/not-saml
provider = JumpCloud
"""
)


@pytest.fixture
def sample(hermetic_home: Path) -> Path:
    path = hermetic_home / ".saml2aws"
    path.write_text(SAMPLE)
    return path


def test_read_saml2aws(sample: Path) -> None:
    found = read_saml2aws(sample)
    assert found.accounts == [
        Account(
            name="default",
            url="https://sso.jumpcloud.com/saml2/acme-prod-aws-admin",
            username="alice@acme.example",
            mfa="Auto",
            role_arn="arn:aws:iam::012345678987:role/AcmeJumpCloudAdminRO",
            aws_profile="production",
            region="us-east-2",
        ),
        Account(
            name="staging",
            url="https://sso.jumpcloud.com/saml2/acme-staging-aws",
            username="alice@acme.example",
            mfa="PUSH",
            aws_profile="staging",
        ),
    ]
    reasons = {(s.section, s.key): s.reason for s in found.skipped}
    assert reasons[("okta-dev", None)] == "provider is Okta; jcsaml signs in to JumpCloud only"
    assert "not a JumpCloud SAML application URL" in reasons[("broken", None)]
    assert "REQUESTS_CA_BUNDLE" in reasons[("staging", "skip_verify")]
    assert "aws_session_duration" in reasons[("staging", "aws_session_duration")]
    # Empty values are not set at all, and saml2aws's defaults say nothing: neither is reported
    # (3600 s, saml2aws's default duration, is not made a setting either).
    assert [key for (section, key) in reasons if section == "default"] == []


def test_merged_keeps_jcsamls_own_settings() -> None:
    existing = Account(
        name="default",
        url="https://sso.jumpcloud.com/saml2/old",
        role_arn="arn:aws:iam::012345678987:role/Old",
        idp_cert="/etc/jumpcloud.pem",
        console_url="https://console.eu.jumpcloud.com",
    )
    imported = Account(name="default", url="https://sso.jumpcloud.com/saml2/new")
    result = merged(imported, existing)
    assert result.url.endswith("/new") and result.role_arn == ""
    assert result.idp_cert == "/etc/jumpcloud.pem"
    assert result.console_url == "https://console.eu.jumpcloud.com"


def configure(home: Path, *args: str) -> CliResult:
    return run_cli("configure", *args, env=cli_environment(home))


def test_import_end_to_end(hermetic_home: Path, sample: Path) -> None:
    before = (sample.read_bytes(), os.stat(sample).st_mtime_ns, os.stat(sample).st_mode)
    result = configure(hermetic_home, "--import-saml2aws")
    assert result.status == 0, result.stderr
    config = hermetic_home / ".jcsaml"
    assert result.stdout.splitlines() == [
        f"Imported into {config} from {sample}:",
        "  default: AWS profile 'production'",
        "  staging: AWS profile 'staging'",
        "Skipped:",
        "  [staging] skip_verify = true: jcsaml always verifies TLS (behind a TLS-inspecting "
        "proxy set REQUESTS_CA_BUNDLE)",
        "  [staging] aws_session_duration = 99: invalid aws_session_duration: '99' must be a "
        "number of seconds from 900 to 43200",
        "  [okta-dev]: provider is Okta; jcsaml signs in to JumpCloud only",
        "  [broken]: invalid url: https://sso.jumpcloud.com/not-saml is not a JumpCloud SAML "
        "application URL (expected https://sso.jumpcloud.com/saml2/<application>)",
    ]
    assert (sample.read_bytes(), os.stat(sample).st_mtime_ns, os.stat(sample).st_mode) == before
    text = config.read_text()
    assert "[default]" in text and "[staging]" in text and "okta" not in text
    assert "provider" not in text and "skip_verify" not in text
    # what the import wrote is a working jcsaml account
    listed = configure(hermetic_home, "-a", "default", "--skip-prompt")
    assert listed.status == 0, listed.stderr
    assert "role_arn = arn:aws:iam::012345678987:role/AcmeJumpCloudAdminRO" in config.read_text()
    assert "region = us-east-2" in config.read_text()


def test_existing_accounts_are_replaced_only_with_force(hermetic_home: Path, sample: Path) -> None:
    config = hermetic_home / ".jcsaml"
    config.write_text(
        "# mine\n[staging]\nurl = https://sso.jumpcloud.com/saml2/mine\n"
        "idp_cert = /etc/jumpcloud.pem\n"
    )
    config.chmod(0o600)
    before = config.read_bytes()
    refused = configure(hermetic_home, "--import-saml2aws", str(sample))
    assert refused.status == 1
    assert refused.stderr.strip() == (
        f"jcsaml: error: {config} already has the IdP account(s) staging; nothing was "
        "imported: run again with --force to replace them"
    )
    assert config.read_bytes() == before
    forced = configure(hermetic_home, "--import-saml2aws", str(sample), "--force")
    assert forced.status == 0, forced.stderr
    assert "  staging: AWS profile 'staging' (replaced the existing account)" in forced.stdout
    text = config.read_text()
    assert text.startswith("# mine\n[staging]\n")
    assert "saml2/acme-staging-aws" in text and "saml2/mine" not in text
    assert "idp_cert = /etc/jumpcloud.pem" in text  # jcsaml's own setting is kept


def test_import_errors(hermetic_home: Path, tmp_path: Path) -> None:
    missing = configure(hermetic_home, "--import-saml2aws")
    assert missing.status == 1
    assert missing.stderr.strip() == (
        f"jcsaml: error: cannot read the saml2aws config file {hermetic_home}/.saml2aws: "
        "No such file; check the path"
    )
    okta_only = tmp_path / "okta"
    okta_only.write_text("[x]\nurl = https://acme.okta.com/app\nprovider = Okta\n")
    nothing = configure(hermetic_home, "--import-saml2aws", str(okta_only))
    assert nothing.status == 1
    assert "  [x]: provider is Okta; jcsaml signs in to JumpCloud only" in nothing.stdout
    assert nothing.stderr.strip().endswith(
        "holds no JumpCloud account to import (saml2aws sections with provider = JumpCloud)"
    )
    broken = tmp_path / "broken"
    broken.write_text("[x]\nnot an ini line\n")
    bad = configure(hermetic_home, "--import-saml2aws", str(broken))
    assert bad.status == 1 and "line 2" in bad.stderr
    mixed = configure(hermetic_home, "--import-saml2aws", "--url", "https://x/saml2/y")
    assert mixed.status == 2 and "--import-saml2aws takes no --url" in mixed.stderr
    assert not (hermetic_home / ".jcsaml").exists()


GO_INI_WRITTEN = (
    """\
[production]
name                    = production
app_id                  =
url                     = https://sso.jumpcloud.com/saml2/acme-prod-aws-admin
username                = `ops;admin#1@acme.example`
provider                = JumpCloud
mfa                     = TOTP
mfa_ip_address          =
skip_verify             = false
timeout                 = 0
aws_urn                 = urn:amazon:webservices
aws_session_duration    = 7200
aws_profile             = prod-admin
"""
    + WRITTEN_BY_SAML2AWS
    + """\
download_browser_driver = false
headless                = false
prompter                =
policy_file             = {policy}
policy_arn_list = arn:aws:iam::aws:policy/ReadOnlyAccess,arn:aws:iam::012345678987:policy/NoDelete
"""
)


def test_a_file_as_go_ini_writes_it_imports_with_its_policies(
    hermetic_home: Path, tmp_path: Path
) -> None:
    policy = tmp_path / "policy.json"
    policy.write_text('{"Version": "2012-10-17", "Statement": []}')
    path = hermetic_home / ".saml2aws"
    path.write_text(GO_INI_WRITTEN.format(policy=policy))
    found = read_saml2aws(path)
    assert found.skipped == []  # every other key holds saml2aws's default or nothing
    (account,) = found.accounts
    assert account.username == "ops;admin#1@acme.example"  # go-ini's backquotes, not kept
    assert account.aws_profile == "prod-admin"
    assert account.mfa == "TOTP" and account.session_duration == 7200
    assert account.policy_arns == (
        "arn:aws:iam::aws:policy/ReadOnlyAccess",
        "arn:aws:iam::012345678987:policy/NoDelete",
    )
    assert account.policy_file == str(policy)


def test_an_account_whose_policy_cannot_be_kept_is_not_imported(hermetic_home: Path) -> None:
    path = hermetic_home / ".saml2aws"
    path.write_text(GO_INI_WRITTEN.format(policy="/nonexistent/policy.json"))
    found = read_saml2aws(path)
    assert found.accounts == []
    (skipped,) = found.skipped
    assert skipped.key is None and "session policy cannot be kept" in skipped.reason
    path.write_text(GO_INI_WRITTEN.format(policy="").replace("policy/NoDelete", "role/NotAPolicy"))
    found = read_saml2aws(path)
    assert found.accounts == [] and "policy_arn_list" in found.skipped[0].reason


def test_inline_comments_on_every_key_read_as_saml2aws_reads_them(hermetic_home: Path) -> None:
    path = hermetic_home / ".saml2aws"
    path.write_text(
        "[production]\n"
        "url = https://sso.jumpcloud.com/saml2/acme-prod-aws-admin  # the admin app\n"
        "username = ops@acme.example ; me\n"
        "provider = JumpCloud  # the IdP\n"
        "mfa = TOTP     # authenticator app\n"
        "aws_session_duration = 3600   ; one hour\n"
        "aws_profile = production # written by jcsaml\n"
        "role_arn = 'arn:aws:iam::012345678987:role/AcmeJumpCloudAdminRO'   # quoted\n"
        "region = us-east-2 ; not-a-region\n"
        "credentials_file = ~/creds;not-a-comment-in-go-ini\n"
        "skip_verify = false ; default\n"
        "aws_urn = urn:amazon:webservices:govcloud  # GovCloud\n"
    )
    found = read_saml2aws(path)
    (account,) = found.accounts
    assert account.url == "https://sso.jumpcloud.com/saml2/acme-prod-aws-admin"
    assert account.username == "ops@acme.example"
    assert account.mfa == "TOTP"
    assert account.session_duration is None  # saml2aws's default: not made a setting
    assert account.aws_profile == "production"
    assert account.role_arn == "arn:aws:iam::012345678987:role/AcmeJumpCloudAdminRO"
    assert account.region == "us-east-2"
    assert account.credentials_file == "~/creds;not-a-comment-in-go-ini"
    (urn,) = found.skipped
    assert (urn.key, urn.value) == ("aws_urn", "urn:amazon:webservices:govcloud")
    assert "accepts this AWS audience" in urn.reason
