"""What the personal hub needs from the platform stack, because its launch role may not create it.

The launch role has an explicit Deny on every IAM write, so the instance role and profile of each
tier, and the self-service actions' documents, are created here, once per account, and found by
the product through SSM parameters and fixed names (`products/personal_hub/names.py`).

The platform builder calls, when `products.personal-hub` is configured (see `PRODUCT` in
`products/personal_hub/__init__.py`):
- `add_to_platform` once: the documents and the alarm actions' service-linked role;
- `add_to_tier` per tier: the instance role and profile, the launch role's rights, the
  self-service actions' role (`action_role.py`) and the end users' rights (`end_users.py`).
"""

from __future__ import annotations

import awacs.cloudwatch as cloudwatch
import awacs.secretsmanager as secretsmanager
import awacs.ssm as ssm
import awacs.ssmmessages as ssmmessages
import awacs.sts as sts
from awacs.aws import Allow, Condition, PolicyDocument, Principal, Statement, StringEquals
from troposphere import (
    AWSHelperFn,
    Equals,
    GetAtt,
    Output,
    Parameter,
    Ref,
    Tags,
    Template,
)
from troposphere.iam import InstanceProfile, Role, ServiceLinkedRole
from troposphere.iam import Policy as RolePolicy
from troposphere.ssm import Document

from generator.cfn import names as platform_names
from generator.cfn import policies
from generator.cfn.product import (
    AccountContribution,
    LaunchPolicy,
    PassableRole,
    PlatformContext,
    SsmValue,
    TierContext,
    TierContribution,
)
from generator.cfn.tags import stack_tags
from products.hub_image.labcatalog_hub.activity import NAMESPACE as ACTIVITY_NAMESPACE
from products.personal_hub import action_role, automation, end_users, launch, names

ALARM_ROLE_PARAMETER = "CreateAlarmActionsRole"
ALARM_ROLE_CONDITION = "CreateAlarmActionsRole"


def _tags(**extra: str) -> Tags:
    return stack_tags("platform", **{names.PRODUCT_TAG: names.PRODUCT}, **extra)


def instance_trust_policy() -> PolicyDocument:
    return PolicyDocument(
        Version=policies.VERSION,
        Statement=[
            Statement(
                Effect=Allow,
                Principal=Principal("Service", [policies.EC2]),
                Action=[sts.AssumeRole],
            )
        ],
    )


def instance_policy(
    tier: str, repository_arn: AWSHelperFn, secrets_key_arn: AWSHelperFn | None = None
) -> PolicyDocument:
    """What a personal hub's instance needs: SSM, its image, its secrets, and its owner's
    credentials (the tier's data role, as the owner; labcatalog_hub/credentials.py).

    The hub's container and the instance's own processes have these rights; the owner's server
    containers do not reach the instance metadata service (the boot script's firewall rule), so
    they have no role of the instance's, only the owner's session from the hub. Nothing here is
    data: no other secrets than the personal hub's own, no write to ECR, no SSM beyond Session
    Manager's channel and the tier's settings (the identity provider's public values, the
    tier's groups).
    """
    settings = platform_names.TIER_SETTINGS.format(tier=tier).rstrip("/")
    statements = [
        Statement(
            Sid="RegisterWithSessionManager",
            Effect=Allow,
            Action=[ssm.UpdateInstanceInformation],
            Resource=[policies.regional_arn("ec2", "instance/*")],
        ),
        Statement(
            Sid="SessionManagerChannels",
            Effect=Allow,
            # Session Manager's message channels support no resource-level permissions.
            Action=[
                ssmmessages.CreateControlChannel,
                ssmmessages.CreateDataChannel,
                ssmmessages.OpenControlChannel,
                ssmmessages.OpenDataChannel,
            ],
            Resource=["*"],
        ),
        policies.ecr_login_statement(),
        policies.pull_image_statement(repository_arn),
        Statement(
            Sid="ReportHubActivity",
            Effect=Allow,
            # PutMetricData has no resources; the namespace condition keeps it to the hub's own.
            Action=[cloudwatch.PutMetricData],
            Resource=["*"],
            Condition=Condition(StringEquals({"cloudwatch:namespace": ACTIVITY_NAMESPACE})),
        ),
        policies.assume_data_role_statement(tier),
        Statement(
            Sid="ReadTierSettings",
            Effect=Allow,
            # The boot script reads them at every start (GetParametersByPath on their path).
            Action=[ssm.GetParametersByPath],
            Resource=[
                policies.regional_arn("ssm", f"parameter{settings}"),
                policies.regional_arn("ssm", f"parameter{settings}/*"),
            ],
        ),
        Statement(
            Sid="ReadPersonalHubSecrets",
            Effect=Allow,
            Action=[secretsmanager.GetSecretValue],
            Resource=[
                policies.regional_arn(
                    "secretsmanager", f"secret:{names.SECRETS.format(tier=tier)}*"
                )
            ],
        ),
    ]
    if secrets_key_arn is not None:
        statements.append(
            policies.decrypt_through_secrets_manager(
                "DecryptSecretsThroughSecretsManager", secrets_key_arn
            )
        )
    return PolicyDocument(Version=policies.VERSION, Statement=statements)


def add_instance_role(t: Template, tier: TierContext) -> tuple[GetAtt, SsmValue]:
    """A tier's personal-hub instance role and profile; returns the role's ARN and the SSM
    parameter that publishes the profile's name.

    The role has no data: it may assume the tier's data role for the hub's owner, whose
    servers get that session from the hub (`instance_policy`).
    """
    tid = tier.logical_id
    role = t.add_resource(
        Role(
            f"{tid}PersonalHubRole",
            RoleName=names.INSTANCE_ROLE.format(tier=tier.name),
            Description=(
                f"Personal hub instances of tier {tier.name}: SSM, hub image, its owner's "
                "credentials"
            ),
            AssumeRolePolicyDocument=instance_trust_policy(),
            Policies=[
                RolePolicy(
                    PolicyName="personal-hub-instance",
                    PolicyDocument=instance_policy(
                        tier.name, tier.platform.repository_arn, tier.platform.hub_key_arn
                    ),
                ),
            ],
            Tags=_tags(**{names.TIER_TAG: tier.name}),
        )
    )
    profile = t.add_resource(
        InstanceProfile(
            f"{tid}PersonalHubInstanceProfile",
            InstanceProfileName=names.INSTANCE_ROLE.format(tier=tier.name),
            Roles=[Ref(role)],
        )
    )
    t.add_output(Output(f"{tid}PersonalHubRoleArn", Value=GetAtt(role, "Arn")))
    parameter = SsmValue(
        f"{tid}PersonalHubInstanceProfileParameter",
        names.INSTANCE_PROFILE_PARAMETER.format(tier=tier.name),
        Ref(profile),
        f"labcatalog tier {tier.name}: personal hub instance profile name",
    )
    return GetAtt(role, "Arn"), parameter


def add_to_platform(t: Template, platform: PlatformContext) -> AccountContribution:
    """Once per account: the self-service actions' documents and the alarm actions' role."""
    add_documents(t)
    add_alarm_actions_role(t)
    return AccountContribution()


def add_to_tier(t: Template, tier: TierContext) -> TierContribution:
    """A tier's instance role (passed to EC2 at launch), the launch role's EC2 rights, the
    self-service actions' role, and what the tier's end users need for their hubs."""
    role_arn, parameter = add_instance_role(t, tier)
    action_role.add_action_role(t, tier)
    return TierContribution(
        passable_roles=(PassableRole(role_arn, policies.EC2),),
        launch_policies=tuple(
            # Managed policies of its own: inline, they would push the launch role past IAM's
            # quota.
            LaunchPolicy(
                f"{tier.logical_id}Launch{''.join(w.capitalize() for w in name.split('-'))}Policy",
                platform_names.TIER_LAUNCH_POLICY.format(tier=tier.name, name=name),
                f"Service Catalog may manage tier {tier.name}'s personal hubs ({name})",
                tuple(statements),
            )
            for name, statements in launch.launch_policies(tier.name).items()
        ),
        parameters=(parameter,),
        end_user_statements=tuple(end_users.end_user_statements(tier.name)),
        credential_brokers=(role_arn,),
    )


def add_documents(t: Template) -> dict[str, Document]:
    """The self-service actions' SSM Automation documents, shared by every tier."""
    documents = {}
    for action in automation.ACTIONS:
        documents[action] = t.add_resource(
            Document(
                f"PersonalHub{action.capitalize()}Document",
                Name=automation.document_name(action),
                DocumentType="Automation",
                DocumentFormat="JSON",
                TargetType="/AWS::EC2::Instance",
                Content=automation.DOCUMENTS[action](),
                # Keep the name when the content changes: the service actions refer to it.
                UpdateMethod="NewVersion",
                Tags=_tags(),
            )
        )
    return documents


def add_alarm_actions_role(t: Template) -> None:
    """CloudWatch's service-linked role for EC2 alarm actions (the idle stop), once per account.

    CloudWatch creates it on the first alarm with an EC2 action, but only for a caller allowed
    `iam:CreateServiceLinkedRole`, which the launch roles are denied. An account that already has
    it (any EC2 alarm action ever created) launches the platform with the parameter set to false.
    """
    t.add_parameter(
        Parameter(
            ALARM_ROLE_PARAMETER,
            Type="String",
            Default="true",
            AllowedValues=["true", "false"],
            Description=(
                "Create AWSServiceRoleForCloudWatchEvents, which personal hubs' idle-stop alarms "
                "need; false if the account already has it."
            ),
            ConstraintDescription="true or false",
        )
    )
    t.add_condition(ALARM_ROLE_CONDITION, Equals(Ref(ALARM_ROLE_PARAMETER), "true"))
    t.add_resource(
        ServiceLinkedRole(
            "AlarmActionsServiceLinkedRole",
            Condition=ALARM_ROLE_CONDITION,
            AWSServiceName="events.amazonaws.com",
            Description="Lets CloudWatch alarms stop idle labcatalog personal hubs",
        )
    )
