"""What a tier's end users need for their personal hubs: reach them, and run their actions.

These statements join the tier's end-user policy (`products/platform/end_users.py`), which the
platform attaches to the tier's principals.

Reaching a hub is a Session Manager port forward (README, "Using your personal hub"). A user may
start a session only:
- with the document `AWS-StartPortForwardingSession` (`ssm:SessionDocumentAccessCheck` makes
  Session Manager check the document, so the default shell document, or
  `AWS-StartInteractiveCommand`, is refused: no shell on any instance, one's own included);
- on a personal hub of this tier whose owner tag is the user's own. Who the user is comes from
  IAM: `aws:username` for IAM users, or the principal tag `labcatalog:owner` for everyone else
  (federated roles, Identity Center), which the identity provider sets as a session tag from the
  same user name the hub logs in with. A role session's name is chosen by whoever assumes the
  role, so it is never trusted as a name; a principal without the tag reaches no hub.
and may end or resume only the sessions it started itself.

Running a self-service action: Service Catalog starts the action's SSM Automation document with
the user's rights, passing the tier's action role (`action_role.py`), so the user needs
`ssm:StartAutomationExecution` on labcatalog's documents and `iam:PassRole` on that one role,
for Systems Manager only, as AWS's service-action tutorial lists.
"""

from __future__ import annotations

import awacs.cloudformation as cloudformation
import awacs.iam as iam
import awacs.servicecatalog as servicecatalog
import awacs.ssm as ssm
from awacs.aws import Allow, BoolIfExists, Condition, Statement, StringEquals, StringLike
from troposphere import Sub

from generator.cfn.policies import regional_arn
from products.personal_hub import names
from products.personal_hub.action_role import SSM

PORT_FORWARDING_DOCUMENT = "AWS-StartPortForwardingSession"
# Who the user is, by IAM: an IAM user's name, or the principal tag the identity provider sets.
USER_NAMES = {
    "IamUser": "${aws:username}",
    "TaggedPrincipal": "${aws:PrincipalTag/" + names.OWNER_TAG + "}",
}
STACK_PREFIX = "SC-"  # Service Catalog's stacks


def port_forwarding_statements(tier: str) -> list[Statement]:
    """Port forwarding to one's own personal hubs of `tier`, nothing else of Session Manager."""
    statements = [
        Statement(
            Sid=f"PortForwardToOwnHubAs{who}",
            Effect=Allow,
            Action=[ssm.StartSession],
            Resource=[regional_arn("ec2", "instance/*")],
            Condition=Condition(
                [
                    StringEquals(
                        {
                            f"ssm:resourceTag/{names.OWNER_TAG}": user_name,
                            f"ssm:resourceTag/{names.TIER_TAG}": tier,
                            f"ssm:resourceTag/{names.PRODUCT_TAG}": names.PRODUCT,
                        }
                    ),
                    BoolIfExists("ssm:SessionDocumentAccessCheck", "true"),
                ]
            ),
        )
        for who, user_name in USER_NAMES.items()
    ]
    return [
        *statements,
        Statement(
            Sid="OnlyThePortForwardingDocument",
            Effect=Allow,
            Action=[ssm.StartSession],
            # AWS's own document, named with or without an account in its ARN; no one else
            # may create a document whose name starts with AWS-.
            Resource=[
                Sub(
                    "arn:${AWS::Partition}:ssm:${AWS::Region}:*:document/"
                    + PORT_FORWARDING_DOCUMENT
                )
            ],
        ),
        Statement(
            Sid="EndOrResumeOwnSessions",
            Effect=Allow,
            Action=[ssm.TerminateSession, ssm.ResumeSession],
            Resource=[regional_arn("ssm", "session/*")],
            Condition=Condition(
                StringLike("ssm:resourceTag/aws:ssmmessages:session-id", ["${aws:userid}"])
            ),
        ),
    ]


def action_statements(tier: str) -> list[Statement]:
    """Running the personal hub's self-service actions on one's own provisioned products."""
    documents = names.DOCUMENT.format(action="*")
    return [
        Statement(
            Sid="RunSelfServiceActionsOnOwnProducts",
            Effect=Allow,
            Action=[
                servicecatalog.ExecuteProvisionedProductServiceAction,
                servicecatalog.DescribeServiceActionExecutionParameters,
                servicecatalog.ListServiceActionsForProvisioningArtifact,
            ],
            Resource=["*"],
            Condition=Condition(StringEquals("servicecatalog:userLevel", "self")),
        ),
        Statement(
            Sid="StartTheActionsDocuments",
            Effect=Allow,
            Action=[ssm.StartAutomationExecution],
            Resource=[
                regional_arn("ssm", f"automation-definition/{documents}:*"),
                regional_arn("ssm", f"document/{documents}"),
                regional_arn("ssm", "automation-execution/*"),
            ],
        ),
        Statement(
            Sid="WatchActions",
            Effect=Allow,
            Action=[
                ssm.GetAutomationExecution,
                ssm.DescribeAutomationStepExecutions,
                ssm.DescribeDocument,
            ],
            Resource=[
                regional_arn("ssm", "automation-execution/*"),
                regional_arn("ssm", f"document/{documents}"),
            ],
        ),
        Statement(
            Sid="PassTheTiersActionRoleToSystemsManager",
            Effect=Allow,
            Action=[iam.PassRole],
            Resource=[
                Sub(
                    "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/"
                    + names.ACTION_ROLE.format(tier=tier)
                )
            ],
            Condition=Condition(StringEquals("iam:PassedToService", SSM)),
        ),
        Statement(
            Sid="FindTheActionsTarget",
            Effect=Allow,
            # Service Catalog finds the instance an action targets in the product's stack.
            Action=[cloudformation.ListStackResources],
            Resource=[regional_arn("cloudformation", f"stack/{STACK_PREFIX}*/*")],
        ),
    ]


def end_user_statements(tier: str) -> list[Statement]:
    """Everything the personal hub adds to `tier`'s end-user policy."""
    return [*port_forwarding_statements(tier), *action_statements(tier)]
