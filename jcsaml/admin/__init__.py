"""What an administrator sets up once, before anyone can log in (``jcsaml setup``).

- :mod:`jcsaml.admin.openssl_config`: reading the openssl-style request config (``production.cnf``).
- :mod:`jcsaml.admin.certificate`: the IdP signing key and its self-signed certificate.
- :mod:`jcsaml.admin.metadata`: SAML IdP metadata, built from a certificate or read from a file.
- :mod:`jcsaml.admin.partition`: the managed policies a role gets, per AWS partition.
- :mod:`jcsaml.admin.trust`: role trust policies for a SAML provider.
- :mod:`jcsaml.admin.iam_setup`: planning and applying the IAM SAML provider and roles.
- :mod:`jcsaml.admin.iam_check`: reading IAM back and naming what would make login fail.

Nothing here is imported by the login path; boto3 and cryptography are imported inside the
functions that use them.
"""
