"""The shared hub's conditions (which resources a launch creates) and its launch-time rules.

Both read the console parameters of `products/shared_hub/parameters.py`.
"""

from __future__ import annotations

from troposphere import Equals, Not, Ref, Template

# Condition names, used by the resources.
NEW_LOAD_BALANCER = "CreateLoadBalancer"
EXISTING_LISTENER = "AttachToExistingListener"
ACCOUNT_LOAD_BALANCER = "UseAccountLoadBalancer"
OWN_RULE = "MakeListenerRule"  # a new load balancer's or an existing listener's rule
PLATFORM_IMAGE = "UsePlatformImageRepository"
PUBLISHED_TAG = "UsePublishedImageTag"
FARGATE_SPOT = "UseFargateSpot"
HUB_SCHEDULE = "HubRunsOnSchedule"


def add_conditions(t: Template) -> None:
    t.add_condition(NEW_LOAD_BALANCER, Equals(Ref("LoadBalancer"), "new"))
    t.add_condition(EXISTING_LISTENER, Equals(Ref("LoadBalancer"), "existing"))
    t.add_condition(ACCOUNT_LOAD_BALANCER, Equals(Ref("LoadBalancer"), "account"))
    t.add_condition(OWN_RULE, Not(Equals(Ref("LoadBalancer"), "account")))
    t.add_condition(PLATFORM_IMAGE, Equals(Ref("HubImageRepository"), ""))
    t.add_condition(PUBLISHED_TAG, Equals(Ref("HubImageTag"), ""))
    t.add_condition(FARGATE_SPOT, Equals(Ref("FargateSpot"), "true"))
    t.add_condition(HUB_SCHEDULE, Not(Equals(Ref("HubHours"), "")))


def add_rules(t: Template) -> None:
    """Launch-time checks across parameters, shown in the console before anything is created.

    None tests a parameter the build binds (the load balancer's: a rule would stop `bind`);
    portfolio.yaml's validation checks an existing listener's settings instead."""
    t.add_rule(
        "DefaultSizeIsOffered",
        {
            "Assertions": [
                {
                    "Assert": {
                        "Fn::Contains": [{"Ref": "ServerSizes"}, {"Ref": "DefaultServerSize"}]
                    },
                    "AssertDescription": "The default server size must be one users may pick",
                }
            ]
        },
    )
