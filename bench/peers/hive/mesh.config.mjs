// Peer (a) of the benchmark: the three simulators composed by GraphQL Mesh
// (bench/peers/hive.py runs `mesh-compose` with this file, then serves the
// supergraph with Hive Gateway). Shopify's GraphQL is a subgraph as it is;
// Zendesk and PostHog are described by the minimal OpenAPI documents beside
// this file; `@resolveTo` joins them to Shopify's customers by e-mail.
import { defineConfig, loadGraphQLHTTPSubgraph } from '@graphql-mesh/compose-cli';
import { loadOpenAPISubgraph } from '@omnigraph/openapi';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};

const zendeskAuth = Buffer.from(
  `${env('PEER_ZENDESK_EMAIL')}/token:${env('PEER_ZENDESK_TOKEN')}`,
).toString('base64');

export const composeConfig = defineConfig({
  output: env('PEER_SUPERGRAPH'),
  subgraphs: [
    {
      sourceHandler: loadGraphQLHTTPSubgraph('Shopify', {
        endpoint: `${env('PEER_SHOPIFY_URL')}/admin/api/2025-07/graphql.json`,
        source: env('PEER_SHOPIFY_SDL'),
        operationHeaders: { 'X-Shopify-Access-Token': env('PEER_SHOPIFY_TOKEN') },
      }),
    },
    {
      sourceHandler: loadOpenAPISubgraph('Zendesk', {
        source: './zendesk.openapi.json',
        endpoint: env('PEER_ZENDESK_URL'),
        operationHeaders: { Authorization: `Basic ${zendeskAuth}` },
      }),
    },
    {
      sourceHandler: loadOpenAPISubgraph('PostHog', {
        source: './posthog.openapi.json',
        endpoint: env('PEER_POSTHOG_URL'),
        operationHeaders: { Authorization: `Bearer ${env('PEER_POSTHOG_KEY')}` },
      }),
    },
  ],
  additionalTypeDefs: /* GraphQL */ `
    extend type Customer {
      zendeskUser: ZendeskUser
        @resolveTo(
          sourceName: "Zendesk"
          sourceTypeName: "Query"
          sourceFieldName: "zendeskUsersSearch"
          requiredSelectionSet: "{ email }"
          sourceArgs: { query: "email:{root.email}" }
          result: "users[0]"
        )
      posthogPerson: PosthogPerson
        @resolveTo(
          sourceName: "PostHog"
          sourceTypeName: "Query"
          sourceFieldName: "posthogPersons"
          requiredSelectionSet: "{ email }"
          sourceArgs: { email: "{root.email}" }
          result: "results[0]"
        )
      activity(limit: Int): [PosthogEvent]
        @resolveTo(
          sourceName: "PostHog"
          sourceTypeName: "Query"
          sourceFieldName: "posthogEvents"
          requiredSelectionSet: "{ email }"
          sourceArgs: {
            distinct_id: "{root.email}"
            after: "2000-01-01T00:00:00+00:00"
            limit: "{args.limit}"
          }
          result: "results"
        )
    }
    extend type ZendeskUser {
      tickets: [ZendeskTicket]
        @resolveTo(
          sourceName: "Zendesk"
          sourceTypeName: "Query"
          sourceFieldName: "zendeskRequestedTickets"
          requiredSelectionSet: "{ id }"
          sourceArgs: { id: "{root.id}" }
          result: "tickets"
        )
    }
  `,
});
