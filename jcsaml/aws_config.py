"""The AWS config file (``~/.aws/config``): a profile's region and role, and the
``credential_process`` line jcsaml writes.

Profiles are found as botocore finds them: ``[profile NAME]`` sections, and ``[default]`` (or
``[profile default]``) for the profile named ``default``. A named profile never falls back to
``[default]`` for its keys: botocore does not either.

Standard library only at module level: :func:`profile_region` runs on every ``jcsaml exec``.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable, Mapping
from pathlib import Path

from jcsaml.errors import AwsConfigFileError, JcsamlError
from jcsaml.inifile import IniDocument, IniSyntaxError, edit_ini, read_ini

__all__ = [
    "account_region",
    "add_missing_regions",
    "child_region",
    "config_file_path",
    "profile_region",
    "profile_section",
    "section_name",
    "set_profile_values",
]


def config_file_path(environ: Mapping[str, str] = os.environ) -> Path:
    """``AWS_CONFIG_FILE`` when set and not empty, else ``~/.aws/config`` (``~`` is ``HOME``
    from ``environ``), with ``~`` and ``$VARIABLES`` expanded as botocore expands them."""
    from jcsaml.credentials_file import expand_aws_path

    configured = environ.get("AWS_CONFIG_FILE", "")
    return Path(expand_aws_path(configured or "~/.aws/config", environ))


def section_name(profile: str) -> str:
    """The section that holds ``profile`` in a new file: ``default`` or ``profile NAME``."""
    return "default" if profile == "default" else f"profile {profile}"


def _read(path: Path) -> IniDocument | None:
    try:
        return read_ini(path)
    except IniSyntaxError as exc:
        raise AwsConfigFileError(path=str(path), reason=f"line {exc.line}: {exc.reason}") from None
    except OSError as exc:
        raise AwsConfigFileError(path=str(path), reason=exc.strerror or str(exc)) from None


def _find_section(document: IniDocument, profile: str) -> str | None:
    """The name of the section botocore reads for ``profile``, as written in the file."""
    found = None
    for name in document.sections():
        try:
            words = shlex.split(name)  # as botocore reads [profile "name"]
        except ValueError:
            continue
        if len(words) == 2 and words[0] == "profile" and words[1] == profile:
            return name
        if profile == "default" and name == "default":
            found = name
    return found


def profile_section(
    profile: str, *, environ: Mapping[str, str] = os.environ, path: Path | None = None
) -> dict[str, str] | None:
    """The profile's keys (lower-cased) in the AWS config file, or None when it has none.

    Raises :class:`~jcsaml.errors.AwsConfigFileError` when the file cannot be read or parsed.
    """
    document = _read(path or config_file_path(environ))
    if document is None:
        return None
    name = _find_section(document, profile)
    return document.section(name) if name is not None else None


def profile_region(
    profile: str, *, environ: Mapping[str, str] = os.environ, path: Path | None = None
) -> str | None:
    """The ``region`` of ``profile`` in the AWS config file; None when there is none or the file
    cannot be read (the command jcsaml runs reports a broken file better than jcsaml can)."""
    try:
        section = profile_section(profile, environ=environ, path=path)
    except AwsConfigFileError:
        return None
    region = (section or {}).get("region", "").strip()
    return region or None


def set_profile_values(
    profile: str,
    values: Mapping[str, str | None],
    *,
    environ: Mapping[str, str] = os.environ,
    path: Path | None = None,
) -> Path:
    """Set (None: remove) keys of ``profile`` in the AWS config file, creating the profile or
    the file when needed; every other line of the file stays as it was. Returns the path.

    Raises :class:`~jcsaml.errors.AwsConfigFileError` (the file is then left untouched),
    :class:`~jcsaml.errors.FileLockedError` or the unsafe-file errors of the edit.
    """
    target = path or config_file_path(environ)

    def edit(document: IniDocument) -> None:
        name = _find_section(document, profile) or section_name(profile)
        document.update_section(name, values)

    _edit(target, edit, environ)
    return target


def _edit(target: Path, edit: Callable[[IniDocument], None], environ: Mapping[str, str]) -> None:
    """One locked, atomic edit of the AWS config file, its failures as AwsConfigFileError."""
    try:
        edit_ini(target, edit, environ=environ)
    except JcsamlError:
        raise  # a lock that timed out, a file others can write: said as themselves
    except IniSyntaxError as exc:
        raise AwsConfigFileError(
            path=str(target), reason=f"line {exc.line}: {exc.reason}"
        ) from None
    except OSError as exc:
        raise AwsConfigFileError(path=str(target), reason=exc.strerror or str(exc)) from None


def add_missing_regions(
    regions: Mapping[str, str],
    *,
    environ: Mapping[str, str] = os.environ,
    path: Path | None = None,
) -> list[str]:
    """Give each profile of ``regions`` (profile -> region) that region in the AWS config file,
    only when its section has none: a region the user set is never changed, and every other
    line of the file stays as it was, byte for byte. One locked, atomic rewrite; returns the
    profiles that got one. Raises what :func:`set_profile_values` raises."""
    target = path or config_file_path(environ)
    wanted = {profile: region for profile, region in regions.items() if region}
    if not wanted:
        return []
    current = _read(target)
    if current is not None and all(
        (current.section(_find_section(current, p) or section_name(p)) or {}).get("region")
        for p in wanted
    ):
        return []  # nothing to add: the file is not even rewritten
    added: list[str] = []

    def edit(document: IniDocument) -> None:
        added.clear()
        for profile, region in wanted.items():
            name = _find_section(document, profile) or section_name(profile)
            if (document.section(name) or {}).get("region", "").strip():
                continue
            document.update_section(name, {"region": region})
            added.append(profile)

    _edit(target, edit, environ)
    return added


def account_region(
    own: str | None, profile: str, *, environ: Mapping[str, str] = os.environ
) -> str | None:
    """The region for the profiles an account writes: the account's ``region`` (``own``),
    else the region of the account's own profile in the AWS config file."""
    return own or profile_region(profile, environ=environ)


def child_region(
    profile: str, *, own: str | None = None, environ: Mapping[str, str] = os.environ
) -> str | None:
    """The region a command run with ``profile``'s credentials should use.

    ``own`` (the jcsaml account's ``region``) wins; then the shell's ``AWS_REGION`` or
    ``AWS_DEFAULT_REGION`` (the SDKs prefer them to the config file too); then the profile's
    ``region`` in the AWS config file, which the command would not find itself because its
    environment names no profile.
    """
    return (
        own
        or environ.get("AWS_REGION")
        or environ.get("AWS_DEFAULT_REGION")
        or profile_region(profile, environ=environ)
    )
