"""saml2aws's command line and variables: every flag accepted with saml2aws's meaning or refused in
one line naming jcsaml's equivalent, no prefix ever read as a flag, SAML2AWS_* variables honoured
with JCSAML_* winning, and session policies sent to STS."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from jcsaml.cli import _parse, build_parser, common_defaults
from jcsaml.cli.saml2aws_flags import COMMANDS, SAML2AWS_FLAGS, Saml2awsFlag, docs_table, refusal
from jcsaml.config import update_account_keys
from jcsaml.variables import VARIABLES, describe_sources, lookup
from tests.conftest import REPO, cli_environment, run_cli
from tests.world import EMAIL, PASSWORD, World, WorldFactory, assert_one_line_error

#: A value each value-taking flag accepts.
SAMPLES = {
    "--mfa": "TOTP",
    "--shell": "/bin/sh",
    "--url": "https://sso.jumpcloud.com/saml2/acme-prod-aws-admin",
    "--region": "us-east-2",
    "--session-duration": "3600",
    "--aws-urn": "urn:amazon:webservices:govcloud",
    "--idp-provider": "JumpCloud",
    "--policyarns": "arn:aws:iam::aws:policy/ReadOnlyAccess",
    "--policyfile": "policy.json",
    "--profile": "prod",
    "--role": "AcmeJumpCloudAdminRO",
    "--duo-mfa-option": "Passcode",
    "--provider": "JumpCloud",
}


def argv_for(command: str, name: str, entry: Saml2awsFlag) -> list[str]:
    argv = [command, "-a", "production", name]
    if entry.takes_value:
        argv.append(SAMPLES.get(entry.names[-1], "x"))
    if command == "exec":
        argv += ["--", "true"]
    return argv


def parse(argv: list[str], environ: dict[str, str] | None = None) -> argparse.Namespace:
    env = environ or {}
    args = _parse(build_parser(env), argv)
    for key, value in common_defaults(env).items():
        if not hasattr(args, key):
            setattr(args, key, value)
    return args


CASES = [
    pytest.param(command, name, entry, id=f"{command} {name}")
    for entry in SAML2AWS_FLAGS
    for command in entry.commands
    for name in entry.names
]


@pytest.mark.parametrize(("command", "name", "entry"), CASES)
def test_every_saml2aws_flag_is_accepted_or_refused_with_its_equivalent(
    command: str, name: str, entry: Saml2awsFlag
) -> None:
    argv = argv_for(command, name, entry)
    try:
        args = parse(argv)
    except SystemExit as exc:  # argparse's usage error: the flag is not known at all
        pytest.fail(f"jcsaml {' '.join(argv)} is a usage error ({exc.code})")
    said = refusal(args, {})
    if entry.refused is not None:
        assert said == f"{name} is not supported: {entry.refused}"
        assert entry.jcsaml == "refused"
    else:
        assert said is None, said
        if entry.takes_value:  # the value reached the option saml2aws's flag means
            given = argv[4]
            values = {str(v) for v in vars(args).values()} | {
                str(v) for value in vars(args).values() if isinstance(value, list) for v in value
            }
            assert given in values or given.upper() in values, (given, vars(args))
    # What the docs say about it is what it does.
    rows = [row for row in docs_table().splitlines() if row.startswith(f"| `{entry.names[0]}`")]
    assert any(
        (f"refused: {entry.refused}" if entry.refused else entry.jcsaml) in row for row in rows
    )


def test_the_docs_carry_the_flag_table() -> None:
    text = (REPO / "docs" / "configuration.md").read_text()
    assert "## Coming from saml2aws" in text
    assert docs_table() in text


def test_the_table_covers_saml2aws_command_line() -> None:
    """saml2aws's flags by command (cmd/saml2aws/main.go): each is in the table for it."""
    known = {(name, command) for e in SAML2AWS_FLAGS for name in e.names for command in e.commands}
    expected = {
        "configure": "--app-id --client-id --client-secret --subdomain --mfa-ip-address -p "
        "--profile --resource-id --credentials-file --cache-saml --cache-file "
        "--disable-sessions --disable-remember-device",
        "login": "-p --profile --duo-mfa-option --client-id --client-secret --mfa-ip-address "
        "--force --credential-process --credentials-file --cache-saml --cache-file "
        "--download-browser-driver --disable-sessions --disable-remember-device",
        "exec": "-p --profile --exec-profile --credentials-file",
        "console": "--exec-profile -p --profile --force --link --credentials-file",
        "list-roles": "--cache-saml --cache-file",
        "script": "-p --profile --credentials-file --shell",
    }
    globals_ = (
        "--verbose --quiet -i --provider --config -a --idp-account --idp-provider --mfa -s "
        "--skip-verify --url --username --password --mfa-token --role --aws-urn --skip-prompt "
        "--session-duration --disable-keychain -r --region --prompter"
    )
    for command in COMMANDS:
        for name in (expected[command] + " " + globals_).split():
            assert (name, command) in known, f"saml2aws {command} {name} is not in the table"


@pytest.mark.parametrize("flag", ["-s", "--skip-verify", "--cache-saml", "-i"])
def test_a_refused_flag_is_one_line_through_the_cli(flag: str, tmp_path: Path) -> None:
    argv = ["login", "-a", "production", flag] + (["Okta"] if flag == "-i" else [])
    result = run_cli(*argv, env=cli_environment(tmp_path))
    assert_one_line_error(result, f"{flag} is not supported: ", status=2)
    if flag in ("-s", "--skip-verify"):
        assert "REQUESTS_CA_BUNDLE" in result.stderr
    if flag == "--cache-saml":
        assert "cached credentials" in result.stderr


def every_parser(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    found = [(path, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                found += every_parser(child, (*path, name))
    return found


def test_no_prefix_of_any_flag_is_read_as_the_flag() -> None:
    parsers = every_parser(build_parser({}))
    assert all(not parser.allow_abbrev for _, parser in parsers)
    tried = 0
    for path, parser in parsers:
        options = set(parser._option_string_actions)
        for option in sorted(options):
            if not option.startswith("--") or len(option) < 5:
                continue
            prefix = option[:-1]
            if prefix in options:
                continue
            with pytest.raises(SystemExit) as caught:
                _parse(build_parser({}), [*path, f"{prefix}=1"])
            assert caught.value.code == 2, (path, prefix)
            tried += 1
    assert tried > 100


def test_mfa_at_login_is_the_factor_not_the_code() -> None:
    args = parse(["login", "--mfa", "TOTP"])
    assert args.mfa == "TOTP" and args.mfa_token is None
    with pytest.raises(SystemExit):
        parse(["login", "--mfa-tok", "123456"])
    with pytest.raises(SystemExit):
        parse(["login", "--user", "alice"])


def test_login_mfa_totp_picks_the_factor_and_sends_no_code(world_with: WorldFactory) -> None:
    both = world_with(user={"factors": ["push", "totp"]})
    both.configure("--mfa", "Auto")
    # No code given and no prompting: TOTP is the factor, so the code is what is missing.
    missing = both.login("--mfa", "TOTP", code="")
    assert_one_line_error(missing, "--mfa-token")
    posted_codes = [
        r for r in both.jumpcloud.requests if isinstance(r.json, dict) and r.json.get("otp")
    ]
    assert posted_codes == []  # "TOTP" was not sent as a code, nor anything else
    assert both.jumpcloud.count("POST", "/userconsole/auth/push") == 0
    done = both.login("--mfa", "TOTP", "--force")
    assert done.status == 0, done.stderr
    assert both.jumpcloud.count("POST", "/userconsole/auth/push") == 0


@pytest.mark.parametrize("name", [name for name, (own, _) in VARIABLES.items() if own is not None])
def test_saml2aws_variables_alone_jcsaml_alone_and_both(name: str) -> None:
    own, theirs = VARIABLES[name]
    assert own is not None
    assert lookup(name, {theirs: "from-saml2aws"}) == "from-saml2aws"
    assert lookup(name, {own: "from-jcsaml"}) == "from-jcsaml"
    assert lookup(name, {own: "from-jcsaml", theirs: "from-saml2aws"}) == "from-jcsaml"
    assert lookup(name, {own: "", theirs: "from-saml2aws"}) == "from-saml2aws"
    lines = describe_sources({own: "secret-1", theirs: "secret-2"})
    assert any(own in line and f"{theirs} is also set and ignored" in line for line in lines)
    assert not any("secret" in line for line in lines)


def test_saml2aws_variables_give_the_login_options() -> None:
    env = {
        "SAML2AWS_IDP_ACCOUNT": "production",
        "SAML2AWS_USERNAME": "bob@acme.example",
        "SAML2AWS_PROFILE": "prod-admin",
        "SAML2AWS_SESSION_DURATION": "7200",
        "SAML2AWS_ROLE": "AcmeJumpCloudAdmin",
        "JCSAML_ROLE": "AcmeJumpCloudAdminRO",
        "SAML2AWS_EXEC_PROFILE": "deploy",
    }
    args = parse(["exec", "--", "true"], env)
    assert args.idp_account == "production"
    assert args.username == "bob@acme.example"
    assert args.profile == "prod-admin"
    assert args.session_duration == "7200"
    assert args.role == "AcmeJumpCloudAdminRO"  # JCSAML_ROLE wins
    assert args.exec_profile == "deploy"
    assert parse(["exec", "-p", "flag", "--", "true"], env).profile == "flag"  # the flag wins


def test_login_with_saml2aws_variables_alone(world: World) -> None:
    world.configure("--role", world.roles["AcmeJumpCloudAdminRO"])
    done = world.run(
        "login",
        "--skip-prompt",
        JCSAML_PASSWORD="",
        JCSAML_MFA_TOKEN="",
        SAML2AWS_IDP_ACCOUNT="production",
        SAML2AWS_PASSWORD=PASSWORD,
        SAML2AWS_MFA_TOKEN=world.jumpcloud.totp_code(EMAIL),
        SAML2AWS_PROFILE="from-saml2aws",
        SAML2AWS_REGION="eu-west-1",
    )
    assert done.status == 0, done.stderr
    text = world.credentials.read_text()
    assert "[from-saml2aws]" in text and "region = eu-west-1" in text


def test_jcsaml_variables_win_over_saml2aws_ones(world: World) -> None:
    world.configure("--role", world.roles["AcmeJumpCloudAdminRO"])
    wrong = "not the password"
    done = world.run(
        "login",
        "-a",
        "production",
        "--skip-prompt",
        "--debug",
        JCSAML_PASSWORD=PASSWORD,
        SAML2AWS_PASSWORD=wrong,
        JCSAML_MFA_TOKEN=world.jumpcloud.totp_code(EMAIL),
        SAML2AWS_MFA_TOKEN="000000",
    )
    assert done.status == 0, done.stderr
    assert (
        "password from JCSAML_PASSWORD (SAML2AWS_PASSWORD is also set and ignored: "
        "JCSAML_PASSWORD wins)" in done.stderr
    )
    assert "mfa-token from JCSAML_MFA_TOKEN" in done.stderr
    for secret in (PASSWORD, wrong):
        assert secret not in done.stderr + done.stdout


def test_session_policies_reach_assume_role_with_saml(world: World, tmp_path: Path) -> None:
    world.configure("--role", world.roles["AcmeJumpCloudAdminRO"])
    policy = tmp_path / "policy.json"
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:List*", "Resource": "*"}],
    }
    policy.write_text(json.dumps(document, indent=2))
    arns = "arn:aws:iam::aws:policy/ReadOnlyAccess,arn:aws:iam::012345678987:policy/NoDelete"
    done = world.login("--policyarns", arns, "--policyfile", str(policy))
    assert done.status == 0, done.stderr
    call = world.aws.calls[-1]
    assert call.ok and call.policy_arns == tuple(arns.split(","))
    assert call.policy is not None and json.loads(call.policy) == document

    # From the account's keys, as the saml2aws import writes them.
    update_account_keys(
        "production",
        {"policy_arns": "arn:aws:iam::aws:policy/ReadOnlyAccess", "policy_file": str(policy)},
        path=world.config,
    )
    again = world.login("--force", code=world.jumpcloud.totp_code(EMAIL, steps=1))
    assert again.status == 0, again.stderr
    call = world.aws.calls[-1]
    assert call.policy_arns == ("arn:aws:iam::aws:policy/ReadOnlyAccess",)
    assert call.policy is not None and json.loads(call.policy) == document

    # A policy file that cannot be used stops the login before anything is sent.
    before = len(world.jumpcloud.requests)
    policy.write_text("not json")
    refused = world.login("--force")
    assert_one_line_error(refused, "policy_file", "not a JSON policy document")
    assert len(world.jumpcloud.requests) == before


def test_quiet_and_credentials_file_at_login(world: World, tmp_path: Path) -> None:
    world.configure("--role", world.roles["AcmeJumpCloudAdminRO"])
    elsewhere = tmp_path / "ci-credentials"
    done = world.run(
        "login", "-a", "production", "--quiet", "--credentials-file", str(elsewhere),
        JCSAML_PASSWORD=PASSWORD, JCSAML_MFA_TOKEN=world.jumpcloud.totp_code(EMAIL),
    )  # fmt: skip
    assert done.status == 0, done.stderr
    assert "Signing in" not in done.stderr  # the progress line; notes and warnings stay
    assert "[production]" in elsewhere.read_text()
    assert not world.credentials.exists()


def test_saml2aws_variables_that_cannot_apply_are_refused_in_one_line() -> None:
    args = parse(["login"])
    harmless = {"SAML2AWS_SKIP_VERIFY": "false", "SAML2AWS_IDP_PROVIDER": "jumpcloud"}
    assert refusal(args, harmless) is None
    said = refusal(args, {"SAML2AWS_SKIP_VERIFY": "true"})
    assert said is not None and said.startswith("SAML2AWS_SKIP_VERIFY is not supported")
    assert refusal(args, {"SAML2AWS_AWS_URN": "urn:amazon:webservices:govcloud"}) is None
    said = refusal(args, {"SAML2AWS_AWS_URN": "urn:example:other"})
    assert said is not None and "is not an AWS sign-in audience" in said
    # A flag wins over its variable, as in saml2aws.
    flagged = parse(["login", "--idp-provider", "JumpCloud"])
    assert refusal(flagged, {"SAML2AWS_IDP_PROVIDER": "Okta"}) is None
