"""Test support: local servers (moto, JupyterHub, OIDC, LDAP), fakes and helpers; no tests here."""
