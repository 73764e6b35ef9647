// posthog-node, unmodified, evaluating a Heliograph server's flags for many people.
//   node flags_node.mjs <host> <project key> <api token> <people.json>
// people.json: [[distinctId, personProperties], ...]. Prints, as JSON, per person,
// every flag's value evaluated locally (from the polled definitions) and remotely.
import { readFileSync } from "node:fs";
import { PostHog } from "posthog-node";

const [host, projectKey, apiToken, peopleFile] = process.argv.slice(2);
const people = JSON.parse(readFileSync(peopleFile, "utf8"));
const keys = ["rollout-30", "checkout-copy", "beta-users"];

const local = new PostHog(projectKey, { host, personalApiKey: apiToken, flushAt: 1 });
await local.reloadFeatureFlags();
const remote = new PostHog(projectKey, { host, flushAt: 1 });

const out = [];
for (const [distinctId, personProperties] of people) {
  const row = { distinctId, local: {}, remote: {} };
  for (const key of keys) {
    row.local[key] = await local.getFeatureFlag(key, distinctId, {
      personProperties, onlyEvaluateLocally: true, sendFeatureFlagEvents: false,
    });
  }
  if (out.length < 20) {
    const all = await remote.getAllFlags(distinctId, { personProperties });
    for (const key of keys) row.remote[key] = all[key];
  }
  out.push(row);
}
await local.shutdown();
await remote.shutdown();
process.stdout.write(JSON.stringify(out));
