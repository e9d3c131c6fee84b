"""Secrets from a command: the password and the TOTP code from a password manager's CLI.

The account keys ``password_command`` and ``mfa_command`` (or the variables
``JCSAML_PASSWORD_COMMAND`` and ``JCSAML_MFA_COMMAND``, which win) name a command such as
``op item get JumpCloud --fields password --reveal``. It is split with :func:`shlex.split` and
run without a shell; the first line of its stdout is the secret. stdout is never shown: a failure
names the setting, the exit status and the command's stderr.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import signal
import subprocess
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from jcsaml.errors import SecretCommandError

if TYPE_CHECKING:
    from jcsaml.config import Account

log = logging.getLogger(__name__)

#: How long a command may take (a password manager may ask its own unlock question).
COMMAND_TIMEOUT = 30.0
#: The variables that name the commands, by config key; a variable wins over the key.
VARIABLES = {
    "password_command": "JCSAML_PASSWORD_COMMAND",
    "mfa_command": "JCSAML_MFA_COMMAND",
}
_STDERR_SHOWN = 200  # characters of the command's stderr quoted in an error

Popen = Callable[..., "subprocess.Popen[bytes]"]


def command_for(
    account: Account, key: str, environ: Mapping[str, str] = os.environ
) -> tuple[str, str] | None:
    """``(setting, command)`` for ``key`` (``password_command`` or ``mfa_command``): the
    variable when set, else the account's key; None when neither is."""
    variable = VARIABLES[key]
    if environ.get(variable, "").strip():
        return variable, environ[variable].strip()
    configured = str(getattr(account, key, "") or "").strip()
    return (key, configured) if configured else None


def run_secret_command(
    command: str,
    *,
    setting: str,
    timeout: float = COMMAND_TIMEOUT,
    popen: Popen = subprocess.Popen,
) -> str:
    """Run ``command`` (no shell) and return the first line of its stdout, stripped.

    Raises SecretCommandError (naming ``setting``) when the command cannot be split or started,
    takes longer than ``timeout`` seconds, exits with a status other than 0, or prints nothing.
    """
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise SecretCommandError(setting=setting, reason=f"cannot be split: {exc}") from None
    if not argv:
        raise SecretCommandError(setting=setting, reason="is empty")
    try:
        # A session of its own: on timeout the whole group goes, helpers the command started too.
        process = popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except FileNotFoundError:
        raise SecretCommandError(setting=setting, reason=f"{argv[0]}: command not found") from None
    except OSError as exc:
        raise SecretCommandError(
            setting=setting, reason=f"{argv[0]} cannot be run ({exc.strerror or exc})"
        ) from None
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        raise SecretCommandError(
            setting=setting, reason=f"did not finish within {timeout:g} s"
        ) from None
    except BaseException:  # Ctrl-C while it runs: it must not outlive jcsaml
        _kill_group(process)
        raise
    done = subprocess.CompletedProcess(argv, process.returncode, stdout, stderr)
    if done.returncode != 0:
        raise SecretCommandError(
            setting=setting,
            reason=f"exited with status {done.returncode}{_stderr(done.stderr)}",
        )
    lines = done.stdout.decode("utf-8", errors="replace").splitlines()
    secret = lines[0].strip() if lines else ""
    if not secret:
        raise SecretCommandError(setting=setting, reason="printed nothing on its first line")
    return secret


def secret_from_command(
    account: Account,
    key: str,
    *,
    environ: Mapping[str, str] = os.environ,
    popen: Popen = subprocess.Popen,
) -> str | None:
    """The secret from the account's ``key`` command (or its variable); None when there is none."""
    found = command_for(account, key, environ)
    if found is None:
        return None
    setting, command = found
    secret = run_secret_command(command, setting=setting, popen=popen)
    log.debug("%s: from %s", "password" if key == "password_command" else "MFA code", setting)
    return secret


def mfa_source(
    account: Account, environ: Mapping[str, str] = os.environ
) -> Callable[[], str] | None:
    """What gives a TOTP code from ``mfa_command`` (run only when a code is needed), or None."""
    found = command_for(account, "mfa_command", environ)
    if found is None:
        return None
    setting, command = found

    def code() -> str:
        secret = run_secret_command(command, setting=setting)
        log.debug("MFA code: from %s", setting)
        return secret

    return code


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(OSError):  # already gone
        os.killpg(process.pid, signal.SIGKILL)
    process.kill()
    process.communicate()


def _stderr(raw: bytes) -> str:
    """The command's stderr, on one line and shortened, for the error; empty when it said
    nothing."""
    text = " ".join(raw.decode("utf-8", errors="replace").split())
    if not text:
        return ""
    if len(text) > _STDERR_SHOWN:
        text = text[:_STDERR_SHOWN] + "..."
    return f": {text}"
