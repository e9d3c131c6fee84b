"""A keyring backend for tests only: a JSON file shared by the processes of one test.

Select it with ``PYTHON_KEYRING_BACKEND=jcsaml.testing.keyring_backend.FileKeyring`` and
``JCSAML_TEST_KEYRING=<path in a temporary directory>``. It keeps secrets in plain text, which is
what a test wants to inspect and what jcsaml itself never does: never use it outside tests.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError

ENVIRONMENT_VARIABLE = "JCSAML_TEST_KEYRING"


class FileKeyring(KeyringBackend):
    priority = 1

    @property
    def path(self) -> Path:
        value = os.environ.get(ENVIRONMENT_VARIABLE)
        if not value:
            raise RuntimeError(f"{ENVIRONMENT_VARIABLE} is not set")
        return Path(value)

    def _load(self) -> dict[str, str]:
        try:
            loaded: dict[str, str] = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        return loaded

    def _store(self, values: dict[str, str]) -> None:
        self.path.write_text(json.dumps(values, indent=1), encoding="utf-8")

    def get_password(self, service: str, username: str) -> str | None:
        return self._load().get(f"{service}\n{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        values = self._load()
        values[f"{service}\n{username}"] = password
        self._store(values)

    def delete_password(self, service: str, username: str) -> None:
        values = self._load()
        if values.pop(f"{service}\n{username}", None) is None:
            raise PasswordDeleteError("not found")
        self._store(values)

    def entries(self) -> dict[str, str]:
        """Everything stored, keyed ``service\\nusername`` (for assertions in tests)."""
        return self._load()
