"""jcsaml: sign in to JumpCloud and get temporary AWS credentials through SAML.

``import jcsaml`` stays cheap: the login machinery is imported on first use.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing itself is not imported: ``import jcsaml`` runs on every command

__version__ = "0.1.0"
__all__ = [
    "Account",
    "AwsCredentials",
    "JcsamlError",
    "__version__",
    "credentials",
    "load_account",
    "login",
    "session",
]

if TYPE_CHECKING:
    from typing import Any

    from jcsaml.boto_session import session
    from jcsaml.config import Account, load_account
    from jcsaml.credential_source import credentials
    from jcsaml.credentials import AwsCredentials
    from jcsaml.errors import JcsamlError
    from jcsaml.signin import login

_LAZY = {
    "Account": "jcsaml.config",
    "load_account": "jcsaml.config",
    "AwsCredentials": "jcsaml.credentials",
    # jcsaml.credentials is also the module of AwsCredentials: importing it makes the package
    # attribute that module, which is callable for this reason (see jcsaml/credentials.py).
    "credentials": "jcsaml.credential_source",
    "JcsamlError": "jcsaml.errors",
    "login": "jcsaml.signin",
    "session": "jcsaml.boto_session",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'jcsaml' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
