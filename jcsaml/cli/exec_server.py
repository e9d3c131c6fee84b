"""``jcsaml exec --server``: run a command that gets its credentials from a local endpoint.

Instead of keys in the command's environment, jcsaml serves the AWS container credentials
protocol on 127.0.0.1 (:mod:`jcsaml.credential_server`) and renews the credentials while the
command runs: from the cache, then the saved JumpCloud session, then by asking on the terminal.
jcsaml stays the command's parent: it forwards SIGINT, SIGTERM and SIGHUP, stops the endpoint
when the command ends and exits with the command's status.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from jcsaml.credential_source import utc_now

if TYPE_CHECKING:
    from datetime import datetime

    from jcsaml.aws_credentials import AwsCredentials
    from jcsaml.cli import Context
    from jcsaml.config import Account
    from jcsaml.credential_source import ProcessCache, SignIn
    from jcsaml.errors import JcsamlError
    from jcsaml.prompter import Prompter

FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

#: Keys the command must not get: it asks the endpoint, which renews them.
STATIC_CREDENTIALS = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION",
)
#: The SDKs prefer a RELATIVE_URI (ECS) and a token file over what jcsaml sets: clear them.
CONTAINER_VARIABLES = (
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
)

Popen = Callable[..., "subprocess.Popen[bytes]"]
TerminalOpener = Callable[[], "tuple[TextIO, TextIO] | None"]


def server_environment(
    base: Mapping[str, str],
    credentials: AwsCredentials,
    account_name: str,
    endpoint: Mapping[str, str],
    *,
    region: str | None = None,
) -> dict[str, str]:
    """What ``jcsaml exec`` would set (``region``, marker, conflicting variables removed),
    minus the keys, plus the endpoint's variables."""
    from jcsaml.environment import child_environment

    env = child_environment(base, credentials, account_name, region=region)
    for key in STATIC_CREDENTIALS + CONTAINER_VARIABLES:
        env.pop(key, None)
    env.update(endpoint)
    return env


def run_with_server(
    args: argparse.Namespace,
    ctx: Context,
    command: Sequence[str],
    *,
    clock: Callable[[], datetime] = utc_now,
    open_terminal: TerminalOpener | None = None,
    popen: Popen = subprocess.Popen,
) -> int:
    """Obtain credentials (asking here, before the command starts, if needed), serve them to
    ``command`` and return its exit status (128 + N when signal N ended it)."""
    from jcsaml.aws_config import child_region
    from jcsaml.cli.login import obtain_credentials
    from jcsaml.cli.options import (
        chosen_account,
        secret_store,
        session_duration_flag,
        sign_in_lock,
    )
    from jcsaml.credential_server import CredentialServer
    from jcsaml.credential_source import CredentialSource, ProcessCache, login_sign_in
    from jcsaml.credentials_file import validate_profile_name
    from jcsaml.environment import check_runnable
    from jcsaml.errors import JcsamlError
    from jcsaml.prompter import NonInteractivePrompter, TerminalPrompter

    # Checked before anything is asked or sent, as login checks them.
    if args.profile is not None:
        validate_profile_name(args.profile, setting="--profile")
    duration = session_duration_flag(args.session_duration)
    account = chosen_account(args, ctx)
    validate_profile_name(args.profile or account.profile)
    wanted = args.role or account.role_arn or ""
    # The cache credential-process keeps: exec --server renews into it, and reuses what
    # credential-process (or another exec --server) put there.
    cache = ProcessCache(account.name, wanted, environ=ctx.environ)
    if args.force:
        signed_in = obtain_credentials(args, ctx).credentials  # a sign-in now, as exec --force
        try:
            cache.save(signed_in)
        except JcsamlError:
            raise  # a lock that timed out, an unsafe directory: said as themselves
        except OSError as exc:  # the endpoint hands them out all the same
            from jcsaml import process_cache

            ctx.warn(
                f"could not cache the new credentials in {exc.filename}: "
                f"{process_cache.write_problem(exc)}"
            )

    def notice(message: str) -> None:
        from jcsaml.display import printable

        print(printable(message), file=ctx.stderr, flush=True)

    here: Prompter = (
        NonInteractivePrompter(ctx.stderr)
        if args.skip_prompt
        else TerminalPrompter(stdin=ctx.stdin, stderr=ctx.stderr)
    )
    saying_why = _SayingWhy(
        ctx,
        args,
        account,
        cache,
        login_sign_in(
            account,
            secrets=secret_store(ctx),
            username=args.username,
            password=args.password,
            mfa_token=args.mfa_token,
            session_duration=duration,
            notify=notice,
            environ=ctx.environ,
        ),
    )
    source = CredentialSource(
        account.name,
        cache=cache,
        sign_in=saying_why,
        role=wanted or None,
        prompter=here,
        clock=clock,
        warn=ctx.warn,
        # Waiting is said only before the command starts: it owns the terminal after that.
        lock=sign_in_lock(
            ctx, account, wanted, lambda line: None if saying_why.quiet else notice(line)
        ),
    )
    first = source.get()
    saying_why.quiet = True  # the command owns the terminal from now on

    def report(error: JcsamlError) -> None:
        print(f"jcsaml: error: {error}", file=ctx.stderr, flush=True)

    with contextlib.ExitStack() as stack:
        # From now on the command owns the terminal; a sign-in the endpoint needs asks on
        # /dev/tty, and only when there is one.
        source.prompter = None
        if not args.skip_prompt:
            from jcsaml.prompter import open_terminal as controlling_terminal

            terminal = (open_terminal or controlling_terminal)()
            if terminal is not None:
                reader, writer = terminal
                stack.callback(reader.close)
                stack.callback(writer.close)
                source.prompter = TerminalPrompter(stdin=reader, stderr=writer)
        # Before the endpoint's threads start: they inherit the mask, and leave the signals
        # to run_child.
        stack.enter_context(_held_back(FORWARDED))
        server = stack.enter_context(CredentialServer(source, report=report, clock=clock))
        region = child_region(
            args.profile or account.profile,
            own=first.region or account.region or None,
            environ=ctx.environ,
        )
        env = server_environment(
            ctx.environ, first, account.name, server.environment(), region=region
        )
        check_runnable(command[0], env.get("PATH"))
        shadowing = default_profile_keys(env)
        if shadowing:
            ctx.warn(
                f"profile 'default' in {shadowing} holds access keys, which the AWS SDKs use "
                "before the credentials endpoint: the command may run with those instead; "
                "move them to a named profile (see: jcsaml help long-runs)"
            )
        ctx.show_deferred()
        ctx.stdout.flush()
        ctx.stderr.flush()
        kill_on_exit = account.kill_on_exit if args.kill_on_exit is None else args.kill_on_exit
        return run_child(command, env, popen=popen, kill_on_exit=kill_on_exit)


class _SayingWhy:
    """A sign-in that first says on stderr which account, user and app, and why (as login
    does), when it asks a person before the command starts; silent once the command owns the
    terminal (``quiet``)."""

    def __init__(
        self,
        ctx: Context,
        args: argparse.Namespace,
        account: Account,
        cache: ProcessCache,
        sign_in: SignIn,
    ) -> None:
        self._ctx, self._args, self._account = ctx, args, account
        self._cache, self._sign_in = cache, sign_in
        self.quiet = bool(args.skip_prompt)  # unattended runs keep stderr for the error line

    def __call__(self, prompter: Prompter | None, role: str | None) -> AwsCredentials:
        if prompter is not None and not self.quiet:
            from jcsaml.cli.login import say_signing_in

            say_signing_in(self._ctx, self._account, self._args.username, self._reason())
        elif prompter is not None:
            # The command is running and the saved session has ended: the person is asked on
            # the terminal, which first says who asks and why.
            from jcsaml.cli.login import signing_in_line

            reason = f"the running command needs new credentials ({self._reason()})"
            prompter.notify(signing_in_line(self._account, self._args.username, reason))
        return self._sign_in(prompter, role)

    def _reason(self) -> str:
        held = self._cache.load()
        if held is None:
            return f"no cached credentials for account {self._account.name!r}"
        at = held.expiration.astimezone().strftime("%H:%M")
        return f"the cached credentials {'expired' if held.expires_within(0) else 'expire'} at {at}"


def default_profile_keys(env: Mapping[str, str]) -> str | None:
    """The command's shared credentials file when its ``[default]`` profile holds keys (the
    SDKs take those before container credentials), else None."""
    from jcsaml.credentials_file import CredentialsFile
    from jcsaml.inifile import IniSyntaxError, read_ini

    path = CredentialsFile.default_path(env)
    try:
        document = read_ini(path)
    except (OSError, IniSyntaxError):
        return None  # the SDK will not read keys from it either
    section = document.section("default") if document is not None else None
    return str(path) if section and section.get("aws_access_key_id") else None


def run_child(
    command: Sequence[str],
    env: Mapping[str, str],
    *,
    popen: Popen = subprocess.Popen,
    kill_on_exit: bool = False,
) -> int:
    """Run ``command`` and wait for it, forwarding SIGINT, SIGTERM and SIGHUP; its exit status,
    128 + N when signal N ended it (as shells report it).

    A SIGINT from the terminal is not forwarded: it has reached the command already (they share
    the terminal's foreground process group), and twice means "stop now" to many tools. When the
    caller holds these signals back in every thread (:func:`_held_back`), jcsaml takes them here
    and knows who sent each: the terminal, or a process (``kill``), whose SIGINT is forwarded.

    ``kill_on_exit`` (Linux): the command gets SIGTERM when jcsaml dies, however it dies (even
    SIGKILL), rather than go on asking an endpoint whose port any local process may now take.
    """
    child: subprocess.Popen[bytes] | None = None
    pending: list[int] = []

    def send(signum: int, *, from_terminal: bool) -> None:
        if signum == signal.SIGINT and from_terminal:
            return
        if child is None:
            pending.append(signum)
        else:
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(signum)

    def forward(signum: int, frame: Any) -> None:
        # A Python handler is not told who sent the signal: guess from the terminal.
        send(signum, from_terminal=signum == signal.SIGINT and _terminal_delivers_to_child())

    with _handling(FORWARDED, forward):
        try:
            with _mask(signal.SIG_UNBLOCK, FORWARDED):  # the command's own handlers must run
                if kill_on_exit and sys.platform.startswith("linux"):
                    child = popen(list(command), env=dict(env), preexec_fn=_die_with(os.getpid()))
                else:
                    child = popen(list(command), env=dict(env))
        except OSError as exc:  # found and allowed, yet the system would not run it
            from jcsaml.environment import cannot_run

            raise cannot_run(command[0], exc) from None
        for signum in pending:
            child.send_signal(signum)
        held = hasattr(signal, "sigtimedwait") and set(FORWARDED) <= signal.pthread_sigmask(
            signal.SIG_BLOCK, []
        )
        while (status := child.poll()) is None:
            if not held:
                # Wait in short steps: the kernel may hand a signal to one of the endpoint's
                # threads, and Python runs the handler only when the main thread runs again.
                with contextlib.suppress(subprocess.TimeoutExpired):
                    child.wait(timeout=0.1)
                continue
            # Take a waiting signal without waiting for one: a wait that a stop (Ctrl-Z) cuts
            # short past its timeout gets from CPython an unfilled answer, not None.
            info = signal.sigtimedwait(FORWARDED, 0)
            if info is None:
                time.sleep(0.05)
            else:
                # si_code > 0: raised by the kernel (the terminal), <= 0: sent by a process
                send(info.si_signo, from_terminal=info.si_code > 0 and _with_us(child))
    return 128 - status if status < 0 else status


#: prctl(2) option: the signal the calling process gets when its parent dies.
PR_SET_PDEATHSIG = 1


def _die_with(parent: int) -> Callable[[], None]:
    """Run in the child between fork and exec: SIGTERM when ``parent`` (jcsaml) dies."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)

    def arrange() -> None:
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # jcsaml died before the line above: nobody would tell us
            os.kill(os.getpid(), signal.SIGTERM)

    return arrange


def _with_us(child: subprocess.Popen[bytes]) -> bool:
    """Whether the command is still in jcsaml's process group (what the terminal signals)."""
    try:
        return os.getpgid(child.pid) == os.getpgrp()
    except OSError:
        return False


@contextlib.contextmanager
def _mask(how: int, signals: Sequence[int]) -> Iterator[None]:
    previous = signal.pthread_sigmask(how, signals)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _held_back(signals: Sequence[int]) -> contextlib.AbstractContextManager[None]:
    """Blocks ``signals`` in this thread, and so in the threads it starts meanwhile, so that
    :func:`run_child` takes them with who sent them (where the system can say: not macOS)."""
    if not hasattr(signal, "sigtimedwait"):
        return contextlib.nullcontext()
    return _mask(signal.SIG_BLOCK, signals)


@contextlib.contextmanager
def _handling(signals: Sequence[int], handler: Callable[[int, Any], None]) -> Iterator[None]:
    previous = {signum: signal.signal(signum, handler) for signum in signals}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def _terminal_delivers_to_child() -> bool:
    """Whether jcsaml (and so the command, which shares its process group) is in the foreground
    of its controlling terminal: a Ctrl-C there signals both."""
    try:
        fd = os.open("/dev/tty", os.O_RDONLY | os.O_NOCTTY)
    except OSError:
        return False
    try:
        return os.tcgetpgrp(fd) == os.getpgrp()
    except OSError:
        return False
    finally:
        os.close(fd)
