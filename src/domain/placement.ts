/** A node as discovery sees it, with its current load. */
export interface NodeLoad {
  nodeId: string;
  address: string;
  region: string;
  connections: number;
  capacity: number;
}

/** The load ratio placement compares: connections per unit of capacity. */
export const loadRatio = (n: NodeLoad) => n.connections / Math.max(1, n.capacity);

/**
 * The placement rule every registry uses. Candidates are the nodes of the
 * hinted region when there are any, else every node. Among them: power of two
 * random choices on the load ratio (two distinct candidates drawn at random,
 * the less loaded one wins, a tie goes to the first drawn). Unlike "always the
 * least loaded", it never sends everyone to one node while loads are equal or
 * the loads in the view are stale (a reconnect storm lands faster than load
 * reports travel), yet the most loaded candidate is never chosen when there is
 * more than one.
 */
export function pickNode(nodes: readonly NodeLoad[], region: string, random: () => number = Math.random) {
  const local = region === '' ? [] : nodes.filter((n) => n.region === region);
  const pool = local.length > 0 ? local : nodes;
  if (pool.length === 0) return undefined;
  const i = Math.floor(random() * pool.length) % pool.length;
  let n = pool[i]!;
  if (pool.length > 1) {
    const j = (i + 1 + (Math.floor(random() * (pool.length - 1)) % (pool.length - 1))) % pool.length;
    const other = pool[j]!;
    if (loadRatio(other) < loadRatio(n)) n = other;
  }
  return { nodeId: n.nodeId, address: n.address, region: n.region };
}
