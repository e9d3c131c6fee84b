"""Prompts as a saml2aws user expects them, through prompt_toolkit reading from a pipe (as on a
terminal): bracketed defaults, the role picker, and MFA codes checked before they are sent."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from jcsaml.jumpcloud import JumpCloudAuthenticator, PasswordCredentials
from jcsaml.prompter import TerminalPrompter
from jcsaml.testing.jumpcloud import FakeApp, FakeJumpCloud, FakeUser

PRINCIPAL = "arn:aws:iam::012345678987:saml-provider/JumpCloud"
RO = "arn:aws:iam::012345678987:role/ReadOnly"
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
EMAIL = "mfa@acme.example"


@pytest.fixture
def jumpcloud() -> Iterator[FakeJumpCloud]:
    user = FakeUser(email=EMAIL, password="pw", totp_secret=SECRET, apps=["aws"])
    with FakeJumpCloud(users=[user], apps=[FakeApp(slug="aws", roles=[(RO, PRINCIPAL)])]) as fake:
        yield fake


def otp_posts(jumpcloud: FakeJumpCloud) -> int:
    return sum(
        1
        for r in jumpcloud.requests
        if r.method == "POST" and r.path == "/userconsole/auth" and r.json.get("otp")
    )


def test_a_five_digit_code_is_asked_again_and_never_sent(jumpcloud: FakeJumpCloud) -> None:
    code = jumpcloud.totp_code(EMAIL)
    with create_pipe_input() as pipe:
        pipe.send_text(code[:5] + "\r")
        pipe.send_text(code[:3] + " " + code[3:] + "\r")
        import io

        err = io.StringIO()
        prompter = TerminalPrompter(stderr=err, terminal_input=pipe, terminal_output=DummyOutput())
        auth = JumpCloudAuthenticator(
            app_url=jumpcloud.app_url("aws"), console_url=jumpcloud.url, prompter=prompter
        )
        page = auth.authenticate(PasswordCredentials(EMAIL, "pw", mfa="TOTP"))
    assert page.saml_response
    assert otp_posts(jumpcloud) == 1  # only the 6-digit code was sent
    assert "An MFA code has 6 digits (5 characters typed); it was not sent" in err.getvalue()
    assert code[:5] not in err.getvalue()


def ask_on_a_terminal(keys: str, message: str, default: str) -> tuple[str, str]:
    """The answer to ``prompter.text`` when ``keys`` are typed, and what the terminal showed."""
    import io

    from prompt_toolkit.output.plain_text import PlainTextOutput

    shown = io.StringIO()
    with create_pipe_input() as pipe:
        pipe.send_text(keys)
        prompter = TerminalPrompter(terminal_input=pipe, terminal_output=PlainTextOutput(shown))
        answer = prompter.text(message, how="", default=default)
    return answer, shown.getvalue()


def test_enter_takes_the_bracketed_default() -> None:
    answer, shown = ask_on_a_terminal("\r", "Account name for AWS staging", "aws-staging")
    assert answer == "aws-staging"
    assert "Account name for AWS staging [aws-staging]:" in shown


def test_typing_replaces_the_default_instead_of_adding_to_it() -> None:
    answer, _ = ask_on_a_terminal("staging\r", "Account name for AWS staging", "aws-staging")
    assert answer == "staging"
    answer, _ = ask_on_a_terminal("TOTP\r", "MFA factor (Auto, TOTP, PUSH, WEBAUTHN)", "Auto")
    assert answer == "TOTP"


ROLES = [
    ("ro", "012345678987  AcmeJumpCloudAdminRO"),
    ("admin", "012345678987  AcmeJumpCloudAdmin"),
    ("ec2", "012345678987  DevelopersManageEC2"),
    ("billing", "012345678987  AccountsPayable"),
]


def pick_on_a_terminal(keys: str, default: str | None) -> tuple[str, str]:
    import io

    from prompt_toolkit.output.plain_text import PlainTextOutput

    shown = io.StringIO()
    with create_pipe_input() as pipe:
        pipe.send_text(keys)
        prompter = TerminalPrompter(terminal_input=pipe, terminal_output=PlainTextOutput(shown))
        heading = "Role to assume for account 'dev' (app acme-dev; AWS acme-dev)"
        chosen = prompter.choose(heading, ROLES, how="pass --role", default=default)
    return chosen, shown.getvalue()


def test_the_picker_filters_ec2_to_the_ec2_role() -> None:
    chosen, shown = pick_on_a_terminal("EC2\r", default="billing")
    assert chosen == "ec2"  # the 2 of EC2 is part of the filter, not row 2
    assert "Role to assume for account 'dev'" in shown
    assert "type: filter by name" in shown  # the hint line


def test_the_picker_preselects_the_last_choice_and_a_number_alone_picks_a_row() -> None:
    assert pick_on_a_terminal("\r", default="billing")[0] == "billing"
    assert pick_on_a_terminal("2\r", default="billing")[0] == "admin"
    assert pick_on_a_terminal("\x1b[A\r", default="billing")[0] == "ec2"  # up from the default
