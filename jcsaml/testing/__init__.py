"""Test infrastructure shipped with jcsaml, for its own tests and for tools built on it.

Needs the ``test`` extra (``pip install 'jcsaml[test]'``). Everything listens on 127.0.0.1 only.

- :mod:`jcsaml.testing.jumpcloud`: ``FakeJumpCloud``, a real HTTP(S) server speaking JumpCloud's
  sign-in protocol (TOTP, push, WebAuthn, sessions, faults).
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
