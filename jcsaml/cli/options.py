"""Options, and what they turn into, shared by several commands."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict

from jcsaml.variables import lookup

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from jcsaml.cli import Context
    from jcsaml.config import Account
    from jcsaml.secret_store import SecretStore
    from jcsaml.webauthn import WebAuthnDevice


class RepeatableValue(argparse.Action):
    """A value option that may be given several times: ``dest`` keeps the last value (what a
    command taking one value uses) and ``<dest>s`` collects every value given on the command
    line, in order (what ``jcsaml login`` uses for several accounts or roles). A subclass may
    keep something else than the value given: :meth:`entry`."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        entry = self.entry(values, option_string)
        setattr(namespace, self.dest, entry)
        collected = list(getattr(namespace, self.dest + "s", None) or [])
        collected.append(entry)
        setattr(namespace, self.dest + "s", collected)

    def entry(self, values: str | Sequence[Any] | None, option_string: str | None) -> object:
        return values


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


class SignInInputs(TypedDict):
    """What every sign-in of a command takes from its options and its context."""

    username: str | None
    password: str | None
    mfa_token: str | None
    secrets: SecretStore
    webauthn_device: WebAuthnDevice | None
    environ: Mapping[str, str]


def sign_in_inputs(args: argparse.Namespace, ctx: Context) -> SignInInputs:
    """``--username``, ``--password`` and ``--mfa-token`` (or their variables), the keyring and
    the security key, as keyword arguments of a sign-in."""
    return SignInInputs(
        username=args.username,
        password=args.password,
        mfa_token=args.mfa_token,
        secrets=secret_store(ctx),
        webauthn_device=ctx.webauthn_device,
        environ=ctx.environ,
    )


def chosen_account(args: argparse.Namespace, ctx: Context) -> Account:
    """The account ``-a`` names (or its variables, else ``default``), read from the config file
    ``--config`` names (or its variables, else ``~/.jcsaml``)."""
    from jcsaml.config import config_path, load_account

    return load_account(
        args.idp_account, path=config_path(ctx.environ, args.config), environ=ctx.environ
    )


def sign_in_lock(
    ctx: Context, account: Account, role: str, waiting: Callable[[str], None] | None
) -> Callable[[], AbstractContextManager[None]]:
    """One sign-in at a time for ``account`` and ``role``, across processes: ``waiting`` is told
    while another process holds the lock; trouble with the lock itself is a warning."""
    from jcsaml.sign_in_lock import lock_for

    return lock_for(account, role, environ=ctx.environ, waiting=waiting, warn=ctx.warn)


@dataclass(frozen=True)
class Input:
    """A value option whose default comes from the environment, as the input ``name`` of
    :mod:`jcsaml.variables`; ``flags``: its spellings, when not ``--name`` with dashes."""

    name: str
    help: str
    metavar: str | None = None
    flags: tuple[str, ...] = ()
    action: type[argparse.Action] | None = None

    def add_to(self, parser: argparse.ArgumentParser, environ: Mapping[str, str]) -> None:
        parser.add_argument(
            *(self.flags or ("--" + self.name.replace("_", "-"),)),
            action=self.action or "store",
            metavar=self.metavar,
            default=lookup(self.name, environ),
            help=self.help,
        )


def add_inputs(
    parser: argparse.ArgumentParser, environ: Mapping[str, str], inputs: Sequence[Input]
) -> None:
    for item in inputs:
        item.add_to(parser, environ)


PROFILE = Input(
    "profile",
    "AWS profile to use [env SAML2AWS_PROFILE; default: the account's aws_profile, else the "
    "account name]",
    flags=("-p", "--profile"),
)
USERNAME = Input("username", "JumpCloud username [env JCSAML_USERNAME or SAML2AWS_USERNAME]")
PASSWORD = Input(
    "password",
    "JumpCloud password [env JCSAML_PASSWORD or SAML2AWS_PASSWORD; prefer a variable or the "
    "keyring: a flag is visible to other local users]",
)
MFA_TOKEN = Input(
    "mfa_token", "one-time MFA code [env JCSAML_MFA_TOKEN or SAML2AWS_MFA_TOKEN]", metavar="CODE"
)
ROLE = Input(
    "role",
    "role to assume, as an ARN or a role name [env JCSAML_ROLE or SAML2AWS_ROLE]; login takes "
    "it several times, and glob patterns on the name or ARN (*ReadOnly*)",
    action=RepeatableValue,
)
SESSION_DURATION = Input(
    "session_duration",
    "credentials lifetime to request, 900-43200 [env SAML2AWS_SESSION_DURATION]",
    metavar="SECONDS",
)
#: Session policies for this sign-in, as saml2aws names them.
POLICIES = (
    Input(
        "policy_arns",
        "managed session policies: the credentials can do no more than these allow "
        "[env SAML2AWS_POLICY_ARNS; default: the account's policy_arns]",
        metavar="ARN,...",
        flags=("--policyarns",),
    ),
    Input(
        "policy_file",
        "JSON session policy file [env SAML2AWS_POLICY_FILE; default: the account's policy_file]",
        metavar="PATH",
        flags=("--policyfile",),
    ),
)


def add_skip_prompt(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--skip-prompt",
        action="store_true",
        help="never ask; a missing answer is an error naming the flag to set",
    )
