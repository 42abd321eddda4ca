/**
 * Service discovery: which chat nodes exist and which one a client should use.
 * Guarantees: `pick` answers from a local view and never blocks on the
 * discovery backend; it returns undefined only when no healthy node is known.
 */
export interface NodeInfo {
  nodeId: string;
  address: string;
  region: string;
}

export interface Registry {
  pick(regionHint: string): Promise<NodeInfo | undefined>;
  /** Another healthy node than `nodeId`, to send draining clients to. */
  alternative(nodeId: string): Promise<NodeInfo | undefined>;
  close(): Promise<void>;
}
