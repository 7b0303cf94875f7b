"""Names that the personal-hub template, the platform stack and the launch role must agree on.

The platform stack is deployed before any personal hub, so its policies scope what a tier may
touch by these names and tags; the template creates resources that carry them.
"""

from __future__ import annotations

from generator.cfn import names as _names
from generator.cfn.names import NAME_PREFIX

# Tags on every resource of a personal hub; IAM conditions in the launch role match the first.
from generator.cfn.names import OWNER_TAG as OWNER_TAG
from generator.cfn.names import PRODUCT_TAG as PRODUCT_TAG
from generator.cfn.names import TIER_TAG as TIER_TAG

PRODUCT = "personal-hub"


# The tier's instance role and profile, created by the platform (the launch role cannot).
INSTANCE_ROLE = _names.PERSONAL_HUB_ROLE
INSTANCE_PROFILE_PARAMETER = _names.PERSONAL_HUB_INSTANCE_PROFILE_PARAMETER
# Secrets a personal hub may read at boot (OIDC client secret, LDAP bind password): only these,
# so code in a notebook, which runs with the instance role, cannot read the shared hub's secrets.
SECRETS = _names.PERSONAL_HUB_SECRETS

# SSM Automation documents of the self-service actions, created once by the platform stack.
DOCUMENT = NAME_PREFIX + "-PersonalHub-{action}"
# The tier's role the documents' steps run as (Systems Manager assumes it), made by the platform.
ACTION_ROLE = _names.PERSONAL_HUB_ACTION_ROLE

# The hub listens here on the instance's loopback; users forward the same port to their laptop.
HUB_PORT = 8000
