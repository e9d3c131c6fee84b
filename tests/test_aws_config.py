"""The AWS config file as botocore reads it: profile sections, regions, and jcsaml's edits."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from jcsaml.aws_config import (
    child_region,
    config_file_path,
    profile_region,
    profile_section,
    set_profile_values,
)
from jcsaml.errors import AwsConfigFileError

RUNBOOK = "[default]\nregion = us-east-1\n\n[profile production]\nregion = us-east-2\n"


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config"
    path.write_text(RUNBOOK)
    return path


def env_for(path: Path, **more: str) -> dict[str, str]:
    return {"AWS_CONFIG_FILE": str(path), "HOME": "/nonexistent", **more}


def test_path_honours_aws_config_file_and_defaults_to_home(tmp_path: Path) -> None:
    assert config_file_path({"AWS_CONFIG_FILE": "~/x/config", "HOME": "/h"}) == Path("/h/x/config")
    assert config_file_path({"HOME": "/h"}) == Path("/h/.aws/config")
    assert config_file_path({"AWS_CONFIG_FILE": "", "HOME": "/h"}) == Path("/h/.aws/config")


def test_named_and_default_profiles(config: Path) -> None:
    env = env_for(config)
    assert profile_region("production", environ=env) == "us-east-2"
    assert profile_region("default", environ=env) == "us-east-1"


def test_a_named_profile_never_falls_back_to_default(config: Path) -> None:
    config.write_text("[default]\nregion = us-east-1\n\n[profile production]\noutput = json\n")
    assert profile_region("production", environ=env_for(config)) is None
    assert profile_region("missing", environ=env_for(config)) is None


def test_sections_without_the_profile_prefix_are_not_profiles(config: Path) -> None:
    config.write_text('[production]\nregion = eu-west-1\n\n[profile "quoted"]\nregion = x-1\n')
    assert profile_region("production", environ=env_for(config)) is None
    assert profile_region("quoted", environ=env_for(config)) == "x-1"


def test_profile_default_section_is_the_default_profile(config: Path) -> None:
    config.write_text("[profile default]\nregion = ap-east-1\n")
    assert profile_region("default", environ=env_for(config)) == "ap-east-1"


def test_nested_values_do_not_get_in_the_way(config: Path) -> None:
    config.write_text(
        "[profile production]\ns3 =\n    max_concurrent_requests = 20\nregion = us-west-2\n"
    )
    assert profile_region("production", environ=env_for(config)) == "us-west-2"


def test_a_broken_or_missing_file_gives_no_region_but_section_lookups_say_why(
    config: Path,
) -> None:
    config.write_text("region = us-east-1\n")  # outside any section
    assert profile_region("production", environ=env_for(config)) is None
    with pytest.raises(AwsConfigFileError, match="line 1"):
        profile_section("production", environ=env_for(config))
    missing = config.with_name("absent")
    assert profile_section("production", environ=env_for(missing)) is None


def test_child_region_precedence(config: Path) -> None:
    env = env_for(config)
    assert child_region("production", environ=env) == "us-east-2"
    assert child_region("production", own="eu-west-1", environ=env) == "eu-west-1"
    assert child_region("production", environ={**env, "AWS_DEFAULT_REGION": "ca-central-1"}) == (
        "ca-central-1"
    )
    assert child_region("production", environ={**env, "AWS_REGION": "me-south-1"}) == "me-south-1"
    assert child_region("nowhere", environ=env) is None


def test_set_profile_values_keeps_everything_else(config: Path) -> None:
    config.write_text("# ours\n" + RUNBOOK + "output = json\n\n[profile other]\nregion = x\n")
    set_profile_values(
        "production",
        {"credential_process": "jcsaml credential-process -a p"},
        environ=env_for(config),
    )
    assert config.read_text() == (
        "# ours\n[default]\nregion = us-east-1\n\n[profile production]\nregion = us-east-2\n"
        "output = json\ncredential_process = jcsaml credential-process -a p\n\n"
        "[profile other]\nregion = x\n"
    )
    assert stat.S_IMODE(config.stat().st_mode) == 0o600


def test_set_profile_values_creates_the_profile_and_the_file(tmp_path: Path) -> None:
    path = tmp_path / "aws" / "config"
    set_profile_values("dev", {"credential_process": "c"}, environ=env_for(path))
    set_profile_values("default", {"credential_process": "d"}, environ=env_for(path))
    assert (
        path.read_text()
        == "[profile dev]\ncredential_process = c\n\n[default]\ncredential_process = d\n"
    )


def test_set_profile_values_leaves_a_broken_file_alone(config: Path) -> None:
    config.write_text("[profile a]\nregion = 1\n[profile a]\n")
    with pytest.raises(AwsConfigFileError, match="fix the file by hand"):
        set_profile_values("a", {"credential_process": "c"}, environ=env_for(config))
    assert config.read_text() == "[profile a]\nregion = 1\n[profile a]\n"
