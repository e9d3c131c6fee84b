"""The login flow with in-memory fakes of jcsaml's own interfaces and real signed assertions."""

from __future__ import annotations

import sys
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from jcsaml.aws_credentials import AwsCredentials
from jcsaml.config import Account
from jcsaml.credentials_file import MemoryCredentialsStore
from jcsaml.errors import (
    AuthenticationFailedError,
    InputRequiredError,
    NothingTypedError,
    SavedPasswordRejectedError,
    UnknownRoleError,
)
from jcsaml.jumpcloud import PasswordCredentials, SamlPage
from jcsaml.prompter import NonInteractivePrompter
from jcsaml.secret_store import MemoryStore, password_key, session_key
from jcsaml.signin import cached_credentials, login
from jcsaml.testing.fakes import FakeAuthenticator, FakeStsClient, ScriptedPrompter, sts_answer
from jcsaml.testing.idp import IdpKeyPair, make_saml_response_b64
from tests.conftest import run_python
from tests.world import ACCOUNT, APP_URL, PRINCIPAL, READ_ONLY_ROLE

RO = READ_ONLY_ROLE
ADMIN = f"arn:aws:iam::{ACCOUNT}:role/AcmeJumpCloudAdmin"
BILLING = "arn:aws:iam::111122223333:role/AccountsPayable"
URL = APP_URL


def page_for(
    keys: IdpKeyPair,
    roles: list[tuple[str, str]],
    duration: int | None = 3600,
    subject: str = "alice@acme.example",
) -> SamlPage:
    return SamlPage(
        saml_response=make_saml_response_b64(
            keys, roles=roles, session_duration=duration, subject=subject
        ),
        relay_state="",
        form_action="https://signin.aws.amazon.com/saml",
    )


def sign_in(keys: IdpKeyPair, account: Account, **options: Any) -> AwsCredentials:
    """login() of ``account``, reading no variables; unless ``options`` give others, with a
    JumpCloud that offers the one role RO and an STS that grants it."""
    options.setdefault("authenticator", FakeAuthenticator(page_for(keys, [(RO, PRINCIPAL)])))
    options.setdefault("sts_client", FakeStsClient([sts_answer(RO)]))
    return login(account, environ={}, **options)


def test_single_role_is_assumed_without_a_question(keys: IdpKeyPair) -> None:
    auth = FakeAuthenticator(page_for(keys, [(RO, PRINCIPAL)]))
    sts = FakeStsClient([sts_answer(RO)])
    prompter = ScriptedPrompter([])
    creds = sign_in(
        keys,
        Account(name="p", url=URL, username="alice@acme.example"),
        password="pw",
        authenticator=auth,
        sts_client=sts,
        prompter=prompter,
    )
    assert creds.role_arn == RO
    assert creds.assumed_role_arn.endswith(":assumed-role/AcmeJumpCloudAdminRO/alice")
    assert prompter.asked == []
    call = sts.calls[0]
    assert (call["RoleArn"], call["PrincipalArn"]) == (RO, PRINCIPAL)
    assert call["SAMLAssertion"] == auth.page.saml_response  # type: ignore[union-attr]


@pytest.mark.parametrize("wanted", [ADMIN, "AcmeJumpCloudAdmin"])
def test_role_by_arn_or_by_name(keys: IdpKeyPair, wanted: str) -> None:
    auth = FakeAuthenticator(page_for(keys, [(RO, PRINCIPAL), (ADMIN, PRINCIPAL)]))
    sts = FakeStsClient([sts_answer(ADMIN)])
    creds = sign_in(
        keys,
        Account(name="p", url=URL, username="u"),
        role=wanted,
        password="pw",
        authenticator=auth,
        sts_client=sts,
    )
    assert creds.role_arn == ADMIN
    assert sts.calls[0]["RoleArn"] == ADMIN


def test_unknown_role_lists_the_available_ones(keys: IdpKeyPair) -> None:
    auth = FakeAuthenticator(page_for(keys, [(RO, PRINCIPAL), (ADMIN, PRINCIPAL)]))
    sts = FakeStsClient([])
    with pytest.raises(UnknownRoleError) as caught:
        login(
            Account(name="p", url=URL, username="u"),
            role="Nope",
            password="pw",
            authenticator=auth,
            sts_client=sts,
            environ={},
        )
    assert RO in str(caught.value) and ADMIN in str(caught.value)
    assert sts.calls == []


def test_several_roles_are_offered_with_account_and_name(keys: IdpKeyPair) -> None:
    auth = FakeAuthenticator(page_for(keys, [(RO, PRINCIPAL), (BILLING, PRINCIPAL)]))
    sts = FakeStsClient([sts_answer(BILLING)])
    prompter = ScriptedPrompter(["1"])  # sorted by account id: 0123... first
    sign_in(
        keys,
        Account(name="p", url=URL, username="u"),
        password="pw",
        prompter=prompter,
        authenticator=auth,
        sts_client=sts,
    )
    assert prompter.asked == [
        "Role to assume for account 'p' (app acme; AWS 012345678987, 111122223333)"
    ]
    assert sts.calls[0]["RoleArn"] == RO


def test_several_roles_without_prompting_name_the_argument_and_list_the_roles(
    keys: IdpKeyPair,
) -> None:
    auth = FakeAuthenticator(page_for(keys, [(RO, PRINCIPAL), (ADMIN, PRINCIPAL)]))
    with pytest.raises(InputRequiredError) as caught:
        login(
            Account(name="p", url=URL, username="u"),
            password="pw",
            prompter=NonInteractivePrompter(),
            authenticator=auth,
            sts_client=FakeStsClient([]),
            environ={},
        )
    message = str(caught.value)
    # The library names its own keyword argument, never a CLI flag or variable.
    assert "pass role=" in message and "--role" not in message and "JCSAML" not in message
    assert RO in message and ADMIN in message


def test_typed_password_saved_only_after_a_successful_sign_in(keys: IdpKeyPair) -> None:
    account = Account(name="p", url=URL, username="alice")
    secrets = MemoryStore()
    with pytest.raises(AuthenticationFailedError):
        login(
            account,
            prompter=ScriptedPrompter(["wrong", "wrong2", "wrong3"]),
            secrets=secrets,
            environ={},
            authenticator=FakeAuthenticator(AuthenticationFailedError(message="nope")),
        )
    assert secrets.get(password_key(account, "alice")) is None
    sign_in(keys, account, prompter=ScriptedPrompter(["right"]), secrets=secrets)
    assert secrets.get(password_key(account, "alice")) == "right"


def test_password_given_by_flag_or_variable_is_not_saved(keys: IdpKeyPair) -> None:
    account = Account(name="p", url=URL, username="alice")
    secrets = MemoryStore()
    sign_in(keys, account, password="from-ci", secrets=secrets)
    assert secrets.get(password_key(account, "alice")) is None


def test_the_password_command_is_read_from_the_callers_environment(
    keys: IdpKeyPair, monkeypatch: pytest.MonkeyPatch
) -> None:
    """login(environ=...) takes JCSAML_PASSWORD_COMMAND from there, not from the process."""
    monkeypatch.setenv("JCSAML_PASSWORD_COMMAND", f"{sys.executable} -c \"print('process')\"")
    auth = FakeAuthenticator(page_for(keys, [(RO, PRINCIPAL)]))
    login(
        Account(name="p", url=URL, username="alice"),
        authenticator=auth,
        sts_client=FakeStsClient([sts_answer(RO)]),
        secrets=MemoryStore(),
        prompter=NonInteractivePrompter(),
        environ={"JCSAML_PASSWORD_COMMAND": f"{sys.executable} -c \"print('caller')\""},
    )
    assert auth.seen[0].password == "caller"


def test_saved_password_is_used_without_prompting(keys: IdpKeyPair) -> None:
    account = Account(name="p", url=URL, username="alice")
    secrets = MemoryStore()
    secrets.set(password_key(account, "alice"), "saved-pw")
    auth = FakeAuthenticator(page_for(keys, [(RO, PRINCIPAL)]))
    sign_in(keys, account, prompter=NonInteractivePrompter(), secrets=secrets, authenticator=auth)
    assert auth.seen[0].password == "saved-pw"


def test_enter_reuses_the_saved_password(keys: IdpKeyPair) -> None:
    account = Account(name="p", url=URL, username="alice")
    secrets = MemoryStore()
    secrets.set(password_key(account, "alice"), "saved-pw")
    auth = FakeAuthenticator(page_for(keys, [(RO, PRINCIPAL)]))
    prompter = ScriptedPrompter([""])
    sign_in(keys, account, prompter=prompter, secrets=secrets, authenticator=auth)
    assert auth.seen[0].password == "saved-pw"
    assert "Enter reuses" in prompter.asked[0]


def test_username_and_password_are_asked_when_missing(keys: IdpKeyPair) -> None:
    auth = FakeAuthenticator(page_for(keys, [(RO, PRINCIPAL)], subject="bob@acme.example"))
    prompter = ScriptedPrompter(["bob@acme.example", "pw"])
    sign_in(
        keys,
        Account(name="p", url=URL, mfa="TOTP"),
        prompter=prompter,
        authenticator=auth,
        mfa_token="123456",
    )
    assert auth.seen[0].username == "bob@acme.example"
    assert auth.seen[0].mfa == "TOTP" and auth.seen[0].mfa_token == "123456"


def test_session_duration_and_region_reach_sts(keys: IdpKeyPair) -> None:
    sts = FakeStsClient([sts_answer(RO)])
    creds = sign_in(
        keys,
        Account(name="p", url=URL, username="u", region="eu-west-1"),
        password="pw",
        session_duration=7200,
        sts_client=sts,
        authenticator=FakeAuthenticator(page_for(keys, [(RO, PRINCIPAL)], 43200)),
    )
    assert sts.calls[0]["DurationSeconds"] == 7200
    assert creds.region == "eu-west-1"


def cached(expires_in: timedelta, role: str = RO) -> MemoryCredentialsStore:
    store = MemoryCredentialsStore()
    name = role.rsplit("/", 1)[1]
    store.save(
        "p",
        AwsCredentials(
            access_key_id="AK",
            secret_access_key="SK",
            session_token="ST",
            expiration=datetime.now(UTC) + expires_in,
            role_arn=role,
            assumed_role_arn=f"arn:aws:sts::{role.split(':')[4]}:assumed-role/{name}/alice",
        ),
    )
    return store


def test_cached_credentials_are_reused_while_valid_for_the_same_role() -> None:
    assert cached_credentials(cached(timedelta(minutes=30)), "p", role=RO) is not None
    assert cached_credentials(cached(timedelta(minutes=30)), "p", role=None) is not None
    assert (
        cached_credentials(cached(timedelta(minutes=30)), "p", role="AcmeJumpCloudAdminRO")
        is not None
    )


def test_cached_credentials_near_expiry_or_for_another_role_are_not_used() -> None:
    assert cached_credentials(cached(timedelta(minutes=4)), "p", role=RO) is None
    assert cached_credentials(cached(timedelta(minutes=30)), "p", role=ADMIN) is None
    assert cached_credentials(MemoryCredentialsStore(), "p", role=RO) is None


class FailsThenSignsIn(FakeAuthenticator):
    """Rejects the first ``failures`` passwords, then signs in."""

    def __init__(self, page: SamlPage, failures: int) -> None:
        super().__init__(page)
        self.failures = failures

    def authenticate(self, credentials: PasswordCredentials) -> SamlPage:
        self.seen.append(credentials)
        if len(self.seen) <= self.failures:
            raise AuthenticationFailedError(message="Authentication failed")
        return self.page  # type: ignore[return-value]


def test_rejected_password_is_asked_again_naming_the_user(keys: IdpKeyPair) -> None:
    account = Account(name="p", url=URL, username="alice")
    secrets = MemoryStore()
    prompter = ScriptedPrompter(["typo", "right"])
    auth = FailsThenSignsIn(page_for(keys, [(RO, PRINCIPAL)]), failures=1)
    sign_in(keys, account, prompter=prompter, secrets=secrets, authenticator=auth)
    assert prompter.asked == ["JumpCloud password", "JumpCloud password for alice"]
    assert "rejected the password for alice" in prompter.notices[0]
    assert "2 attempts left" in prompter.notices[0]
    assert [c.password for c in auth.seen] == ["typo", "right"]
    assert secrets.get(password_key(account, "alice")) == "right"


def test_three_rejected_passwords_end_the_sign_in(keys: IdpKeyPair) -> None:
    prompter = ScriptedPrompter(["a", "b", "c", "d"])
    auth = FailsThenSignsIn(page_for(keys, [(RO, PRINCIPAL)]), failures=3)
    with pytest.raises(AuthenticationFailedError):
        login(
            Account(name="p", url=URL, username="alice"),
            prompter=prompter,
            secrets=MemoryStore(),
            environ={},
            authenticator=auth,
        )
    assert len(auth.seen) == 3 and prompter.answers == ["d"]


def test_a_saved_password_jumpcloud_rejects_says_where_it_came_from(keys: IdpKeyPair) -> None:
    account = Account(name="p", url=URL, username="alice")
    secrets = MemoryStore()
    secrets.set(password_key(account, "alice"), "old-password")
    auth = FailsThenSignsIn(page_for(keys, [(RO, PRINCIPAL)]), failures=5)
    with pytest.raises(SavedPasswordRejectedError) as caught:
        login(account, prompter=None, secrets=secrets, environ={}, authenticator=auth)
    message = str(caught.value)
    assert "saved in the OS keyring for alice" in message
    assert "jcsaml logout -a NAME --forget-password" in message
    assert "old-password" not in message
    assert len(auth.seen) == 1  # without a person, never retried


def test_interactively_a_rejected_saved_password_is_asked_again(keys: IdpKeyPair) -> None:
    account = Account(name="p", url=URL, username="alice")
    secrets = MemoryStore()
    secrets.set(password_key(account, "alice"), "old-password")
    prompter = ScriptedPrompter(["", "new-password"])  # Enter reuses the saved one first
    auth = FailsThenSignsIn(page_for(keys, [(RO, PRINCIPAL)]), failures=1)
    sign_in(keys, account, prompter=prompter, secrets=secrets, authenticator=auth)
    assert "the password saved in the OS keyring for alice" in prompter.notices[0]
    assert secrets.get(password_key(account, "alice")) == "new-password"


def test_three_empty_passwords_say_what_happened() -> None:
    auth = FakeAuthenticator(AuthenticationFailedError(message="never reached"))
    with pytest.raises(NothingTypedError, match="no JumpCloud password was typed"):
        login(
            Account(name="p", url=URL, username="alice"),
            prompter=ScriptedPrompter(["", "", ""]),
            secrets=MemoryStore(),
            environ={},
            authenticator=auth,
        )
    assert auth.seen == []


def test_force_keeps_the_saved_session_until_a_new_sign_in_works(keys: IdpKeyPair) -> None:
    account = Account(name="p", url=URL, username="alice")
    secrets = MemoryStore()
    secrets.set(session_key(account, "alice"), "live-session")
    failing = FakeAuthenticator(AuthenticationFailedError(message="Authentication failed"))
    with pytest.raises(AuthenticationFailedError):
        login(
            account, password="pw", force=True, secrets=secrets, environ={}, authenticator=failing
        )
    assert failing.resumed == []  # force: not used...
    assert secrets.get(session_key(account, "alice")) == "live-session"  # ...but kept
    sign_in(keys, account, password="pw", force=True, secrets=secrets)
    assert secrets.get(session_key(account, "alice")) == "session-state"


def test_the_role_picker_preselects_the_preferred_role(keys: IdpKeyPair) -> None:
    prompter = ScriptedPrompter([""])  # Enter takes the default
    sts = FakeStsClient([sts_answer(ADMIN)])
    sign_in(
        keys,
        Account(name="p", url=URL, username="u"),
        password="pw",
        preferred_role=ADMIN,
        prompter=prompter,
        authenticator=FakeAuthenticator(page_for(keys, [(RO, PRINCIPAL), (ADMIN, PRINCIPAL)])),
        sts_client=sts,
    )
    assert sts.calls[0]["RoleArn"] == ADMIN
    assert [getattr(d, "role_arn", None) for d in prompter.defaults] == [ADMIN]


def test_library_errors_name_the_keyword_argument_not_a_cli_flag(monkeypatch) -> None:
    monkeypatch.setenv("JCSAML_PASSWORD", "set-for-the-cli-only")  # the library never reads it
    auth = FakeAuthenticator(AuthenticationFailedError(message="never reached"))
    with pytest.raises(InputRequiredError) as caught:
        login(Account(name="p", url=URL, username="alice"), authenticator=auth, environ={})
    assert str(caught.value) == (
        "JumpCloud password is required and prompting is off; pass password=..."
    )
    assert auth.seen == []


def test_a_failed_sign_in_leaves_no_warm_up_thread_running(keys: IdpKeyPair) -> None:
    # A daemon thread still importing an extension module when the interpreter exits can abort
    # the process instead of letting jcsaml print its one error line.
    import threading

    auth = FailsThenSignsIn(page_for(keys, [(RO, PRINCIPAL)]), failures=3)
    with pytest.raises(AuthenticationFailedError):
        login(
            Account(name="p", url=URL, username="alice"),
            password="wrong",
            secrets=MemoryStore(),
            environ={},
            authenticator=auth,
        )
    assert auth.seen, "the sign-in reached JumpCloud"
    assert not [t for t in threading.enumerate() if t.name == "jcsaml-warmup" and t.is_alive()]


WARMUP_AFTER_A_FAILED_SIGN_IN = """
import threading
from jcsaml.config import Account
from jcsaml.errors import AuthenticationFailedError
from jcsaml.signin import login

class Refusing:
    def authenticate(self, credentials):
        raise AuthenticationFailedError(message="Authentication failed.")

    def resume(self, session):
        return None

try:
    login(
        Account(name="p", url="https://sso.jumpcloud.com/saml2/acme", username="u"),
        password="wrong",
        authenticator=Refusing(),
        environ={"HOME": "/nonexistent", "AWS_REGION": "us-east-1"},
    )
except AuthenticationFailedError:
    pass
print(sorted(t.name for t in threading.enumerate() if t.name == "jcsaml-warmup"))
"""


def test_a_failed_sign_in_lets_the_warmup_finish_before_the_error_goes_up() -> None:
    """In a fresh interpreter the warm-up is still importing when the sign-in fails; a daemon
    thread importing while the interpreter exits can abort it instead of exiting with status 1."""
    done = run_python(WARMUP_AFTER_A_FAILED_SIGN_IN)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_keyring_entries_are_named_in_one_place() -> None:
    """A password and a console session are kept per JumpCloud user and console; an unattended
    refresh tells them apart by name alone, so the names must not overlap."""
    from jcsaml.secret_store import is_session_key

    account = Account(name="p", url=URL, console_url="https://console.jumpcloud.com")
    other = Account(name="q", url=URL, console_url="https://console.eu.jumpcloud.com")
    user = "alice@acme.example"
    assert password_key(account, user) == "alice@acme.example@https://console.jumpcloud.com"
    assert is_session_key(session_key(account, user))
    assert not is_session_key(password_key(account, user))
    assert session_key(account, user) != session_key(other, user)


def test_every_library_entry_point_refuses_a_keyword_it_does_not_take() -> None:
    """The sign-in keywords are declared once and taken as ``**options``: a misspelt one is
    still refused, as Python refuses it for a function that lists its keywords, before any
    config is read."""
    import jcsaml
    from jcsaml.credential_source import default_source
    from jcsaml.roles import list_roles

    def refused(name: str) -> AbstractContextManager[pytest.ExceptionInfo[TypeError]]:
        return pytest.raises(TypeError, match=rf"^{name}\(\) got an unexpected keyword argument")

    with refused("login"):
        jcsaml.login("p", usrname="a")  # type: ignore[call-arg]
    with refused("login_many"):
        jcsaml.login_many(["p"], usrname="a")  # type: ignore[call-arg]
    with refused("list_roles"):
        list_roles("p", usrname="a")  # type: ignore[call-arg]
    with refused("discover_applications"):
        jcsaml.discover_applications("p", usrname="a")  # type: ignore[call-arg]
    with refused("default_source"):
        default_source("p", usrname="a")  # type: ignore[call-arg]
    with refused("credentials"):
        jcsaml.credentials("p", usrname="a")  # type: ignore[call-arg]
    with refused("session"):
        jcsaml.session("p", usrname="a")  # type: ignore[call-arg]
