"""``jcsaml completion``: a static shell completion script, made from the parser itself.

The commands and options in the script are those of this jcsaml; account names are asked for at
completion time with ``jcsaml completion --accounts`` (so ``--config`` and ``JCSAML_CONFIG`` are
honoured exactly as by every other command).
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jcsaml.cli import Context

HELP = "print a shell completion script (bash, zsh or fish)"
SHELLS = ("bash", "zsh", "fish")
# Options whose value is a file path.
PATH_OPTIONS = frozenset({"config", "idp_cert", "credentials_file", "import_saml2aws"})
ACCOUNT_OPTION = "idp_account"

USAGE = {
    "bash": "echo 'source <(jcsaml completion bash)' >> ~/.bashrc",
    "zsh": "echo 'source <(jcsaml completion zsh)' >> ~/.zshrc   # after compinit",
    "fish": "jcsaml completion fish > ~/.config/fish/completions/jcsaml.fish",
}


def add_parser(
    subparsers: Any, parents: Sequence[argparse.ArgumentParser], environ: Mapping[str, str]
) -> None:
    parser = subparsers.add_parser(
        "completion",
        parents=parents,
        help=HELP,
        description=HELP + ". Install: " + "; ".join(USAGE.values()),
    )
    parser.add_argument("shell", nargs="?", choices=SHELLS, help="the shell to complete in")
    parser.add_argument(
        "--accounts",
        action="store_true",
        help="print the IdP account names in the config file, one a line (the scripts use it)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    if args.accounts:
        from jcsaml.config import account_names, config_path

        for name in account_names(config_path(ctx.environ, args.config)):
            print(name, file=ctx.stdout)
        return 0
    if not args.shell:
        print(
            "usage: jcsaml completion {bash,zsh,fish}\n"
            "jcsaml completion: error: name the shell: bash, zsh or fish",
            file=ctx.stderr,
        )
        return 2
    from jcsaml.cli import build_parser

    commands = describe(build_parser({}))
    render = {"bash": bash_script, "zsh": zsh_script, "fish": fish_script}[args.shell]
    ctx.stdout.write(render(commands))
    return 0


@dataclass(frozen=True)
class Option:
    names: tuple[str, ...]
    dest: str
    takes_value: bool
    choices: tuple[str, ...]
    help: str

    @property
    def kind(self) -> str:
        if self.dest == ACCOUNT_OPTION:
            return "account"
        if self.dest in PATH_OPTIONS:
            return "path"
        if self.choices:
            return "choice"
        return "value" if self.takes_value else "flag"


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    options: tuple[Option, ...]
    arguments: tuple[str, ...]  # choices of positional arguments


def describe(parser: argparse.ArgumentParser) -> list[Command]:
    """Every command with its options, read from the argparse parser."""
    commands = []
    for action in parser._actions:  # argparse has no public way to walk its subparsers
        if not isinstance(action, argparse._SubParsersAction):
            continue
        helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
        for name, sub in action.choices.items():
            options: list[Option] = []
            arguments: list[str] = []
            for item in sub._actions:
                if item.option_strings:
                    options.append(
                        Option(
                            names=tuple(item.option_strings),
                            dest=item.dest,
                            takes_value=item.nargs != 0,
                            choices=tuple(str(c) for c in item.choices or ()),
                            help=_short(item.help or ""),
                        )
                    )
                elif item.choices:
                    arguments.extend(str(c) for c in item.choices)
            commands.append(
                Command(name, _short(helps.get(name, "")), tuple(options), tuple(arguments))
            )
    return commands


def _short(text: str) -> str:
    """One line of help: no ``[env ...]`` part, no parenthesised detail at the end."""
    text = " ".join(re.sub(r"\s*\[[^\]]*\]", "", text).split())
    return text if len(text) <= 80 else text[:77].rsplit(" ", 1)[0] + "..."


# --- bash -------------------------------------------------------------------------------------


def _words(items: Sequence[str]) -> str:
    return " ".join(items)


def bash_script(commands: Sequence[Command]) -> str:
    value_cases = []
    option_cases = []
    for command in commands:
        for option in command.options:
            pattern = "|".join(f"{command.name}:{n}" for n in option.names)
            if option.kind == "account":
                value_cases.append(
                    f'        {pattern}) COMPREPLY=($(compgen -W "$(_jcsaml_accounts)" -- "$cur"))'
                    "; return ;;"
                )
            elif option.kind == "path":
                value_cases.append(
                    f'        {pattern}) COMPREPLY=($(compgen -f -- "$cur")); return ;;'
                )
            elif option.kind == "choice":
                value_cases.append(
                    f'        {pattern}) COMPREPLY=($(compgen -W "{_words(option.choices)}" '
                    '-- "$cur")); return ;;'
                )
            elif option.kind == "value":
                value_cases.append(f"        {pattern}) return ;;")
        names = [n for option in command.options for n in option.names]
        option_cases.append(
            f'        {command.name}) opts="{_words(names)}"; args="{_words(command.arguments)}" ;;'
        )
    cases = "\n".join(value_cases)
    command_cases = "\n".join(option_cases)
    return f"""# bash completion for jcsaml; made by: jcsaml completion bash
# Install: {USAGE["bash"]}

_jcsaml_accounts() {{
    local i config=()
    for ((i = 2; i < COMP_CWORD; i++)); do
        if [[ ${{COMP_WORDS[i]}} == --config ]]; then config=(--config "${{COMP_WORDS[i+1]}}"); fi
    done
    jcsaml completion --accounts "${{config[@]}}" 2>/dev/null
}}

_jcsaml() {{
    local cur=${{COMP_WORDS[COMP_CWORD]}} prev=${{COMP_WORDS[COMP_CWORD-1]}} opts="" args=""
    COMPREPLY=()
    if ((COMP_CWORD == 1)); then
        COMPREPLY=($(compgen -W "{_words([c.name for c in commands])} --help --version" -- "$cur"))
        return
    fi
    local command=${{COMP_WORDS[1]}}
    case "$command:$prev" in
{cases}
    esac
    case "$command" in
{command_cases}
    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
    else
        COMPREPLY=($(compgen -W "$args" -- "$cur"))
    fi
}}

complete -o default -F _jcsaml jcsaml
"""


# --- zsh --------------------------------------------------------------------------------------


def _sq(text: str) -> str:
    """A single-quoted word for bash and zsh."""
    return "'" + text.replace("'", "'\\''") + "'"


def zsh_script(commands: Sequence[Command]) -> str:
    described = "\n".join(
        f"        {_sq(c.name + ':' + c.help.replace(':', chr(92) + ':'))}" for c in commands
    )
    value_cases = []
    option_cases = []
    for command in commands:
        for option in command.options:
            pattern = "|".join(f"{command.name}:{n}" for n in option.names)
            if option.kind == "account":
                value_cases.append(f"        {pattern}) _jcsaml_accounts; return ;;")
            elif option.kind == "path":
                value_cases.append(f"        {pattern}) _files; return ;;")
            elif option.kind == "choice":
                value_cases.append(
                    f"        {pattern}) compadd -- {_words(option.choices)}; return ;;"
                )
            elif option.kind == "value":
                value_cases.append(
                    f"        {pattern}) _message {_sq(option.help or 'value')}; return ;;"
                )
        names = [n for option in command.options for n in option.names]
        option_cases.append(
            f"        {command.name}) opts=({_words(names)}); args=({_words(command.arguments)}) ;;"
        )
    cases = "\n".join(value_cases)
    command_cases = "\n".join(option_cases)
    return f"""#compdef jcsaml
# zsh completion for jcsaml; made by: jcsaml completion zsh
# Install: {USAGE["zsh"]}

_jcsaml_accounts() {{
    local -a accounts config
    local i
    for ((i = 3; i < CURRENT; i++)); do
        if [[ ${{words[i]}} == --config ]]; then config=(--config "${{words[i+1]}}"); fi
    done
    accounts=(${{(f)"$(jcsaml completion --accounts "${{config[@]}}" 2>/dev/null)"}})
    compadd -a accounts
}}

_jcsaml() {{
    local -a commands opts args
    commands=(
{described}
    )
    if ((CURRENT == 2)); then
        _describe 'command' commands
        return
    fi
    local command=${{words[2]}} prev=${{words[CURRENT-1]}}
    case "$command:$prev" in
{cases}
    esac
    case "$command" in
{command_cases}
    esac
    if [[ ${{words[CURRENT]}} == -* ]]; then
        compadd -- $opts
    elif ((${{#args}})); then
        compadd -- $args
    else
        _files
    fi
}}

compdef _jcsaml jcsaml
"""


# --- fish -------------------------------------------------------------------------------------


def _fq(text: str) -> str:
    """A single-quoted word for fish."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def fish_script(commands: Sequence[Command]) -> str:
    names = _words([c.name for c in commands])
    lines = [
        "# fish completion for jcsaml; made by: jcsaml completion fish",
        f"# Install: {USAGE['fish']}",
        "",
        "function __jcsaml_accounts",
        "    set -l words (commandline -opc)",
        "    set -l i (contains -i -- --config $words)",
        '    if test -n "$i"',
        "        jcsaml completion --accounts --config $words[(math $i + 1)] 2>/dev/null",
        "    else",
        "        jcsaml completion --accounts 2>/dev/null",
        "    end",
        "end",
        "",
        "complete -c jcsaml -f",
        f"complete -c jcsaml -n 'not __fish_seen_subcommand_from {names}' -l version "
        "-d 'show the version'",
    ]
    for command in commands:
        lines.append(
            f"complete -c jcsaml -n 'not __fish_seen_subcommand_from {names}' "
            f"-a {command.name} -d {_fq(command.help)}"
        )
    for command in commands:
        when = f"-n '__fish_seen_subcommand_from {command.name}'"
        if command.arguments:
            lines.append(f"complete -c jcsaml {when} -a {_fq(_words(command.arguments))}")
        for option in command.options:
            flags = " ".join(f"-s {n[1:]}" if len(n) == 2 else f"-l {n[2:]}" for n in option.names)
            extra = {
                "account": "-x -a '(__jcsaml_accounts)'",
                "path": "-r -F",
                "choice": f"-x -a {_fq(_words(option.choices))}",
                "value": "-x",
                "flag": "",
            }[option.kind]
            parts = ["complete -c jcsaml", when, flags, extra, f"-d {_fq(option.help)}"]
            lines.append(" ".join(p for p in parts if p))
    return "\n".join(lines) + "\n"
