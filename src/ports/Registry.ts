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

/** This node's own entry in discovery. */
export interface SelfInfo extends NodeInfo {
  /** Streams this node is sized for: the load ratio is connections / capacity. */
  capacity: number;
}

/**
 * A registry a node can join: it registers itself, keeps its record alive
 * (and its load current) until `leave`, and leaves first thing on drain.
 */
export interface Membership extends Registry {
  join(self: SelfInfo, load: () => number): Promise<void>;
  leave(): Promise<void>;
}
