import type { NodeInfo, Registry } from '../../ports/Registry.js';

/** The embedded default: a fixed list of nodes (just this one on `make run`). */
export class StaticRegistry implements Registry {
  constructor(private readonly nodes: NodeInfo[]) {}

  async pick(regionHint: string) {
    return this.nodes.find((n) => regionHint && n.region === regionHint) ?? this.nodes[0];
  }

  async alternative(nodeId: string) {
    return this.nodes.find((n) => n.nodeId !== nodeId);
  }

  async close() {}
}
