"""The ``jcsaml`` command's entry point: the instant paths here, everything else in jcsaml.cli.

``jcsaml exec`` runs in front of every AWS command a person types, so with valid cached
credentials it should cost little more than starting Python. The full CLI (:mod:`jcsaml.cli`)
imports argparse, logging, dataclasses, datetime, pathlib and typing before it does anything;
this module decides from the command line alone whether a light path applies, and answers it
with ``os``, ``sys``, ``re``, ``time`` and jcsaml's light modules (:mod:`jcsaml.light_lookup`,
:mod:`jcsaml.environment`, :mod:`jcsaml.inifile`, :mod:`jcsaml.ini_edit`, and
:mod:`jcsaml.shell_script` for ``script``; ``json`` for ``credential-process``). Both the
console script and ``python -m jcsaml`` start here.

A light path never reports an error and never asks anything: it *declines* — prints nothing,
changes nothing, returns None — on anything it does not recognise exactly (an option it does
not know, ``--debug``, a missing or expiring credential, an unusual config value), and
:func:`jcsaml.cli.main` then runs with the same arguments, giving the answer or the error as
always. So the light paths can only ever be a faster way to the same result.

The seam for more instant commands: a handler is a function ``(args, environ) -> int | None``
where ``args`` are the words after the command name; it returns None to decline, else the exit
status, or replaces the process. Register it in :data:`LIGHT_COMMANDS` under the command name.
:func:`parse_options` reads the options it understands (each an exact spelling; anything else
declines) and :func:`jcsaml.light_lookup.lookup` finds the credentials the full CLI would reuse.

``--version`` prints the line argparse prints (declining on a terminal too narrow for it);
``--help`` always goes to the full CLI, whose parser is the one source of the help text.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from jcsaml.light_lookup import CachedCredentials

    LightHandler = Callable[[list[str], Mapping[str, str]], "int | None"]

__all__ = ["LIGHT_COMMANDS", "main", "parse_options", "run"]


def main(argv: Sequence[str] | None = None) -> int:
    """The light path when one applies, else the full CLI; returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    status = light(args, os.environ)
    if status is not None:
        return status
    from jcsaml.cli import main as full_main

    return full_main(args)


def run() -> None:
    """The console script and ``python -m jcsaml``."""
    sys.exit(main())


def light(args: list[str], environ: Mapping[str, str]) -> int | None:
    """Answer ``args`` on a light path, or None when the full CLI must."""
    if not args:
        return None
    if args == ["--version"]:
        return _print_version(environ)
    from jcsaml.variables import fast_path_unsafe

    if fast_path_unsafe(environ):  # a saml2aws variable only the full CLI reads
        return None
    handler = LIGHT_COMMANDS.get(args[0])
    return handler(args[1:], environ) if handler is not None else None


# --- options ----------------------------------------------------------------------------------

#: ``exec``'s options that a cached run can honour: the spellings and what they set.
EXEC_OPTIONS: dict[str, str] = {
    "-a": "idp_account",
    "--idp-account": "idp_account",
    "--config": "config",
    "-p": "profile",
    "--profile": "profile",
    "--role": "role",
}
#: Flags that change nothing when cached credentials are used.
EXEC_FLAGS = frozenset({"--skip-prompt"})


def parse_options(
    args: Sequence[str], options: Mapping[str, str], flags: frozenset[str] = frozenset()
) -> tuple[dict[str, str], list[str]] | None:
    """Options up to the first word that is not one, as argparse reads them, and the rest.

    Understands ``--name value``, ``--name=value`` (long names only), ``-a value`` and the
    ``flags``; a ``--`` ends the options and is dropped. Returns None (decline) for any other
    word starting with ``-``, a value that is empty or starts with ``-``, or a missing value.
    """
    values: dict[str, str] = {}
    index = 0
    while index < len(args):
        word = args[index]
        if word == "--":
            return values, list(args[index + 1 :])
        if not word.startswith("-"):
            break
        if word in flags:
            index += 1
            continue
        name, equals, value = word.partition("=")
        if equals and name.startswith("--") and name in options:
            index += 1
        elif not equals and word in options and index + 1 < len(args):
            name, value = word, args[index + 1]
            index += 2
        else:
            return None
        if not value or value.startswith("-"):
            return None
        values[options[name]] = value
    return values, list(args[index:])


def options_alone(args: Sequence[str], options: Mapping[str, str]) -> dict[str, str] | None:
    """:func:`parse_options` for a command that takes options and no other words (``script``,
    ``credential-process``); None to decline."""
    parsed = parse_options(args, options, EXEC_FLAGS)
    if parsed is None or parsed[1] or "--" in args:
        return None
    return parsed[0]


# --- exec -------------------------------------------------------------------------------------


def light_exec(args: list[str], environ: Mapping[str, str]) -> int | None:
    """``jcsaml exec`` with valid cached credentials: replaces this process with the command."""
    from jcsaml.environment import MARKER, child_environment, find_command

    parsed = parse_options(args, EXEC_OPTIONS, EXEC_FLAGS)
    if parsed is None or not parsed[1] or environ.get(MARKER):
        return None
    options, command = parsed
    reused = cached_for(options, environ)
    if reused is None:
        return None
    found, region = reused
    env = child_environment(environ, found, found.account_name, region=region)
    if find_command(command[0], env) is None:
        return None  # the full CLI says so, in its words
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execvpe(command[0], command, env)  # noqa: S606 - the user's command, as exec runs it
    except OSError:
        return None  # e.g. not a program the system can run: the full CLI reports it


def cached_for(
    options: Mapping[str, str], environ: Mapping[str, str]
) -> tuple[CachedCredentials, str | None] | None:
    """The credentials ``exec`` and ``script`` reuse for ``options``, with the region the
    command gets; None to decline (none valid, or a region only the full CLI works out)."""
    from jcsaml.light_lookup import exec_region, lookup

    found = lookup(
        exec_account(options, environ),
        profile=exec_profile(options, environ),
        role=exec_role(options, environ),
        config=options.get("config"),
        environ=environ,
    )
    if found is None:
        return None
    known, region = exec_region(found, environ)
    return (found, region) if known else None


def exec_account(options: Mapping[str, str], environ: Mapping[str, str]) -> str:
    """The account, as ``-a``'s default in :func:`jcsaml.cli.common_options` gives it."""
    from jcsaml.variables import lookup

    return options.get("idp_account") or lookup("idp_account", environ) or "default"


def exec_role(options: Mapping[str, str], environ: Mapping[str, str]) -> str | None:
    """The role asked for, as ``--role`` and its variables give it (None: the account's)."""
    from jcsaml.variables import lookup

    return options.get("role") or lookup("role", environ)


def exec_profile(options: Mapping[str, str], environ: Mapping[str, str]) -> str | None:
    """The profile asked for, as ``-p/--profile`` and SAML2AWS_PROFILE give it."""
    from jcsaml.variables import lookup

    return options.get("profile") or lookup("profile", environ)


# --- script -----------------------------------------------------------------------------------

#: ``script``'s options that a cached run can honour.
SCRIPT_OPTIONS: dict[str, str] = {**EXEC_OPTIONS, "--shell": "shell"}


def script_options(args: Sequence[str]) -> dict[str, str] | None:
    """``script``'s options, with ``shell`` always set; None to decline."""
    options = options_alone(args, SCRIPT_OPTIONS)
    if options is None:
        return None
    from jcsaml.shell_script import SHELLS

    # argparse checks every --shell given, not only the last one.
    given = [
        args[index + 1] if word == "--shell" else word.partition("=")[2]
        for index, word in enumerate(args)
        if word == "--shell" or word.startswith("--shell=")
    ]
    if any(shell not in SHELLS for shell in given):
        return None
    options.setdefault("shell", "bash")
    return options


def light_script(args: list[str], environ: Mapping[str, str]) -> int | None:
    """``jcsaml script`` with valid cached credentials: prints the shell code."""
    options = script_options(args)
    if options is None:
        return None
    reused = cached_for(options, environ)
    if reused is None:
        return None
    found, region = reused
    from jcsaml.environment import CONFLICTING
    from jcsaml.shell_script import render, script_variables

    variables = script_variables(found, profile=found.profile, region=region)
    try:
        text = render(variables, CONFLICTING, options["shell"])
    except ValueError:
        return None  # a value the format cannot carry: the full CLI reports it
    return _write(text)


# --- credential-process -----------------------------------------------------------------------

#: ``credential-process``'s options that a cached run can honour (it has no ``--profile``).
PROCESS_OPTIONS: dict[str, str] = {
    key: value for key, value in EXEC_OPTIONS.items() if value != "profile"
}


def process_options(args: Sequence[str]) -> dict[str, str] | None:
    """``credential-process``'s options; None to decline."""
    return options_alone(args, PROCESS_OPTIONS)


def light_credential_process(args: list[str], environ: Mapping[str, str]) -> int | None:
    """``jcsaml credential-process`` with valid cached credentials: prints the JSON."""
    options = process_options(args)
    if options is None:
        return None
    from jcsaml.light_lookup import process_output

    text = process_output(
        exec_account(options, environ),
        role=exec_role(options, environ),
        config=options.get("config"),
        environ=environ,
    )
    return None if text is None else _write(text + "\n")


def _write(text: str) -> int:
    """Print ``text`` as the full CLI does: one write to the buffered stdout, flushed at exit."""
    from jcsaml.display import write_printable

    write_printable(sys.stdout, text)
    return 0


#: The seam: command name -> light handler (see the module docstring).
LIGHT_COMMANDS: dict[str, LightHandler] = {
    "exec": light_exec,
    "script": light_script,
    "credential-process": light_credential_process,
}


# --- --version ------------------------------------------------------------------------------


def _terminal_columns(environ: Mapping[str, str]) -> int:
    """The width argparse formats for: ``shutil.get_terminal_size().columns``."""
    try:
        columns = int(environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns > 0:
        return columns
    try:
        columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
    except (AttributeError, ValueError, OSError):  # no stdout at all is an AttributeError
        columns = 0
    return columns or 80


def _print_version(environ: Mapping[str, str]) -> int | None:
    if _terminal_columns(environ) < VERSION_MIN_COLUMNS:
        return None
    from jcsaml import __version__

    sys.stdout.write(f"jcsaml {__version__}\n")
    sys.stdout.flush()
    return 0


#: ``jcsaml --version`` is one short line from this width up.
VERSION_MIN_COLUMNS = 30
