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

/**
 * `pickNode` with a memory of this picker's own recent placements. Loads in a
 * registry's view lag: a node reports its connections every second or so,
 * and a reconnect storm lands within one report. With two candidates left,
 * power of two choices is "the less loaded of the two", so a storm over a
 * stale view would all land on one survivor. Here each placement counts
 * towards the chosen node's load, in this picker's eyes, until that node
 * reports a different figure (its report now includes the devices that did
 * arrive) or `forgetMs` has passed since the first of them (devices that never
 * arrived stop counting).
 */
export class Placement {
  private readonly placed = new Map<string, { reported: number; count: number; since: number }>();

  constructor(
    private readonly forgetMs = 10_000,
    private readonly now: () => number = Date.now,
    private readonly random: () => number = Math.random,
  ) {}

  pick(nodes: readonly NodeLoad[], region: string) {
    const t = this.now();
    const seen = nodes.map((n) => {
      const p = this.placed.get(n.nodeId);
      if (!p) return n;
      if (p.reported !== n.connections || t - p.since > this.forgetMs) {
        this.placed.delete(n.nodeId);
        return n;
      }
      return { ...n, connections: n.connections + p.count };
    });
    const picked = pickNode(seen, region, this.random);
    if (!picked) return undefined;
    const p = this.placed.get(picked.nodeId);
    if (p) p.count++;
    else this.placed.set(picked.nodeId, { reported: nodes.find((n) => n.nodeId === picked.nodeId)!.connections, count: 1, since: t });
    if (this.placed.size > nodes.length) {
      for (const id of this.placed.keys()) if (!nodes.some((n) => n.nodeId === id)) this.placed.delete(id);
    }
    return picked;
  }
}
