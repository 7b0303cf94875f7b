"""The `personal-hub` product: one EC2 instance running the hub image for its owner.

A data scientist launches it from the Service Catalog console, picks an instance type, and reaches
the hub through SSM Session Manager port forwarding: the instance has no inbound rule and no
public address. It stops itself when idle (a CloudWatch alarm with the EC2 stop action) and keeps
its data volume as a snapshot when the product is terminated. Each user's home (notebooks,
files, the packages they install) lives on that volume, so it survives stops and, through the
snapshot, termination: a launch with `DataVolumeSnapshotId` starts from that snapshot.

What the launch role may not create (IAM roles, the instance profile, the self-service actions'
documents) comes from the platform stack: see `products/personal_hub/platform.py`.
"""

from __future__ import annotations

import re
from pathlib import Path

from troposphere import (
    Base64,
    Equals,
    FindInMap,
    GetAtt,
    If,
    Join,
    Not,
    NoValue,
    Output,
    Ref,
    Sub,
    Tags,
    Template,
)
from troposphere.cloudformation import WaitCondition
from troposphere.cloudwatch import Alarm, MetricDimension
from troposphere.ec2 import (
    BlockDeviceMapping,
    EbsBlockDevice,
    Instance,
    MetadataOptions,
    NetworkInterfaceProperty,
    SecurityGroup,
    Volume,
    VolumeAttachment,
)
from troposphere.policies import CreationPolicy, ResourceSignal

from generator.cfn.names import (
    BACKUP_TAG,
    BACKUP_TAG_HOMES,
    FIRST_SERVER_SUBNET_SETTING,
    HUB_REPOSITORY_URI_PARAMETER,
    NOTEBOOK_BUCKET_PARAMETER,
    PERSONAL_HUB_INSTANCE_PROFILE_PARAMETER,
    PROVISIONING_PRINCIPAL_TAG,
    TIER_SETTINGS,
    VPC_ID_SETTING,
    resolved,
)
from generator.cfn.network import ANYWHERE, egress, tcp_out
from generator.cfn.tags import stack_tags
from generator.model.config import Portfolio
from products.hub_image.content import image_tag
from products.hub_image.labcatalog_hub.activity import METRIC as ACTIVITY_METRIC
from products.hub_image.labcatalog_hub.activity import NAMESPACE as ACTIVITY_NAMESPACE
from products.personal_hub import instance_types, names, parameters

DESCRIPTION = (
    "labcatalog personal-hub: your own JupyterHub on an EC2 instance, reached through SSM port "
    "forwarding, stopping itself when idle. Generated from portfolio.yaml; do not edit."
)
USER_DATA = Path(__file__).with_name("userdata.sh")

# IMDSv2 only, with a hop limit of 2: the hub runs in a Docker bridge network, one routing hop
# away from the instance, and needs the instance role's credentials (S3 notebooks, the lake).
# With 1 the token's response dies at the bridge and the hub has no credentials; nothing sits
# further away that should have them, so no more than 2.
METADATA_HOP_LIMIT = 2
# The data volume: hub state, the crypt key and users' files; notebooks themselves are in S3.
DATA_DEVICE = "/dev/sdf"
ROOT_DEVICE = "/dev/xvda"
SIGNAL_RESOURCE = "HubReady"
# First boot installs Docker and pulls a multi-GB image; give it time before calling it broken.
BOOT_TIMEOUT = "PT30M"
IDLE_PERIOD_SECONDS = 60
DEFAULT_CULL_MINUTES = "60"  # the hub's idle culler when the instance never stops itself
HTTPS_PORT = 443
LDAP_PORTS = ((636, "LDAPS to the directory"), (389, "LDAP with StartTLS"))


# Condition names.
IDLE_STOP = "IdleStopEnabled"
PLATFORM_REPOSITORY = "UsePlatformRepository"
PUBLISHED_TAG = "UsePublishedTag"
RESTORE = "RestoreDataVolume"
# The mapping of what the template derives from each instance type.
INSTANCE_TYPES = "InstanceTypes"


def _mappings(t: Template) -> None:
    """Per instance type: which AMI parameter (x86_64, arm64 or GPU), root size, idle CPU."""
    t.add_mapping(
        INSTANCE_TYPES,
        {
            it.name: {
                "AmiParameter": instance_types.AMI_PARAMETERS[it.image],
                "RootVolumeSize": str(instance_types.ROOT_VOLUME_GIB[it.image]),
            }
            for it in instance_types.CURATED
        },
    )


def _conditions(t: Template) -> None:
    """What a launch's parameters switch on or off."""
    t.add_condition(IDLE_STOP, Not(Equals(Ref("IdleStopMinutes"), 0)))
    t.add_condition(PLATFORM_REPOSITORY, Equals(Ref("HubImageRepository"), ""))
    t.add_condition(PUBLISHED_TAG, Equals(Ref("HubImageTag"), ""))
    t.add_condition(RESTORE, Not(Equals(Ref("DataVolumeSnapshotId"), "")))


def _tags(name: str) -> Tags:
    return stack_tags(
        None,
        name=name,
        **{
            names.TIER_TAG: Ref("Tier"),
            names.PRODUCT_TAG: names.PRODUCT,
            names.OWNER_TAG: Ref("Owner"),
        },
    )


def _tier_setting(pattern: str) -> Sub:
    """One of the tier's settings, which the platform publishes, read when the stack launches."""
    return Sub(resolved(pattern.format(tier="${Tier}")))


def _security_group(t: Template, portfolio: Portfolio) -> SecurityGroup:
    """No inbound rule at all: the hub is reached through SSM, which the instance dials out to."""
    group = t.add_resource(
        SecurityGroup(
            "HubSecurityGroup",
            GroupDescription="labcatalog personal hub: no inbound access; HTTPS (and LDAP) out",
            VpcId=_tier_setting(VPC_ID_SETTING),
            SecurityGroupEgress=[
                tcp_out(
                    HTTPS_PORT,
                    "HTTPS: AWS APIs (SSM, ECR, S3, Secrets Manager), OIDC, packages",
                    cidr=ANYWHERE,
                )
            ],
            Tags=_tags("hub"),
        )
    )
    if portfolio.platform.identity.ldap is not None:
        for port, description in LDAP_PORTS:
            t.add_resource(
                egress(f"HubLdapEgress{port}", Ref(group), port, description, cidr=ANYWHERE)
            )
    return group


def boot_script() -> str:
    """userdata.sh without its comment lines (outside here-documents): EC2 takes at most 16 KB of
    user data, and the commented source is over that. The first line stays, and one pointing to
    the commented source."""
    lines = USER_DATA.read_text().splitlines(keepends=True)
    kept = [
        lines[0],
        "# labcatalog personal hub: products/personal_hub/userdata.sh, comments left out\n",
    ]
    terminator = None
    for line in lines[1:]:
        if terminator is not None:
            kept.append(line)
            if line.strip() == terminator:
                terminator = None
            continue
        if line.lstrip().startswith("#"):
            continue
        here = re.search(r"<<-?\s*['\"]?(\w+)['\"]?", line)
        if here:
            terminator = here.group(1)
        kept.append(line)
    return "".join(kept)


def user_data() -> Base64:
    """The boot script, with CloudFormation's values for its ${...} placeholders."""
    repository = If(
        PLATFORM_REPOSITORY,
        resolved(HUB_REPOSITORY_URI_PARAMETER),
        Ref("HubImageRepository"),
    )
    tag = If(PUBLISHED_TAG, image_tag(), Ref("HubImageTag"))
    return Base64(
        Sub(
            boot_script(),
            Settings=Sub(TIER_SETTINGS.format(tier="${Tier}").rstrip("/")),
            ProvisioningPrincipalTag=PROVISIONING_PRINCIPAL_TAG,
            NotebookBucket=resolved(NOTEBOOK_BUCKET_PARAMETER),
            HubImage=Join(":", [repository, tag]),
            IdleTimeoutMinutes=If(IDLE_STOP, Ref("IdleStopMinutes"), DEFAULT_CULL_MINUTES),
            HubPort=str(names.HUB_PORT),
            DataDevice=DATA_DEVICE,
            SignalResource=SIGNAL_RESOURCE,
        )
    )


def _instance(t: Template, security_group: SecurityGroup) -> Instance:
    instance_type = Ref("InstanceType")
    return t.add_resource(
        Instance(
            "HubInstance",
            # AL2023 for this type's architecture (or the GPU build), from AWS's public parameters.
            ImageId=Sub(
                "{{resolve:ssm:${AmiParameter}}}",
                AmiParameter=FindInMap(INSTANCE_TYPES, instance_type, "AmiParameter"),
            ),
            InstanceType=instance_type,
            # The tier's instance profile from the platform stack: the launch role may pass only
            # this tier's role, and reads only this tier's parameters.
            IamInstanceProfile=Sub(
                resolved(PERSONAL_HUB_INSTANCE_PROFILE_PARAMETER.format(tier="${Tier}"))
            ),
            NetworkInterfaces=[
                NetworkInterfaceProperty(
                    DeviceIndex="0",
                    SubnetId=_tier_setting(FIRST_SERVER_SUBNET_SETTING),
                    GroupSet=[Ref(security_group)],
                    AssociatePublicIpAddress=False,
                    DeleteOnTermination=True,
                )
            ],
            MetadataOptions=MetadataOptions(
                HttpEndpoint="enabled",
                HttpTokens="required",
                HttpPutResponseHopLimit=METADATA_HOP_LIMIT,
                # The boot script reads who launched the product from the instance's tags.
                InstanceMetadataTags="enabled",
            ),
            # One-minute metrics, so the idle alarm stops the instance when the chosen time is up
            # rather than up to five minutes later.
            Monitoring=True,
            EbsOptimized=True,
            BlockDeviceMappings=[
                BlockDeviceMapping(
                    DeviceName=ROOT_DEVICE,
                    Ebs=EbsBlockDevice(
                        VolumeType="gp3",
                        VolumeSize=FindInMap(INSTANCE_TYPES, instance_type, "RootVolumeSize"),
                        Encrypted=True,
                        DeleteOnTermination=True,
                    ),
                )
            ],
            PropagateTagsToVolumeOnCreation=True,
            UserData=user_data(),
            Tags=_tags("hub"),
        )
    )


def _data_volume(t: Template, instance: Instance) -> None:
    """The data volume, snapshotted when the product is terminated or the volume replaced, and
    made from such a snapshot when the launch names one (the boot script keeps its files).

    It is attached after the instance exists (its zone is the instance's), so the boot script
    waits for it, and the success signal goes to a wait condition that depends on the attachment
    rather than to the instance, which would otherwise wait for its own attachment forever.
    """
    volume = t.add_resource(
        Volume(
            "DataVolume",
            AvailabilityZone=GetAtt(instance, "AvailabilityZone"),
            Size=Ref("DataVolumeSize"),
            SnapshotId=If(RESTORE, Ref("DataVolumeSnapshotId"), NoValue),
            VolumeType="gp3",
            Encrypted=True,
            # The platform's backup plan (products/platform/homes.py) backs it up every hour.
            Tags=_tags("data") + Tags(**{BACKUP_TAG: BACKUP_TAG_HOMES}),
            DeletionPolicy="Snapshot",
            UpdateReplacePolicy="Snapshot",
        )
    )
    attachment = t.add_resource(
        VolumeAttachment(
            "DataVolumeAttachment",
            Device=DATA_DEVICE,
            InstanceId=Ref(instance),
            VolumeId=Ref(volume),
        )
    )
    t.add_resource(
        WaitCondition(
            SIGNAL_RESOURCE,
            DependsOn=[attachment],
            CreationPolicy=CreationPolicy(
                ResourceSignal=ResourceSignal(Count=1, Timeout=BOOT_TIMEOUT)
            ),
        )
    )


def _idle_alarm(t: Template, instance: Instance) -> None:
    """Stop the instance after IdleStopMinutes without user activity: the hub reports, each
    minute, 1 when a user or their kernels were active or when half a CPU core or more was busy
    (a long computation), else 0 (labcatalog_hub/activity.py). No threshold depends on the
    instance type, so a resize changes nothing; no Lambda, nothing that runs or costs."""
    t.add_resource(
        Alarm(
            "IdleStopAlarm",
            Condition=IDLE_STOP,
            AlarmName=Sub("${AWS::StackName}-idle-stop"),
            AlarmDescription=Sub(
                "Stops the personal hub ${AWS::StackName} after ${IdleStopMinutes} idle minutes"
            ),
            Namespace=ACTIVITY_NAMESPACE,
            MetricName=ACTIVITY_METRIC,
            Dimensions=[MetricDimension(Name="InstanceId", Value=Ref(instance))],
            Statistic="Maximum",
            Period=IDLE_PERIOD_SECONDS,
            EvaluationPeriods=Ref("IdleStopMinutes"),
            Threshold=1,
            ComparisonOperator="LessThanThreshold",
            # A stopped instance sends no data: that must not count, nor block the next stop.
            TreatMissingData="notBreaching",
            AlarmActions=[Sub("arn:${AWS::Partition}:automate:${AWS::Region}:ec2:stop")],
        )
    )


def _outputs(t: Template, instance: Instance) -> None:
    port = names.HUB_PORT
    t.add_output(Output("InstanceId", Description="Your hub's instance", Value=Ref(instance)))
    t.add_output(
        Output(
            "PortForwardCommand",
            Description="Run this (AWS CLI + Session Manager plugin), then open HubUrl",
            Value=Sub(
                "aws ssm start-session --region ${AWS::Region} "
                f"--target ${{{instance.title}}} "
                "--document-name AWS-StartPortForwardingSession "
                f"--parameters portNumber={port},localPortNumber={port}"
            ),
        )
    )
    t.add_output(
        Output(
            "HubUrl",
            Description="Open while the port forwarding runs",
            Value=f"http://localhost:{port}",
        )
    )


def build(portfolio: Portfolio) -> Template:
    """The personal-hub template for a validated portfolio; pure (reads only its own script)."""
    t = Template(Description=DESCRIPTION)
    t.set_version("2010-09-09")
    parameters.add_parameters(t, portfolio)
    _mappings(t)
    _conditions(t)
    security_group = _security_group(t, portfolio)
    instance = _instance(t, security_group)
    _data_volume(t, instance)
    _idle_alarm(t, instance)
    _outputs(t, instance)
    return t
