"""How the shared hub signs users in: the identity provider of the platform's settings.

portfolio.yaml chooses OIDC or LDAP once for the platform, so the template carries only that
provider's variables, each read from the tier's settings (`generator.cfn.names`) when the stack
is launched; the secret's value reaches the hub from Secrets Manager by the name the settings give
(ECS takes a secret's name for one in the task's region). A setting portfolio.yaml leaves out is
not published (SSM holds no empty value), and not read.
"""

from __future__ import annotations

from troposphere import Sub
from troposphere.ecs import Secret

from generator.cfn import names
from generator.model.config import Identity
from products.shared_hub import stack


def environment(identity: Identity) -> dict[str, Sub]:
    """The identity provider's variables of the hub container (hub_image/environment.md)."""
    if identity.oidc is not None:
        settings = {
            "LABCATALOG_OIDC_ISSUER": names.OIDC_ISSUER_SETTING,
            "LABCATALOG_OIDC_CLIENT_ID": names.OIDC_CLIENT_ID_SETTING,
            "LABCATALOG_OIDC_GROUPS_CLAIM": names.OIDC_GROUPS_CLAIM_SETTING,
            "LABCATALOG_OIDC_USERNAME_CLAIM": names.OIDC_USERNAME_CLAIM_SETTING,
        }
    else:
        assert identity.ldap is not None  # the model requires one of them
        settings = {
            "LABCATALOG_LDAP_URL": names.LDAP_URL_SETTING,
            "LABCATALOG_LDAP_BIND_DN_TEMPLATE": names.LDAP_BIND_DN_TEMPLATE_SETTING,
        }
        if identity.ldap.group_search_base:
            settings["LABCATALOG_LDAP_GROUP_SEARCH_BASE"] = names.LDAP_GROUP_SEARCH_BASE_SETTING
        if identity.ldap.bind_user_dn:
            settings["LABCATALOG_LDAP_BIND_USER_DN"] = names.LDAP_BIND_USER_DN_SETTING
    return {variable: stack.tier_value(setting) for variable, setting in settings.items()}


def secrets(identity: Identity) -> list[Secret]:
    """The identity provider's secret, if it has one, by the name in the tier's settings."""
    if identity.oidc is not None:
        secret = stack.tier_value(names.OIDC_CLIENT_SECRET_SETTING)
        return [Secret(Name="LABCATALOG_OIDC_CLIENT_SECRET", ValueFrom=secret)]
    if identity.ldap is not None and identity.ldap.bind_password_secret_name:
        secret = stack.tier_value(names.LDAP_BIND_PASSWORD_SECRET_SETTING)
        return [Secret(Name="LABCATALOG_LDAP_BIND_PASSWORD", ValueFrom=secret)]
    return []
