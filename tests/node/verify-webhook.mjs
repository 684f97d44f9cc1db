// Verifies Standard Webhooks deliveries with the npm `standardwebhooks`
// library (tests/e2e/test_outbound_node.py). Reads a JSON array of
// {secret, body, headers} on stdin; prints one JSON array of true/false.
import { Webhook } from "standardwebhooks";

let input = "";
for await (const chunk of process.stdin) input += chunk;
const results = JSON.parse(input).map(({ secret, body, headers }) => {
  try {
    new Webhook(secret).verify(body, headers);
    return true;
  } catch {
    return false;
  }
});
console.log(JSON.stringify(results));
