"""``jcsaml credential-process``: credentials for the ``credential_process`` line of an AWS profile.

The AWS SDKs run it whenever they need credentials and read JSON from its stdout, so stdout
carries that JSON and nothing else. Cached credentials are handed out while they stay valid for
more than 15 minutes (see :mod:`jcsaml.process_cache`); after that it signs in again: with the
saved JumpCloud session when there is one, else asking on the terminal (``/dev/tty``: the SDKs
capture stdout and stderr), else failing with one line on stderr.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from jcsaml.cli.login import add_login_options

if TYPE_CHECKING:
    from jcsaml.aws_credentials import AwsCredentials
    from jcsaml.cli import Context
    from jcsaml.config import Account
    from jcsaml.prompter import Prompter

NAME = "credential-process"
HELP = "print credentials as JSON for credential_process in ~/.aws/config"
DESCRIPTION = (
    HELP + ". Set it up with: jcsaml configure -a NAME --credential-process. Reuses its cached "
    "credentials while they stay valid for more than 15 minutes; otherwise signs in, asking on the "
    "terminal only when the saved JumpCloud session has ended."
)


def add_arguments(parser: argparse.ArgumentParser, environ: Mapping[str, str]) -> None:
    add_login_options(parser, environ, profile=False)


def run(args: argparse.Namespace, ctx: Context) -> int:
    from jcsaml.process_cache import cached_process_output, process_output

    text = None
    if not args.force:
        text = cached_process_output(
            args.idp_account, role=args.role, config=args.config, environ=ctx.environ
        )
    if text is None:
        text = process_output(refresh(args, ctx))
    print(text, file=ctx.stdout)
    return 0


def refresh(args: argparse.Namespace, ctx: Context) -> AwsCredentials:
    """Sign in, cache the new credentials and return them.

    One process signs in at a time for the account and role (the others wait, then find its
    credentials in the cache). Credentials that cannot be cached are printed all the same,
    with one warning on stderr.
    """
    from jcsaml import process_cache
    from jcsaml.cli.login import signing_in_line
    from jcsaml.cli.options import chosen_account, session_duration_flag, sign_in_lock
    from jcsaml.credential_source import refresh_once
    from jcsaml.prompter import NonInteractivePrompter, TerminalPrompter

    duration = session_duration_flag(args.session_duration)
    account = chosen_account(args, ctx)
    wanted = args.role or account.role_arn or ""
    # An unsafe cache directory is refused before anything is sent.
    process_cache.load(account.name, wanted, environ=ctx.environ)
    with _prompter(args, ctx, account) as prompter:
        has_terminal = not isinstance(prompter, NonInteractivePrompter)

        def sign_in() -> AwsCredentials:
            if isinstance(prompter, TerminalPrompter):
                # The person at the terminal did not type a jcsaml command: say who asks, why.
                reason = "--force" if args.force else "an AWS tool's credential_process asks"
                prompter.notify(signing_in_line(account, args.username, reason))
            return _sign_in(args, ctx, account, wanted, duration, prompter)

        def save(new: AwsCredentials) -> None:
            process_cache.save(account.name, wanted, new, environ=ctx.environ)
            from jcsaml import managed

            # Only an entry that was written is noted: logout removes what is there.
            managed.record_cache(account.name, wanted, environ=ctx.environ)

        credentials, _ = refresh_once(
            load=lambda: process_cache.load(account.name, wanted, environ=ctx.environ),
            usable=lambda found: process_cache.usable(found, role=wanted) is not None,
            sign_in=sign_in,
            save=save,
            warn=ctx.warn,
            lock=sign_in_lock(ctx, account, wanted, prompter.notify if has_terminal else None),
            reread=not args.force,
        )
    return credentials


def _sign_in(
    args: argparse.Namespace,
    ctx: Context,
    account: Account,
    role: str,
    duration: int | None,
    prompter: Prompter,
) -> AwsCredentials:
    from jcsaml.cli.options import sign_in_inputs
    from jcsaml.errors import InputRequiredError
    from jcsaml.signin import login

    try:
        return login(
            account,
            role=role or None,
            session_duration=duration,
            prompter=prompter,
            **sign_in_inputs(args, ctx),
        )
    except InputRequiredError as exc:
        if args.skip_prompt:
            raise
        from jcsaml.errors import CredentialProcessInputError

        raise CredentialProcessInputError(
            account=account.name, what=exc.what, how=exc.how
        ) from None


@contextlib.contextmanager
def _prompter(args: argparse.Namespace, ctx: Context, account: Account) -> Iterator[Prompter]:
    """Questions go to the controlling terminal; without one, nothing can be asked."""
    from jcsaml.prompter import NonInteractivePrompter, TerminalPrompter

    if args.skip_prompt:
        yield NonInteractivePrompter(ctx.stderr)
        return
    from jcsaml.prompter import open_terminal

    terminal = open_terminal()
    if terminal is None:
        yield NonInteractivePrompter(ctx.stderr)
        return
    reader, writer = terminal
    with reader, writer:
        yield TerminalPrompter(stdin=reader, stderr=writer)
