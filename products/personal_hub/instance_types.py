"""The instance types a data scientist may pick, and what the template derives from each.

A curated list rather than any type: every entry is a current-generation Nitro type (so the data
volume appears as `/dev/sdf` through the NVMe udev rules of Amazon Linux 2023) that a notebook
can use well. Tests check each name against botocore's EC2 model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Family = Literal["general", "memory", "compute", "gpu", "graviton"]

# Amazon Linux 2023 from AWS's public SSM parameters: no AMI ids in the template. GPU types get
# AWS's Deep Learning Base AMI, which is Amazon Linux 2023 with the NVIDIA driver and the NVIDIA
# container toolkit installed (plain AL2023 has neither).
AMI_PARAMETERS = {
    "x86_64": "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64",
    "arm64": "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64",
    "gpu": "/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-amazon-linux-2023"
    "/latest/ami-id",
}
# Root volume sizes: room for Docker and the hub image (several GB) on plain AL2023; the
# Deep Learning AMI's own snapshot needs 75 GB, so its root volume cannot be smaller.
ROOT_VOLUME_GIB = {"x86_64": 40, "arm64": 40, "gpu": 100}


@dataclass(frozen=True)
class InstanceType:
    name: str
    family: Family
    vcpus: int
    memory_gib: int

    @property
    def architecture(self) -> str:
        """`x86_64` or `arm64`, as EC2 names it (DescribeInstances `Architecture`)."""
        return "arm64" if self.family == "graviton" else "x86_64"

    @property
    def image(self) -> str:
        """Which AMI this type boots: a key of AMI_PARAMETERS."""
        return "gpu" if self.family == "gpu" else self.architecture

    @property
    def label(self) -> str:
        return f"{self.name} ({self.vcpus} vCPU, {self.memory_gib} GiB, {self.family})"


CURATED = (
    InstanceType("m7i.large", "general", 2, 8),
    InstanceType("m7i.xlarge", "general", 4, 16),
    InstanceType("m7i.2xlarge", "general", 8, 32),
    InstanceType("m7i.4xlarge", "general", 16, 64),
    InstanceType("r7i.large", "memory", 2, 16),
    InstanceType("r7i.xlarge", "memory", 4, 32),
    InstanceType("r7i.2xlarge", "memory", 8, 64),
    InstanceType("r7i.4xlarge", "memory", 16, 128),
    InstanceType("r7i.8xlarge", "memory", 32, 256),
    InstanceType("c7i.xlarge", "compute", 4, 8),
    InstanceType("c7i.2xlarge", "compute", 8, 16),
    InstanceType("c7i.4xlarge", "compute", 16, 32),
    InstanceType("g4dn.xlarge", "gpu", 4, 16),
    InstanceType("g5.xlarge", "gpu", 4, 16),
    InstanceType("g5.2xlarge", "gpu", 8, 32),
    InstanceType("g6.xlarge", "gpu", 4, 16),
    InstanceType("g6.2xlarge", "gpu", 8, 32),
    InstanceType("m7g.large", "graviton", 2, 8),
    InstanceType("m7g.xlarge", "graviton", 4, 16),
    InstanceType("m7g.2xlarge", "graviton", 8, 32),
    InstanceType("r7g.xlarge", "graviton", 4, 32),
    InstanceType("r7g.2xlarge", "graviton", 8, 64),
    InstanceType("c7g.2xlarge", "graviton", 8, 16),
)
DEFAULT = "m7i.xlarge"
BY_NAME = {t.name: t for t in CURATED}
