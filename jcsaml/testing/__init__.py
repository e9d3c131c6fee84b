"""Test infrastructure shipped with jcsaml, for its own tests and for tools built on it.

Needs the ``testing`` extra (``pip install 'jcsaml[testing]'``: moto, pyotp, pytest); a module used
without it says so in one line (:func:`require`). Everything listens on 127.0.0.1 only.

- :mod:`jcsaml.testing.jumpcloud`: ``FakeJumpCloud``, a real HTTP(S) server speaking JumpCloud's
  sign-in protocol (TOTP, push, WebAuthn, sessions, faults); :mod:`jcsaml.testing.tenant`: the
  users, applications and sign-in state it serves.
- :mod:`jcsaml.testing.sts`: ``LocalAws``, moto's STS and IAM with an AssumeRoleWithSAML as
  strict as AWS's.
- :mod:`jcsaml.testing.idp`: IdP key pairs and signed SAML Responses.
- :mod:`jcsaml.testing.replay`: recorded JumpCloud exchanges and a server that replays them.
- :mod:`jcsaml.testing.authenticator` and :mod:`jcsaml.testing.webauthn_verify`: a software
  security key and the relying party's checks.
- :mod:`jcsaml.testing.fakes`, :mod:`jcsaml.testing.contracts`: in-memory fakes of jcsaml's own
  interfaces and the contract tests they share with the real implementations.
- :mod:`jcsaml.testing.keyring_backend`: a file keyring for tests that span processes.
- :mod:`jcsaml.testing.demo`: the demo (``python -m jcsaml.testing.demo``).
"""


def require(module: str, *, needed_by: str) -> None:
    """Import ``module`` (a package of the ``testing`` extra), or fail with one line that says
    what needs it and how to install it, instead of a bare ModuleNotFoundError."""
    import importlib

    try:
        importlib.import_module(module)
    except ImportError:
        raise ImportError(
            f"{needed_by} needs {module.split('.')[0]}, from the testing extra: "
            "pip install 'jcsaml[testing]'"
        ) from None
