"""The `personal-hub` product: one EC2 instance per data scientist running the hub image.

`template.py` builds the product template; `platform.py` adds what the product needs to the
platform stack (the launch role may not create IAM roles); `launch.py` lists what the tier's
launch role may do for it; `automation.py` and `service_actions.py` define the self-service
actions (start, stop, resize) that users run from the Service Catalog console.
"""
