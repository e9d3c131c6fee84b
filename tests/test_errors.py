"""Error fields: each class declares the fields its message uses, its constructor sets them, and
they survive pickling. And jcsaml's own errors that are also OSErrors reach the caller as
themselves, never caught and reworded as a failure of the system."""

from __future__ import annotations

import inspect
import os
import pickle
import string
import types
import typing
from pathlib import Path
from typing import Any

import pytest

import jcsaml.errors as errors_module
from jcsaml.aws_config import set_profile_values
from jcsaml.errors import JcsamlError, LockFileError, WritableByOthersError
from jcsaml.inifile import edit_ini

ERROR_CLASSES = [
    cls
    for _, cls in inspect.getmembers(errors_module, inspect.isclass)
    if issubclass(cls, JcsamlError) and cls.__module__ == errors_module.__name__
]

SAMPLES: dict[Any, Any] = {str: "x", int: 3, float: 2.5}


def declared_fields(cls: type[JcsamlError]) -> dict[str, Any]:
    """The fields a class declares or inherits, with their types (``fmt`` and ``exit_status``
    are class settings, not fields)."""
    hints = typing.get_type_hints(cls, vars(errors_module))
    return {
        name: hint
        for name, hint in hints.items()
        if typing.get_origin(hint) is not typing.ClassVar and name not in vars(Exception)
    }


def sample(hint: Any) -> Any:
    if hint in SAMPLES:
        return SAMPLES[hint]
    if isinstance(hint, types.UnionType):
        return sample(typing.get_args(hint)[0])
    assert typing.get_origin(hint) is tuple, hint
    return ()


def placeholders(fmt: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(fmt) if name}


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda cls: cls.__name__)
def test_every_field_a_message_uses_is_declared(cls: type[JcsamlError]) -> None:
    assert placeholders(cls.fmt) <= set(declared_fields(cls))


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda cls: cls.__name__)
def test_the_constructor_sets_every_declared_field(cls: type[JcsamlError]) -> None:
    fields = {name: sample(hint) for name, hint in declared_fields(cls).items()}
    err = cls(**fields)
    for name, value in fields.items():
        if "__init__" in vars(cls):  # its own constructor derives some fields from others
            assert hasattr(err, name), name
        else:
            assert vars(err)[name] == value, name
    again = pickle.loads(pickle.dumps(err))
    assert type(again) is cls
    assert str(again) == str(err)
    assert again.fields == err.fields


def test_a_field_with_a_default_reads_as_the_default_where_the_subclass_has_none() -> None:
    err = errors_module.JumpCloudChangedError(step="the MFA step", expected="JSON", got="HTML")
    assert isinstance(err, errors_module.IdpProtocolError)
    assert (err.url, err.reason) == ("", "")
    assert "the MFA step" in str(err)


def test_an_undeclared_name_is_no_field_to_mypy_either() -> None:
    err = errors_module.InvalidSettingError(setting="region", reason="not a region")
    # mypy's strict mode reports an ignore it does not need: these lines check mypy too.
    with pytest.raises(AttributeError):
        _ = err.role_arn  # type: ignore[attr-defined]
    with pytest.raises(TypeError, match="needs the field 'reason'"):
        errors_module.InvalidSettingError(setting="region")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="has no field 'reasn'"):
        errors_module.InvalidSettingError(setting="region", reasn="")  # type: ignore[call-arg]


# --- jcsaml's own errors reach the caller ---------------------------------------------------


def test_an_aws_config_file_others_can_write_is_refused_as_itself(tmp_path: Path) -> None:
    config = tmp_path / "aws" / "config"
    config.parent.mkdir()
    config.write_text("[default]\nregion = us-east-1\n")
    config.chmod(0o666)
    environ = {"AWS_CONFIG_FILE": str(config), "HOME": str(tmp_path)}
    with pytest.raises(WritableByOthersError) as caught:
        set_profile_values("dev", {"region": "eu-west-1"}, environ=environ)
    assert "chmod go-w" in str(caught.value)
    assert "fix the file by hand" not in str(caught.value)
    assert config.read_text() == "[default]\nregion = us-east-1\n"


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX owners")
def test_a_lock_directory_of_another_user_is_said_as_such(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "config"
    path.write_text("[a]\nk = 1\n")
    # The safe-directory walk asks for the effective user; the lock's own check for the real one.
    monkeypatch.setattr(os, "getuid", lambda: os.geteuid() + 1)
    with pytest.raises(LockFileError, match="the directory belongs to another user"):
        edit_ini(
            path, lambda doc: doc.update_section("a", {"k": "2"}), environ={"HOME": str(tmp_path)}
        )
    assert path.read_text() == "[a]\nk = 1\n"
