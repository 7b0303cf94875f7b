"""The local Service Catalog answers mistakes with the real API's error codes."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from tests.support import moto_servicecatalog
from tests.support.publish_support import BUCKET, prepare_account

TEMPLATE = {
    "Parameters": {"Tier": {"Type": "String"}},
    "Resources": {"H": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
}


@pytest.fixture
def sc(aws):
    moto_servicecatalog.install()
    prepare_account(aws)
    aws.client("s3").put_object(Bucket=BUCKET, Key="t.json", Body=json.dumps(TEMPLATE))
    client = aws.client("servicecatalog")
    url = f"{aws.endpoint_url}/{BUCKET}/t.json"
    product = client.create_product(
        Name="P",
        Owner="o",
        ProductType="CLOUD_FORMATION_TEMPLATE",
        ProvisioningArtifactParameters={"Name": "1.0.0", "Info": {"LoadTemplateFromURL": url}},
    )
    portfolio = client.create_portfolio(DisplayName="D", ProviderName="p")
    ids = {
        "product": product["ProductViewDetail"]["ProductViewSummary"]["ProductId"],
        "portfolio": portfolio["PortfolioDetail"]["Id"],
        "url": url,
    }
    client.associate_product_with_portfolio(ProductId=ids["product"], PortfolioId=ids["portfolio"])
    return client, ids


def _launch(client, ids, role="r"):
    client.create_constraint(
        PortfolioId=ids["portfolio"],
        ProductId=ids["product"],
        Type="LAUNCH",
        Parameters=json.dumps({"LocalRoleName": role}),
    )


CASES = {
    "unknown portfolio": (
        lambda c, i: c.describe_portfolio(Id="port-missing"),
        "ResourceNotFoundException",
    ),
    "template not uploaded": (
        lambda c, i: c.create_provisioning_artifact(
            ProductId=i["product"],
            Parameters={"Name": "2.0.0", "Info": {"LoadTemplateFromURL": i["url"] + "x"}},
        ),
        "InvalidParametersException",
    ),
    "same version name twice": (
        lambda c, i: c.create_provisioning_artifact(
            ProductId=i["product"],
            Parameters={"Name": "1.0.0", "Info": {"LoadTemplateFromURL": i["url"]}},
        ),
        "InvalidParametersException",
    ),
    "second launch constraint": (
        lambda c, i: (_launch(c, i), _launch(c, i, "other")),
        "DuplicateResourceException",
    ),
    "launch constraint without a role": (
        lambda c, i: c.create_constraint(
            PortfolioId=i["portfolio"], ProductId=i["product"], Type="LAUNCH", Parameters="{}"
        ),
        "InvalidParametersException",
    ),
    "tag option twice": (
        lambda c, i: [c.create_tag_option(Key="k", Value="v") for _ in range(2)],
        "DuplicateResourceException",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_mistakes_get_the_api_error_code(sc, case):
    client, ids = sc
    call, expected = CASES[case]
    with pytest.raises(ClientError) as err:
        call(client, ids)
    assert err.value.response["Error"]["Code"] == expected
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_repeated_idempotency_token_returns_the_first_answer(sc):
    client, _ = sc
    first = client.create_portfolio(DisplayName="X", ProviderName="p", IdempotencyToken="t-1")
    again = client.create_portfolio(DisplayName="X", ProviderName="p", IdempotencyToken="t-1")
    assert first["PortfolioDetail"]["Id"] == again["PortfolioDetail"]["Id"]
    assert [p["DisplayName"] for p in client.list_portfolios(PageSize=20)["PortfolioDetails"]] == [
        "D",
        "X",
    ]
