"""One version source: the package metadata, ``jcsaml --version`` and the changelog agree."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import version

import jcsaml
from tests.conftest import REPO, cli_environment, run_cli


def test_the_version_has_one_source() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert version("jcsaml") == jcsaml.__version__


def test_jcsaml_version_prints_it(tmp_path) -> None:
    for env in ({}, {"COLUMNS": "25"}):  # the instant path and the full CLI
        result = run_cli("--version", env=cli_environment(tmp_path, env))
        assert result.status == 0, result.stderr
        assert result.stdout == f"jcsaml {jcsaml.__version__}\n"


def test_the_changelog_keeps_a_changelog_form() -> None:
    text = (REPO / "CHANGELOG.md").read_text()
    assert text.startswith("# Changelog\n")
    assert "## [Unreleased]" in text
    released = re.findall(r"^## \[(\d+\.\d+\.\d+)\] - \d{4}-\d{2}-\d{2}$", text, re.MULTILINE)
    assert jcsaml.__version__ in released
    for heading in re.findall(r"^### (.+)$", text, re.MULTILINE):
        assert heading in {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}
