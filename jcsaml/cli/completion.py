"""``jcsaml completion``: a static shell completion script, made from the parser itself.

The commands and options in the script are those of this jcsaml; account names are asked for at
completion time with ``jcsaml completion --accounts`` (so ``--config`` and ``JCSAML_CONFIG`` are
honoured exactly as by every other command).
"""

from __future__ import annotations

import argparse
import dataclasses
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jcsaml.cli import Context

NAME = "completion"
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
DESCRIPTION = HELP + ". Install: " + "; ".join(USAGE.values())


def add_arguments(parser: argparse.ArgumentParser, environ: Mapping[str, str]) -> None:
    parser.add_argument("shell", nargs="?", choices=SHELLS, help="the shell to complete in")
    parser.add_argument(
        "--accounts",
        action="store_true",
        help="print the IdP account and group names in the config file, one a line (the "
        "scripts use it)",
    )


def run(args: argparse.Namespace, ctx: Context) -> int:
    if args.accounts:
        from jcsaml.config import account_names, config_path, group_names

        path = config_path(ctx.environ, args.config)
        for name in account_names(path) + group_names(path):
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
    from jcsaml.cli.help import pages

    commands = [
        dataclasses.replace(c, arguments=tuple(pages())) if c.name == "help" else c
        for c in describe(build_parser({}))
    ]
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
#
# Every word offered is data: names from the config file are read into an array and compared
# with the word being completed, never passed through ``compgen -W`` (which expands ``$(...)``
# and backticks) nor through ``eval``.


def _words(items: Sequence[str]) -> str:
    return " ".join(items)


def _bash_words(items: Sequence[str]) -> str:
    """``items`` as bash array elements, each single-quoted."""
    return " ".join(_sq(item) for item in items)


#: Options every command takes, also before the command: (those taking a value, flags).
GLOBAL_VALUE_OPTIONS = ("-a", "--idp-account", "--config")
GLOBAL_FLAGS = ("--debug", "--help", "--version")


# --- what bash and zsh share ------------------------------------------------------------------


def _option_cases(
    commands: Sequence[Command], actions: Mapping[str, Callable[[Option], str]]
) -> str:
    """The two ``case`` blocks of the bash and zsh functions: what to do after an option that
    takes a value (``actions``: the shell code for each kind of value), then which options and
    arguments each command takes."""
    value_cases = []
    option_cases = []
    for command in commands:
        for option in command.options:
            if option.kind in actions:
                pattern = "|".join(f"{command.name}:{n}" for n in option.names)
                value_cases.append(f"        {pattern}) {actions[option.kind](option)} ;;")
        names = [n for option in command.options for n in option.names]
        option_cases.append(
            f"        {command.name}) opts=({_bash_words(names)}); "
            f"args=({_bash_words(command.arguments)}) ;;"
        )
    return (
        '    case "$command:$prev" in\n' + "\n".join(value_cases) + "\n    esac\n"
        '    case "$command" in\n' + "\n".join(option_cases) + "\n    esac"
    )


def _find_command(words: str, first: int, end: str, files: str) -> str:
    """The start of the bash and zsh functions: the command is looked for in the array
    ``words`` from index ``first`` up to ``end``; before one, a global option's value is
    completed (``files``: the shell's file completion)."""
    return f"""    # The command is the first word that is neither an option nor an option's value:
    # jcsaml -a NAME login ... works as jcsaml login -a NAME ...
    for ((i = {first}; i < {end}; i++)); do
        case ${{{words}[i]}} in
            -a|--idp-account|--config) ((i++)) ;;
            -*) ;;
            *) command=${{{words}[i]}}; at=$i; break ;;
        esac
    done
    if [[ -z $command ]]; then
        case $prev in
            -a|--idp-account) _jcsaml_accounts; return ;;
            --config) {files}; return ;;
        esac"""


def bash_script(commands: Sequence[Command]) -> str:
    cases = _option_cases(
        commands,
        {
            "account": lambda option: "_jcsaml_accounts; return",
            "path": lambda option: "_jcsaml_files; return",
            "choice": lambda option: f"_jcsaml_offer {_bash_words(option.choices)}; return",
            "value": lambda option: "return",
        },
    )
    command_names = _bash_words([c.name for c in commands])
    global_options = _bash_words(GLOBAL_VALUE_OPTIONS + GLOBAL_FLAGS)
    return f"""# bash completion for jcsaml; made by: jcsaml completion bash
# Install: {USAGE["bash"]}

# Offer the words (arguments) that start with $cur. Each is data: compared, never expanded;
# one with characters the shell would read is offered quoted.
_jcsaml_offer() {{
    local word quoted
    for word in "$@"; do
        [[ $word == "$cur"* ]] || continue
        if [[ $word == *[!A-Za-z0-9._@+=,-]* ]]; then
            printf -v quoted '%q' "$word"
            COMPREPLY+=("$quoted")
        else
            COMPREPLY+=("$word")
        fi
    done
}}

_jcsaml_files() {{
    mapfile -t COMPREPLY < <(compgen -f -- "$cur")
}}

# Account and group names, from the config file named on the line (--config) or the default.
_jcsaml_accounts() {{
    local i config=() names=()
    for ((i = 1; i < COMP_CWORD; i++)); do
        if [[ ${{COMP_WORDS[i]}} == --config ]]; then config=(--config "${{COMP_WORDS[i+1]}}"); fi
    done
    mapfile -t names < <(jcsaml completion --accounts "${{config[@]}}" 2>/dev/null)
    _jcsaml_offer "${{names[@]}}"
}}

_jcsaml() {{
    local cur=${{COMP_WORDS[COMP_CWORD]}} prev=${{COMP_WORDS[COMP_CWORD-1]}}
    local command="" at=0 i
    local -a opts=() args=()
    COMPREPLY=()
{_find_command("COMP_WORDS", 1, "COMP_CWORD", "_jcsaml_files")}
        if [[ $cur == -* ]]; then
            _jcsaml_offer {global_options}
        else
            _jcsaml_offer {command_names}
        fi
        return
    fi
    if [[ $command == exec ]]; then
        # After "--": the command to run, then whatever it takes (files, by default).
        for ((i = at + 1; i < COMP_CWORD; i++)); do
            if [[ ${{COMP_WORDS[i]}} == -- ]]; then
                if ((i + 1 == COMP_CWORD)); then mapfile -t COMPREPLY < <(compgen -c -- "$cur"); fi
                return
            fi
        done
    fi
{cases}
    if [[ $cur == -* ]]; then
        _jcsaml_offer "${{opts[@]}}"
    else
        _jcsaml_offer "${{args[@]}}"
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
    cases = _option_cases(
        commands,
        {
            "account": lambda option: "_jcsaml_accounts; return",
            "path": lambda option: "_files; return",
            "choice": lambda option: f"compadd -- {_bash_words(option.choices)}; return",
            "value": lambda option: f"_message {_sq(option.help or 'value')}; return",
        },
    )
    global_options = _bash_words(GLOBAL_VALUE_OPTIONS + GLOBAL_FLAGS)
    return f"""#compdef jcsaml
# zsh completion for jcsaml; made by: jcsaml completion zsh
# Install: {USAGE["zsh"]}

# Account and group names as data: compadd quotes what it inserts, nothing is evaluated.
_jcsaml_accounts() {{
    local -a accounts config
    local i
    for ((i = 2; i < CURRENT; i++)); do
        if [[ ${{words[i]}} == --config ]]; then config=(--config "${{words[i+1]}}"); fi
    done
    accounts=(${{(f)"$(jcsaml completion --accounts "${{config[@]}}" 2>/dev/null)"}})
    compadd -a accounts
}}

_jcsaml() {{
    local -a commands opts args
    local command="" prev=${{words[CURRENT-1]}} i at=0
    commands=(
{described}
    )
{_find_command("words", 2, "CURRENT", "_files")}
        if [[ ${{words[CURRENT]}} == -* ]]; then
            compadd -- {global_options}
        else
            _describe 'command' commands
        fi
        return
    fi
    if [[ $command == exec ]]; then
        # After "--": the command to run and its own arguments, as zsh completes them.
        for ((i = at + 1; i < CURRENT; i++)); do
            if [[ ${{words[i]}} == -- ]]; then
                words=("${{(@)words[i+1,-1]}}")
                ((CURRENT -= i))
                _normal
                return
            fi
        done
    fi
{cases}
    if [[ ${{words[CURRENT]}} == -* ]]; then
        compadd -a opts
    elif ((${{#args}})); then
        compadd -a args
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
        "# exec ... -- COMMAND: complete the command line after -- as fish would on its own.",
        "function __jcsaml_after_dashdash",
        "    set -l words (commandline -opc)",
        "    contains -- exec $words; and contains -- -- $words",
        "end",
        "",
        "function __jcsaml_command_after_dashdash",
        "    set -l words (commandline -opc)",
        "    set -l i (contains -i -- -- $words)",
        "    set -l rest $words[(math $i + 1)..-1]",
        "    complete -C (string join -- ' ' (string escape -- $rest) (commandline -ct))",
        "end",
        "",
        "complete -c jcsaml -f",
        f"complete -c jcsaml -n 'not __fish_seen_subcommand_from {names}' -l version "
        "-d 'show the version'",
        f"complete -c jcsaml -n 'not __fish_seen_subcommand_from {names}' -s a -l idp-account "
        "-x -a '(__jcsaml_accounts)' -d 'IdP account (config section) to use'",
        f"complete -c jcsaml -n 'not __fish_seen_subcommand_from {names}' -l config -r -F "
        "-d 'config file'",
        "complete -c jcsaml -n __jcsaml_after_dashdash -x -a '(__jcsaml_command_after_dashdash)'",
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
