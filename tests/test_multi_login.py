"""Several accounts and roles from one JumpCloud sign-in: the runbook's team, end to end through
the CLI (fake JumpCloud, strict local STS), and login_many as a library."""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import jcsaml
from jcsaml.aws_credentials import AwsCredentials
from jcsaml.config import (
    Account,
    account_names,
    expand_accounts,
    group_names,
    load_account,
    parse_profile_template,
)
from jcsaml.credentials_file import CredentialsFile
from jcsaml.errors import (
    InvalidSettingError,
    ProfileCollisionError,
    StsError,
    UnknownAccountError,
)
from jcsaml.multi import profile_name
from jcsaml.saml import AwsRole
from jcsaml.testing.fakes import ScriptedPrompter
from jcsaml.testing.jumpcloud import FakeApp, FakeJumpCloud, FakeUser
from jcsaml.testing.sts import LocalAws, saml_trust_policy
from tests.world import ACCOUNT, AwsAccount, CliResult, cli_environment, run_cli

EMAIL = "alice@acme.example"
PASSWORD = "correct horse battery staple"
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
BOB = "bob@acme.example"
BOB_PASSWORD = "another long passphrase"
# The runbook's accounts, and the roles each offers (read-only and full for operations,
# billing for accounts payable, EC2 for developers).
AWS_ACCOUNTS = {"production": "012345678987", "dev": "210987654321", "staging": "333344445555"}
ROLES = ("AcmeJumpCloudAdminRO", "AcmeJumpCloudAdmin", "AccountsPayableBilling", "ManageEC2")
ALIASES = "012345678987:acme-prod, 210987654321:acme-dev, 333344445555:acme-staging"


@dataclass
class Team:
    home: Path
    aws: LocalAws
    jumpcloud: FakeJumpCloud
    env: dict[str, str]
    role_arns: dict[str, list[str]] = field(default_factory=dict)
    apps: dict[str, FakeApp] = field(default_factory=dict)
    distrusted: list[tuple[str, str]] = field(default_factory=list)

    @property
    def config(self) -> Path:
        return self.home / ".jcsaml"

    @property
    def credentials(self) -> Path:
        return self.home / ".aws" / "credentials"

    def login(self, *args: str, **env: str) -> CliResult:
        return run_cli(
            "login",
            "--skip-prompt",
            *args,
            env={
                **self.env,
                "JCSAML_PASSWORD": PASSWORD,
                "JCSAML_MFA_TOKEN": self.jumpcloud.totp_code(EMAIL),
                **env,
            },
        )

    def password_checks(self) -> int:
        return sum(
            1
            for r in self.jumpcloud.requests
            if r.method == "POST" and r.path == "/userconsole/auth" and r.json.get("otp") == ""
        )

    def mfa_checks(self) -> int:
        return sum(
            1
            for r in self.jumpcloud.requests
            if r.method == "POST" and r.path == "/userconsole/auth" and r.json.get("otp") == "***"
        )


def _config_section(name: str, url: str, console: str, user: str, extra: str = "") -> str:
    return (
        f"[{name}]\nurl = {url}\nconsole_url = {console}\nusername = {user}\nmfa = Auto\n"
        f"account_aliases = {ALIASES}\n{extra}\n"
    )


def _build_team(
    home: Path, aws: LocalAws, jumpcloud: FakeJumpCloud, role_arns: dict[str, list[str]]
) -> Team:
    team = Team(home, aws, jumpcloud, cli_environment(home, aws.environment()), role_arns)
    sections = []
    for name in AWS_ACCOUNTS:
        sections.append(
            _config_section(name, jumpcloud.app_url(f"acme-{name}"), jumpcloud.url, EMAIL)
        )
    sections.append("[group everyday]\naccounts = production, dev\n")
    team.config.write_text("".join(sections))
    return team


@pytest.fixture(scope="module")
def team_roles(aws_account: AwsAccount) -> dict[str, list[str]]:
    """Each AWS account's JumpCloud provider and ROLES, made once for the module: the role ARNs
    by account name. The world's account has its provider and some of the roles already."""
    local = aws_account.local
    arns = {}
    for name, account_id in AWS_ACCOUNTS.items():
        if account_id == ACCOUNT:
            provider = aws_account.principal
        else:
            metadata = aws_account.keys.metadata_xml()
            provider = local.create_saml_provider("JumpCloud", metadata, account_id=account_id)
        arns[name] = [
            aws_account.roles[role]
            if account_id == ACCOUNT and role in aws_account.roles
            else local.create_role(role, trusted_principal_arn=provider, account_id=account_id)
            for role in ROLES
        ]
    return arns


@pytest.fixture
def team(
    hermetic_home: Path, aws_account: AwsAccount, team_roles: dict[str, list[str]]
) -> Iterator[Team]:
    apps = []
    for name, account_id in AWS_ACCOUNTS.items():
        provider = f"arn:aws:iam::{account_id}:saml-provider/JumpCloud"
        apps.append(
            FakeApp(
                f"acme-{name}",
                roles=[(f"arn:aws:iam::{account_id}:role/{role}", provider) for role in ROLES],
                display_label=f"AWS {name.capitalize()}",
            )
        )
    apps.append(FakeApp("acme-test", roles=[], display_label="Test"))
    user = FakeUser(EMAIL, PASSWORD, totp_secret=SECRET, apps=[f"acme-{n}" for n in AWS_ACCOUNTS])
    bob = FakeUser(BOB, BOB_PASSWORD, apps=["acme-staging"])
    aws = aws_account.local
    aws.calls.clear()  # the module's LocalAws: what this test asked STS for, alone
    with FakeJumpCloud(users=[user, bob], apps=apps, keys=aws_account.keys) as jumpcloud:
        team = _build_team(hermetic_home, aws, jumpcloud, team_roles)
        team.apps = {app.slug: app for app in apps}
        try:
            yield team
        finally:
            for name, role in team.distrusted:  # trusted again, for the module's next test
                provider = f"arn:aws:iam::{AWS_ACCOUNTS[name]}:saml-provider/JumpCloud"
                aws.iam_client(AWS_ACCOUNTS[name]).update_assume_role_policy(
                    RoleName=role, PolicyDocument=json.dumps(saml_trust_policy(provider))
                )


def _profiles(path: Path) -> dict[str, AwsCredentials]:
    """The profiles holding temporary credentials."""
    import configparser

    parser = configparser.ConfigParser()
    parser.read(path)
    store = CredentialsFile(path)
    found = {}
    for name in parser.sections():
        credentials = store.load(name)
        if credentials is not None:
            found[name] = credentials
    return found


def distrust(team: Team, name: str, role: str) -> None:
    """Make ``role`` of ``name`` trust another SAML provider only: STS refuses it."""
    account_id = AWS_ACCOUNTS[name]
    policy = saml_trust_policy(f"arn:aws:iam::{account_id}:saml-provider/Other")
    team.aws.iam_client(account_id).update_assume_role_policy(
        RoleName=role, PolicyDocument=json.dumps(policy)
    )
    team.distrusted.append((name, role))


def test_three_apps_four_roles_from_one_sign_in_in_one_write(team: Team) -> None:
    team.credentials.parent.mkdir(mode=0o700)
    team.credentials.write_text("[personal]\naws_access_key_id = AKIAEXAMPLE\n")
    inode = team.credentials.stat().st_ino
    result = team.login("-a", "production", "-a", "dev", "-a", "staging", "--all-roles", "--debug")
    assert result.status == 0, result.stderr
    # One password check, one MFA, one SAML page per app, one STS call per role.
    assert team.password_checks() == 1
    assert team.mfa_checks() == 1
    assert team.jumpcloud.count("GET", "/saml2/") == 3
    assert len(team.aws.calls) == 12
    assert all(call.ok for call in team.aws.calls)
    # 12 profiles, written once: one rename over the file, one write logged; the long-lived
    # profile is kept.
    profiles = _profiles(team.credentials)
    assert len(profiles) == 12
    assert {"acme-prod-AcmeJumpCloudAdminRO", "acme-dev-ManageEC2"} <= set(profiles)
    assert "aws_access_key_id = AKIAEXAMPLE" in team.credentials.read_text()
    assert team.credentials.stat().st_ino != inode
    assert result.stderr.count("in one write") == 1
    assert "wrote 12 profile(s)" in result.stderr
    assert "Wrote 12 profile(s)" in result.stdout
    for secret in (PASSWORD, *(c.secret_access_key for c in profiles.values())):
        assert secret not in result.stdout + result.stderr
    # The credentials are real: STS knows each session.
    for name, credentials in profiles.items():
        assert team.aws.session_arn(
            credentials.access_key_id, credentials.secret_access_key, credentials.session_token
        ), name


def test_one_role_not_trusting_the_provider_fails_alone(team: Team) -> None:
    distrust(team, "staging", "AccountsPayableBilling")
    result = team.login("-a", "production", "-a", "dev", "-a", "staging", "--all-roles")
    assert result.status == 1
    profiles = _profiles(team.credentials)
    assert len(profiles) == 11
    assert "acme-staging-AccountsPayableBilling" not in profiles
    assert len(team.aws.calls) == 12
    assert [c.code for c in team.aws.calls].count("AccessDenied") == 1
    # The summary: 12 rows, the failure with its reason, then one error line.
    rows = [line for line in result.stdout.splitlines() if line.startswith(tuple(AWS_ACCOUNTS))]
    assert len(rows) == 12
    failed = [row for row in rows if "failed" in row]
    assert len(failed) == 1
    assert "acme-staging-AccountsPayableBilling" in failed[0]
    assert "AccessDenied" in failed[0]
    assert result.stderr.strip().splitlines()[-1] == (
        "jcsaml: error: 1 of 12 role(s) failed (the summary gives each reason); "
        "11 profile(s) written"
    )


def test_json_summary_and_a_profile_template_per_account(team: Team) -> None:
    distrust(team, "staging", "AccountsPayableBilling")
    text = team.config.read_text().replace(
        f"[staging]\nurl = {team.jumpcloud.app_url('acme-staging')}",
        f"[staging]\nurl = {team.jumpcloud.app_url('acme-staging')}\nprofile_template = "
        "{idp_account}-{role}",
    )
    team.config.write_text(text)
    result = team.login("--all-accounts", "--role", "*", "--json")
    assert result.status == 1
    summary = json.loads(result.stdout)
    assert len(summary["roles"]) == 12
    assert [r["profile"] for r in summary["roles"] if not r["ok"]] == [
        "staging-AccountsPayableBilling"
    ]
    assert summary["sign_ins"] == [
        {
            "signed_in_as": f"{EMAIL} at {team.jumpcloud.url}",
            "accounts": ["production", "dev", "staging"],
        }
    ]
    assert {r["profile"] for r in summary["roles"] if r["ok"]} >= {
        "acme-prod-AcmeJumpCloudAdmin",
        "staging-ManageEC2",
    }


def test_a_group_and_role_patterns(team: Team) -> None:
    result = team.login("-a", "everyday", "--role", "*RO", "--role", "*EC2")
    assert result.status == 0, result.stderr
    assert set(_profiles(team.credentials)) == {
        "acme-prod-AcmeJumpCloudAdminRO",
        "acme-prod-ManageEC2",
        "acme-dev-AcmeJumpCloudAdminRO",
        "acme-dev-ManageEC2",
    }
    assert team.jumpcloud.count("GET", "/saml2/") == 2
    assert "Wrote 4 profile(s)" in result.stdout


def test_one_role_per_account_goes_to_the_account_profile(team: Team) -> None:
    result = team.login("-a", "production", "-a", "dev", "--role", "AcmeJumpCloudAdminRO")
    assert result.status == 0, result.stderr
    profiles = _profiles(team.credentials)
    assert set(profiles) == {"production", "dev"}
    assert profiles["dev"].role_arn == team.role_arns["dev"][0]


def test_collisions_are_refused_before_anything_is_written(team: Team) -> None:
    result = team.login(
        "-a", "production", "-a", "dev", "--all-roles", "--profile-template", "{role}"
    )
    assert result.status == 1
    assert result.stderr.startswith("jcsaml: error: several roles would be written to the same")
    assert (
        "profile 'AcmeJumpCloudAdminRO': account production "
        "(arn:aws:iam::012345678987:role/AcmeJumpCloudAdminRO), account dev ("
    ) in result.stderr
    assert not team.credentials.exists()
    assert team.aws.calls == []


def test_accounts_sharing_a_profile_fail_before_any_prompt_or_request(team: Team) -> None:
    """Three imported accounts all writing saml2aws's default profile: refused from the config,
    before the password is asked, naming the accounts, the profile and the fixes."""
    text = team.config.read_text()
    for name in AWS_ACCOUNTS:
        text = text.replace(f"[{name}]\n", f"[{name}]\naws_profile = saml\n")
    team.config.write_text(text)
    result = run_cli("login", "--all-accounts", env=team.env, stdin="")
    assert result.status == 1, result.stdout
    [line] = result.stderr.splitlines()
    assert line.startswith("jcsaml: error: several roles would be written to the same profile")
    assert f"profile 'saml' of {team.credentials} for accounts production, dev, staging" in line
    assert "--profile-template" in line and "account_aliases" in line and "--role" in line
    assert team.jumpcloud.count() == 0
    assert result.stdout == ""


def test_a_role_pattern_matching_nothing_fails_that_account_only(team: Team) -> None:
    result = team.login("-a", "production", "-a", "dev", "--role", "*ReadOnly*")
    assert result.status == 1
    assert "failed: no role JumpCloud offers for account 'production' matches" in result.stdout
    assert not team.credentials.exists()


def test_accounts_of_another_user_are_signed_in_separately(team: Team) -> None:
    text = team.config.read_text().replace(
        f"[staging]\nurl = {team.jumpcloud.app_url('acme-staging')}\n"
        f"console_url = {team.jumpcloud.url}\nusername = {EMAIL}",
        f"[staging]\nurl = {team.jumpcloud.app_url('acme-staging')}\n"
        f"console_url = {team.jumpcloud.url}\nusername = {BOB}",
    )
    team.config.write_text(text)
    # Bob has no MFA; both passwords come from one variable, so Bob's sign-in fails, alone.
    result = team.login("-a", "production", "-a", "staging", "--role", "AcmeJumpCloudAdminRO")
    assert result.status == 1
    assert "Signed in to JumpCloud 2 times" in result.stdout
    assert f"{BOB} at {team.jumpcloud.url}: staging" in result.stdout
    assert "failed: JumpCloud rejected the sign-in" in result.stdout
    assert set(_profiles(team.credentials)) == {"production"}


@pytest.mark.parametrize("denied", ["production", "dev"])
def test_an_app_refused_by_conditional_access_fails_alone(team: Team, denied: str) -> None:
    # The first app (whose page comes with the sign-in) or a later one.
    team.apps[f"acme-{denied}"].conditional_access_denied = True
    result = team.login("-a", "production", "-a", "dev", "-a", "staging", "--role", "*RO")
    assert result.status == 1
    rows = [line for line in result.stdout.splitlines() if line.startswith(tuple(AWS_ACCOUNTS))]
    assert len(rows) == 3
    (failed,) = [row for row in rows if "failed" in row]
    assert failed.startswith(f"{denied} ") and "JumpCloud refused access" in failed
    assert set(_profiles(team.credentials)) == {f"{a}" for a in AWS_ACCOUNTS if a != denied}
    assert team.password_checks() == 1 and team.mfa_checks() == 1
    assert len(team.aws.calls) == 2


def test_profile_with_several_accounts_is_a_usage_error(team: Team) -> None:
    result = team.login("-a", "production", "-a", "dev", "--profile", "x")
    assert result.status == 2
    assert "--profile names one profile" in result.stderr


def test_single_login_is_unchanged(team: Team) -> None:
    result = team.login("-a", "production", "--role", "AcmeJumpCloudAdminRO")
    assert result.status == 0, result.stderr
    assert result.stdout.startswith("Logged in as arn:aws:iam::012345678987:role/")


# --- the library ----------------------------------------------------------------------------


class CountingStore(CredentialsFile):
    """The real credentials file, counting writes."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.writes = 0

    def save_many(self, profiles: Mapping[str, AwsCredentials]) -> None:
        self.writes += 1
        super().save_many(profiles)


def test_login_many_as_a_library(team: Team, monkeypatch: pytest.MonkeyPatch) -> None:
    distrust(team, "staging", "AccountsPayableBilling")
    for key, value in team.aws.environment().items():
        monkeypatch.setenv(key, value)
    code = team.jumpcloud.totp_code(EMAIL)
    prompter = ScriptedPrompter()
    results = jcsaml.login_many(
        ["production", "dev", "staging"],
        all_roles=True,
        password=PASSWORD,
        mfa_token=code,
        prompter=prompter,
        environ=os.environ,
    )
    # The live line: applications fetched, then roles assumed.
    assert prompter.progress_lines[:3] == [f"Fetched {n}/3 JumpCloud app(s)" for n in (1, 2, 3)]
    assert prompter.progress_lines[-1] == "Assumed 12/12 role(s)"
    assert prompter.asked == []
    assert len(results) == 12
    failures = [r for r in results if not r.ok]
    assert [r.role_arn for r in failures] == [team.role_arns["staging"][2]]
    assert isinstance(failures[0].error, StsError) and failures[0].error.code == "AccessDenied"
    store = CountingStore(team.credentials)
    store.save_many({r.profile: r.credentials for r in results if r.credentials is not None})
    assert store.writes == 1
    assert len(_profiles(team.credentials)) == 11
    assert team.password_checks() == 1 and team.mfa_checks() == 1


def test_login_many_refuses_collisions_before_sts(team: Team) -> None:
    accounts = [
        Account(
            name=name,
            url=team.jumpcloud.app_url(f"acme-{name}"),
            console_url=team.jumpcloud.url,
            username=EMAIL,
        )
        for name in ("production", "dev")
    ]
    interval = sys.getswitchinterval()
    with pytest.raises(ProfileCollisionError):
        jcsaml.login_many(
            accounts,
            all_roles=True,
            profile_template="{role}",
            password=PASSWORD,
            mfa_token=team.jumpcloud.totp_code(EMAIL),
            environ={**os.environ, **team.aws.environment()},
        )
    assert team.aws.calls == []
    # The preparing thread ended with the call, and left the interpreter as it found it.
    assert [t.name for t in threading.enumerate() if t.name == "jcsaml-warmup"] == []
    assert sys.getswitchinterval() == interval


# --- config: groups and templates -------------------------------------------------------------


def test_groups_expand_to_accounts_once_in_order(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text(
        "[production]\nurl = https://sso.jumpcloud.com/saml2/p\n"
        "[dev]\nurl = https://sso.jumpcloud.com/saml2/d\n"
        "[group everyday]\naccounts = dev, production\n"
        "[group broken]\naccounts = dev, nowhere\n"
    )
    assert account_names(config) == ["production", "dev"]
    assert group_names(config) == ["everyday", "broken"]
    assert expand_accounts(["everyday", "production"], path=config) == ["dev", "production"]
    assert expand_accounts([], path=config, all_accounts=True) == ["production", "dev"]
    with pytest.raises(InvalidSettingError, match="has no account; create them with"):
        expand_accounts([], path=tmp_path / "empty", all_accounts=True)
    with pytest.raises(InvalidSettingError, match="nowhere is not an account"):
        expand_accounts(["broken"], path=config)
    with pytest.raises(UnknownAccountError):
        expand_accounts(["staging"], path=config)
    config.write_text(config.read_text() + "[group dev]\naccounts = production\n")
    with pytest.raises(InvalidSettingError, match="both an account and a group"):
        expand_accounts(["dev"], path=config)
    with pytest.raises(InvalidSettingError, match="is an account group"):
        load_account("group everyday", path=config)
    with pytest.raises(InvalidSettingError, match="'everyday' is a group of accounts"):
        load_account("everyday", path=config)


@pytest.mark.parametrize("template", ["{account}-{role}", "{idp_account}_{account_id}.{role}"])
def test_profile_templates(template: str) -> None:
    assert parse_profile_template(template) == template


@pytest.mark.parametrize("template", ["{region}-{role}", "{role", "{0}", " "])
def test_bad_profile_templates_are_refused(template: str) -> None:
    with pytest.raises(InvalidSettingError, match="profile_template"):
        parse_profile_template(template)


def test_profile_names_use_the_alias_else_the_id() -> None:
    account = Account(
        name="ops", url="https://x/saml2/a", account_aliases=(("012345678987", "prod"),)
    )
    prod = AwsRole(
        "arn:aws:iam::012345678987:role/ReadOnly", "arn:aws:iam::012345678987:saml-provider/J"
    )
    dev = AwsRole(
        "arn:aws:iam::210987654321:role/ReadOnly", "arn:aws:iam::210987654321:saml-provider/J"
    )
    assert profile_name("{account}-{role}", account, prod) == "prod-ReadOnly"
    assert profile_name("{account}-{role}", account, dev) == "210987654321-ReadOnly"
    assert profile_name("{idp_account}-{account_id}", account, prod) == "ops-012345678987"


def test_save_many_writes_nothing_when_one_profile_holds_long_lived_keys(tmp_path: Path) -> None:
    from jcsaml.errors import StaticCredentialsProfileError
    from jcsaml.testing.contracts import sample_credentials

    path = tmp_path / "credentials"
    path.write_text("[dev]\naws_access_key_id = AKIAEXAMPLE\naws_secret_access_key = x\n")
    before = path.read_text()
    with pytest.raises(StaticCredentialsProfileError):
        CredentialsFile(path).save_many(
            {"production": sample_credentials(1), "dev": sample_credentials(2)}
        )
    assert path.read_text() == before


def test_one_password_prompt_and_one_mfa_prompt_for_three_accounts(team: Team) -> None:
    result = run_cli(
        "login",
        "-a",
        "production",
        "-a",
        "dev",
        "-a",
        "staging",
        "--role",
        "ManageEC2",
        env=team.env,
        stdin=f"{PASSWORD}\n{team.jumpcloud.totp_code(EMAIL)}\n",
    )
    assert result.status == 0, result.stderr
    assert result.stderr.count("JumpCloud password") == 1
    assert result.stderr.count("MFA code") == 1
    assert set(_profiles(team.credentials)) == {"production", "dev", "staging"}


def test_a_profile_that_cannot_be_written_stops_before_sts(team: Team) -> None:
    team.credentials.parent.mkdir(mode=0o700)
    team.credentials.write_text(
        "[dev]\naws_access_key_id = AKIAEXAMPLE\naws_secret_access_key = x\n"
    )
    before = team.credentials.read_text()
    result = team.login("-a", "production", "-a", "dev", "--role", "AcmeJumpCloudAdminRO")
    assert result.status == 1
    assert result.stderr.startswith("jcsaml: error: profile 'dev' in ")
    assert "long-lived access keys" in result.stderr
    assert team.aws.calls == []
    assert team.credentials.read_text() == before


def test_each_account_picker_names_it_and_preselects_its_last_role(team: Team) -> None:
    from jcsaml import remembered

    environ = {**os.environ, **team.aws.environment()}
    remembered.remember_role("production", team.role_arns["production"][3], environ)
    remembered.remember_role("dev", team.role_arns["dev"][1], environ)
    prompter = ScriptedPrompter(["", ""])  # Enter at each picker: the preselected role
    results = jcsaml.login_many(
        ["production", "dev"],
        password=PASSWORD,
        mfa_token=team.jumpcloud.totp_code(EMAIL),
        prompter=prompter,
        environ=environ,
    )
    assert [r.role_arn for r in results] == [
        team.role_arns["production"][3],
        team.role_arns["dev"][1],
    ]
    assert prompter.asked == [
        "Role to assume for account 'production' (app acme-production; AWS acme-prod)",
        "Role to assume for account 'dev' (app acme-dev; AWS acme-dev)",
    ]


def test_notes_come_once_each_and_every_sign_in_says_why(team: Team) -> None:
    """The session-duration note once per app (not per role), naming it; the no-keyring
    warning once per machine; a context line for the sign-in."""
    first = team.login("-a", "production", "-a", "dev", "--all-roles", "--session-duration", "7200")
    assert first.status == 0, first.stderr
    for app in ("acme-production", "acme-dev"):
        note = f"JumpCloud allows sessions of at most 3600 s for app {app}; asking for 3600 s"
        assert first.stderr.count(note) == 1, first.stderr
    assert first.stderr.count("no OS keyring") == 1
    second = run_cli(
        "login", "-a", "production", "-a", "dev", "--all-roles",
        env={
            **team.env,
            "JCSAML_PASSWORD": PASSWORD,
            "JCSAML_MFA_TOKEN": team.jumpcloud.totp_code(EMAIL, steps=1),
        },
    )  # fmt: skip
    assert second.status == 0, second.stderr
    assert "no OS keyring" not in second.stderr
    assert (
        f"Signing in to JumpCloud for account(s) 'production', 'dev' as {EMAIL} "
        "(app(s) acme-production, acme-dev): a login of several accounts or roles"
    ) in second.stderr
