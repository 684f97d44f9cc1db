// Hive Gateway's configuration for the benchmark's peer (a), read by
// `hive-gateway supergraph … --config-path gateway.config.mjs`
// (bench/peers/hive.py). PEER_RESPONSE_CACHE=1 turns on its response cache
// (the `responseCaching` plugin, in memory, one cache for every caller, no
// TTL: as documented for a public graph); otherwise every request executes.
// A plain object (no `defineConfig` import): the gateway starts sooner.
const cached = process.env.PEER_RESPONSE_CACHE === '1';

export const gatewayConfig = {
  logging: 'warn',
  ...(cached ? { responseCaching: { session: () => null } } : {}),
};
