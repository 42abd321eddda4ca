/** A node as discovery sees it, with its current load. */
export interface NodeLoad {
  nodeId: string;
  address: string;
  region: string;
  connections: number;
  capacity: number;
}

/**
 * The placement rule every registry uses: the same region as the hint first
 * (when there is a hint), then the lowest connections/capacity ratio, then
 * node id so that all nodes agree on ties.
 */
export function bestNode(nodes: NodeLoad[], region: string): { nodeId: string; address: string; region: string } | undefined {
  const ratio = (n: NodeLoad) => n.connections / Math.max(1, n.capacity);
  const local = (n: NodeLoad) => Number(region !== '' && n.region === region);
  const n = [...nodes].sort((a, b) => local(b) - local(a) || ratio(a) - ratio(b) || a.nodeId.localeCompare(b.nodeId))[0];
  return n && { nodeId: n.nodeId, address: n.address, region: n.region };
}
