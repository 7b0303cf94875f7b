"""A stateful Service Catalog for the publisher's tests, plugged into moto's in-process server.

moto 5.2.5 implements only portfolios, products and shares, and its products carry no
provisioning artifacts. :func:`install` replaces the Service Catalog operations the publisher
uses with the ones below, keeping moto's routing, signing and error serialisation. Each follows
botocore's model of the real API (servicecatalog service-2.json): the same request and
response members, pagination tokens (``NextPageToken``, or ``PageToken`` for tag options),
idempotency tokens (a repeated token returns the first answer), and these error codes:

* ``ResourceNotFoundException`` for an unknown portfolio, product, artifact, constraint, tag
  option or service action;
* ``InvalidParametersException`` for a missing or malformed member, a template URL that does
  not load (templates are read from moto's own S3, so an upload the publisher forgot fails
  here as it would in AWS), a launch constraint without exactly one of RoleArn/LocalRoleName,
  a template constraint without Rules, a constraint on a product not in the portfolio, and a
  second artifact with the same name in one product;
* ``DuplicateResourceException`` for a second LAUNCH constraint on a product in a portfolio,
  an existing tag option, a tag option already on a resource, an action already on an artifact;
* ``InvalidStateException`` for associating an inactive tag option;
* ``ResourceInUseException`` for taking a product out of a portfolio that still holds
  constraints on it.

What it cannot prove: AWS-side timing (artifacts are AVAILABLE at once), quotas, template
validation beyond "it is JSON with Resources", and whether AWS rejects duplicate artifact names
exactly this way (the publisher never relies on it: it reads artifacts by name first).

:func:`snapshot` dumps the whole catalog with names instead of ids, lists not sets, so that
two end states compare equal only when nothing was duplicated.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

from moto.core.exceptions import JsonRESTError
from moto.s3.models import s3_backends
from moto.servicecatalog.models import servicecatalog_backends
from moto.servicecatalog.responses import ServiceCatalogResponse

DEFAULT_PAGE_SIZE = 3  # small, so that the publisher's pagination is exercised
_ids = itertools.count(1)


def _error(code: str, message: str) -> JsonRESTError:
    # JSON-protocol errors as moto's own servicecatalog raises them: HTTP 400, `__type` = code.
    return JsonRESTError(code, message)


def _new_id(prefix: str) -> str:
    return f"{prefix}-{next(_ids):012d}"


def _page(items: list[Any], params: dict, out_token: str = "NextPageToken") -> dict:
    """One page of `items` and the token for the next (absent on the last page)."""
    start = int(params.get("PageToken") or 0)
    size = params.get("PageSize") or DEFAULT_PAGE_SIZE
    result: dict[str, Any] = {"items": items[start : start + size]}
    if start + size < len(items):
        result[out_token] = str(start + size)
    return result


def _required(params: dict, *names: str) -> None:
    for name in names:
        if params.get(name) in (None, ""):
            raise _error("InvalidParametersException", f"{name} is required")


class Catalog:
    """The state of one account and region."""

    def __init__(self, account: str, region: str) -> None:
        self.account = account
        self.region = region
        self.portfolios: dict[str, dict] = {}
        self.products: dict[str, dict] = {}
        self.constraints: dict[str, dict] = {}
        self.tag_options: dict[str, dict] = {}
        self.service_actions: dict[str, dict] = {}
        self.provisioned: dict[str, dict] = {}
        self.records: dict[str, dict] = {}
        self.tokens: dict[tuple[str, str], dict] = {}

    # -- lookups ---------------------------------------------------------------------------
    def portfolio(self, portfolio_id: str) -> dict:
        if portfolio_id not in self.portfolios:
            raise _error("ResourceNotFoundException", f"Portfolio {portfolio_id} not found.")
        return self.portfolios[portfolio_id]

    def product(self, product_id: str) -> dict:
        if product_id not in self.products:
            raise _error("ResourceNotFoundException", f"Product {product_id} not found.")
        return self.products[product_id]

    def artifact(self, product_id: str, artifact_id: str) -> dict:
        artifacts = self.product(product_id)["artifacts"]
        if artifact_id not in artifacts:
            raise _error(
                "ResourceNotFoundException", f"Provisioning artifact {artifact_id} not found."
            )
        return artifacts[artifact_id]

    def constraint(self, constraint_id: str) -> dict:
        if constraint_id not in self.constraints:
            raise _error("ResourceNotFoundException", f"Constraint {constraint_id} not found.")
        return self.constraints[constraint_id]

    def tag_option(self, option_id: str) -> dict:
        if option_id not in self.tag_options:
            raise _error("ResourceNotFoundException", f"TagOption {option_id} not found.")
        return self.tag_options[option_id]

    def service_action(self, action_id: str) -> dict:
        if action_id not in self.service_actions:
            raise _error("ResourceNotFoundException", f"Service action {action_id} not found.")
        return self.service_actions[action_id]

    def resource(self, resource_id: str) -> dict:
        """A portfolio or product (tag options attach to both)."""
        found = self.portfolios.get(resource_id) or self.products.get(resource_id)
        if found is None:
            raise _error("ResourceNotFoundException", f"Resource {resource_id} not found.")
        return found

    def arn(self, kind: str, resource_id: str) -> str:
        return f"arn:aws:catalog:{self.region}:{self.account}:{kind}/{resource_id}"

    # -- views -----------------------------------------------------------------------------
    @staticmethod
    def portfolio_detail(p: dict) -> dict:
        keys = ("Id", "ARN", "DisplayName", "Description", "CreatedTime", "ProviderName")
        return {k: p[k] for k in keys if p.get(k) is not None}

    @staticmethod
    def product_summary(p: dict) -> dict:
        keys = (
            "Name",
            "Owner",
            "Type",
            "Distributor",
            "SupportEmail",
            "SupportDescription",
            "SupportUrl",
        )
        summary = {k: p[k] for k in keys if p.get(k) is not None}
        summary.update(
            Id=p["ViewId"],
            ProductId=p["Id"],
            ShortDescription=p.get("Description", ""),
            HasDefaultPath=False,
        )
        return summary

    def product_view(self, p: dict) -> dict:
        return {
            "ProductViewSummary": self.product_summary(p),
            "Status": "CREATED",
            "ProductARN": p["ARN"],
            "CreatedTime": p["CreatedTime"],
        }

    @staticmethod
    def artifact_detail(a: dict) -> dict:
        keys = ("Id", "Name", "Description", "Type", "CreatedTime", "Active", "Guidance")
        return {k: a[k] for k in keys}

    @staticmethod
    def tags(resource: dict) -> list[dict]:
        return [{"Key": k, "Value": v} for k, v in resource["Tags"].items()]

    def tag_option_details(self, resource: dict) -> list[dict]:
        return [self.tag_options[i] for i in sorted(resource["TagOptionIds"])]

    # -- templates -------------------------------------------------------------------------
    def load_template(self, url: str) -> dict:
        """Read a template URL from moto's S3 (path-style or virtual-hosted), as AWS would."""
        parsed = urlparse(url)
        host = parsed.netloc.split(":")[0]
        path = parsed.path.lstrip("/")
        if ".s3." in f".{host}" and not host.startswith("s3."):
            bucket, key = host.split(".s3.")[0], path
        else:
            bucket, _, key = path.partition("/")
        try:
            backend = s3_backends[self.account]["aws"]
            body = backend.get_object(bucket, key).value
            template = json.loads(body)
        except Exception as err:  # whatever S3 or JSON says, AWS answers the same
            raise _error(
                "InvalidParametersException", f"Unable to load the template from {url}: {err}"
            ) from None
        if not isinstance(template, dict) or "Resources" not in template:
            raise _error("InvalidParametersException", f"Template at {url} has no Resources.")
        return template

    def new_artifact(self, product: dict, params: dict) -> dict:
        _required(params, "Name")
        url = (params.get("Info") or {}).get("LoadTemplateFromURL")
        if not url:
            raise _error("InvalidParametersException", "Info.LoadTemplateFromURL is required")
        if params.get("Type", "CLOUD_FORMATION_TEMPLATE") != "CLOUD_FORMATION_TEMPLATE":
            raise _error("InvalidParametersException", "Only CLOUD_FORMATION_TEMPLATE here")
        if any(a["Name"] == params["Name"] for a in product.get("artifacts", {}).values()):
            raise _error(
                "InvalidParametersException",
                f"Provisioning artifact name {params['Name']} already exists in this product.",
            )
        template = self.load_template(url)
        artifact = {
            "Id": _new_id("pa"),
            "Name": params["Name"],
            "Description": params.get("Description", ""),
            "Type": "CLOUD_FORMATION_TEMPLATE",
            "CreatedTime": time.time(),
            "Active": True,
            "Guidance": "DEFAULT",
            "TemplateUrl": url,
            "Parameters": sorted(template.get("Parameters", {})),
            "ServiceActionIds": set(),
        }
        product.setdefault("artifacts", {})[artifact["Id"]] = artifact
        return artifact


def _catalog(account: str, region: str) -> Catalog:
    backend = servicecatalog_backends[account][region]
    if not hasattr(backend, "_labcatalog"):
        backend._labcatalog = Catalog(account, region)  # gone with moto's reset, as it should
    return backend._labcatalog


def _idempotent(operation: str) -> Callable:
    """Answer a repeated IdempotencyToken with the first answer, as AWS does."""

    def wrap(handler: Callable) -> Callable:
        def run(c: Catalog, p: dict) -> dict:
            token = p.get("IdempotencyToken")
            if token and (operation, token) in c.tokens:
                return c.tokens[(operation, token)]
            result = handler(c, p)
            if token:
                c.tokens[(operation, token)] = result
            return result

        return run

    return wrap


HANDLERS: dict[str, Callable[[Catalog, dict], dict]] = {}


def operation(name: str, idempotent: bool = False) -> Callable:
    def register(handler: Callable) -> Callable:
        HANDLERS[name] = _idempotent(name)(handler) if idempotent else handler
        return handler

    return register


# -- portfolios ------------------------------------------------------------------------------
@operation("CreatePortfolio", idempotent=True)
def create_portfolio(c: Catalog, p: dict) -> dict:
    _required(p, "DisplayName", "ProviderName")
    if len(p["DisplayName"]) > 100:
        raise _error("InvalidParametersException", "DisplayName is longer than 100")
    portfolio_id = _new_id("port")
    portfolio = {
        "Id": portfolio_id,
        "ARN": c.arn("portfolio", portfolio_id),
        "DisplayName": p["DisplayName"],
        "Description": p.get("Description", ""),
        "ProviderName": p["ProviderName"],
        "CreatedTime": time.time(),
        "Tags": {t["Key"]: t["Value"] for t in p.get("Tags", [])},
        "TagOptionIds": set(),
        "Principals": {},
        "ProductIds": [],
    }
    c.portfolios[portfolio_id] = portfolio
    return {"PortfolioDetail": c.portfolio_detail(portfolio), "Tags": c.tags(portfolio)}


@operation("ListPortfolios")
def list_portfolios(c: Catalog, p: dict) -> dict:
    page = _page([c.portfolio_detail(x) for x in c.portfolios.values()], p)
    return {"PortfolioDetails": page.pop("items"), **page}


@operation("DescribePortfolio")
def describe_portfolio(c: Catalog, p: dict) -> dict:
    portfolio = c.portfolio(p["Id"])
    return {
        "PortfolioDetail": c.portfolio_detail(portfolio),
        "Tags": c.tags(portfolio),
        "TagOptions": c.tag_option_details(portfolio),
        "Budgets": [],
    }


@operation("UpdatePortfolio")
def update_portfolio(c: Catalog, p: dict) -> dict:
    portfolio = c.portfolio(p["Id"])
    for member in ("DisplayName", "Description", "ProviderName"):
        if member in p:
            portfolio[member] = p[member]
    for tag in p.get("AddTags", []):
        portfolio["Tags"][tag["Key"]] = tag["Value"]
    for key in p.get("RemoveTags", []):
        portfolio["Tags"].pop(key, None)
    return {"PortfolioDetail": c.portfolio_detail(portfolio), "Tags": c.tags(portfolio)}


@operation("ListPrincipalsForPortfolio")
def list_principals(c: Catalog, p: dict) -> dict:
    principals = c.portfolio(p["PortfolioId"])["Principals"]
    items = [{"PrincipalARN": arn, "PrincipalType": t} for arn, t in principals.items()]
    page = _page(items, p)
    return {"Principals": page.pop("items"), **page}


@operation("AssociatePrincipalWithPortfolio")
def associate_principal(c: Catalog, p: dict) -> dict:
    _required(p, "PortfolioId", "PrincipalARN", "PrincipalType")
    portfolio = c.portfolio(p["PortfolioId"])
    arn, kind = p["PrincipalARN"], p["PrincipalType"]
    if kind == "IAM" and not (arn.startswith("arn:") and ":iam::" in arn):
        raise _error("InvalidParametersException", f"{arn} is not an IAM ARN")
    portfolio["Principals"][arn] = kind  # associating twice is not an error in AWS
    return {}


@operation("DisassociatePrincipalFromPortfolio")
def disassociate_principal(c: Catalog, p: dict) -> dict:
    portfolio = c.portfolio(p["PortfolioId"])
    if p["PrincipalARN"] not in portfolio["Principals"]:
        raise _error("ResourceNotFoundException", f"{p['PrincipalARN']} is not associated.")
    del portfolio["Principals"][p["PrincipalARN"]]
    return {}


# -- products and versions -------------------------------------------------------------------
@operation("CreateProduct", idempotent=True)
def create_product(c: Catalog, p: dict) -> dict:
    _required(p, "Name", "Owner", "ProductType")
    if p["ProductType"] != "CLOUD_FORMATION_TEMPLATE":
        raise _error("InvalidParametersException", "Only CLOUD_FORMATION_TEMPLATE here")
    if "ProvisioningArtifactParameters" not in p:
        raise _error("InvalidParametersException", "ProvisioningArtifactParameters is required")
    product_id = _new_id("prod")
    product = {
        "Id": product_id,
        "ViewId": _new_id("prodview"),
        "ARN": c.arn("product", product_id),
        "Type": "CLOUD_FORMATION_TEMPLATE",
        "CreatedTime": time.time(),
        "Tags": {t["Key"]: t["Value"] for t in p.get("Tags", [])},
        "TagOptionIds": set(),
        "artifacts": {},
    }
    for member in ("Name", "Owner", "Description", "Distributor", "SupportEmail"):
        if member in p:
            product[member] = p[member]
    artifact = c.new_artifact(product, p["ProvisioningArtifactParameters"])
    c.products[product_id] = product
    return {
        "ProductViewDetail": c.product_view(product),
        "ProvisioningArtifactDetail": c.artifact_detail(artifact),
        "Tags": c.tags(product),
    }


@operation("SearchProductsAsAdmin")
def search_products_as_admin(c: Catalog, p: dict) -> dict:
    products = list(c.products.values())
    if p.get("PortfolioId"):
        wanted = c.portfolio(p["PortfolioId"])["ProductIds"]
        products = [x for x in products if x["Id"] in wanted]
    for text in (p.get("Filters") or {}).get("FullTextSearch", []):
        products = [x for x in products if text.lower() in x["Name"].lower()]
    page = _page([c.product_view(x) for x in products], p)
    return {"ProductViewDetails": page.pop("items"), **page}


@operation("DescribeProductAsAdmin")
def describe_product_as_admin(c: Catalog, p: dict) -> dict:
    if p.get("Id"):
        product = c.product(p["Id"])
    else:
        matches = [x for x in c.products.values() if x["Name"] == p.get("Name")]
        if not matches:
            raise _error("ResourceNotFoundException", f"Product {p.get('Name')} not found.")
        product = matches[0]
    return {
        "ProductViewDetail": c.product_view(product),
        "ProvisioningArtifactSummaries": [
            {k: a[k] for k in ("Id", "Name", "Description", "CreatedTime")}
            for a in product["artifacts"].values()
        ],
        "Tags": c.tags(product),
        "TagOptions": c.tag_option_details(product),
        "Budgets": [],
    }


@operation("UpdateProduct")
def update_product(c: Catalog, p: dict) -> dict:
    product = c.product(p["Id"])
    for member in ("Name", "Owner", "Description", "Distributor", "SupportEmail"):
        if member in p:
            product[member] = p[member]
    for tag in p.get("AddTags", []):
        product["Tags"][tag["Key"]] = tag["Value"]
    for key in p.get("RemoveTags", []):
        product["Tags"].pop(key, None)
    return {"ProductViewDetail": c.product_view(product), "Tags": c.tags(product)}


@operation("ListProvisioningArtifacts")
def list_provisioning_artifacts(c: Catalog, p: dict) -> dict:
    product = c.product(p["ProductId"])
    return {
        "ProvisioningArtifactDetails": [c.artifact_detail(a) for a in product["artifacts"].values()]
    }


@operation("CreateProvisioningArtifact", idempotent=True)
def create_provisioning_artifact(c: Catalog, p: dict) -> dict:
    artifact = c.new_artifact(c.product(p["ProductId"]), p["Parameters"])
    return {
        "ProvisioningArtifactDetail": c.artifact_detail(artifact),
        "Info": {"TemplateUrl": artifact["TemplateUrl"]},
        "Status": "AVAILABLE",
    }


@operation("UpdateProvisioningArtifact")
def update_provisioning_artifact(c: Catalog, p: dict) -> dict:
    artifact = c.artifact(p["ProductId"], p["ProvisioningArtifactId"])
    if "Guidance" in p and p["Guidance"] not in ("DEFAULT", "DEPRECATED"):
        raise _error("InvalidParametersException", f"Guidance {p['Guidance']} is not valid")
    for member in ("Name", "Description", "Active", "Guidance"):
        if member in p:
            artifact[member] = p[member]
    return {
        "ProvisioningArtifactDetail": c.artifact_detail(artifact),
        "Info": {"TemplateUrl": artifact["TemplateUrl"]},
        "Status": "AVAILABLE",
    }


@operation("ListPortfoliosForProduct")
def list_portfolios_for_product(c: Catalog, p: dict) -> dict:
    c.product(p["ProductId"])
    portfolios = [x for x in c.portfolios.values() if p["ProductId"] in x["ProductIds"]]
    page = _page([c.portfolio_detail(x) for x in portfolios], p)
    return {"PortfolioDetails": page.pop("items"), **page}


@operation("AssociateProductWithPortfolio")
def associate_product(c: Catalog, p: dict) -> dict:
    c.product(p["ProductId"])
    portfolio = c.portfolio(p["PortfolioId"])
    if p["ProductId"] not in portfolio["ProductIds"]:  # a repeat is not an error in AWS
        portfolio["ProductIds"].append(p["ProductId"])
    return {}


@operation("DisassociateProductFromPortfolio")
def disassociate_product(c: Catalog, p: dict) -> dict:
    c.product(p["ProductId"])
    portfolio = c.portfolio(p["PortfolioId"])
    if p["ProductId"] not in portfolio["ProductIds"]:
        raise _error("ResourceNotFoundException", "Product is not in the portfolio.")
    if any(
        (x["PortfolioId"], x["ProductId"]) == (p["PortfolioId"], p["ProductId"])
        for x in c.constraints.values()
    ):
        raise _error(
            "ResourceInUseException", "Remove the product's constraints in this portfolio first."
        )
    portfolio["ProductIds"].remove(p["ProductId"])
    return {}


# -- constraints -----------------------------------------------------------------------------
def _constraint_detail(constraint: dict) -> dict:
    keys = ("ConstraintId", "Type", "Description", "Owner", "ProductId", "PortfolioId")
    return {k: constraint[k] for k in keys}


def _check_constraint_parameters(kind: str, text: str) -> None:
    try:
        parameters = json.loads(text)
    except ValueError:
        raise _error("InvalidParametersException", "Parameters is not JSON") from None
    if kind == "LAUNCH":
        roles = [k for k in ("RoleArn", "LocalRoleName") if parameters.get(k)]
        if len(roles) != 1:
            raise _error(
                "InvalidParametersException",
                "A launch constraint needs exactly one of RoleArn or LocalRoleName",
            )
    elif kind == "TEMPLATE":
        if not isinstance(parameters.get("Rules"), dict) or not parameters["Rules"]:
            raise _error("InvalidParametersException", "A template constraint needs Rules")
    elif kind not in ("NOTIFICATION", "RESOURCE_UPDATE", "STACKSET"):
        raise _error("InvalidParametersException", f"Unknown constraint type {kind}")


@operation("CreateConstraint", idempotent=True)
def create_constraint(c: Catalog, p: dict) -> dict:
    _required(p, "PortfolioId", "ProductId", "Parameters", "Type")
    portfolio = c.portfolio(p["PortfolioId"])
    c.product(p["ProductId"])
    if p["ProductId"] not in portfolio["ProductIds"]:
        raise _error(
            "InvalidParametersException",
            f"Product {p['ProductId']} is not associated with portfolio {p['PortfolioId']}",
        )
    _check_constraint_parameters(p["Type"], p["Parameters"])
    same = [
        x
        for x in c.constraints.values()
        if (x["PortfolioId"], x["ProductId"], x["Type"])
        == (p["PortfolioId"], p["ProductId"], "LAUNCH")
    ]
    if p["Type"] == "LAUNCH" and same:
        raise _error("DuplicateResourceException", "This product already has a launch constraint")
    constraint = {
        "ConstraintId": _new_id("cons"),
        "Type": p["Type"],
        "Description": p.get("Description", ""),
        "Owner": c.account,
        "ProductId": p["ProductId"],
        "PortfolioId": p["PortfolioId"],
        "Parameters": p["Parameters"],
    }
    c.constraints[constraint["ConstraintId"]] = constraint
    return {
        "ConstraintDetail": _constraint_detail(constraint),
        "ConstraintParameters": constraint["Parameters"],
        "Status": "AVAILABLE",
    }


@operation("ListConstraintsForPortfolio")
def list_constraints(c: Catalog, p: dict) -> dict:
    c.portfolio(p["PortfolioId"])
    found = [
        _constraint_detail(x)
        for x in c.constraints.values()
        if x["PortfolioId"] == p["PortfolioId"] and p.get("ProductId") in (None, x["ProductId"])
    ]
    page = _page(found, p)
    return {"ConstraintDetails": page.pop("items"), **page}


@operation("DescribeConstraint")
def describe_constraint(c: Catalog, p: dict) -> dict:
    constraint = c.constraint(p["Id"])
    return {
        "ConstraintDetail": _constraint_detail(constraint),
        "ConstraintParameters": constraint["Parameters"],
        "Status": "AVAILABLE",
    }


@operation("UpdateConstraint")
def update_constraint(c: Catalog, p: dict) -> dict:
    constraint = c.constraint(p["Id"])
    if "Parameters" in p:
        _check_constraint_parameters(constraint["Type"], p["Parameters"])
        constraint["Parameters"] = p["Parameters"]
    if "Description" in p:
        constraint["Description"] = p["Description"]
    return describe_constraint(c, {"Id": p["Id"]})


@operation("DeleteConstraint")
def delete_constraint(c: Catalog, p: dict) -> dict:
    c.constraint(p["Id"])
    del c.constraints[p["Id"]]
    return {}


# -- tag options -----------------------------------------------------------------------------
@operation("CreateTagOption")
def create_tag_option(c: Catalog, p: dict) -> dict:
    _required(p, "Key", "Value")
    if any((x["Key"], x["Value"]) == (p["Key"], p["Value"]) for x in c.tag_options.values()):
        raise _error("DuplicateResourceException", f"TagOption {p['Key']}={p['Value']} exists")
    option = {
        "Key": p["Key"],
        "Value": p["Value"],
        "Active": True,
        "Id": _new_id("tag"),
        "Owner": c.account,
    }
    c.tag_options[option["Id"]] = option
    return {"TagOptionDetail": option}


@operation("ListTagOptions")
def list_tag_options(c: Catalog, p: dict) -> dict:
    filters = p.get("Filters") or {}
    found = [
        x
        for x in c.tag_options.values()
        if all(x[k] == filters[k] for k in ("Key", "Value", "Active") if k in filters)
    ]
    page = _page(found, p, out_token="PageToken")
    return {"TagOptionDetails": page.pop("items"), **page}


@operation("DescribeTagOption")
def describe_tag_option(c: Catalog, p: dict) -> dict:
    return {"TagOptionDetail": c.tag_option(p["Id"])}


@operation("UpdateTagOption")
def update_tag_option(c: Catalog, p: dict) -> dict:
    option = c.tag_option(p["Id"])
    for member in ("Value", "Active"):
        if member in p:
            option[member] = p[member]
    return {"TagOptionDetail": option}


@operation("AssociateTagOptionWithResource")
def associate_tag_option(c: Catalog, p: dict) -> dict:
    resource = c.resource(p["ResourceId"])
    option = c.tag_option(p["TagOptionId"])
    if not option["Active"]:
        raise _error("InvalidStateException", f"TagOption {option['Id']} is not active")
    if option["Id"] in resource["TagOptionIds"]:
        raise _error("DuplicateResourceException", "TagOption is already associated")
    resource["TagOptionIds"].add(option["Id"])
    return {}


@operation("DisassociateTagOptionFromResource")
def disassociate_tag_option(c: Catalog, p: dict) -> dict:
    resource = c.resource(p["ResourceId"])
    if p["TagOptionId"] not in resource["TagOptionIds"]:
        raise _error("ResourceNotFoundException", "TagOption is not associated")
    resource["TagOptionIds"].discard(p["TagOptionId"])
    return {}


# -- self-service actions --------------------------------------------------------------------
def _action_summary(action: dict) -> dict:
    return {k: action[k] for k in ("Id", "Name", "Description", "DefinitionType")}


@operation("CreateServiceAction", idempotent=True)
def create_service_action(c: Catalog, p: dict) -> dict:
    _required(p, "Name", "DefinitionType", "Definition")
    if p["DefinitionType"] != "SSM_AUTOMATION":
        raise _error("InvalidParametersException", "DefinitionType must be SSM_AUTOMATION")
    if not {"Name", "Version"} <= set(p["Definition"]):
        raise _error("InvalidParametersException", "Definition needs Name and Version")
    action = {
        "Id": _new_id("act"),
        "Name": p["Name"],
        "Description": p.get("Description", ""),
        "DefinitionType": p["DefinitionType"],
        "Definition": p["Definition"],
    }
    c.service_actions[action["Id"]] = action
    return {
        "ServiceActionDetail": {
            "ServiceActionSummary": _action_summary(action),
            "Definition": action["Definition"],
        }
    }


@operation("ListServiceActions")
def list_service_actions(c: Catalog, p: dict) -> dict:
    page = _page([_action_summary(a) for a in c.service_actions.values()], p)
    return {"ServiceActionSummaries": page.pop("items"), **page}


@operation("DescribeServiceAction")
def describe_service_action(c: Catalog, p: dict) -> dict:
    action = c.service_action(p["Id"])
    return {
        "ServiceActionDetail": {
            "ServiceActionSummary": _action_summary(action),
            "Definition": action["Definition"],
        }
    }


@operation("UpdateServiceAction")
def update_service_action(c: Catalog, p: dict) -> dict:
    action = c.service_action(p["Id"])
    for member in ("Name", "Definition", "Description"):
        if member in p:
            action[member] = p[member]
    return describe_service_action(c, {"Id": p["Id"]})


@operation("ListServiceActionsForProvisioningArtifact")
def list_actions_for_artifact(c: Catalog, p: dict) -> dict:
    artifact = c.artifact(p["ProductId"], p["ProvisioningArtifactId"])
    ids = sorted(artifact["ServiceActionIds"])
    page = _page([_action_summary(c.service_actions[i]) for i in ids], p)
    return {"ServiceActionSummaries": page.pop("items"), **page}


@operation("AssociateServiceActionWithProvisioningArtifact", idempotent=True)
def associate_action(c: Catalog, p: dict) -> dict:
    artifact = c.artifact(p["ProductId"], p["ProvisioningArtifactId"])
    c.service_action(p["ServiceActionId"])
    if p["ServiceActionId"] in artifact["ServiceActionIds"]:
        raise _error("DuplicateResourceException", "Service action is already associated")
    artifact["ServiceActionIds"].add(p["ServiceActionId"])
    return {}


# -- launched (provisioned) products ---------------------------------------------------------
# A launch path here is the portfolio's id. A record is IN_PROGRESS until it is first described,
# then SUCCEEDED (or FAILED when a parameter value is "fail"), so callers must poll.
def _template_parameters(c: Catalog, artifact: dict) -> dict[str, dict]:
    return c.load_template(artifact["TemplateUrl"]).get("Parameters", {})


def _launch_path(c: Catalog, product_id: str, path_id: str | None) -> str:
    paths = [x["Id"] for x in c.portfolios.values() if product_id in x["ProductIds"]]
    if path_id is None and len(paths) == 1:
        return paths[0]
    if path_id is None:
        raise _error("InvalidParametersException", "PathId is required: the product has paths")
    if path_id not in paths:
        raise _error("ResourceNotFoundException", f"Launch path {path_id} not found.")
    return path_id


def _record(c: Catalog, provisioned: dict, record_type: str, artifact_id: str, path: str) -> dict:
    record = {
        "RecordId": _new_id("rec"),
        "ProvisionedProductName": provisioned["Name"],
        "Status": "IN_PROGRESS",
        "CreatedTime": time.time(),
        "UpdatedTime": time.time(),
        "ProvisionedProductType": "CFN_STACK",
        "RecordType": record_type,
        "ProvisionedProductId": provisioned["Id"],
        "ProductId": provisioned["ProductId"],
        "ProvisioningArtifactId": artifact_id,
        "PathId": path,
    }
    c.records[record["RecordId"]] = record
    provisioned["LastRecordId"] = record["RecordId"]
    return record


def _values(c: Catalog, artifact: dict, given: list[dict], previous: dict[str, str]) -> dict:
    declared = _template_parameters(c, artifact)
    values = {}
    for item in given:
        if item["Key"] not in declared:
            raise _error("InvalidParametersException", f"Parameter {item['Key']} is not declared")
        if item.get("UsePreviousValue"):
            if item["Key"] not in previous:
                raise _error("InvalidParametersException", f"No previous value of {item['Key']}")
            values[item["Key"]] = previous[item["Key"]]
        else:
            values[item["Key"]] = item.get("Value", "")
    for key, spec in declared.items():
        if key not in values:
            if "Default" not in spec:
                raise _error("InvalidParametersException", f"Parameter {key} needs a value")
            values[key] = spec["Default"]
    return values


@operation("ProvisionProduct")
def provision_product(c: Catalog, p: dict) -> dict:
    _required(p, "ProvisionedProductName", "ProvisionToken")
    product = c.product(p["ProductId"])
    artifact = c.artifact(product["Id"], p["ProvisioningArtifactId"])
    path = _launch_path(c, product["Id"], p.get("PathId"))
    provisioned_id = _new_id("pp")
    provisioned = {
        "Name": p["ProvisionedProductName"],
        "Arn": c.arn("stack", provisioned_id),
        "Type": "CFN_STACK",
        "Id": provisioned_id,
        "Status": "AVAILABLE",
        "CreatedTime": time.time(),
        "ProductId": product["Id"],
        "ProductName": product["Name"],
        "ProvisioningArtifactId": artifact["Id"],
        "ProvisioningArtifactName": artifact["Name"],
        "Tags": [
            *p.get("Tags", []),
            {"Key": "aws:servicecatalog:portfolioArn", "Value": c.portfolio(path)["ARN"]},
        ],
        "Parameters": _values(c, artifact, p.get("ProvisioningParameters", []), {}),
    }
    c.provisioned[provisioned_id] = provisioned
    record = _record(c, provisioned, "PROVISION_PRODUCT", artifact["Id"], path)
    provisioned["LastSuccessfulProvisioningRecordId"] = record["RecordId"]
    return {"RecordDetail": record}


_PROVISIONED_KEYS = (
    "Name",
    "Arn",
    "Type",
    "Id",
    "Status",
    "CreatedTime",
    "LastRecordId",
    "LastSuccessfulProvisioningRecordId",
    "Tags",
    "ProductId",
    "ProductName",
    "ProvisioningArtifactId",
    "ProvisioningArtifactName",
)


@operation("SearchProvisionedProducts")
def search_provisioned_products(c: Catalog, p: dict) -> dict:
    items = [{k: x[k] for k in _PROVISIONED_KEYS if k in x} for x in c.provisioned.values()]
    page = _page(items, p)
    return {"ProvisionedProducts": page.pop("items"), "TotalResultsCount": len(items), **page}


@operation("DescribeRecord")
def describe_record(c: Catalog, p: dict) -> dict:
    if p.get("Id") not in c.records:
        raise _error("ResourceNotFoundException", f"Record {p.get('Id')} not found.")
    record = c.records[p["Id"]]
    answer = {"RecordDetail": dict(record), "RecordOutputs": []}
    if record["Status"] == "IN_PROGRESS":
        provisioned = c.provisioned[record["ProvisionedProductId"]]
        failed = "fail" in provisioned.get("Pending", {}).values()
        record["Status"] = "FAILED" if failed else "SUCCEEDED"
        provisioned["Status"] = "TAINTED" if failed else "AVAILABLE"
        if not failed and "Pending" in provisioned:
            artifact = c.artifact(provisioned["ProductId"], record["ProvisioningArtifactId"])
            provisioned.update(
                Parameters=provisioned.pop("Pending"),
                ProvisioningArtifactId=artifact["Id"],
                ProvisioningArtifactName=artifact["Name"],
                LastSuccessfulProvisioningRecordId=record["RecordId"],
            )
    return answer


@operation("DescribeProvisionedProduct")
def describe_provisioned_product(c: Catalog, p: dict) -> dict:
    by_name = {x["Name"]: x for x in c.provisioned.values()}
    provisioned = c.provisioned.get(p.get("Id") or "") or by_name.get(p.get("Name") or "")
    if provisioned is None:
        raise _error("ResourceNotFoundException", "Provisioned product not found.")
    keys = ("Name", "Arn", "Type", "Id", "Status", "CreatedTime", "LastRecordId")
    keys += ("LastSuccessfulProvisioningRecordId", "ProductId", "ProvisioningArtifactId")
    detail = {k: provisioned[k] for k in keys if k in provisioned}
    return {"ProvisionedProductDetail": detail, "CloudWatchDashboards": []}


@operation("DescribeProvisioningArtifact")
def describe_provisioning_artifact(c: Catalog, p: dict) -> dict:
    artifact = c.artifact(p["ProductId"], p["ProvisioningArtifactId"])
    answer = {
        "ProvisioningArtifactDetail": c.artifact_detail(artifact),
        "Info": {"TemplateUrl": artifact["TemplateUrl"]},
        "Status": "AVAILABLE",
    }
    if p.get("IncludeProvisioningArtifactParameters"):
        answer["ProvisioningArtifactParameters"] = [
            {"ParameterKey": k, "ParameterType": v.get("Type", "String"), "IsNoEcho": False}
            | ({"DefaultValue": str(v["Default"])} if "Default" in v else {})
            for k, v in sorted(_template_parameters(c, artifact).items())
        ]
    return answer


@operation("UpdateProvisionedProduct")
def update_provisioned_product(c: Catalog, p: dict) -> dict:
    _required(p, "UpdateToken", "ProvisionedProductId")
    if ("update", p["UpdateToken"]) in c.tokens:
        return c.tokens[("update", p["UpdateToken"])]
    if p["ProvisionedProductId"] not in c.provisioned:
        raise _error("ResourceNotFoundException", "Provisioned product not found.")
    provisioned = c.provisioned[p["ProvisionedProductId"]]
    if provisioned["Status"] != "AVAILABLE":
        raise _error("InvalidStateException", f"Provisioned product is {provisioned['Status']}")
    product_id = p.get("ProductId") or provisioned["ProductId"]
    artifact = c.artifact(product_id, p.get("ProvisioningArtifactId") or "")
    path = _launch_path(c, product_id, p.get("PathId"))
    provisioned["Pending"] = _values(
        c, artifact, p.get("ProvisioningParameters", []), provisioned["Parameters"]
    )
    provisioned["Status"] = "UNDER_CHANGE"
    record = _record(c, provisioned, "UPDATE_PROVISIONED_PRODUCT", artifact["Id"], path)
    answer = {"RecordDetail": record}
    c.tokens[("update", p["UpdateToken"])] = answer
    return answer


# -- wiring into moto ------------------------------------------------------------------------
def _camel_to_snake(name: str) -> str:
    return "".join(f"_{ch.lower()}" if ch.isupper() else ch for ch in name).lstrip("_")


def _method(operation_name: str) -> Callable:
    handler = HANDLERS[operation_name]

    def method(self: ServiceCatalogResponse) -> str:
        params = json.loads(self.body or "{}")
        result = handler(_catalog(self.current_account, self.region), params)
        return json.dumps(result, default=sorted)  # sets (never in answers) fail loudly

    method.__name__ = _camel_to_snake(operation_name)
    return method


def install() -> None:
    """Serve the operations above from moto's server in this process (idempotent)."""
    for name in HANDLERS:
        setattr(ServiceCatalogResponse, _camel_to_snake(name), _method(name))


def launched(account: str = "123456789012", region: str = "us-east-1") -> dict[str, tuple]:
    """Each provisioned product by name: its version name, status and parameter values."""
    c = _catalog(account, region)
    return {
        x["Name"]: (x["ProvisioningArtifactName"], x["Status"], dict(x["Parameters"]))
        for x in c.provisioned.values()
    }


def snapshot(account: str = "123456789012", region: str = "us-east-1") -> dict:
    """The whole catalog with names instead of ids; duplicates show as repeated entries."""
    c = _catalog(account, region)
    products = {p["Id"]: p["Name"] for p in c.products.values()}
    options = {o["Id"]: f"{o['Key']}={o['Value']}" for o in c.tag_options.values()}
    actions = {a["Id"]: a["Name"] for a in c.service_actions.values()}
    portfolios = {p["Id"]: p["DisplayName"] for p in c.portfolios.values()}
    return {
        "portfolios": sorted(
            (
                p["DisplayName"],
                p["Description"],
                p["ProviderName"],
                sorted(p["Tags"].items()),
                sorted(options[i] for i in p["TagOptionIds"]),
                sorted(p["Principals"].items()),
                sorted(products[i] for i in p["ProductIds"]),
            )
            for p in c.portfolios.values()
        ),
        "products": sorted(
            (
                p["Name"],
                p.get("Owner"),
                p.get("Description"),
                sorted(p["Tags"].items()),
                sorted(
                    (
                        a["Name"],
                        a["Description"],
                        a["Guidance"],
                        a["Active"],
                        a["TemplateUrl"],
                        sorted(actions[i] for i in a["ServiceActionIds"]),
                    )
                    for a in p["artifacts"].values()
                ),
            )
            for p in c.products.values()
        ),
        "constraints": sorted(
            (
                portfolios[x["PortfolioId"]],
                products[x["ProductId"]],
                x["Type"],
                x["Description"],
                x["Parameters"],
            )
            for x in c.constraints.values()
        ),
        "tag_options": sorted((o["Key"], o["Value"], o["Active"]) for o in c.tag_options.values()),
        "service_actions": sorted(
            (a["Name"], a["Description"], sorted(a["Definition"].items()))
            for a in c.service_actions.values()
        ),
    }
