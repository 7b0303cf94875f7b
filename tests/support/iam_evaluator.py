"""A third-party IAM policy evaluator that understands conditions: @cloud-copilot/iam-simulate.

moto ignores IAM conditions, so where a decision rests on one (a tag, an access point, TLS, the
calling principal) it is checked here instead. The package is pinned by
tests/support/iam_simulate/package-lock.json; tox copies that folder into the env and runs
`npm ci` there (commands_pre of [testenv:py]), as for the hub's proxy.

What it proves: the decision AWS's documented evaluation logic gives for one request, identity
policies and a resource policy together, with the request's context keys. What it does not: that
the service sends those context keys (the caller lists them), nor any AWS-side behaviour.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ACCOUNT = "123456789012"
REGION = "us-east-1"


def simulator() -> Path:
    script = Path(sys.prefix) / "iam_simulate" / "simulate.mjs"
    if not (script.parent / "node_modules" / "@cloud-copilot" / "iam-simulate").exists():
        raise FileNotFoundError(
            f"{script.parent}/node_modules is missing: tox installs it (commands_pre of "
            "[testenv:py]) with npm ci from tests/support/iam_simulate/package-lock.json"
        )
    return script


@dataclass(frozen=True)
class Request:
    """One API call: who makes it, the action, the resource, and the context keys it carries."""

    principal: str
    action: str
    resource: str
    context: dict[str, str | list[str]] = field(default_factory=dict)
    identity_policies: tuple[dict, ...] = ()
    resource_policy: dict | None = None
    # Judge without checking the resource's type against the action's: only for an action whose
    # resource types the evaluator's data lacks (the caller says which, and why).
    unsafe: bool = False

    def simulation(self) -> dict:
        simulation = {
            "request": {
                "principal": self.principal,
                "action": self.action,
                "resource": {"resource": self.resource, "accountId": ACCOUNT},
                "contextVariables": self.context,
            },
            "identityPolicies": [
                {"name": f"policy{i}", "policy": p} for i, p in enumerate(self.identity_policies)
            ],
        }
        if self.resource_policy is not None:
            simulation["resourcePolicy"] = self.resource_policy
        if self.unsafe:
            simulation["unsafe"] = True
        return simulation


def decide(requests: list[Request]) -> list[str]:
    """'Allowed', 'ExplicitlyDenied' or 'ImplicitlyDenied' for each request, in order."""
    script = simulator()
    completed = subprocess.run(
        [str(Path(sys.prefix) / "bin" / "node"), str(script)],
        input=json.dumps([r.simulation() for r in requests]),
        capture_output=True,
        text=True,
        check=True,
        cwd=script.parent,
    )
    results = json.loads(completed.stdout)
    pairs = zip(requests, results, strict=True)
    errors = [(request, result["error"]) for request, result in pairs if "error" in result]
    if errors:
        raise ValueError(f"the evaluator refused these requests: {errors}")
    return [result["decision"] for result in results]
