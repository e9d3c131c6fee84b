"""In-memory fakes of jcsaml's own interfaces, for unit tests here and in tools built on jcsaml."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from jcsaml.errors import InputRequiredError, PromptAbortedError

if TYPE_CHECKING:
    from jcsaml.jumpcloud import PasswordCredentials, SamlPage

T = TypeVar("T")


class ScriptedPrompter:
    """A Prompter that answers from a queue and records every question.

    Answers are strings; for ``choose`` the answer is the 1-based number of the choice, as a person
    would type it. An unexpected question (empty queue) raises InputRequiredError, like
    ``--skip-prompt`` does, so a test sees exactly which question was not planned for.
    """

    def __init__(self, answers: Sequence[str] = ()) -> None:
        self.answers = list(answers)
        self.asked: list[str] = []
        self.notices: list[str] = []
        self.progress_lines: list[str] = []
        self.defaults: list[object] = []

    def _next(self, message: str, how: str) -> str:
        self.asked.append(message)
        if not self.answers:
            raise InputRequiredError(what=message, how=how)
        answer = self.answers.pop(0)
        if answer == "\x03":  # Ctrl-C
            raise PromptAbortedError(what=message)
        return answer

    def text(self, message: str, *, how: str, default: str = "") -> str:
        return self._next(message, how) or default

    def secret(self, message: str, *, how: str) -> str:
        return self._next(message, how)

    def choose(
        self, message: str, choices: Sequence[tuple[T, str]], *, how: str, default: T | None = None
    ) -> T:
        """An empty answer takes ``default`` (recorded in ``defaults``), as Enter does."""
        if len(choices) == 1:
            return choices[0][0]
        self.defaults.append(default)
        answer = self._next(message, how)
        if not answer and default is not None:
            return default
        return choices[int(answer) - 1][0]

    def notify(self, message: str) -> None:
        self.notices.append(message)

    def progress(self, message: str | None) -> None:
        if message is not None:
            self.progress_lines.append(message)


class FakeStsClient:
    """Records AssumeRoleWithSAML calls and answers from a queue of results or exceptions."""

    def __init__(self, results: Sequence[dict[str, Any] | Exception]) -> None:
        self.results = list(results)
        self.calls: list[dict[str, Any]] = []

    def assume_role_with_saml(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        result = self.results.pop(0)
        if isinstance(result, Exception):
            raise result
        return result


class FakeAuthenticator:
    """An Authenticator (JumpCloud sign-in) that hands out one SAML page, or raises one error.

    ``seen`` records the logins it was given and ``resumed`` the saved sessions offered to it;
    ``alive`` says whether such a session still answers (then :meth:`resume` gives the page).
    """

    def __init__(self, page: SamlPage | Exception) -> None:
        self.page = page
        self.seen: list[PasswordCredentials] = []
        self.resumed: list[str] = []
        self.alive = False

    def authenticate(self, credentials: PasswordCredentials) -> SamlPage:
        self.seen.append(credentials)
        if isinstance(self.page, Exception):
            raise self.page
        return self.page

    def export_session(self) -> str:
        return "session-state"

    def resume(self, exported: str) -> SamlPage | None:
        self.resumed.append(exported)
        return None if isinstance(self.page, Exception) or not self.alive else self.page


def sts_answer(role_arn: str, *, hours: float = 1) -> dict[str, object]:
    """What STS answers to AssumeRoleWithSAML for ``role_arn``, as botocore returns it, for a
    :class:`FakeStsClient`: credentials valid for ``hours``."""
    account, name = role_arn.split(":")[4], role_arn.rsplit("/", 1)[1]
    return {
        "Credentials": {
            "AccessKeyId": "ASIAEXAMPLE",
            "SecretAccessKey": "secret",
            "SessionToken": "token",
            "Expiration": datetime.now(UTC) + timedelta(hours=hours),
        },
        "AssumedRoleUser": {"Arn": f"arn:aws:sts::{account}:assumed-role/{name}/alice"},
    }
