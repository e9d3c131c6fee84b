"""jcsaml list-roles: every role the assertion offers, with aliases from the config, from one
sign-in and no call to AWS."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from jcsaml.roles import RoleListing, role_listings
from jcsaml.saml import AwsRole
from jcsaml.testing.idp import IdpKeyPair
from jcsaml.testing.jumpcloud import FakeApp, FakeJumpCloud, FakeUser
from jcsaml.testing.sts import LocalAws
from tests.conftest import CliResult, cli_environment, run_cli
from tests.world import totp_window_clock

EMAIL = "alice@acme.example"
PASSWORD = "correct horse battery staple"
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
PROD = "012345678987"
DEV = "210987654321"
P_ROLE = f"arn:aws:iam::{PROD}:role/AcmeJumpCloudAdminRO"
P_ADMIN = f"arn:aws:iam::{PROD}:role/AcmeJumpCloudAdmin"
D_ROLE = f"arn:aws:iam::{DEV}:role/DevelopersManageEC2"
P_PRINCIPAL = f"arn:aws:iam::{PROD}:saml-provider/JumpCloud"
D_PRINCIPAL = f"arn:aws:iam::{DEV}:saml-provider/JumpCloud"


#: What a test signs in through: the CLI's environment, the fake JumpCloud and the local AWS.
World = tuple[dict[str, str], FakeJumpCloud, LocalAws]


def test_role_listings_sorted_aliased_and_deduplicated() -> None:
    roles = [
        AwsRole(D_ROLE, D_PRINCIPAL),
        AwsRole(P_ROLE, P_PRINCIPAL),
        AwsRole(P_ADMIN, P_PRINCIPAL),
        AwsRole(P_ROLE, P_PRINCIPAL),
    ]
    listed = role_listings(roles, {PROD: "acme-prod"})
    assert listed == [
        RoleListing(PROD, "acme-prod", "AcmeJumpCloudAdmin", P_ADMIN, P_PRINCIPAL),
        RoleListing(PROD, "acme-prod", "AcmeJumpCloudAdminRO", P_ROLE, P_PRINCIPAL),
        RoleListing(DEV, "", "DevelopersManageEC2", D_ROLE, D_PRINCIPAL),
    ]


def configure(environment: dict[str, str], jumpcloud: FakeJumpCloud, *extra: str) -> None:
    """jcsaml configure, as a user would, of account acme: alice on the fake's acme-aws app."""
    done = run_cli(
        "configure",
        "-a",
        "acme",
        "--url",
        jumpcloud.app_url("acme-aws"),
        "--console-url",
        jumpcloud.url,
        "--username",
        EMAIL,
        "--mfa",
        "TOTP",
        *extra,
        "--skip-prompt",
        env=environment,
    )
    assert done.status == 0, done.stderr


@pytest.fixture
def env(hermetic_home: Path) -> Iterator[World]:
    app = FakeApp(
        slug="acme-aws",
        roles=[(P_ROLE, P_PRINCIPAL), (P_ADMIN, P_PRINCIPAL), (D_ROLE, D_PRINCIPAL)],
    )
    user = FakeUser(email=EMAIL, password=PASSWORD, totp_secret=SECRET, apps=["acme-aws"])
    with (
        LocalAws() as aws,
        FakeJumpCloud(
            users=[user], apps=[app], keys=IdpKeyPair.generate(), clock=totp_window_clock()
        ) as jumpcloud,
    ):
        environment = cli_environment(hermetic_home, aws.environment())
        configure(environment, jumpcloud, "--account-aliases", f"{PROD}:acme-prod, {DEV}:acme-dev")
        yield environment, jumpcloud, aws


def list_roles(env: World, *extra: str, **more: str) -> CliResult:
    environment, jumpcloud, _ = env
    return run_cli(
        "list-roles",
        "-a",
        "acme",
        "--skip-prompt",
        *extra,
        env={
            **environment,
            "JCSAML_PASSWORD": PASSWORD,
            "JCSAML_MFA_TOKEN": jumpcloud.totp_code(EMAIL),
            **more,
        },
    )


def test_list_roles_json_from_one_sign_in(env: World) -> None:
    _, jumpcloud, aws = env
    result = list_roles(env, "--json")
    assert result.status == 0, result.stderr
    assert json.loads(result.stdout) == [
        {
            "account_id": PROD,
            "alias": "acme-prod",
            "role_name": "AcmeJumpCloudAdmin",
            "role_arn": P_ADMIN,
            "principal_arn": P_PRINCIPAL,
        },
        {
            "account_id": PROD,
            "alias": "acme-prod",
            "role_name": "AcmeJumpCloudAdminRO",
            "role_arn": P_ROLE,
            "principal_arn": P_PRINCIPAL,
        },
        {
            "account_id": DEV,
            "alias": "acme-dev",
            "role_name": "DevelopersManageEC2",
            "role_arn": D_ROLE,
            "principal_arn": D_PRINCIPAL,
        },
    ]
    assert jumpcloud.count("GET", "/saml2/acme-aws") == 1  # one assertion
    assert aws.calls == []  # no AWS call, no web scraping
    assert PASSWORD not in result.stdout + result.stderr


def test_list_roles_table(env: World) -> None:
    result = list_roles(env)
    assert result.status == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split("  ")[0] == "ACCOUNT ID"
    assert [line.split() for line in lines] == [
        ["ACCOUNT", "ID", "ALIAS", "ROLE", "NAME", "ROLE", "ARN", "PRINCIPAL", "ARN"],
        [PROD, "acme-prod", "AcmeJumpCloudAdmin", P_ADMIN, P_PRINCIPAL],
        [PROD, "acme-prod", "AcmeJumpCloudAdminRO", P_ROLE, P_PRINCIPAL],
        [DEV, "acme-dev", "DevelopersManageEC2", D_ROLE, D_PRINCIPAL],
    ]
    # columns line up
    assert len({line.index("arn:aws:iam") for line in lines[1:]}) == 1


def test_list_roles_with_a_wrong_password(env: World) -> None:
    result = list_roles(env, JCSAML_PASSWORD="wrong")
    assert result.status == 1
    assert result.stderr.startswith("jcsaml: error: JumpCloud rejected the sign-in")
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stdout == ""


def test_bad_account_aliases_are_refused(env: World) -> None:
    environment, _, _ = env
    config = Path(environment["JCSAML_CONFIG"])
    config.write_text(config.read_text().replace(f"{DEV}:acme-dev", "12345:short"))
    result = list_roles(env)
    assert result.status == 1
    assert result.stderr.strip() == (
        "jcsaml: error: invalid account_aliases: '12345:short' is not ACCOUNT_ID:ALIAS (a "
        "12-digit AWS account id, a colon, a name), e.g. 012345678987:acme-prod"
    )


def test_list_roles_pins_the_certificate_on_first_use_and_refuses_another_after(env: World) -> None:
    from jcsaml.saml import certificate_sha256, show_fingerprint

    environment, jumpcloud, _ = env
    result = list_roles(env, "--json")
    assert result.status == 0, result.stderr
    pinned = certificate_sha256(jumpcloud.keys.cert_pem)
    assert f"idp_cert_sha256 = {pinned}" in Path(environment["JCSAML_CONFIG"]).read_text()
    assert "trusting JumpCloud's IdP certificate" in result.stderr
    jumpcloud.keys = IdpKeyPair.generate()  # a forger's key, certificate in KeyInfo
    forged = list_roles(env, "--json", JCSAML_MFA_TOKEN=jumpcloud.totp_code(EMAIL, steps=1))
    assert forged.status == 1
    assert forged.stderr.startswith("jcsaml: error:")
    assert show_fingerprint(pinned) in forged.stderr
    assert show_fingerprint(certificate_sha256(jumpcloud.keys.cert_pem)) in forged.stderr
    assert forged.stdout == ""


def test_list_roles_refuses_unsigned_and_warns_on_every_allowed_one(hermetic_home: Path) -> None:
    app = FakeApp(slug="acme-aws", roles=[(P_ROLE, P_PRINCIPAL)], sign="none")
    user = FakeUser(email=EMAIL, password=PASSWORD, totp_secret=SECRET, apps=["acme-aws"])
    # Three codes from three windows: the fake's clock starts a window, so none expires meanwhile.
    with FakeJumpCloud(users=[user], apps=[app], clock=totp_window_clock()) as jumpcloud:
        environment = cli_environment(hermetic_home, {})
        configure(environment, jumpcloud)
        config = Path(environment["JCSAML_CONFIG"])
        refused = list_roles(
            (environment, jumpcloud, None),  # type: ignore[arg-type]
            JCSAML_MFA_TOKEN=jumpcloud.totp_code(EMAIL, steps=-1),
        )
        assert refused.status == 1 and "'acme' is not signed" in refused.stderr
        config.write_text(config.read_text() + "allow_unsigned = true\n")
        for step in range(2):
            result = list_roles(
                (environment, jumpcloud, None),  # type: ignore[arg-type]
                "--force",
                JCSAML_MFA_TOKEN=jumpcloud.totp_code(EMAIL, steps=step),
            )
            assert result.status == 0, result.stderr
            assert "warning: JumpCloud's SAML response for account 'acme'" in result.stderr
        assert "idp_cert_sha256" not in Path(environment["JCSAML_CONFIG"]).read_text()
