"""pytest plugin of the taskcat env (`-p tests.taskcat.without_openapi`): moto without API Gateway.

moto 5.2's CloudFormation imports its API Gateway models, which import openapi-spec-validator at
import time; every version of it that moto accepts needs jsonschema>=4, and taskcat pins
jsonschema<4. No template here has an API Gateway resource, so this registers the two names moto
imports, and they fail loudly if anything ever calls them. Loaded with -p, before any conftest
imports moto.
"""

from __future__ import annotations

import sys
import types


def _unavailable(*args: object, **kwargs: object) -> None:
    raise RuntimeError("openapi-spec-validator is not installed in the taskcat env")


class OpenAPIValidationError(Exception):
    """Never raised: nothing validates OpenAPI documents here."""


if "openapi_spec_validator" not in sys.modules:
    package = types.ModuleType("openapi_spec_validator")
    package.validate = _unavailable
    package.__path__ = []  # a package, so its submodules below can be imported
    validation = types.ModuleType("openapi_spec_validator.validation")
    validation.__path__ = []
    exceptions = types.ModuleType("openapi_spec_validator.validation.exceptions")
    exceptions.OpenAPIValidationError = OpenAPIValidationError
    sys.modules.update(
        {
            package.__name__: package,
            validation.__name__: validation,
            exceptions.__name__: exceptions,
        }
    )
