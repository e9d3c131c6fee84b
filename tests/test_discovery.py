"""jcsaml configure --discover: the AWS applications JumpCloud lists for the user become
accounts; bookmarks and other SAML applications are left out."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import jcsaml
from jcsaml.config import Account, account_names, find_account
from jcsaml.discovery import account_name_for
from jcsaml.errors import NoAwsApplicationsError, NoSamlResponseError
from jcsaml.testing.idp import IdpKeyPair
from jcsaml.testing.jumpcloud import FakeApp, FakeJumpCloud, FakeUser
from tests.conftest import CliResult, cli_environment, run_cli

EMAIL = "alice@acme.example"
PASSWORD = "correct horse battery staple"
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
PROD = "012345678987"
DEV = "210987654321"


def _aws_app(slug: str, account_id: str, label: str) -> FakeApp:
    provider = f"arn:aws:iam::{account_id}:saml-provider/JumpCloud"
    return FakeApp(
        slug,
        roles=[
            (f"arn:aws:iam::{account_id}:role/AcmeJumpCloudAdminRO", provider),
            (f"arn:aws:iam::{account_id}:role/AcmeJumpCloudAdmin", provider),
        ],
        display_label=label,
    )


def _other_app(slug: str, label: str, **more: Any) -> FakeApp:
    """An application that is not AWS: no roles."""
    return FakeApp(slug, roles=[], display_label=label, **more)


APPS = [
    _aws_app("acme-prod-aws", PROD, "AWS Production"),
    _other_app(
        "github-com",
        "GitHub",
        catalog_name="github-com",
        acs_url="https://github.com/orgs/acme/saml/consume",
        audience="https://github.com/orgs/acme",
    ),
    _aws_app("acme-dev-aws", DEV, "AWS Dev"),
    _other_app("mail", "Google Mail", kind="bookmark", bookmark_url="https://mail.google.com/"),
]


@dataclass
class Setup:
    home: Path
    jumpcloud: FakeJumpCloud
    env: dict[str, str]

    @property
    def config(self) -> Path:
        return self.home / ".jcsaml"

    def discover(self, *args: str, stdin: str | None = None, steps: int = 0) -> CliResult:
        """``steps``: a TOTP window away, since each window's code signs in once."""
        return run_cli(
            "configure",
            "--discover",
            *args,
            env={
                **self.env,
                "JCSAML_PASSWORD": PASSWORD,
                "JCSAML_MFA_TOKEN": self.jumpcloud.totp_code(EMAIL, steps=steps),
            },
            stdin=stdin,
        )

    def first_app_flags(self) -> tuple[str, ...]:
        return (
            "--url",
            self.jumpcloud.app_url("acme-prod-aws"),
            "--console-url",
            self.jumpcloud.url,
            "--username",
            EMAIL,
        )


@pytest.fixture
def setup(hermetic_home: Path) -> Iterator[Setup]:
    user = FakeUser(EMAIL, PASSWORD, totp_secret=SECRET, apps=[app.slug for app in APPS])
    with FakeJumpCloud(users=[user], apps=APPS, keys=IdpKeyPair.generate()) as jumpcloud:
        yield Setup(hermetic_home, jumpcloud, cli_environment(hermetic_home))


def test_four_apps_two_aws_two_accounts_written(setup: Setup) -> None:
    result = setup.discover(*setup.first_app_flags(), "--skip-prompt")
    assert result.status == 0, result.stderr
    assert account_names(setup.config) == ["aws-production", "aws-dev"]
    production = find_account("aws-production", path=setup.config)
    dev = find_account("aws-dev", path=setup.config)
    assert production is not None and dev is not None
    assert production.url == setup.jumpcloud.app_url("acme-prod-aws")
    assert dev.url == setup.jumpcloud.app_url("acme-dev-aws")
    assert (dev.username, dev.console_url) == (EMAIL, setup.jumpcloud.url)
    # Trusted on first use: the certificate that signed the assertion is pinned.
    assert len(dev.idp_cert_sha256) == 64
    assert "AWS Production: 2 role(s), new account 'aws-production'" in result.stdout
    assert "(GitHub: not an AWS application (its assertion offers no AWS role))" in result.stdout
    assert "(Google Mail: not a SAML application (bookmark))" in result.stdout
    # One sign-in; the bookmark's page is never fetched, each SAML app's once.
    assert setup.jumpcloud.count("GET", "/userconsole/api/applications") == 1
    assert setup.jumpcloud.count("GET", "/saml2/") == 3
    assert setup.jumpcloud.count("GET", "/saml2/mail") == 0
    assert PASSWORD not in result.stdout + result.stderr


def test_a_saml2aws_job_s_variables_sign_in_to_discover(setup: Setup) -> None:
    """A CI job written for saml2aws gives the username, password and code in its variables."""
    result = run_cli(
        "configure", "--discover", "--skip-prompt",
        "--url", setup.jumpcloud.app_url("acme-prod-aws"), "--console-url", setup.jumpcloud.url,
        env={
            **setup.env,
            "SAML2AWS_USERNAME": EMAIL,
            "SAML2AWS_PASSWORD": PASSWORD,
            "SAML2AWS_MFA_TOKEN": setup.jumpcloud.totp_code(EMAIL),
        },
    )  # fmt: skip
    assert result.status == 0, result.stderr
    assert account_names(setup.config) == ["aws-production", "aws-dev"]
    assert PASSWORD not in result.stdout + result.stderr


def test_names_are_editable_and_apps_can_be_left_out(setup: Setup) -> None:
    result = setup.discover(*setup.first_app_flags(), stdin="production\n-\n")
    assert result.status == 0, result.stderr
    assert account_names(setup.config) == ["production"]
    assert "AWS Dev: 2 role(s), left out" in result.stdout


def test_configured_apps_are_not_proposed_again(setup: Setup) -> None:
    first = setup.discover(*setup.first_app_flags(), "--skip-prompt")
    assert first.status == 0, first.stderr
    again = setup.discover("-a", "aws-production", "--skip-prompt", steps=1)
    assert again.status == 0, again.stderr
    assert "already configured as account 'aws-dev'" in again.stdout
    assert "No new account to save." in again.stdout
    assert account_names(setup.config) == ["aws-production", "aws-dev"]


def test_discovery_without_an_app_to_sign_in_through(setup: Setup) -> None:
    result = setup.discover("--skip-prompt")
    assert result.status == 1
    assert result.stderr.startswith(
        "jcsaml: error: an AWS application to sign in through is required and prompting is off"
    )


def test_account_names_from_labels() -> None:
    assert account_name_for("AWS Production") == "aws-production"
    assert account_name_for("AWS Production", {"aws-production"}) == "aws-production-2"
    assert account_name_for("  ★ ") == "aws"


def test_discovery_as_a_library(setup: Setup) -> None:
    base = Account(
        name="signin",
        url=setup.jumpcloud.app_url("acme-dev-aws"),
        console_url=setup.jumpcloud.url,
        username=EMAIL,
    )
    found = jcsaml.discover_applications(
        base, password=PASSWORD, mfa_token=setup.jumpcloud.totp_code(EMAIL)
    )
    assert [(a.name, a.display_label) for a in found.applications] == [
        ("aws-production", "AWS Production"),
        ("aws-dev", "AWS Dev"),
    ]
    assert [r.role_name for r in found.applications[1].roles] == [
        "AcmeJumpCloudAdminRO",
        "AcmeJumpCloudAdmin",
    ]
    assert [s.display_label for s in found.skipped] == ["GitHub", "Google Mail"]


def test_signing_in_through_an_app_the_user_is_not_bound_to(hermetic_home: Path) -> None:
    apps = [_aws_app("acme-prod-aws", PROD, "AWS Production"), APPS[1]]
    user = FakeUser(EMAIL, PASSWORD, apps=["github-com"])
    with FakeJumpCloud(users=[user], apps=apps) as jumpcloud:
        base = Account(name="x", url=jumpcloud.app_url("acme-prod-aws"), console_url=jumpcloud.url)
        with pytest.raises(NoSamlResponseError):
            jcsaml.discover_applications(base, username=EMAIL, password=PASSWORD)
        assert jumpcloud.count("GET", "/userconsole/api/applications") == 0


def test_a_list_without_aws_applications_is_an_error(setup: Setup) -> None:
    from jcsaml.jumpcloud import Application, JumpCloudAuthenticator
    from jcsaml.prompter import NonInteractivePrompter

    class OnlyBookmarks(JumpCloudAuthenticator):
        def list_applications(self) -> list[Application]:
            return [Application("1", "bookmark", "Wiki", "https://wiki.example", "bookmark")]

    base = Account(
        name="x",
        url=setup.jumpcloud.app_url("acme-prod-aws"),
        console_url=setup.jumpcloud.url,
        username=EMAIL,
    )
    with pytest.raises(NoAwsApplicationsError, match="none of the 1 application"):
        jcsaml.discover_applications(
            base,
            password=PASSWORD,
            mfa_token=setup.jumpcloud.totp_code(EMAIL),
            authenticator_factory=lambda account: OnlyBookmarks(
                app_url=account.url,
                console_url=account.console_url,
                prompter=NonInteractivePrompter(),
            ),
        )
