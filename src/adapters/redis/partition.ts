/**
 * FNV-1a over the key's UTF-16 code units, modulo `partitions`: a stable,
 * cheap spread of keys (users, client_msg_ids, fan-out topics) over a fixed
 * number of hash-tagged groups, so that each group is one slot of a Redis
 * Cluster and the groups spread over every shard. Every node must compute
 * the same partition for a key: never change this function or a count
 * without moving the data.
 */
export function partitionOf(key: string, partitions: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return (h >>> 0) % partitions;
}
