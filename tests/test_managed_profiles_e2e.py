"""End to end through the real CLI: one record of what jcsaml wrote, every profile served one
way (keys or credential_process), a region for every profile written, and logout as the
inverse of login. Against the fake JumpCloud and moto, read back by the AWS CLI and boto3."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator

import pytest

from jcsaml import managed, process_cache
from jcsaml.testing.federation import FakeFederation
from tests.world import EMAIL, SIGN_IN, SLUG, World, configured_region_line

RO = "AcmeJumpCloudAdminRO"
ADMIN = "AcmeJumpCloudAdmin"
TEMPLATE = "{idp_account}-{role}"
LONG_LIVED = (
    "[mine]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\n"
    "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"
)


@pytest.fixture
def world(runbook_world: World) -> World:
    return runbook_world


def boto3_session_value(world: World, profile: str, expression: str) -> str:
    """``expression`` on ``boto3.Session(profile_name=profile)``, in a process of its own."""
    code = f"import boto3; s = boto3.Session(profile_name={profile!r}); print({expression})"
    done = world.without_terminal([sys.executable, "-c", code])
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def sections(text: str) -> list[str]:
    return [line.strip()[1:-1] for line in text.splitlines() if line.strip().startswith("[")]


@pytest.fixture
def federation(world: World) -> Iterator[FakeFederation]:
    with FakeFederation(world.aws) as running:
        yield running


# --- a profile is served one way ---------------------------------------------------------------


def test_login_force_and_console_link_fill_the_cache_of_a_credential_process_profile(
    world: World, federation: FakeFederation
) -> None:
    world.configure("--region", "us-east-1")
    done = world.run("configure", "-a", "production", "--credential-process")
    assert done.status == 0, done.stderr

    login = world.run("login", "-a", "production", "--force", **world.sign_in_env(steps=-1))
    assert login.status == 0, login.stderr
    assert "uses credential_process" in login.stdout
    assert "credential-process cache" in login.stdout
    assert not world.credentials.exists() or "production" not in sections(
        world.credentials.read_text()
    )
    [first] = process_cache.entries(environ=world.env)

    link = world.run(
        "console",
        "-a",
        "production",
        "--link",
        "--force",
        JCSAML_FEDERATION_URL=federation.url,
        **world.sign_in_env(steps=0),
    )
    assert link.status == 0, link.stderr
    assert link.stdout.startswith(federation.url + "?")
    assert link.stderr.count("uses credential_process") == 1
    assert not world.credentials.exists() or "production" not in sections(
        world.credentials.read_text()
    )
    [second] = process_cache.entries(environ=world.env)
    assert second.credentials.access_key_id != first.credentials.access_key_id

    world.jumpcloud.clear_requests()
    identity = world.aws_cli("--profile", "production", "sts", "get-caller-identity")
    assert identity.returncode == 0, identity.stderr
    assert f"assumed-role/{RO}/" in json.loads(identity.stdout)["Arn"]
    served = boto3_session_value(world, "production", "s.get_credentials().access_key")
    assert served == second.credentials.access_key_id  # the new credentials, by credential_process
    assert world.jumpcloud.count() == 0

    record = managed.load(world.env)["production"]
    assert record.profile("production") == managed.ManagedProfile(
        "production", managed.PROCESS, str(world.aws_config)
    )


def test_configure_credential_process_removes_the_temporary_keys_jcsaml_wrote(
    world: World,
) -> None:
    world.configure()
    world.login_ok()
    assert "[production]" in world.credentials.read_text()
    done = world.run("configure", "-a", "production", "--credential-process")
    assert done.status == 0, done.stderr
    assert "Removed the temporary keys of profile 'production'" in done.stdout
    assert "warning" not in done.stderr
    assert "production" not in sections(world.credentials.read_text())


def test_configure_credential_process_leaves_long_lived_keys_and_warns(world: World) -> None:
    world.configure("--profile", "mine")
    world.credentials.parent.mkdir(exist_ok=True)
    world.credentials.write_text(LONG_LIVED)
    done = world.run("configure", "-a", "production", "--credential-process")
    assert done.status == 0, done.stderr
    assert "jcsaml: warning: profile 'mine'" in done.stderr
    assert "long-lived" in done.stderr
    assert world.credentials.read_text() == LONG_LIVED


def test_status_flags_a_shadowed_profile_and_says_which_one_is_used(world: World) -> None:
    world.configure("--profile", "mine")
    assert world.run("configure", "-a", "production", "--credential-process").status == 0
    world.credentials.write_text(LONG_LIVED)  # by hand, after configure
    table = world.run("status")
    assert table.status == 0, table.stderr
    [line] = [text for text in table.stdout.splitlines() if text.startswith("Shadowed")]
    assert "profile 'mine'" in line
    assert f"the AWS tools use the keys from {world.credentials}" in line
    assert "Account production wrote: mine (credential_process)" in table.stdout
    document = json.loads(world.run("status", "--json").stdout)
    [shadowed] = document["shadowed"]
    assert shadowed["profile"] == "mine" and shadowed["used"] == "credentials file"
    assert shadowed["temporary_keys"] is False
    assert document["managed"][0]["account"] == "production"


# --- every profile jcsaml writes gets a region ------------------------------------------------


def test_multi_role_profiles_get_the_region_of_the_account_profile(world: World) -> None:
    original = (
        "# team settings\n"
        "[profile production]\nregion = us-east-2\noutput = json\n\n"
        f"[profile production-{ADMIN}]\nregion = eu-west-1\n"
    )
    world.write_aws_config(original)
    world.configure()
    login = world.run(
        "login",
        "-a",
        "production",
        "--all-roles",
        "--profile-template",
        TEMPLATE,
        "--skip-prompt",
        **world.sign_in_env(),
    )
    assert login.status == 0, login.stderr
    written = world.aws_config.read_text()
    assert written.startswith(original)  # every byte the user wrote stays
    assert written[len(original) :] == f"\n[profile production-{RO}]\nregion = us-east-2\n"
    for profile, region in (
        (f"production-{RO}", "us-east-2"),
        (f"production-{ADMIN}", "eu-west-1"),
    ):
        assert boto3_session_value(world, profile, "s.region_name") == region
        listed = world.aws_cli("configure", "list", "--profile", profile)
        assert listed.returncode == 0, listed.stderr
        assert configured_region_line(listed.stdout)[1] == region
    ran = world.exec_command(
        sys.executable,
        "-c",
        "import os; print(os.environ['AWS_REGION'])",
        options=("--profile", f"production-{RO}"),
    )
    assert ran.status == 0, ran.stderr
    assert ran.stdout.strip() == "us-east-2"
    record = managed.load(world.env)["production"]
    assert {p.profile for p in record.profiles} == {f"production-{RO}", f"production-{ADMIN}"}


def test_configure_credential_process_gives_the_profile_the_account_region(world: World) -> None:
    world.configure("--region", "ap-southeast-2")
    done = world.run("configure", "-a", "production", "--credential-process")
    assert done.status == 0, done.stderr
    assert boto3_session_value(world, "production", "s.region_name") == "ap-southeast-2"


# --- logout is the inverse of login ------------------------------------------------------------


def two_accounts_sharing_a_session(world: World) -> None:
    """production (single and multi-role profiles, a cache entry) and staging (the same
    JumpCloud user and console), plus long-lived keys of the user's own."""
    world.configure()
    staging = world.run(
        "configure",
        "-a",
        "staging",
        "--url",
        world.jumpcloud.app_url(SLUG),
        "--console-url",
        world.jumpcloud.url,
        "--username",
        EMAIL,
        "--mfa",
        "TOTP",
        "--profile",
        "staging",
        "--role",
        world.roles[ADMIN],
        "--skip-prompt",
    )
    assert staging.status == 0, staging.stderr
    world.credentials.parent.mkdir(exist_ok=True)
    world.credentials.write_text(LONG_LIVED)
    world.login_ok()  # the password and a code, once: the session is saved
    steps = [
        ("login", "-a", "production", "--all-roles", "--profile-template", TEMPLATE),
        ("login", "-a", "staging"),
        ("credential-process", "-a", "production"),
        ("credential-process", "-a", "staging"),
    ]
    for step in steps:
        done = world.run(*step, "--skip-prompt")
        assert done.status == 0, (step, done.stderr)
    assert world.jumpcloud.count("POST", SIGN_IN) == 2  # the password, then the code


def test_logout_removes_every_profile_of_the_account_and_names_the_shared_session(
    world: World,
) -> None:
    two_accounts_sharing_a_session(world)
    out = world.run("logout", "-a", "production")
    assert out.status == 0, out.stderr
    assert f"Forgot the JumpCloud session of {EMAIL}; this also signs out of: staging." in (
        out.stdout
    )
    for profile in ("production", f"production-{RO}", f"production-{ADMIN}"):
        assert f"Removed the credentials of profile {profile!r}" in out.stdout
    assert sections(world.credentials.read_text()) == ["mine", "staging"]
    assert LONG_LIVED in world.credentials.read_text()
    assert [entry.account for entry in process_cache.entries(environ=world.env)] == ["staging"]
    assert "production" not in managed.load(world.env)
    assert "session:" not in world.keyring.read_text()


def test_logout_keep_session_lets_the_other_account_sign_in_without_mfa(world: World) -> None:
    two_accounts_sharing_a_session(world)
    out = world.run("logout", "-a", "production", "--keep-session")
    assert out.status == 0, out.stderr
    assert "Kept the JumpCloud session" in out.stdout
    assert sections(world.credentials.read_text()) == ["mine", "staging"]
    world.jumpcloud.clear_requests()
    again = world.run("login", "-a", "staging", "--profile", "staging-2", "--skip-prompt")
    assert again.status == 0, again.stderr
    assert world.jumpcloud.count("POST", SIGN_IN) == 0


# --- did you mean ------------------------------------------------------------------------------


def test_an_aws_profile_typed_as_an_account_names_the_account(world: World) -> None:
    world.configure("--profile", "production")
    text = world.home.joinpath(".jcsaml").read_text().replace("[production]", "[default]")
    world.home.joinpath(".jcsaml").write_text(text)
    result = world.run("login", "-a", "production", "--skip-prompt")
    assert result.status == 1
    [line] = result.stderr.splitlines()
    assert "did you mean 'default' (it writes AWS profile 'production')?" in line


def test_without_a_config_a_saml2aws_user_is_told_to_import(world: World) -> None:
    world.home.joinpath(".saml2aws").write_text("[default]\nurl = https://example.com\n")
    result = world.run("login", "-a", "production", "--skip-prompt")
    assert result.status == 1
    [line] = result.stderr.splitlines()
    assert "jcsaml configure --import-saml2aws" in line


def test_configure_rename_moves_the_account_its_line_and_its_record(world: World) -> None:
    world.configure("--region", "us-east-1")
    assert world.run("configure", "-a", "production", "--credential-process").status == 0
    done = world.run("configure", "--rename", "production", "prod")
    assert done.status == 0, done.stderr
    config = world.home.joinpath(".jcsaml").read_text()
    assert "[prod]" in config and "[production]" not in config
    assert "aws_profile = production" in config  # it still writes the same profile
    assert "credential-process -a prod" in world.aws_config.read_text()
    records = managed.load(world.env)
    assert "production" not in records
    assert records["prod"].profile("production") is not None
    identity = world.aws_cli(
        "--profile", "production", "sts", "get-caller-identity", **world.sign_in_env()
    )
    assert identity.returncode == 0, identity.stderr
    taken = world.run("configure", "--rename", "prod", "prod")
    assert taken.status == 1 and "already exists" in taken.stderr
