"""Shell code from ``jcsaml script``: each shell, run for real, sets exactly the given values."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from jcsaml.shell_script import render

NASTY = {
    "AWS_ACCESS_KEY_ID": "ASIA EXAMPLE",
    "AWS_SECRET_ACCESS_KEY": 'it\'s "quoted" $HOME `id` \\ back\\slash ; | & *',
    "AWS_SESSION_TOKEN": "FwoG/+==' '\"",
    "JCSAML_PROFILE": "my \u2018curly\u2019 profile $(echo no)",
}
UNSET = ("AWS_PROFILE", "AWS_ROLE_ARN", "AWS_ACCESS_KEY_ID")
DUMP = (
    "import json, os; print(json.dumps({k: v for k, v in os.environ.items() "
    "if k.startswith(('AWS_', 'JCSAML_'))}))"
)
BEFORE = {"AWS_PROFILE": "elsewhere", "AWS_ROLE_ARN": "arn:aws:iam::1:role/x"}


def shell_command(shell: str, script: str) -> list[str]:
    """Evaluate ``script`` in ``shell``, then print the AWS variables as a child sees them."""
    python = sys.executable
    if shell in ("bash", "zsh"):
        return [shell, "-c", f'eval "$1" && "{python}" -c "$2"', "-", script, DUMP]
    if shell == "fish":
        return ["fish", "-c", f"eval $argv[1]; {python} -c $argv[2]", script, DUMP]
    return [
        "pwsh",
        "-NoProfile",
        "-Command",
        f"{script}\n& '{python}' -c '{DUMP.replace(chr(39), chr(39) * 2)}'",
    ]


# The shells on this machine: bash always; zsh, fish and PowerShell where installed.
SHELLS = [name for name in ("bash", "zsh", "fish", "pwsh") if shutil.which(name)]


def test_bash_is_there() -> None:
    assert "bash" in SHELLS


@pytest.mark.parametrize("shell", SHELLS)
def test_each_shell_gets_exactly_the_values(shell: str) -> None:
    syntax = "powershell" if shell == "pwsh" else shell
    script = render(NASTY, UNSET, syntax)
    env = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent", **BEFORE}
    done = subprocess.run(
        shell_command(shell, script), env=env, capture_output=True, text=True, check=True
    )
    assert json.loads(done.stdout.strip().splitlines()[-1]) == NASTY


def test_bash_text_is_what_people_read() -> None:
    text = render({"AWS_REGION": "us-east-2", "JCSAML_PROFILE": "it's"}, ["AWS_PROFILE"], "bash")
    assert (
        text
        == "unset AWS_PROFILE\nexport AWS_REGION=us-east-2\nexport JCSAML_PROFILE='it'\"'\"'s'\n"
    )


def test_fish_and_powershell_text() -> None:
    values = {"JCSAML_PROFILE": "it's \\ here"}
    assert render(values, ["AWS_PROFILE"], "fish") == (
        "set -e AWS_PROFILE\nset -gx JCSAML_PROFILE 'it\\'s \\\\ here'\n"
    )
    assert render(values, ["AWS_PROFILE"], "powershell") == (
        "Remove-Item Env:AWS_PROFILE -ErrorAction SilentlyContinue\n"
        "$Env:JCSAML_PROFILE = 'it''s \\ here'\n"
    )


def test_env_and_json_list_the_values_only() -> None:
    assert render(NASTY, UNSET, "env").splitlines()[0] == "AWS_ACCESS_KEY_ID=ASIA EXAMPLE"
    assert json.loads(render(NASTY, UNSET, "json")) == NASTY
    with pytest.raises(ValueError, match="line break"):
        render({"X": "a\nb"}, [], "env")
    with pytest.raises(ValueError, match="unknown shell"):
        render(NASTY, UNSET, "tcsh")
