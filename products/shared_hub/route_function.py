"""A shared hub's host-name rule on the account's HTTPS listener (custom resource Custom::HubRoute).

Each tier has one of these functions (Lambda, Python 3.12), and only that tier's launch role may
invoke it. IAM cannot restrict the host name of a listener rule, so the function chooses it: the
hub's name followed by its own tier's suffix. It forwards only to a target group tagged with its
tier and changes or deletes only rules it tagged with its tier, under a tag key launch roles may
not touch. So no tier can take, move or remove another tier's host name.

It runs alone: the standard library and boto3 only, nothing of the project. The template embeds
it without comments and docstrings (route_code.inline_source), within CloudFormation's 4096
characters of inline code: keep it short.
"""

import json
import os
import re
import urllib.request

import boto3

TIER = os.environ.get("TIER")
LISTENER = os.environ.get("LISTENER_ARN", "")
SUFFIX = os.environ.get("HOST_NAME_SUFFIX")
# Not the tier tag: launch roles may change what carries their tier's tag.
ROUTE_TIER_TAG = "labcatalog:route-tier"
HUB_NAME = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
PAGE_SIZE = 400
elb = boto3.client("elbv2")


class Refused(Exception):
    """A request the function will not carry out; the message is what CloudFormation shows."""


def handler(event, context):
    """Carry out one CloudFormation request and always answer it, FAILED when anything raises."""
    kind, old_id = event.get("RequestType"), event.get("PhysicalResourceId")
    # A Create that fails names no rule: the rollback's Delete would remove it.
    body = {"Status": "SUCCESS", "PhysicalResourceId": old_id or "none", "Data": {}}
    try:
        print(kind, old_id, event.get("ResourceProperties"))
        if kind == "Delete":
            delete(old_id)
        else:
            body["PhysicalResourceId"], body["Data"]["HostName"] = put(event, old_id)
    except Exception as error:
        body.update(Status="FAILED", Reason=(str(error) or repr(error))[:500])
        print("FAILED:", body["Reason"])
    for key in ("StackId", "RequestId", "LogicalResourceId"):
        body[key] = event[key]
    # The URL is pre-signed for an empty Content-Type.
    request = urllib.request.Request(
        event["ResponseURL"], json.dumps(body).encode(), {"Content-Type": ""}, method="PUT"
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        print("answered", response.status)


def put(event, old_id):
    """Create or Update: (the id of the rule that routes the hub's host name, the host name)."""
    new, old = event["ResourceProperties"], event.get("OldResourceProperties") or {}
    name, target = new.get("HubName", ""), new.get("TargetGroupArn", "")
    if not HUB_NAME.fullmatch(name):
        raise Refused(f"HubName {name!r}: a-z, 0-9 and inner hyphens, at most 63")
    host = name + SUFFIX
    if (old.get("HubName"), old.get("TargetGroupArn")) == (name, target):
        return old_id, host
    if tags(target).get("labcatalog:tier") != TIER:
        raise Refused(f"target group {target} is not tier {TIER}'s")
    # Only the target group changed: the old rule holds the host name, so it changes in place.
    rule = old.get("HubName") == name and own_rule(old_id)
    if rule and host in hosts(rule):
        elb.modify_rule(RuleArn=old_id, Actions=forward(target))
        print("forwards to", target)
        return old_id, host
    return create(host, target), host


def create(host, target):
    """A new rule at the lowest free priority, trying again if another takes it meanwhile."""
    taken = Refused(f"host name {host} is already routed by another rule")
    for _ in range(5):
        rules = listener_rules()
        if holders(host, rules):
            raise taken
        used = {rule["Priority"] for rule in rules}
        priority = next(p for p in range(1, 50001) if str(p) not in used)
        try:
            arn = elb.create_rule(
                ListenerArn=LISTENER,
                Priority=priority,
                Conditions=[{"Field": "host-header", "HostHeaderConfig": {"Values": [host]}}],
                Actions=forward(target),
                Tags=[
                    {"Key": ROUTE_TIER_TAG, "Value": TIER},
                    {"Key": "labcatalog:stack", "Value": "shared-hub"},
                ],
            )["Rules"][0]["RuleArn"]
        except elb.exceptions.PriorityInUseException:
            print("priority taken:", priority)
            continue
        # Two hubs of one name launched at once both passed the check: each looks again, once
        # its rule exists, and backs out if another is there, so at most one keeps the name.
        if holders(host, listener_rules()) != [arn]:
            elb.delete_rule(RuleArn=arn)
            raise taken
        print("created", arn, priority)
        return arn
    raise Refused("no free priority")


def delete(arn):
    """Delete the tier's rule `arn`; what is not on the listener is already gone."""
    if own_rule(arn):
        elb.delete_rule(RuleArn=arn)
        print("deleted")


def own_rule(arn):
    """The rule `arn` of the listener if it exists and is the tier's; None if not there."""
    if not arn.startswith(LISTENER.replace(":listener/", ":listener-rule/", 1) + "/"):
        return None
    try:
        rule = elb.describe_rules(RuleArns=[arn])["Rules"][0]
    except elb.exceptions.RuleNotFoundException:
        return None
    if tags(arn).get(ROUTE_TIER_TAG) != TIER:
        raise Refused(f"rule {arn} is not tier {TIER}'s")
    return rule


def listener_rules():
    """Every rule of the listener, page by page (the paginator is in botocore 1.34 already)."""
    pages = elb.get_paginator("describe_rules").paginate(
        ListenerArn=LISTENER, PaginationConfig={"PageSize": PAGE_SIZE}
    )
    return [rule for page in pages for rule in page["Rules"]]


def holders(host, rules):
    """The ARNs of the rules that route `host`."""
    return [r["RuleArn"] for r in rules if host in hosts(r)]


def hosts(rule):
    """The host names of a rule's host-header conditions, in lower case."""
    conditions = [c for c in rule["Conditions"] if c["Field"] == "host-header"]
    return {v.lower() for c in conditions for v in c.get("HostHeaderConfig", c)["Values"]}


def tags(arn):
    """The tags of one load-balancing resource."""
    found = elb.describe_tags(ResourceArns=[arn])["TagDescriptions"][0]["Tags"]
    return {t["Key"]: t["Value"] for t in found}


def forward(target):
    return [{"Type": "forward", "TargetGroupArn": target}]
