"""The `shared-hub` product: a JupyterHub per tier on ECS Fargate behind an HTTPS load balancer.

`template.py` builds the product template (with `parameters.py` and `network.py`);
`platform.py` adds what the product needs to the platform stack (each tier's task roles: the
launch role may not create IAM roles); `launch.py` lists what the tier's launch role may do for
it. `PRODUCT` is what the engine finds through the `labcatalog.products` entry point.
"""

from __future__ import annotations

from generator.cfn.product import Product
from generator.model.config import Product as ProductConfig
from products.shared_hub import parameters, platform, template

PRODUCT = Product(
    key="shared-hub",
    config=ProductConfig,
    description="JupyterHub per tier on ECS Fargate behind an HTTPS load balancer.",
    build=template.build,
    add_to_platform=platform.add_to_platform,
    add_to_tier=platform.add_to_tier,
    bound_parameters=parameters.bound,
)
