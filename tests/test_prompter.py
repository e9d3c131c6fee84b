"""One contract for every Prompter: the terminal one (pipe mode) and the scripted fake."""

from __future__ import annotations

import io
from collections.abc import Sequence

import pytest

from jcsaml.errors import InputRequiredError, PromptAbortedError
from jcsaml.prompter import NonInteractivePrompter, Prompter, TerminalPrompter
from jcsaml.testing.fakes import ScriptedPrompter


class PrompterContract:
    def make(self, answers: Sequence[str]) -> Prompter:
        raise NotImplementedError

    def test_text_returns_the_answer(self) -> None:
        assert self.make(["alice"]).text("Username", how="--username") == "alice"

    def test_empty_text_answer_takes_the_default(self) -> None:
        assert self.make([""]).text("Profile", how="--profile", default="prod") == "prod"

    def test_secret_returns_the_answer(self) -> None:
        assert self.make(["s3cret"]).secret("Password", how="--password") == "s3cret"

    def test_choose_returns_the_chosen_value(self) -> None:
        prompter = self.make(["2"])
        assert prompter.choose("Role", [("a", "A"), ("b", "B")], how="--role") == "b"

    def test_single_choice_is_taken_without_asking(self) -> None:
        assert self.make([]).choose("Role", [("only", "Only")], how="--role") == "only"

    def test_running_out_of_answers_is_a_jcsaml_error(self) -> None:
        with pytest.raises((InputRequiredError, PromptAbortedError)):
            self.make([]).secret("Password", how="--password")


class TestTerminalPrompterOnAPipe(PrompterContract):
    def make(self, answers: Sequence[str]) -> Prompter:
        self.err = io.StringIO()
        text = "".join(a + "\n" for a in answers)
        return TerminalPrompter(stdin=io.StringIO(text), stderr=self.err)

    def test_prompts_go_to_stderr_and_secrets_are_not_echoed(self) -> None:
        prompter = self.make(["hunter2"])
        prompter.secret("Password", how="--password")
        assert "Password" in self.err.getvalue()
        assert "hunter2" not in self.err.getvalue()

    def test_choice_lists_labels_and_asks_again_on_a_bad_number(self) -> None:
        prompter = self.make(["9", "1"])
        assert prompter.choose("Role", [("a", "Alpha"), ("b", "Beta")], how="--role") == "a"
        shown = self.err.getvalue()
        assert "1) Alpha" in shown and "2) Beta" in shown
        assert "number from 1 to 2" in shown


class TestScriptedPrompter(PrompterContract):
    def make(self, answers: Sequence[str]) -> Prompter:
        return ScriptedPrompter(answers)


def test_non_interactive_prompter_names_the_flag() -> None:
    prompter = NonInteractivePrompter(io.StringIO())
    with pytest.raises(InputRequiredError) as caught:
        prompter.secret("JumpCloud password", how="pass --password or set JCSAML_PASSWORD")
    assert str(caught.value) == (
        "JumpCloud password is required and prompting is off; "
        "pass --password or set JCSAML_PASSWORD"
    )
    with pytest.raises(InputRequiredError, match="--role"):
        prompter.choose("Choose a role", [(1, "a"), (2, "b")], how="pass --role")
    assert prompter.text("Profile", how="--profile", default="prod") == "prod"


def test_terminal_choice_on_a_pipe_offers_the_default_and_enter_takes_it() -> None:
    err = io.StringIO()
    prompter = TerminalPrompter(stdin=io.StringIO("\n"), stderr=err)
    assert prompter.choose("Role", [("a", "A"), ("b", "B")], how="--role", default="b") == "b"
    assert "Role [1-2, Enter for 2]: " in err.getvalue()


def test_terminal_choice_through_prompt_toolkit_preselects_the_default() -> None:
    from prompt_toolkit.input import create_pipe_input
    from prompt_toolkit.output import DummyOutput

    with create_pipe_input() as pipe:
        pipe.send_text("\r")
        prompter = TerminalPrompter(terminal_input=pipe, terminal_output=DummyOutput())
        chosen = prompter.choose("Role", [("a", "A"), ("b", "B"), ("c", "C")], how="", default="c")
    assert chosen == "c"


def test_non_interactive_choice_ignores_a_remembered_default() -> None:
    with pytest.raises(InputRequiredError):
        NonInteractivePrompter(io.StringIO()).choose(
            "Role", [("a", "A"), ("b", "B")], how="--role", default="a"
        )
