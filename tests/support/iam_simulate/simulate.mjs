// Evaluates each simulation read from stdin (a JSON list) with @cloud-copilot/iam-simulate and
// prints one result per simulation: "Allowed", "ExplicitlyDenied", "ImplicitlyDenied", or the
// validation errors (an unknown action, a context key the action does not take, a bad policy).
// A simulation marked `unsafe` skips the resource-type check, for an action whose resource types
// the evaluator's data lacks (the caller lists each such action, and why).
import { runSimulation, runUnsafeSimulation } from "@cloud-copilot/iam-simulate";

let input = "";
for await (const chunk of process.stdin) input += chunk;
const results = [];
for (const { unsafe, ...simulation } of JSON.parse(input)) {
  if (unsafe) {
    const full = { serviceControlPolicies: [], resourceControlPolicies: [], ...simulation };
    results.push({ decision: runUnsafeSimulation(full, {}) });
    continue;
  }
  const response = await runSimulation(
    { serviceControlPolicies: [], resourceControlPolicies: [], ...simulation },
    {},
  );
  results.push(
    response.resultType === "error"
      ? { error: response.errors }
      : { decision: response.overallResult },
  );
}
process.stdout.write(JSON.stringify(results));
