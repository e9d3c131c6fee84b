"""jcsaml setup aws / setup check through the real CLI, against moto's IAM and the strict STS."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jcsaml.testing.idp import IdpKeyPair
from jcsaml.testing.jumpcloud import FakeApp, FakeJumpCloud, FakeUser
from jcsaml.testing.sts import LocalAws
from tests.conftest import CliResult, cli_environment, run_cli
from tests.world import RUNBOOK_CONFIG

ACCOUNT = "123456789012"  # moto's account for credentials it did not issue
SIGNIN = "https://signin.aws.amazon.com/saml"
PROVIDER = f"arn:aws:iam::{ACCOUNT}:saml-provider/JumpCloud"
POLICY = "arn:aws:iam::aws:policy/"
EMAIL = "alice@acme.example"
PASSWORD = "correct horse battery staple"


class Admin:
    """An administrator's shell: a profile with IAM rights, files under ``home``."""

    def __init__(self, home: Path, aws: LocalAws) -> None:
        self.home = home
        self.aws = aws
        self.iam = aws.iam_client(ACCOUNT)
        (home / ".aws").mkdir(exist_ok=True)
        (home / ".aws" / "credentials").write_text(
            "[admin]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\n"
            "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY\n"
        )
        # Only the per-service overrides: proves AWS_ENDPOINT_URL_IAM (and _STS) are honoured.
        endpoints = {k: v for k, v in aws.environment().items() if k != "AWS_ENDPOINT_URL"}
        self.env = cli_environment(home, endpoints)

    def run(self, *args: str, **extra: str) -> CliResult:
        return run_cli(*args, env={**self.env, **extra})

    def setup_aws(self, *args: str, cert: Path | None = None, **extra: str) -> CliResult:
        source = ["--idp-cert", str(cert), "--entity-id", "JumpCloud"] if cert else []
        return self.run(
            "setup",
            "aws",
            "--profile",
            "admin",
            "--provider-name",
            "JumpCloud",
            *source,
            *args,
            **extra,
        )

    def state(self) -> dict[str, Any]:
        """Everything setup aws may touch, to compare before and after."""
        providers = {
            p["Arn"]: self.iam.get_saml_provider(SAMLProviderArn=p["Arn"])["SAMLMetadataDocument"]
            for p in self.iam.list_saml_providers()["SAMLProviderList"]
        }
        roles = {}
        for role in self.iam.list_roles()["Roles"]:
            name = role["RoleName"]
            attached = self.iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
            roles[name] = (
                role["AssumeRolePolicyDocument"],
                role["MaxSessionDuration"],
                sorted(p["PolicyArn"] for p in attached),
            )
        return {"providers": providers, "roles": roles}


@pytest.fixture(scope="module")
def running_aws() -> Iterator[LocalAws]:
    with LocalAws(aws_managed_policies=True) as local:
        yield local


@pytest.fixture
def aws(running_aws: LocalAws) -> LocalAws:
    """The module's LocalAws, as if just started: moto's state reset, no call recorded."""
    running_aws.reset()
    return running_aws


@pytest.fixture
def admin(hermetic_home: Path, aws: LocalAws) -> Admin:
    return Admin(hermetic_home, aws)


@pytest.fixture
def cert_files(admin: Admin, tmp_path: Path) -> tuple[Path, Path]:
    config = tmp_path / "production.cnf"
    config.write_text(RUNBOOK_CONFIG)
    made = admin.run("setup", "cert", str(config), "--out-dir", str(tmp_path))
    assert made.status == 0, made.stderr
    return tmp_path / "production.key", tmp_path / "production.crt"


def one_line_error(result: CliResult) -> str:
    assert result.status == 1, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith("jcsaml: error: ")
    return lines[0]


def attribute_pairs(stdout: str) -> list[tuple[str, str]]:
    """The Role values printed for JumpCloud, as (role ARN, provider ARN)."""
    pairs = []
    for line in stdout.splitlines():
        if line.strip().startswith("Role = "):
            role, provider = line.split("=", 1)[1].strip().split(",")
            pairs.append((role, provider))
    return pairs


RUNBOOK_ROLES = (
    "--role", "AcmeJumpCloudAdminRO=readonly",
    "--role", "AcmeJumpCloudAdmin=admin",
    "--role", "AcmeAccountsPayable=billing",
    "--role", "AcmeDevelopersEC2=ec2",
)  # fmt: skip


def test_create_rerun_change_and_dry_runs(admin: Admin, cert_files: tuple[Path, Path]) -> None:
    _, cert = cert_files
    empty = admin.state()

    planned = admin.setup_aws(*RUNBOOK_ROLES, "--dry-run", "--json", cert=cert)
    assert planned.status == 0, planned.stderr
    plan = json.loads(planned.stdout)
    assert plan["dry_run"] is True
    assert (plan["partition"], plan["account"], plan["saml_provider"]) == ("aws", ACCOUNT, PROVIDER)
    actions = [(c["action"], c["target"].rsplit("/", 1)[-1], c["value"]) for c in plan["changes"]]
    assert actions[0] == ("create-saml-provider", "JumpCloud", None)
    assert ("attach-policy", "AcmeAccountsPayable", POLICY + "job-function/Billing") in actions
    assert plan["jumpcloud"]["SessionDuration"] == 3600
    assert admin.state() == empty

    created = admin.setup_aws(*RUNBOOK_ROLES, cert=cert)
    assert created.status == 0, created.stderr
    assert "Made 9 change(s)." in created.stdout
    assert attribute_pairs(created.stdout) == [
        (f"arn:aws:iam::{ACCOUNT}:role/{name}", PROVIDER)
        for name in ("AcmeJumpCloudAdminRO", "AcmeJumpCloudAdmin", "AcmeAccountsPayable",
                     "AcmeDevelopersEC2")
    ]  # fmt: skip
    assert "SessionDuration = 3600" in created.stdout
    state = admin.state()
    assert list(state["providers"]) == [PROVIDER]
    assert "".join(cert.read_text().splitlines()[1:-1]) in state["providers"][PROVIDER]
    trust, duration, policies = state["roles"]["AcmeJumpCloudAdminRO"]
    assert trust["Statement"] == [
        {
            "Effect": "Allow",
            "Principal": {"Federated": PROVIDER},
            "Action": "sts:AssumeRoleWithSAML",
            "Condition": {"StringEquals": {"SAML:aud": SIGNIN}},
        }
    ]
    assert (duration, policies) == (3600, [POLICY + "ReadOnlyAccess"])
    assert state["roles"]["AcmeJumpCloudAdmin"][2] == [POLICY + "AdministratorAccess"]
    assert state["roles"]["AcmeDevelopersEC2"][2] == [POLICY + "AmazonEC2FullAccess"]

    rerun = admin.setup_aws(*RUNBOOK_ROLES, cert=cert)
    assert rerun.status == 0, rerun.stderr
    assert "No changes: the SAML provider and 4 role(s) already match." in rerun.stdout
    assert admin.state() == state

    changed_roles = (
        "--role", "AcmeJumpCloudAdminRO=readonly,billing",
        "--role", "AcmeDevelopersEC2=PowerUserAccess",
        "--max-session-duration", "7200",
    )  # fmt: skip
    dry = admin.setup_aws(*changed_roles, "--dry-run", cert=cert)
    assert dry.status == 0, dry.stderr
    assert f"Would attach {POLICY}PowerUserAccess to AcmeDevelopersEC2" in dry.stdout
    assert f"Would detach {POLICY}AmazonEC2FullAccess from AcmeDevelopersEC2" in dry.stdout
    assert "Dry run: 5 change(s) planned, nothing changed." in dry.stdout
    assert admin.state() == state

    changed = admin.setup_aws(*changed_roles, cert=cert)
    assert changed.status == 0, changed.stderr
    after = admin.state()
    assert after["roles"]["AcmeJumpCloudAdminRO"][1:] == (
        7200,
        [POLICY + "ReadOnlyAccess", POLICY + "job-function/Billing"],
    )
    assert after["roles"]["AcmeDevelopersEC2"][1:] == (7200, [POLICY + "PowerUserAccess"])
    assert after["roles"]["AcmeJumpCloudAdmin"] == state["roles"]["AcmeJumpCloudAdmin"]
    assert "SessionDuration = 7200" in changed.stdout
    assert "No changes" in admin.setup_aws(*changed_roles, cert=cert).stdout


def test_existing_trust_policy_is_repaired_and_other_statements_kept(
    admin: Admin, cert_files: tuple[Path, Path]
) -> None:
    _, cert = cert_files
    other = {
        "Effect": "Allow",
        "Principal": {"Service": "ec2.amazonaws.com"},
        "Action": "sts:AssumeRole",
    }
    wrong_aud = {
        "Effect": "Allow",
        "Principal": {"Federated": PROVIDER},
        "Action": "sts:AssumeRoleWithSAML",
        "Condition": {"StringEquals": {"SAML:aud": "https://example.com/saml"}},
    }
    admin.aws.create_role_with_policy(
        "Ops", {"Version": "2012-10-17", "Statement": [other, wrong_aud]}, account_id=ACCOUNT
    )
    result = admin.setup_aws("--role", "Ops=readonly", cert=cert)
    assert result.status == 0, result.stderr
    assert "update the trust policy of Ops" in result.stdout
    statements = admin.state()["roles"]["Ops"][0]["Statement"]
    assert statements[0] == other
    assert statements[1]["Condition"] == {"StringEquals": {"SAML:aud": SIGNIN}}
    assert len(statements) == 2


@pytest.mark.parametrize(
    ("region", "partition", "signin"),
    [
        ("cn-north-1", "aws-cn", "https://signin.amazonaws.cn/saml"),
        ("us-gov-west-1", "aws-us-gov", "https://signin.amazonaws-us-gov.com/saml"),
    ],
)
def test_other_partitions(
    admin: Admin, cert_files: tuple[Path, Path], region: str, partition: str, signin: str
) -> None:
    _, cert = cert_files
    result = admin.setup_aws("--role", "Ops=readonly", "--json", "--region", region, cert=cert)
    assert result.status == 0, result.stderr
    plan = json.loads(result.stdout)
    provider = f"arn:{partition}:iam::{ACCOUNT}:saml-provider/JumpCloud"
    role = f"arn:{partition}:iam::{ACCOUNT}:role/Ops"
    assert plan["partition"] == partition
    assert plan["jumpcloud"]["Role"] == [f"{role},{provider}"]
    trust = next(c["value"] for c in plan["changes"] if c["action"] == "create-role")
    assert trust["Statement"][0]["Condition"] == {"StringEquals": {"SAML:aud": signin}}
    attach = {
        "action": "attach-policy",
        "target": role,
        "value": f"arn:{partition}:iam::aws:policy/ReadOnlyAccess",
    }
    assert attach in plan["changes"]
    # The role exists in that partition's IAM, not in the commercial one.
    again = admin.setup_aws("--role", "Ops=readonly", "--region", region, cert=cert)
    assert "No changes" in again.stdout, again.stdout + again.stderr
    assert admin.state()["roles"] == {}


def test_a_dry_run_client_refuses_changing_calls(aws: LocalAws, hermetic_home: Path) -> None:
    from jcsaml.admin.iam_setup import open_aws

    env = {**aws.environment(), "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
           "AWS_SECRET_ACCESS_KEY": "x"}  # fmt: skip
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        reader = open_aws(read_only=True)
        assert reader.identity() == ("aws", ACCOUNT)
        with pytest.raises(RuntimeError, match="dry run must not call iam:CreateRole"):
            reader.call("create_role", RoleName="X", AssumeRolePolicyDocument="{}")
        assert reader.call("list_roles")["Roles"] == []


def test_metadata_file_and_refusals(admin: Admin, tmp_path: Path) -> None:
    keys = IdpKeyPair.generate()
    metadata = tmp_path / "jumpcloud-metadata.xml"
    metadata.write_text(keys.metadata_xml(entity_id="acme-jumpcloud"))
    before = admin.state()

    unknown = admin.setup_aws("--metadata", str(metadata), "--role", "Ops=readonly,NoSuchPolicy")
    message = one_line_error(unknown)
    assert f"the managed policy {POLICY}NoSuchPolicy does not exist" in message
    assert admin.state() == before

    no_creds = admin.run(
        "setup", "aws", "--provider-name", "JumpCloud", "--metadata", str(metadata), "--role",
        "Ops=readonly", AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
    )  # fmt: skip
    assert "cannot use AWS credentials: no AWS credentials were found" in one_line_error(no_creds)

    bad_spec = admin.setup_aws("--metadata", str(metadata), "--role", "Ops")
    assert "invalid --role 'Ops': expected NAME=POLICY" in one_line_error(bad_spec)

    not_metadata = tmp_path / "page.html"
    not_metadata.write_text("<html><body>login</body></html>")
    refused = admin.setup_aws("--metadata", str(not_metadata), "--role", "Ops=readonly")
    assert f"cannot use {not_metadata} as the IdP metadata" in one_line_error(refused)
    assert admin.state() == before

    key_file = tmp_path / "production.key"
    key_file.write_bytes(keys.key_pem)
    wrong_file = admin.setup_aws(
        "--idp-cert", str(key_file), "--entity-id", "JumpCloud", "--role", "Ops=readonly"
    )
    message = one_line_error(wrong_file)
    assert "it holds a private key, not a certificate" in message
    assert keys.key_pem.decode().splitlines()[1] not in wrong_file.stderr + wrong_file.stdout
    assert admin.state() == before

    made = admin.setup_aws("--metadata", str(metadata), "--role", "Ops=readonly", "--debug")
    assert made.status == 0, made.stderr
    assert "jcsaml: debug: jcsaml.admin.iam_setup: iam:CreateRole Ops" in made.stderr
    assert "entity ID acme-jumpcloud" in made.stdout
    assert (
        "No changes"
        in admin.setup_aws("--metadata", str(metadata), "--role", "Ops=readonly").stdout
    )


def test_setup_cert_aws_then_login_through_the_strict_sts(
    admin: Admin, cert_files: tuple[Path, Path]
) -> None:
    key, cert = cert_files
    made = admin.setup_aws(
        "--role", "AcmeJumpCloudAdminRO=readonly", "--role", "AcmeJumpCloudAdmin=admin", cert=cert
    )
    assert made.status == 0, made.stderr
    pairs = attribute_pairs(made.stdout)
    assert len(pairs) == 2

    # JumpCloud signs with the key setup cert wrote and sends the Role values setup aws printed.
    app = FakeApp(slug="acme-prod-aws-admin", roles=pairs, session_duration=3600)
    user = FakeUser(email=EMAIL, password=PASSWORD, apps=[app.slug])
    keys = IdpKeyPair.from_files(key, cert)
    with FakeJumpCloud(users=[user], apps=[app], keys=keys) as jumpcloud:
        user_env = {k: v for k, v in admin.env.items()}
        configured = run_cli(
            "configure", "-a", "production", "--url", jumpcloud.app_url(app.slug),
            "--console-url", jumpcloud.url, "--username", EMAIL, "--mfa", "Auto",
            "--profile", "production", "--idp-cert", str(cert), "--skip-prompt",
            env=user_env,
        )  # fmt: skip
        assert configured.status == 0, configured.stderr
        login = run_cli(
            "login", "-a", "production", "--role", "AcmeJumpCloudAdminRO", "--skip-prompt",
            env={**user_env, "JCSAML_PASSWORD": PASSWORD},
        )  # fmt: skip
    assert login.status == 0, login.stderr
    assert f"Logged in as {pairs[0][0]}" in login.stdout
    call = admin.aws.calls[-1]
    assert call.ok, call
    assert (call.role_arn, call.principal_arn) == pairs[0]

    checked = admin.run("setup", "check", "--profile", "admin", "--idp-cert", str(cert))
    assert checked.status == 0, (checked.stdout, checked.stderr)
    assert checked.stdout.count("OK  ") == 4  # certificate, provider, two roles
    assert "No problems found." in checked.stdout


def test_check_names_each_problem_on_its_own_line(
    admin: Admin, cert_files: tuple[Path, Path], tmp_path: Path
) -> None:
    _, cert = cert_files
    assert admin.setup_aws("--role", "Good=readonly", cert=cert).status == 0
    other_keys = IdpKeyPair.generate()
    stale = admin.aws.create_saml_provider("Stale", other_keys.metadata_xml(), account_id=ACCOUNT)
    admin.aws.create_role("TrustsStale", trusted_principal_arn=stale, account_id=ACCOUNT)
    admin.aws.create_role_with_policy(
        "WrongAudience",
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Federated": PROVIDER},
                    "Action": "sts:AssumeRoleWithSAML",
                    "Condition": {"StringEquals": {"SAML:aud": "urn:amazon:webservices"}},
                }
            ],
        },
        account_id=ACCOUNT,
    )

    result = admin.run("setup", "check", "--profile", "admin", "--idp-cert", str(cert))
    error = one_line_error(result)
    assert "3 problem(s) would make AssumeRoleWithSAML fail" in error
    fails = [line for line in result.stdout.splitlines() if line.startswith("FAIL")]
    assert len(fails) == 3, result.stdout
    stale_line = next(line for line in fails if line.startswith(f"FAIL  provider {stale}:"))
    assert "holds another certificate" in stale_line
    aud_line = next(line for line in fails if "role/WrongAudience" in line)
    assert (
        f"its SAML:aud condition expects urn:amazon:webservices, but AWS sets SAML:aud to {SIGNIN}"
        in aud_line
    )
    trust_line = next(line for line in fails if "role/TrustsStale" in line)
    assert f"it trusts {stale}, not {PROVIDER}" in trust_line
    assert f"OK    provider {PROVIDER}: holds the IdP certificate" in result.stdout
    assert "OK    role arn:aws:iam::123456789012:role/Good: trusts" in result.stdout

    # The metadata file works in place of the certificate; naming the provider narrows the check.
    metadata = tmp_path / "metadata.xml"
    metadata.write_text(IdpKeyPair.from_files(tmp_path / "production.key", cert).metadata_xml())
    named = admin.run(
        "setup", "check", "--profile", "admin", "--metadata", str(metadata),
        "--provider-name", "Stale", "--role", "TrustsStale",
    )  # fmt: skip
    assert "1 problem(s)" in one_line_error(named)
    rows = named.stdout.splitlines()
    assert [row.split()[0] for row in rows] == ["OK", "FAIL", "OK"], named.stdout
    assert rows[1].startswith(f"FAIL  provider {stale}: holds another certificate")
    assert rows[2].startswith("OK    role arn:aws:iam::123456789012:role/TrustsStale: trusts")

    # Only the good role: nothing fails. A role that does not exist: its own line.
    good = admin.run(
        "setup", "check", "--profile", "admin", "--idp-cert", str(cert), "--role", "Good"
    )
    assert good.status == 0, good.stdout + good.stderr
    missing = admin.run(
        "setup", "check", "--profile", "admin", "--idp-cert", str(cert), "--role", "Nobody"
    )
    one_line_error(missing)
    assert "FAIL  role Nobody: does not exist" in missing.stdout


def test_regional_saml_endpoints_are_written_checked_and_kept(
    admin: Admin, cert_files: tuple[Path, Path]
) -> None:
    _, cert = cert_files
    regional = "https://eu-west-1.signin.aws.amazon.com/saml"
    made = admin.setup_aws(
        "--role", "AcmeJumpCloudAdminRO=readonly",
        "--saml-endpoint", "eu-west-1", "--saml-endpoint", "global",
        cert=cert,
    )  # fmt: skip
    assert made.status == 0, made.stderr
    statement = admin.state()["roles"]["AcmeJumpCloudAdminRO"][0]["Statement"][0]
    assert statement["Condition"] == {"StringEquals": {"SAML:aud": [regional, SIGNIN]}}
    assert f"one the roles trust: {regional} or {SIGNIN}" in made.stdout

    checked = admin.run("setup", "check", "--profile", "admin", "--idp-cert", str(cert))
    assert checked.status == 0, checked.stdout + checked.stderr
    ok = next(line for line in checked.stdout.splitlines() if "role/AcmeJumpCloudAdminRO" in line)
    assert ok.startswith("OK") and f"at {regional}, {SIGNIN}" in ok

    # A rerun without the flag changes nothing: both values stay.
    again = admin.setup_aws("--role", "AcmeJumpCloudAdminRO=readonly", cert=cert)
    assert again.status == 0, again.stderr
    assert "No changes" in again.stdout
    statement = admin.state()["roles"]["AcmeJumpCloudAdminRO"][0]["Statement"][0]
    assert statement["Condition"] == {"StringEquals": {"SAML:aud": [regional, SIGNIN]}}


def test_a_role_trusting_only_a_regional_endpoint_is_ok_and_repaired_not_replaced(
    admin: Admin, cert_files: tuple[Path, Path]
) -> None:
    _, cert = cert_files
    regional = "https://eu-west-1.signin.aws.amazon.com/saml"
    assert admin.setup_aws("--role", "Ops=readonly", cert=cert).status == 0
    admin.iam.update_assume_role_policy(
        RoleName="Ops",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Federated": PROVIDER},
                        "Action": "sts:AssumeRoleWithSAML",
                        "Condition": {"StringEquals": {"SAML:aud": regional}},
                    }
                ],
            }
        ),
    )
    checked = admin.run("setup", "check", "--profile", "admin", "--idp-cert", str(cert))
    assert checked.status == 0, checked.stdout + checked.stderr
    assert f"at {regional} " in checked.stdout
    # setup aws leaves it alone (it works), and adding global keeps the regional value.
    kept = admin.setup_aws("--role", "Ops=readonly", cert=cert)
    assert "No changes" in kept.stdout, kept.stdout
    added = admin.setup_aws("--role", "Ops=readonly", "--saml-endpoint", "global", cert=cert)
    assert added.status == 0, added.stderr
    statement = admin.state()["roles"]["Ops"][0]["Statement"][0]
    assert statement["Condition"] == {"StringEquals": {"SAML:aud": [SIGNIN, regional]}}
    refused = admin.setup_aws("--role", "Ops=readonly", "--saml-endpoint", "mars", cert=cert)
    assert "invalid --saml-endpoint" in one_line_error(refused)
