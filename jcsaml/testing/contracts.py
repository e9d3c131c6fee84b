"""Contract tests: what every implementation of a jcsaml interface must do.

Subclass a contract in a test module, name the subclass ``Test...`` so pytest collects it, and
implement the hook that builds the implementation under test::

    class TestMyStore(CredentialsStoreContract):
        def make_store(self, tmp_path: Path) -> CredentialsStore:
            return MyStore(tmp_path / "store")

Needs pytest (the ``testing`` extra).
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

from jcsaml.testing import require

require("pytest", needed_by="jcsaml.testing.contracts")

import pytest  # noqa: E402 - after the check that explains a missing pytest

from jcsaml.aws_credentials import AwsCredentials  # noqa: E402
from jcsaml.credentials_file import CredentialsStore  # noqa: E402


def sample_credentials(
    serial: int = 1, *, account: str = "012345678987", region: str | None = None
) -> AwsCredentials:
    """Distinct, well-formed credentials for ``serial``: whole-second expiry in UTC, a role
    without a path and the matching assumed-role ARN (what every store can keep exactly)."""
    expiration = datetime(2030, 1, 1, tzinfo=UTC) + timedelta(hours=serial)
    return AwsCredentials(
        access_key_id=f"ASIAEXAMPLE{serial:09d}",
        secret_access_key=f"secret/{serial:04d}+EXAMPLEKEYEXAMPLEKEYEXAMPLEKEY",
        session_token=f"FwoGZXIvYXdzEXAMPLE{serial:06d}//token=",
        expiration=expiration,
        role_arn=f"arn:aws:iam::{account}:role/Role{serial}",
        assumed_role_arn=f"arn:aws:sts::{account}:assumed-role/Role{serial}/alice@acme.example",
        region=region,
    )


class CredentialsStoreContract:
    """The behaviour every :class:`~jcsaml.credentials_file.CredentialsStore` shares."""

    def make_store(self, tmp_path: Path) -> CredentialsStore:
        """Build a new, empty store; ``tmp_path`` is a fresh directory it may use."""
        raise NotImplementedError

    @pytest.fixture
    def store(self, tmp_path: Path) -> CredentialsStore:
        return self.make_store(tmp_path)

    def test_saved_credentials_load_back_equal(self, store: CredentialsStore) -> None:
        credentials = sample_credentials(1, region="eu-west-1")
        store.save("production", credentials)
        assert store.load("production") == credentials

    def test_credentials_without_region_load_back_equal(self, store: CredentialsStore) -> None:
        credentials = sample_credentials(2)
        store.save("dev", credentials)
        assert store.load("dev") == credentials

    def test_missing_profile_loads_as_none(self, store: CredentialsStore) -> None:
        assert store.load("nowhere") is None
        store.save("production", sample_credentials(1))
        assert store.load("nowhere") is None

    def test_save_replaces_the_profiles_credentials(self, store: CredentialsStore) -> None:
        store.save("production", sample_credentials(1, region="eu-west-1"))
        newer = sample_credentials(2, region="us-east-1")
        store.save("production", newer)
        assert store.load("production") == newer

    def test_delete_forgets_the_profile(self, store: CredentialsStore) -> None:
        store.save("production", sample_credentials(1))
        assert store.delete("production") is True
        assert store.load("production") is None
        assert store.delete("production") is False

    def test_delete_of_missing_profile_is_false(self, store: CredentialsStore) -> None:
        assert store.delete("nowhere") is False

    def test_profiles_are_independent(self, store: CredentialsStore) -> None:
        first = sample_credentials(1, region="eu-west-1")
        second = dataclasses.replace(sample_credentials(2), expiration=first.expiration)
        store.save("production", first)
        store.save("dev", second)
        assert store.load("production") == first
        assert store.load("dev") == second
        store.save("dev", sample_credentials(3))
        assert store.delete("dev") is True
        assert store.load("production") == first
        assert store.load("dev") is None

    def test_save_many_saves_every_profile(self, store: CredentialsStore) -> None:
        store.save("production", sample_credentials(1))
        newer = {"production": sample_credentials(2), "dev": sample_credentials(3)}
        store.save_many(newer)
        assert store.load("production") == newer["production"]
        assert store.load("dev") == newer["dev"]
        store.save_many({})
        assert store.load("dev") == newer["dev"]
