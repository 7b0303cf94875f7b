"""The price list (prices.yaml): one figure per billable unit and region, each with its source.

Package data, so prices change without code changes; `--prices FILE` reads another copy.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from generator.model.problems import InputError, Problem, UserError
from generator.model.validation import validate
from generator.model.yamlsource import load_source

PRICES = Path(__file__).with_name("prices.yaml")
SCHEMA = "labcatalog-prices/v1"


def _check_date(value: str | None) -> str | None:
    if value is not None and not re.fullmatch(r"\d{4}(-\d{2}(-\d{2})?)?", value):
        raise ValueError("must be a date such as '2026-03-10', '2026-03' or '2026' (quoted)")
    return value


AsOf = Annotated[str | None, AfterValidator(_check_date)]
Recorded = Annotated[str, AfterValidator(_check_date)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class _Sourced(_Model):
    price: float = Field(ge=0)
    source: str = Field(pattern=r"^https?://")
    as_of: AsOf
    note: str | None = None

    @model_validator(mode="after")
    def _undated_needs_a_note(self):
        if self.as_of is None and not self.note:
            raise ValueError("a figure without as_of needs a note saying where it comes from")
        return self

    @property
    def dated(self) -> bool:
        return self.as_of is not None


class Figure(_Sourced):
    """A price per unit (hour, GB-month, ...)."""

    unit: str


class Instance(_Sourced):
    """An instance type's hourly price and size, used to match it to a server size."""

    vcpu: int = Field(ge=1)
    memory_gib: float = Field(gt=0)
    arch: Literal["x86_64", "arm64"]
    gpus: int = Field(0, ge=0)
    burstable: bool = False  # CPU credits (t3): a full vCPU only in bursts


class RegionPrices(_Model):
    """Every figure the estimate needs, for one region."""

    recorded: Recorded = Field(description="When these figures were entered or last checked.")
    fargate_vcpu_hour: Figure
    fargate_gb_hour: Figure
    fargate_arm_vcpu_hour: Figure
    fargate_arm_gb_hour: Figure
    fargate_spot_discount: Figure  # a share of the on-demand price, not a price
    alb_hour: Figure
    alb_lcu_hour: Figure
    efs_standard_gb_month: Figure
    efs_ia_gb_month: Figure  # Infrequent Access, where the homes' lifecycle moves cold files
    backup_efs_gb_month: Figure
    backup_ebs_gb_month: Figure
    logs_ingest_gb: Figure
    logs_storage_gb_month: Figure
    alarm_month: Figure
    ebs_gp3_gb_month: Figure
    kms_key_month: Figure
    secret_month: Figure
    s3_standard_gb_month: Figure
    ecr_gb_month: Figure
    nat_gateway_hour: Figure
    nat_gateway_gb: Figure
    interface_endpoint_hour: Figure
    public_ipv4_hour: Figure
    custom_metric_month: Figure
    sagemaker_storage_gb_month: Figure
    ec2: dict[str, Instance]
    sagemaker: dict[str, Instance]

    def undated(self, instances: set[str]) -> list[str]:
        """Names of the figures without a dated source, among the figures and `instances`
        used (ec2.TYPE, sagemaker.TYPE): the ones to re-check first."""
        names = [
            name
            for name in type(self).model_fields
            if isinstance(getattr(self, name), Figure) and not getattr(self, name).dated
        ]
        for group in ("ec2", "sagemaker"):
            names += [
                f"{group}.{key}"
                for key, value in sorted(getattr(self, group).items())
                if f"{group}.{key}" in instances and not value.dated
            ]
        return names


class PriceList(_Model):
    schema_version: Literal["labcatalog-prices/v1"] = Field(alias="schema")
    currency: Literal["USD"]
    regions: dict[str, RegionPrices] = Field(min_length=1)


def load_prices(path: Path | None, region: str) -> RegionPrices:
    """The figures for `region`; `UserError` naming the regions that have prices if it has none."""
    path = path or PRICES
    if not path.is_file():
        raise InputError([Problem(str(path), 1, 1, "(file)", "no such file; pass --prices FILE")])
    prices = validate(load_source(path), PriceList, f"schema: {SCHEMA}")
    if region not in prices.regions:
        raise UserError(
            f"no prices for region {region!r} in {path}; regions with prices: "
            f"{', '.join(sorted(prices.regions))} (add the region's figures to the file to use it)"
        )
    return prices.regions[region]
