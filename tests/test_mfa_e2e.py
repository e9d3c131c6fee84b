"""Each MFA factor, session reuse and logout, end to end through the real CLI."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from jcsaml.testing.idp import IdpKeyPair
from jcsaml.testing.jumpcloud import FakeApp, FakeJumpCloud, FakeUser
from jcsaml.testing.sts import LocalAws
from tests.conftest import CliResult, cli_environment, run_cli

ACCOUNT = "012345678987"
PASSWORD = "pw-for-tests"
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
SLUG = "aws"


@pytest.fixture(scope="module")
def keys() -> IdpKeyPair:
    return IdpKeyPair.generate()


@pytest.fixture(scope="module")
def aws(keys: IdpKeyPair) -> Iterator[tuple[LocalAws, str, str]]:
    with LocalAws() as local:
        principal = local.create_saml_provider("JumpCloud", keys.metadata_xml(), account_id=ACCOUNT)
        role = local.create_role("Admin", trusted_principal_arn=principal, account_id=ACCOUNT)
        yield local, role, principal


class Site:
    """A fake JumpCloud with users for each factor, and the CLI's environment."""

    def __init__(self, home: Path, aws: LocalAws, jumpcloud: FakeJumpCloud) -> None:
        self.home = home
        self.jumpcloud = jumpcloud
        self.config = home / ".jcsaml"
        self.credentials = home / ".aws" / "credentials"
        self.keyring = home / "test-keyring.json"
        self.env = cli_environment(
            home,
            aws.environment(),
            {
                "PYTHON_KEYRING_BACKEND": "jcsaml.testing.keyring_backend.FileKeyring",
                "JCSAML_TEST_KEYRING": str(self.keyring),
            },
        )

    def configure(self, name: str, email: str, mfa: str, *extra: str) -> None:
        result = run_cli(
            "configure", "-a", name, "--url", self.jumpcloud.app_url(SLUG),
            "--console-url", self.jumpcloud.url, "--username", email, "--mfa", mfa,
            "--skip-prompt", *extra, env=self.env,
        )  # fmt: skip
        assert result.status == 0, result.stderr

    def run(self, *args: str, stdin: str | None = None, **extra: str) -> CliResult:
        return run_cli(*args, env={**self.env, **extra}, stdin=stdin)

    def login_with_totp(self, name: str, email: str) -> CliResult:
        """A non-interactive login with the password and the current TOTP code."""
        code = self.jumpcloud.totp_code(email)
        return self.run(
            "login", "-a", name, "--skip-prompt", JCSAML_PASSWORD=PASSWORD, JCSAML_MFA_TOKEN=code
        )

    def start(self, *args: str, **extra: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "jcsaml", *args],
            env={**self.env, **extra},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )


USERS = [
    FakeUser(email="totp@acme.example", password=PASSWORD, totp_secret=SECRET, apps=[SLUG]),
    FakeUser(email="push@acme.example", password=PASSWORD, factors=["push"], apps=[SLUG]),
    FakeUser(
        email="both@acme.example",
        password=PASSWORD,
        totp_secret=SECRET,
        factors=["totp", "push"],
        apps=[SLUG],
    ),
]


@pytest.fixture
def site(hermetic_home: Path, keys: IdpKeyPair, aws: tuple[LocalAws, str, str]) -> Iterator[Site]:
    local, role, principal = aws
    app = FakeApp(slug=SLUG, roles=[(role, principal)])
    with FakeJumpCloud(users=USERS, apps=[app], keys=keys, push_lifetime=30) as jumpcloud:
        yield Site(hermetic_home, local, jumpcloud)


def finish(process: subprocess.Popen[str], timeout: float = 30) -> CliResult:
    out, err = process.communicate(timeout=timeout)
    return CliResult(process.returncode, out, err)


def one_error_line(result: CliResult) -> str:
    assert result.status == 1, result
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("jcsaml: error: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[-1]


# --- JumpCloud Protect push -------------------------------------------------------------------


def login_args(*extra: str) -> Sequence[str]:
    return ("login", "-a", "push", "--skip-prompt", *extra)


def test_push_approved_on_the_phone(site: Site) -> None:
    site.configure("push", "push@acme.example", "PUSH")
    process = site.start(*login_args(), JCSAML_PASSWORD=PASSWORD)
    site.jumpcloud.wait_for_push("push@acme.example")
    time.sleep(1.2)  # let a poll or two see "pending" first
    site.jumpcloud.push_respond("push@acme.example", "accepted")
    result = finish(process)
    assert result.status == 0, result.stderr
    assert "Approve the sign-in request in JumpCloud Protect" in result.stderr
    assert "Logged in as" in result.stdout
    polls = site.jumpcloud.count("GET", "/userconsole/auth/push/")
    assert 1 <= polls <= 5  # about once a second


def test_push_denied(site: Site) -> None:
    site.configure("push", "push@acme.example", "PUSH")
    site.jumpcloud.script_push("push@acme.example", "denied", after_polls=1)
    line = one_error_line(site.run(*login_args(), JCSAML_PASSWORD=PASSWORD))
    assert "denied in JumpCloud Protect" in line
    assert not site.credentials.exists()


def test_push_expired(site: Site) -> None:
    site.configure("push", "push@acme.example", "PUSH")
    site.jumpcloud.script_push("push@acme.example", "expired", after_polls=1)
    assert "expired" in one_error_line(site.run(*login_args(), JCSAML_PASSWORD=PASSWORD))


def test_push_gives_up_after_push_timeout(site: Site) -> None:
    site.configure("push", "push@acme.example", "PUSH")
    with site.config.open("a") as config:
        config.write("push_timeout = 2\n")
    started = time.monotonic()
    line = one_error_line(site.run(*login_args(), JCSAML_PASSWORD=PASSWORD))
    assert "after 2 s" in line and "push_timeout" in line
    assert time.monotonic() - started < 15


def test_ctrl_c_while_waiting_for_the_push_exits_130(site: Site) -> None:
    site.configure("push", "push@acme.example", "PUSH")
    process = site.start(*login_args(), JCSAML_PASSWORD=PASSWORD)
    site.jumpcloud.wait_for_push("push@acme.example")
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    result = finish(process)
    assert result.status == 130
    assert "Traceback" not in result.stderr
    assert not site.credentials.exists()


# --- TOTP and factor choice -------------------------------------------------------------------


def test_a_mistyped_code_can_be_typed_again(site: Site) -> None:
    site.configure("totp", "totp@acme.example", "TOTP")
    good = site.jumpcloud.totp_code("totp@acme.example")
    wrong = "000000" if good != "000000" else "111111"
    result = site.run("login", "-a", "totp", stdin=f"{wrong}\n{good}\n", JCSAML_PASSWORD=PASSWORD)
    assert result.status == 0, result.stderr
    assert "2 attempts left" in result.stderr
    assert site.jumpcloud.count("POST", "/userconsole/auth") == 3


def test_three_wrong_codes_end_the_login(site: Site) -> None:
    site.configure("totp", "totp@acme.example", "TOTP")
    good = site.jumpcloud.totp_code("totp@acme.example")
    wrong = "000000" if good != "000000" else "111111"
    result = site.run(
        "login", "-a", "totp", stdin=f"{wrong}\n{wrong}\n{wrong}\n{good}\n",
        JCSAML_PASSWORD=PASSWORD,
    )  # fmt: skip
    assert "MFA code" in one_error_line(result)
    assert site.jumpcloud.count("POST", "/userconsole/auth") == 4  # password + 3 codes


def test_a_code_given_by_flag_is_used_once(site: Site) -> None:
    site.configure("totp", "totp@acme.example", "TOTP")
    result = site.run(
        "login", "-a", "totp", "--skip-prompt", JCSAML_PASSWORD=PASSWORD,
        JCSAML_MFA_TOKEN="000000" if site.jumpcloud.totp_code("totp@acme.example") != "000000"
        else "111111",
    )  # fmt: skip
    assert "MFA code" in one_error_line(result)
    assert site.jumpcloud.count("POST", "/userconsole/auth") == 2


def test_auto_with_several_factors_asks_which(site: Site) -> None:
    site.configure("both", "both@acme.example", "Auto")
    code = site.jumpcloud.totp_code("both@acme.example")
    result = site.run("login", "-a", "both", stdin=f"1\n{code}\n", JCSAML_PASSWORD=PASSWORD)
    assert result.status == 0, result.stderr
    assert "1) TOTP" in result.stderr and "2) PUSH" in result.stderr


def test_auto_with_several_factors_and_no_prompting_names_the_flag(site: Site) -> None:
    site.configure("both", "both@acme.example", "Auto")
    line = one_error_line(
        site.run("login", "-a", "both", "--skip-prompt", JCSAML_PASSWORD=PASSWORD)
    )
    assert "--mfa" in line


def test_a_configured_factor_the_user_lacks_names_the_available_ones(site: Site) -> None:
    site.configure("totp", "totp@acme.example", "PUSH")
    line = one_error_line(
        site.run("login", "-a", "totp", "--skip-prompt", JCSAML_PASSWORD=PASSWORD)
    )
    assert "PUSH is not available" in line and "available: TOTP" in line


# --- one MFA per session ----------------------------------------------------------------------


def test_second_login_reuses_the_console_session(site: Site) -> None:
    site.configure("totp", "totp@acme.example", "TOTP")
    first = site.login_with_totp("totp", "totp@acme.example")
    assert first.status == 0, first.stderr
    stored = site.keyring.read_text()
    assert "session:totp@acme.example" in stored
    assert PASSWORD not in stored  # a password given by variable is not kept
    site.jumpcloud.clear_requests()
    # Another profile has no cached AWS credentials: a sign-in is needed, but no password or MFA.
    second = site.run("login", "-a", "totp", "--profile", "other", "--skip-prompt")
    assert second.status == 0, second.stderr
    paths = [r.path for r in site.jumpcloud.requests]
    assert paths == ["/userconsole/api/self", f"/saml2/{SLUG}"]


def test_expired_console_session_falls_back_to_a_full_sign_in(site: Site) -> None:
    site.configure("totp", "totp@acme.example", "TOTP")
    assert site.login_with_totp("totp", "totp@acme.example").status == 0
    site.jumpcloud.expire_sessions()
    line = one_error_line(site.run("login", "-a", "totp", "--profile", "other", "--skip-prompt"))
    assert "--password" in line  # the session is gone, so the password is needed again


def test_logout_drops_the_session_and_the_credentials(site: Site) -> None:
    site.configure("totp", "totp@acme.example", "TOTP")
    assert site.login_with_totp("totp", "totp@acme.example").status == 0
    out = site.run("logout", "-a", "totp")
    assert out.status == 0, out.stderr
    assert "session:" not in site.keyring.read_text()
    assert "[totp]" not in site.credentials.read_text()
    line = one_error_line(site.run("login", "-a", "totp", "--skip-prompt"))
    assert "--password" in line


def test_auto_with_a_code_given_uses_totp_without_asking(site: Site) -> None:
    site.configure("both", "both@acme.example", "Auto")
    result = site.login_with_totp("both", "both@acme.example")
    assert result.status == 0, result.stderr
