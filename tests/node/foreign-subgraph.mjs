// A foreign subgraph for tests/e2e/test_federation.py: another team's service
// that extends the customer graph's Customer with a wishlist, and names a
// featured customer by id, which the gateway resolves in the customer graph.
// Listens on loopback, port 0; prints "READY <url>" once it accepts requests.
import { ApolloServer } from "@apollo/server";
import { startStandaloneServer } from "@apollo/server/standalone";
import { buildSubgraphSchema } from "@apollo/subgraph";
import { parse } from "graphql";

const typeDefs = parse(`
  extend schema
    @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key"])

  type Query {
    featuredCustomer: Customer
  }

  type Customer @key(fields: "id") {
    id: ID!
    wishlist: [String!]!
  }
`);

const resolvers = {
  Query: {
    featuredCustomer: () => ({ id: process.env.FEATURED_CUSTOMER_ID }),
  },
  Customer: {
    __resolveReference: (reference) => ({ id: reference.id }),
    wishlist: (customer) => [`wish of ${customer.id}`],
  },
};

const server = new ApolloServer({
  schema: buildSubgraphSchema({ typeDefs, resolvers }),
});
const { url } = await startStandaloneServer(server, {
  listen: { host: "127.0.0.1", port: 0 },
});
console.log(`READY ${url}`);
