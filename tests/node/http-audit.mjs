// The GraphQL over HTTP audit suite (npm graphql-http's serverAudits) run
// against the gateway at GRAPHQL_URL, for tests/e2e/test_graphql_over_http.py.
// Every request carries AUTHORIZATION (the gateway answers no anonymous
// caller). Prints one JSON line per audit: its id, name, status (ok, notice,
// warn or error) and, when it failed, the reason and the response's status.
import { serverAudits } from "graphql-http";

const authorization = process.env.AUTHORIZATION;

function authorized(input, init = {}) {
  const headers = new Headers(init.headers);
  headers.set("authorization", authorization);
  return fetch(input, { ...init, headers });
}

for (const audit of serverAudits({ url: process.env.GRAPHQL_URL, fetchFn: authorized })) {
  const result = await audit.fn();
  const line = { id: result.id, name: result.name, status: result.status };
  if (result.status !== "ok") {
    line.reason = result.reason;
    line.httpStatus = result.response.status;
  }
  console.log(JSON.stringify(line));
}
