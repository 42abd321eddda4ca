import type { DiscoveryServiceServer } from '../gen/chat/v1/discovery.js';
import { unavailable } from '../domain/errors.js';
import { openUnary, type TransportDeps } from './handler.js';

/** chat.v1.DiscoveryService: answers from the registry's local view. */
export function discoveryService(deps: TransportDeps): DiscoveryServiceServer {
  return {
    pickServer: openUnary(deps, async (req) => {
      const node = await deps.core.pickServer(req.regionHint);
      if (!node) throw unavailable('no healthy chat node is known; retry shortly');
      return { server: { nodeId: node.nodeId, address: node.address, region: node.region } };
    }),
  };
}
