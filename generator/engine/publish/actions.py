"""The plan's vocabulary: small typed actions, each one API change (or one unchanged thing).

An action names things by what the portfolio calls them (tier, product key, version), never
by Service Catalog ids, which may not exist yet when the plan is made; the applier resolves them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

from generator.engine.publish.desired import PortfolioSpec, ProductSpec, TemplateFile, VersionSpec
from generator.engine.publish.service_actions import ServiceActionSpec


class Change(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DEPRECATE = "deprecate"
    DELETE = "delete"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class Row:
    """One line of the plan table."""

    change: Change
    resource: str
    subject: str
    detail: str = ""


class Action:
    """Base of every action: how it shows in the table."""

    change: ClassVar[Change]
    resource: ClassVar[str]

    @property
    def subject(self) -> str:
        raise NotImplementedError

    @property
    def detail(self) -> str:
        return ""

    def rows(self) -> list[Row]:
        return [Row(self.change, self.resource, self.subject, self.detail)]


@dataclass(frozen=True)
class Unchanged(Action):
    what: str
    name: str
    change: ClassVar[Change] = Change.UNCHANGED
    resource: ClassVar[str] = ""

    def rows(self) -> list[Row]:
        return [Row(Change.UNCHANGED, self.what, self.name)]


@dataclass(frozen=True)
class UploadTemplate(Action):
    template: TemplateFile
    bucket: str
    change: ClassVar[Change] = Change.CREATE
    resource: ClassVar[str] = "template"

    @property
    def subject(self) -> str:
        return f"{self.template.stack} {self.template.version}"

    @property
    def detail(self) -> str:
        return f"s3://{self.bucket}/{self.template.key}"


@dataclass(frozen=True)
class CreatePortfolio(Action):
    spec: PortfolioSpec
    change: ClassVar[Change] = Change.CREATE
    resource: ClassVar[str] = "portfolio"

    @property
    def subject(self) -> str:
        return self.spec.name


@dataclass(frozen=True)
class UpdatePortfolio(Action):
    spec: PortfolioSpec
    fields: tuple[str, ...]
    add_tags: tuple[tuple[str, str], ...]
    change: ClassVar[Change] = Change.UPDATE
    resource: ClassVar[str] = "portfolio"

    @property
    def subject(self) -> str:
        return self.spec.name

    @property
    def detail(self) -> str:
        return ", ".join(self.fields + tuple(f"tag {k}" for k, _ in self.add_tags))


@dataclass(frozen=True)
class CreateProduct(Action):
    """A product and its first version, in one call."""

    spec: ProductSpec
    template_url: str
    change: ClassVar[Change] = Change.CREATE
    resource: ClassVar[str] = "product"

    @property
    def subject(self) -> str:
        return f"{self.spec.key} ({self.spec.name})"

    def rows(self) -> list[Row]:
        version = self.spec.version
        return [
            Row(self.change, "product", self.subject),
            Row(self.change, "version", f"{self.spec.key} {version.name}", _short(version)),
        ]


@dataclass(frozen=True)
class UpdateProduct(Action):
    spec: ProductSpec
    fields: tuple[str, ...]
    add_tags: tuple[tuple[str, str], ...]
    change: ClassVar[Change] = Change.UPDATE
    resource: ClassVar[str] = "product"

    @property
    def subject(self) -> str:
        return f"{self.spec.key} ({self.spec.name})"

    @property
    def detail(self) -> str:
        return ", ".join(self.fields + tuple(f"tag {k}" for k, _ in self.add_tags))


def _short(version: VersionSpec) -> str:
    return f"sha256 {version.template.sha256[:12]}"


@dataclass(frozen=True)
class CreateVersion(Action):
    product: str
    version: VersionSpec
    template_url: str
    change: ClassVar[Change] = Change.CREATE
    resource: ClassVar[str] = "version"

    @property
    def subject(self) -> str:
        return f"{self.product} {self.version.name}"

    @property
    def detail(self) -> str:
        return _short(self.version)


@dataclass(frozen=True)
class UpdateVersion(Action):
    """New description or guidance for an existing version (never its template)."""

    product: str
    version: str
    description: str | None = None
    guidance: str | None = None
    resource: ClassVar[str] = "version"

    @property
    def change(self) -> Change:  # type: ignore[override]
        return Change.DEPRECATE if self.guidance == "DEPRECATED" else Change.UPDATE

    @property
    def subject(self) -> str:
        return f"{self.product} {self.version}"

    @property
    def detail(self) -> str:
        parts = []
        if self.guidance:
            parts.append(f"guidance {self.guidance}")
        if self.description is not None:
            parts.append("description")
        return ", ".join(parts)


@dataclass(frozen=True)
class AssociateProduct(Action):
    tier: str
    product: str
    change: ClassVar[Change] = Change.CREATE
    resource: ClassVar[str] = "association"

    @property
    def subject(self) -> str:
        return f"{self.tier} <- product {self.product}"


@dataclass(frozen=True)
class AssociatePrincipal(Action):
    tier: str
    arn: str
    change: ClassVar[Change] = Change.CREATE
    resource: ClassVar[str] = "association"

    @property
    def subject(self) -> str:
        return f"{self.tier} <- principal {self.arn}"


@dataclass(frozen=True)
class DisassociatePrincipal(Action):
    tier: str
    arn: str
    principal_type: str
    reason: str = "not in portfolio.yaml"
    change: ClassVar[Change] = Change.DELETE
    resource: ClassVar[str] = "association"

    @property
    def subject(self) -> str:
        return f"{self.tier} <- principal {self.arn}"

    @property
    def detail(self) -> str:
        return self.reason


@dataclass(frozen=True)
class DisassociateProduct(Action):
    """A product leaves a portfolio (its tier or the product was removed from the file)."""

    tier: str
    product: str
    reason: str
    change: ClassVar[Change] = Change.DELETE
    resource: ClassVar[str] = "association"

    @property
    def subject(self) -> str:
        return f"{self.tier} <- product {self.product}"

    @property
    def detail(self) -> str:
        return self.reason


@dataclass(frozen=True)
class CreateConstraint(Action):
    tier: str
    product: str
    type: str
    parameters: str
    description: str
    change: ClassVar[Change] = Change.CREATE
    resource: ClassVar[str] = "constraint"

    @property
    def subject(self) -> str:
        return f"{self.tier} {self.product} {self.type.lower()}"

    @property
    def detail(self) -> str:
        return self.description.removeprefix("labcatalog: ")


@dataclass(frozen=True)
class UpdateConstraint(CreateConstraint):
    constraint_id: str = ""
    change: ClassVar[Change] = Change.UPDATE


@dataclass(frozen=True)
class DeleteConstraint(Action):
    tier: str
    product: str
    type: str
    constraint_id: str
    reason: str = "duplicate"
    change: ClassVar[Change] = Change.DELETE
    resource: ClassVar[str] = "constraint"

    @property
    def subject(self) -> str:
        return f"{self.tier} {self.product} {self.type.lower()}"

    @property
    def detail(self) -> str:
        return f"{self.reason} {self.constraint_id}"


@dataclass(frozen=True)
class CreateTagOption(Action):
    key: str
    value: str
    change: ClassVar[Change] = Change.CREATE
    resource: ClassVar[str] = "tag option"

    @property
    def subject(self) -> str:
        return f"{self.key}={self.value}"


@dataclass(frozen=True)
class ActivateTagOption(CreateTagOption):
    change: ClassVar[Change] = Change.UPDATE

    @property
    def detail(self) -> str:
        return "active again"


@dataclass(frozen=True)
class AssociateTagOption(Action):
    tier: str
    key: str
    value: str
    change: ClassVar[Change] = Change.CREATE
    resource: ClassVar[str] = "association"

    @property
    def subject(self) -> str:
        return f"{self.tier} <- tag option {self.key}={self.value}"


@dataclass(frozen=True)
class DisassociateTagOption(AssociateTagOption):
    tag_option_id: str = ""
    change: ClassVar[Change] = Change.DELETE

    @property
    def detail(self) -> str:
        return "not in portfolio.yaml"


@dataclass(frozen=True)
class CreateServiceAction(Action):
    spec: ServiceActionSpec
    change: ClassVar[Change] = Change.CREATE
    resource: ClassVar[str] = "service action"

    @property
    def subject(self) -> str:
        return self.spec.name


@dataclass(frozen=True)
class UpdateServiceAction(CreateServiceAction):
    change: ClassVar[Change] = Change.UPDATE


@dataclass(frozen=True)
class AssociateServiceAction(Action):
    product: str
    version: str
    action: str
    change: ClassVar[Change] = Change.CREATE
    resource: ClassVar[str] = "association"

    @property
    def subject(self) -> str:
        return f"{self.product} {self.version} <- action {self.action}"
