"""Options, and what they turn into, shared by several commands."""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jcsaml.cli import Context
    from jcsaml.secret_store import SecretStore


class RepeatableValue(argparse.Action):
    """A value option that may be given several times: ``dest`` keeps the last value (what a
    command taking one value uses) and ``<dest>s`` collects every value given on the command
    line, in order (what ``jcsaml login`` uses for several accounts or roles)."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        setattr(namespace, self.dest, values)
        collected = list(getattr(namespace, self.dest + "s", None) or [])
        collected.append(values)
        setattr(namespace, self.dest + "s", collected)


def add_record_option(parser: argparse.ArgumentParser) -> None:
    """``--record FILE``, for every command that may sign in (one definition for all)."""
    parser.add_argument(
        "--record",
        metavar="FILE",
        help="write a redacted, replayable recording of the exchanges with JumpCloud (and the "
        "STS call) to FILE, mode 0600, for a bug report",
    )


def session_duration_flag(text: str | None) -> int | None:
    """``--session-duration``, checked under the flag's name (not the config key's)."""
    from jcsaml.config import parse_duration

    return parse_duration(text, setting="--session-duration") if text else None


def secret_store(ctx: Context) -> SecretStore:
    """The OS keyring; without one, the warning comes once per machine (``--debug`` logs it
    every time)."""
    from jcsaml.secret_store import DeferredStore, default_store

    if ctx.disable_keychain:
        from jcsaml.secret_store import NullStore

        return NullStore()

    def unavailable(message: str) -> None:
        ctx.warn_after_success(message + " (said once)", once="no-keyring")

    # Made when first used, or while the sign-in waits for JumpCloud: not before it starts.
    return DeferredStore(
        lambda: default_store(warn=ctx.warn_after_success, warn_unavailable=unavailable)
    )


def add_policy_options(parser: argparse.ArgumentParser, environ: Mapping[str, str]) -> None:
    """Session policies for this sign-in, as saml2aws names them."""
    from jcsaml.variables import lookup

    parser.add_argument(
        "--policyarns",
        metavar="ARN,...",
        default=lookup("policy_arns", environ),
        help="managed session policies: the credentials can do no more than these allow "
        "[env SAML2AWS_POLICY_ARNS; default: the account's policy_arns]",
    )
    parser.add_argument(
        "--policyfile",
        metavar="PATH",
        default=lookup("policy_file", environ),
        help="JSON session policy file [env SAML2AWS_POLICY_FILE; default: the account's "
        "policy_file]",
    )
