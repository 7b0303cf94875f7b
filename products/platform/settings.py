"""The platform's settings from portfolio.yaml, published as SSM parameters under each tier's path.

The products read them there (`generator.cfn.names.tier_setting`) instead of asking at launch:
a template through dynamic references, a personal hub's boot script at run time. SSM refuses an
empty value, so a setting that is not set (an LDAP lookup account, say) is not published; the
products are built from the same portfolio.yaml and never read it.
"""

from __future__ import annotations

from generator.cfn import names
from generator.cfn.product import SsmValue
from generator.model.config import Platform, Tier


def _logical_id(tier: Tier, name: str) -> str:
    words = name.replace("/", "-").split("-")
    return f"{tier.logical_id}Setting" + "".join(w.capitalize() for w in words)


def tier_settings(platform: Platform, tier: Tier) -> dict[str, str]:
    """SSM name -> value of each setting of `tier` (its own network, else the platform's)."""
    network = tier.network or platform.network
    identity = platform.identity
    dns = platform.dns
    values: dict[str, str | None] = {
        names.VPC_ID_SETTING: network.vpc_id,
        names.SERVER_SUBNETS_SETTING: ",".join(network.server_subnets),
        names.FIRST_SERVER_SUBNET_SETTING: network.server_subnets[0],
        names.SECOND_SERVER_SUBNET_SETTING: network.server_subnets[1],
        names.FIRST_LOAD_BALANCER_SUBNET_SETTING: network.load_balancer_subnets[0],
        names.SECOND_LOAD_BALANCER_SUBNET_SETTING: network.load_balancer_subnets[1],
        names.AUTH_MODE_SETTING: identity.mode,
        names.IDENTITY_GROUP_SETTING: tier.identity_group,
        names.ADMIN_GROUP_SETTING: tier.admin_group,
        names.HOSTED_ZONE_ID_SETTING: dns.hosted_zone_id,
        names.CERTIFICATE_ARN_SETTING: dns.certificate_arn,
        names.HUB_HOST_NAME_SUFFIX_SETTING: dns.host_name_suffix(tier.name),
        names.OWNER_PRINCIPAL_PATTERN_SETTING: platform.owner.principal_pattern,
    }
    if identity.oidc is not None:
        oidc = identity.oidc
        values |= {
            names.OIDC_ISSUER_SETTING: oidc.issuer_url,
            names.OIDC_CLIENT_ID_SETTING: oidc.client_id,
            names.OIDC_CLIENT_SECRET_SETTING: oidc.client_secret_name.format(tier=tier.name),
            names.OIDC_USERNAME_CLAIM_SETTING: oidc.username_claim,
            names.OIDC_GROUPS_CLAIM_SETTING: oidc.groups_claim,
        }
    if identity.ldap is not None:
        ldap = identity.ldap
        secret = ldap.bind_password_secret_name
        values |= {
            names.LDAP_URL_SETTING: ldap.url,
            names.LDAP_BIND_DN_TEMPLATE_SETTING: ldap.bind_dn_template,
            names.LDAP_GROUP_SEARCH_BASE_SETTING: ldap.group_search_base,
            names.LDAP_BIND_USER_DN_SETTING: ldap.bind_user_dn,
            names.LDAP_BIND_PASSWORD_SECRET_SETTING: secret.format(tier=tier.name)
            if secret
            else None,
        }
    return {
        pattern.format(tier=tier.name): value
        for pattern, value in values.items()
        if value is not None
    }


def settings_parameters(platform: Platform, tier: Tier) -> list[SsmValue]:
    """The SSM parameters of `tier`'s settings, for its template."""
    prefix = names.TIER_SETTINGS.format(tier=tier.name)
    return [
        SsmValue(
            _logical_id(tier, name.removeprefix(prefix)),
            name,
            value,
            f"labcatalog tier {tier.name}: setting {name.removeprefix(prefix)} (portfolio.yaml)",
        )
        for name, value in tier_settings(platform, tier).items()
    ]
