"""The `personal-hub` product: one EC2 instance per data scientist running the hub image.

`template.py` builds the product template; `config.py` reads its entry in portfolio.yaml;
`platform.py` adds what the product needs to the platform stack (the launch role may not create
IAM roles); `launch.py` lists what the tier's launch role may do for it; `automation.py` and
`service_actions.py` define the self-service actions (start, stop, resize) that users run from
the Service Catalog console. `PRODUCT` is what the engine finds through the
`labcatalog.products` entry point.
"""

from __future__ import annotations

from generator.cfn.product import Product
from products.personal_hub import names, platform, service_actions, template
from products.personal_hub.config import PersonalHubProduct

PRODUCT = Product(
    key=names.PRODUCT,
    config=PersonalHubProduct,
    description="One EC2 instance per user that stops when idle.",
    build=template.build,
    add_to_platform=platform.add_to_platform,
    add_to_tier=platform.add_to_tier,
    service_actions=service_actions.configured,
)
