"""Each MFA factor, session reuse and logout, end to end through the real CLI."""

from __future__ import annotations

import signal
import time
from collections.abc import Sequence

import pytest

from jcsaml.testing.jumpcloud import FakeUser
from tests.world import PASSWORD, SECRET, SLUG, World, WorldFactory, finish, last_error_line

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
def site(make_world: WorldFactory) -> World:
    """A user for each factor (and alice), a keyring that keeps what is saved; nothing
    configured."""
    return make_world(users=USERS, keyring=True, configure=(), roles=("Admin",), push_lifetime=30)


# --- JumpCloud Protect push -------------------------------------------------------------------


def login_args(*extra: str) -> Sequence[str]:
    return ("login", "-a", "push", "--skip-prompt", *extra)


def test_push_approved_on_the_phone(site: World) -> None:
    site.configure(account="push", username="push@acme.example", mfa="PUSH")
    process = site.start(*login_args(), new_session=False, JCSAML_PASSWORD=PASSWORD)
    site.jumpcloud.wait_for_push("push@acme.example")
    time.sleep(1.2)  # let a poll or two see "pending" first
    site.jumpcloud.push_respond("push@acme.example", "accepted")
    result = finish(process, timeout=30)
    assert result.status == 0, result.stderr
    assert "Approve the sign-in request in JumpCloud Protect" in result.stderr
    assert "Logged in as" in result.stdout
    polls = site.jumpcloud.count("GET", "/userconsole/auth/push/")
    assert 1 <= polls <= 5  # about once a second


def test_push_denied(site: World) -> None:
    site.configure(account="push", username="push@acme.example", mfa="PUSH")
    site.jumpcloud.script_push("push@acme.example", "denied", after_polls=1)
    line = last_error_line(site.run(*login_args(), JCSAML_PASSWORD=PASSWORD))
    assert "denied in JumpCloud Protect" in line
    assert not site.credentials.exists()


def test_push_expired(site: World) -> None:
    site.configure(account="push", username="push@acme.example", mfa="PUSH")
    site.jumpcloud.script_push("push@acme.example", "expired", after_polls=1)
    assert "expired" in last_error_line(site.run(*login_args(), JCSAML_PASSWORD=PASSWORD))


def test_push_gives_up_after_push_timeout(site: World) -> None:
    site.configure(account="push", username="push@acme.example", mfa="PUSH")
    with site.config.open("a") as config:
        config.write("push_timeout = 2\n")
    started = time.monotonic()
    line = last_error_line(site.run(*login_args(), JCSAML_PASSWORD=PASSWORD))
    assert "after 2 s" in line and "push_timeout" in line
    assert time.monotonic() - started < 15


def test_ctrl_c_while_waiting_for_the_push_exits_130(site: World) -> None:
    site.configure(account="push", username="push@acme.example", mfa="PUSH")
    process = site.start(*login_args(), new_session=False, JCSAML_PASSWORD=PASSWORD)
    site.jumpcloud.wait_for_push("push@acme.example")
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    result = finish(process, timeout=30)
    assert result.status == 130
    assert "Traceback" not in result.stderr
    assert not site.credentials.exists()


# --- TOTP and factor choice -------------------------------------------------------------------


def test_a_mistyped_code_can_be_typed_again(site: World) -> None:
    site.configure(account="totp", username="totp@acme.example", mfa="TOTP")
    good = site.jumpcloud.totp_code("totp@acme.example")
    wrong = "000000" if good != "000000" else "111111"
    result = site.run("login", "-a", "totp", stdin=f"{wrong}\n{good}\n", JCSAML_PASSWORD=PASSWORD)
    assert result.status == 0, result.stderr
    assert "2 attempts left" in result.stderr
    assert site.jumpcloud.count("POST", "/userconsole/auth") == 3


def test_three_wrong_codes_end_the_login(site: World) -> None:
    site.configure(account="totp", username="totp@acme.example", mfa="TOTP")
    good = site.jumpcloud.totp_code("totp@acme.example")
    wrong = "000000" if good != "000000" else "111111"
    result = site.run(
        "login", "-a", "totp", stdin=f"{wrong}\n{wrong}\n{wrong}\n{good}\n",
        JCSAML_PASSWORD=PASSWORD,
    )  # fmt: skip
    assert "MFA code" in last_error_line(result)
    assert site.jumpcloud.count("POST", "/userconsole/auth") == 4  # password + 3 codes


def test_a_code_given_by_flag_is_used_once(site: World) -> None:
    site.configure(account="totp", username="totp@acme.example", mfa="TOTP")
    result = site.run(
        "login", "-a", "totp", "--skip-prompt", JCSAML_PASSWORD=PASSWORD,
        JCSAML_MFA_TOKEN="000000" if site.jumpcloud.totp_code("totp@acme.example") != "000000"
        else "111111",
    )  # fmt: skip
    assert "MFA code" in last_error_line(result)
    assert site.jumpcloud.count("POST", "/userconsole/auth") == 2


def test_auto_with_several_factors_asks_which(site: World) -> None:
    site.configure(account="both", username="both@acme.example", mfa="Auto")
    code = site.jumpcloud.totp_code("both@acme.example")
    result = site.run("login", "-a", "both", stdin=f"1\n{code}\n", JCSAML_PASSWORD=PASSWORD)
    assert result.status == 0, result.stderr
    assert "1) TOTP" in result.stderr and "2) PUSH" in result.stderr


def test_auto_with_several_factors_and_no_prompting_names_the_flag(site: World) -> None:
    site.configure(account="both", username="both@acme.example", mfa="Auto")
    line = last_error_line(
        site.run("login", "-a", "both", "--skip-prompt", JCSAML_PASSWORD=PASSWORD)
    )
    assert "--mfa" in line


def test_a_configured_factor_the_user_lacks_names_the_available_ones(site: World) -> None:
    site.configure(account="totp", username="totp@acme.example", mfa="PUSH")
    line = last_error_line(
        site.run("login", "-a", "totp", "--skip-prompt", JCSAML_PASSWORD=PASSWORD)
    )
    assert "PUSH is not available" in line and "available: TOTP" in line


# --- one MFA per session ----------------------------------------------------------------------


def test_second_login_reuses_the_console_session(site: World) -> None:
    site.configure(account="totp", username="totp@acme.example", mfa="TOTP")
    first = site.login(account="totp", email="totp@acme.example")
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


def test_expired_console_session_falls_back_to_a_full_sign_in(site: World) -> None:
    site.configure(account="totp", username="totp@acme.example", mfa="TOTP")
    assert site.login(account="totp", email="totp@acme.example").status == 0
    site.jumpcloud.expire_sessions()
    line = last_error_line(site.run("login", "-a", "totp", "--profile", "other", "--skip-prompt"))
    assert "--password" in line  # the session is gone, so the password is needed again


def test_logout_drops_the_session_and_the_credentials(site: World) -> None:
    site.configure(account="totp", username="totp@acme.example", mfa="TOTP")
    assert site.login(account="totp", email="totp@acme.example").status == 0
    out = site.run("logout", "-a", "totp")
    assert out.status == 0, out.stderr
    assert "session:" not in site.keyring.read_text()
    assert "[totp]" not in site.credentials.read_text()
    line = last_error_line(site.run("login", "-a", "totp", "--skip-prompt"))
    assert "--password" in line


def test_auto_with_a_code_given_uses_totp_without_asking(site: World) -> None:
    site.configure(account="both", username="both@acme.example", mfa="Auto")
    result = site.login(account="both", email="both@acme.example")
    assert result.status == 0, result.stderr
