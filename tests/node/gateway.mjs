// Apollo Gateway composing the customer graph with the foreign subgraph, for
// tests/e2e/test_federation.py. It reads both subgraphs' _service SDL at
// start (IntrospectAndCompose, with CUSTOMERS_AUTHORIZATION: the customer
// graph wants a key on every request) and forwards each client's
// Authorization header to the subgraphs. Prints "READY <url>".
import { ApolloGateway, IntrospectAndCompose, RemoteGraphQLDataSource } from "@apollo/gateway";
import { ApolloServer } from "@apollo/server";
import { startStandaloneServer } from "@apollo/server/standalone";

class ForwardAuthorization extends RemoteGraphQLDataSource {
  willSendRequest({ request, context }) {
    if (context.authorization) {
      request.http.headers.set("authorization", context.authorization);
    }
  }
}

const gateway = new ApolloGateway({
  supergraphSdl: new IntrospectAndCompose({
    subgraphs: [
      { name: "customers", url: process.env.CUSTOMERS_URL },
      { name: "wishlists", url: process.env.WISHLISTS_URL },
    ],
    introspectionHeaders: { authorization: process.env.CUSTOMERS_AUTHORIZATION },
  }),
  buildService: ({ url }) => new ForwardAuthorization({ url }),
});

const server = new ApolloServer({ gateway });
const { url } = await startStandaloneServer(server, {
  listen: { host: "127.0.0.1", port: 0 },
  context: async ({ req }) => ({ authorization: req.headers.authorization }),
});
console.log(`READY ${url}`);
