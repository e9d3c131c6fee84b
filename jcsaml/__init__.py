"""jcsaml: sign in to JumpCloud and get temporary AWS credentials through SAML.

``import jcsaml`` stays cheap: the login machinery is imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"
__all__ = [
    "Account",
    "AwsCredentials",
    "JcsamlError",
    "RoleResult",
    "__version__",
    "credentials",
    "discover_applications",
    "load_account",
    "login",
    "login_many",
    "session",
]

if TYPE_CHECKING:
    from typing import Any

    from jcsaml.aws_credentials import AwsCredentials
    from jcsaml.boto_session import session
    from jcsaml.config import Account, load_account
    from jcsaml.credential_source import credentials
    from jcsaml.discovery import discover_applications
    from jcsaml.errors import JcsamlError
    from jcsaml.multi import RoleResult, login_many
    from jcsaml.signin import login

_LAZY = {
    "Account": "jcsaml.config",
    "load_account": "jcsaml.config",
    "AwsCredentials": "jcsaml.aws_credentials",
    "credentials": "jcsaml.credential_source",
    "JcsamlError": "jcsaml.errors",
    "login": "jcsaml.signin",
    "login_many": "jcsaml.multi",
    "RoleResult": "jcsaml.multi",
    "discover_applications": "jcsaml.discovery",
    "session": "jcsaml.boto_session",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'jcsaml' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
