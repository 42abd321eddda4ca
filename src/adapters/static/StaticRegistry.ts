import type { Membership, NodeInfo, SelfInfo } from '../../ports/Registry.js';

/** The embedded default: a fixed list of nodes (on `make run`, just this one, added when it joins). */
export class StaticRegistry implements Membership {
  constructor(private nodes: NodeInfo[] = []) {}

  async join(self: SelfInfo) {
    this.nodes = [{ nodeId: self.nodeId, address: self.address, region: self.region }, ...this.nodes.filter((n) => n.nodeId !== self.nodeId)];
  }

  async leave() {
    this.nodes = [];
  }

  async pick(regionHint: string) {
    return this.nodes.find((n) => regionHint && n.region === regionHint) ?? this.nodes[0];
  }

  async alternative(nodeId: string) {
    return this.nodes.find((n) => n.nodeId !== nodeId);
  }

  async close() {}
}
